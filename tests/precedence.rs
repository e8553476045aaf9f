//! Where settings come from, as a user meets them (issue 19): the command
//! line beats the environment and `.env`, and a variable we do not read is
//! named on stderr instead of being ignored in silence. Each run starts in an
//! empty directory with an empty environment, against a real anvil.

mod support;

use support::{Cli, check_args, hex, path_str, tx, voting_fleet};

/// `.env` (as devnet prints it) sets QUORUM_TX to a hash nobody voted on;
/// `check --tx-file pending.txt` checks the file's list only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tx_file_on_the_command_line_replaces_quorum_tx() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let cli = Cli::new();
    cli.write(".env", &format!("QUORUM_TX={}\n", hex(tx(2))));
    let file = cli.write("pending.txt", &format!("{}\n", hex(tx(1))));
    let mut args = check_args(&[fleet.url(0)], contract, &[], &[]);
    args.extend(["--tx-file".into(), path_str(&file)]);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let hashes: Vec<_> = run.report().txs.iter().map(|t| t.tx_hash).collect();
    assert_eq!(hashes, [tx(1)]);
    // Without a list on the command line, QUORUM_TX is the list: rejected (no vote).
    let run = cli.run_async(check_args(&[fleet.url(0)], contract, &[], &[])).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let hashes: Vec<_> = run.report().txs.iter().map(|t| t.tx_hash).collect();
    assert_eq!(hashes, [tx(2)]);
}

/// `QUORUM_RPC_URL` (singular) is not ours: the run still fails for want of
/// nodes, and stderr says which variable was meant — never its value.
#[test]
fn a_misspelt_variable_gets_a_hint_not_silence() {
    let cli = Cli::new();
    let secret = "http://127.0.0.1:1/v2/SECRETKEY";
    let run = cli.run_env(
        [
            "check",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--tx",
            &hex(tx(1)),
        ],
        &[("QUORUM_RPC_URL", secret)],
    );
    let err = run.stderr();
    assert_eq!(run.code(), 2, "{err}");
    assert!(
        err.contains("warning: QUORUM_RPC_URL is not a quorum-check variable (ignored): did you mean QUORUM_RPC_URLS?"),
        "{err}"
    );
    assert!(err.contains("error: no nodes configured"), "{err}");
    assert!(!err.contains("SECRETKEY"), "{err}");
    // A warning, not an error: with the right variable too, the hint stays and the run goes on.
    let run = cli.run_env(
        ["nodes", "--format", "json"],
        &[("QUORUM_RPC_URLS", "http://127.0.0.1:9"), ("QUORUM_RPC_URL", secret)],
    );
    let err = run.stderr();
    assert_eq!(run.code(), 1, "{err}");
    assert!(err.contains("did you mean QUORUM_RPC_URLS?"), "{err}");
    assert!(!err.contains("error:"), "{err}");
}
