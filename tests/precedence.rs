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

/// Every variable a flag reads (clap's `env` names, asked of the binary's
/// help) is in `.env.example` (set or commented) and in README's
/// configuration tables, and neither names one that no flag reads.
#[test]
fn the_env_example_and_the_readme_list_every_variable() {
    let cli = Cli::new();
    let mut from_clap = std::collections::BTreeSet::new();
    for sub in ["check", "watch", "nodes", "serve", "scan", "devnet", "demo"] {
        let help = cli.run([sub, "--help"]).stdout();
        for part in help.split("[env: ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            from_clap.insert(name);
        }
    }
    assert!(
        from_clap.len() > 30 && from_clap.contains("QUORUM_RPC_URLS"),
        "{from_clap:?}"
    );
    let example = std::fs::read_to_string(support::repo().join(".env.example")).unwrap();
    let in_example: std::collections::BTreeSet<String> = example
        .lines()
        .map(|l| l.trim_start_matches(['#', ' ']))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert_eq!(in_example, from_clap, ".env.example");
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let section = readme.split("## Configuration").nth(1).unwrap();
    let section = section.split("### Nodes file").next().unwrap();
    let in_readme: std::collections::BTreeSet<String> = section
        .lines()
        .filter(|l| l.starts_with("| `-"))
        .filter_map(|l| l.split(" | ").nth(1))
        .filter_map(|cell| cell.strip_prefix('`')?.split('`').next().map(str::to_string))
        .filter(|k| k != "NO_COLOR" && k != "RUST_LOG")
        .collect();
    assert_eq!(in_readme, from_clap, "README configuration tables");
}

/// An empty or comment-only `--tx-file` means nothing is pending: exit 0,
/// "no transactions to check", and `--output` is still written (zero counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_tx_file_is_nothing_to_check_not_an_error() {
    let (fleet, contract) = voting_fleet(1, &[]).await;
    let cli = Cli::new();
    let file = cli.write("pending.txt", "# nothing pending today\n\n");
    let prom = cli.path("quorum.prom");
    let mut args = check_args(&[fleet.url(0)], contract, &[], &[]);
    // check_args asks for JSON: this run writes Prometheus text instead.
    let at = args.iter().position(|a| a == "json").unwrap();
    args[at] = "prometheus".into();
    args.extend(["--tx-file".into(), path_str(&file), "--output".into(), path_str(&prom)]);
    let started = std::time::Instant::now();
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stderr().contains("no transactions to check"), "{}", run.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "not after a timeout"
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    for verdict in ["confirmed", "rejected", "inconclusive"] {
        assert!(
            text.contains(&format!("quorum_check_txs{{verdict=\"{verdict}\"}} 0")),
            "{text}"
        );
    }
    // Without any list at all it is still a usage error.
    let run = cli.run_async(check_args(&[fleet.url(0)], contract, &[], &[])).await;
    run.assert_usage_error("no transaction hash given");
}
