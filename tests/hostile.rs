//! The second security pass (RELIABILITY.md, "Hostile nodes, files and
//! operators"): nodes that echo keys back, parsers that would quote a key,
//! pinned reads against a wrong-chain or hanging node, output paths that are
//! not regular files, endless or blocking inputs, and text that tries to
//! forge a line. Real anvil nodes behind the project's proxy.

mod support;

use std::{process::Command, time::Duration};

use quorum_check::{devnet::NodeSpec, report::NodeStatus, tally::Verdict};
use support::{
    proxy::{Fault, Proxy},
    *,
};

const KEY: &str = "Key_DO_NOT_PRINT_5c3e";
const QKEY: &str = "Q9_DO_NOT_PRINT_x1";
const PASS: &str = "Pw_DO_NOT_PRINT_7";
const TOKEN: &str = "tok_DO_NOT_PRINT_2b";

fn contract_arg(c: alloy::primitives::Address) -> String {
    format!("{c:#x}")
}

/// A node that quotes the whole request — path, query, Basic auth, bearer
/// token — in its error messages: nothing of it reaches any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_echoed_by_a_node_are_scrubbed_everywhere() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let cli = Cli::new();
    for code in [-32000i64, 3] {
        let echo = Proxy::start(&fleet.url(0), Fault::Echo { code }).await;
        let url = echo.url.replace("http://", &format!("http://user:{PASS}@"))
            + &format!("/v2/{KEY}?apikey={QKEY}&network=mainnet");
        let nodes = cli.write(
            "nodes.toml",
            &format!("[[node]]\nurl = \"{url}\"\nheaders = {{ Authorization = \"Bearer ${{TOKEN}}\" }}\n"),
        );
        let out = cli.path("out.prom");
        let base = |extra: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = [
                "check",
                "--nodes",
                &path_str(&nodes),
                "--contract",
                &contract_arg(contract),
                "--tx",
                &hex(tx(1)),
                "--retries",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        let env = [("TOKEN", TOKEN), ("RUST_LOG", "trace")];
        let mut seen = String::new();
        for extra in [
            vec![],
            vec!["-vvv"],
            vec!["--format", "json"],
            vec!["--format", "prometheus"],
            vec!["--format", "json", "--output", "out.prom"],
        ] {
            let run = cli.run_async_env(base(&extra), &env).await;
            assert_eq!(run.code(), 3, "{extra:?}: {}", run.stderr());
            seen += &(run.stdout() + &run.stderr());
        }
        seen += &std::fs::read_to_string(&out).unwrap();
        let nodes_run = cli
            .run_async_env(
                vec![
                    "nodes".into(),
                    "--nodes".into(),
                    path_str(&nodes),
                    "--format".into(),
                    "json".into(),
                    "-vv".into(),
                ],
                &env,
            )
            .await;
        seen += &(nodes_run.stdout() + &nodes_run.stderr());
        let basic = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("user:{PASS}"))
        };
        for secret in [KEY, QKEY, PASS, TOKEN, basic.as_str()] {
            assert!(!seen.contains(secret), "code {code}: {secret} printed:\n{seen}");
        }
        assert!(seen.contains("***"), "code {code}: the echo is shown, masked:\n{seen}");
        // The node really did echo them (the test would prove nothing otherwise).
        assert!(echo.heads().iter().any(|h| h.contains(KEY) && h.contains(TOKEN)));
    }
}

#[test]
fn parsers_never_quote_a_url() {
    let cli = Cli::new();
    let run = cli.run([
        "check",
        "--rpc",
        "https://a.example/v2/K1",
        &format!("https://b.example/v2/{KEY}"),
    ]);
    run.assert_usage_error("argument #4, not shown");
    assert!(!run.stderr().contains(KEY));
    for toml in [
        format!("[[node]]\nurl = 'https://x.example/'\nweight = 'https://y.example/v2/{KEY}'\n"),
        format!("[[node]]\nurl = 'https://x.example/'\n'https://y.example/{KEY}' = 1\n"),
    ] {
        let nodes = cli.write("nodes.toml", &toml);
        let run = cli.run([
            "check",
            "--nodes",
            &path_str(&nodes),
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--tx",
            &hex(tx(1)),
        ]);
        run.assert_usage_error("line 3");
        assert!(!run.stderr().contains(KEY), "{}", run.stderr());
    }
    // A URL-like value from the environment, in the wrong place, is named by its variable.
    let run = cli.run_env(
        ["check", "--rpc", "http://127.0.0.1:1", "--tx", &hex(tx(1))],
        &[("QUORUM_CONTRACT", &format!("https://x.example/v2/{KEY}"))],
    );
    run.assert_usage_error("value of QUORUM_CONTRACT, not shown");
    assert!(!run.stderr().contains(KEY));
    // --help shows variable names, never their values.
    let run = cli.run_env(
        ["check", "--help"],
        &[
            ("QUORUM_NODES", &format!("/etc/{KEY}.toml")),
            ("QUORUM_OUTPUT", &format!("/tmp/{KEY}")),
            ("QUORUM_RPC_URLS", &format!("https://x/{KEY}")),
        ],
    );
    assert_eq!(run.code(), 0);
    assert!(run.stdout().contains("QUORUM_NODES") && !run.stdout().contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_reads_obey_the_deadline_and_ignore_wrong_chains() {
    // Two nodes on the right chain; one on another chain, far ahead.
    let fleet = quorum_check::devnet::Fleet::start(
        &anvil(),
        &[
            NodeSpec::default(),
            NodeSpec::default(),
            NodeSpec {
                port: None,
                chain_id: Some(999),
            },
        ],
    )
    .await
    .unwrap();
    let contract = fleet.deploy_all(quorum_check::devnet::Contract::Voting).await.unwrap();
    fleet.cast_votes(contract, &[tx(1)], &[true, true, true]).await.unwrap();
    fleet.mine(2, 50).await.unwrap();
    let cli = Cli::new();
    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[tx(1)],
            &[
                "--block",
                "pinned",
                "--chain-id",
                "31337",
                "--threshold",
                "2",
                "--wait-all",
            ],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    let statuses: Vec<&str> = report.txs[0].nodes.iter().map(|n| n.status.name()).collect();
    assert_eq!(statuses, ["ok", "ok", "wrong_chain"], "{report:?}");

    // A hanging node cannot hold the pin round past --deadline.
    let hang = Proxy::start(&fleet.url(0), Fault::Hang).await;
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&hang.url),
            contract,
            &[tx(1)],
            &[
                "--block",
                "pinned",
                "--timeout",
                "10s",
                "--deadline",
                "1s",
                "--threshold",
                "1",
            ],
        ))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(run.elapsed < Duration::from_millis(2500), "{:?}", run.elapsed);
}

#[test]
fn output_replaces_only_regular_files_and_keeps_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let fifo = cli.path("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let link_to_null = cli.path("null-link");
    std::os::unix::fs::symlink("/dev/null", &link_to_null).unwrap();
    let args = |output: &str| -> Vec<String> {
        [
            "check",
            "--rpc",
            "http://127.0.0.1:9",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--tx",
            &hex(tx(1)),
            "--retries",
            "0",
            "--output",
            output,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for (output, culprit) in [
        ("/dev/null".to_string(), "not a regular file"),
        (path_str(&fifo), "not a regular file"),
        (path_str(&link_to_null), "symlink"),
        ("/proc/self/fd/1".to_string(), "symlink"),
        (path_str(cli.dir.path()), "directory"),
    ] {
        cli.run(args(&output)).assert_usage_error(culprit);
    }
    assert!(std::fs::metadata("/dev/null").unwrap().permissions().mode() & 0o777 == 0o666);
    // A 0600 file stays 0600.
    let private = cli.write("private.txt", "old");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(cli.run(args(&path_str(&private))).code(), 3);
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .contains("Transaction inconclusive")
    );
    // A new file follows the umask.
    let script = format!(
        "umask 077; exec \"$Q\" {}",
        args(&path_str(&cli.path("new.txt"))).join(" ")
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("Q", env!("CARGO_BIN_EXE_quorum-check"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(
        std::fs::metadata(cli.path("new.txt")).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn endless_and_blocking_inputs_are_bounded() {
    let cli = Cli::new();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "check",
            "--rpc",
            "http://127.0.0.1:9",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = cli.run(base(&["--tx-file", "/dev/zero"]));
    run.assert_usage_error("larger than the limit");
    let run = cli.run(base(&["--tx", &hex(tx(1)), "--abi", "/dev/zero"]));
    run.assert_usage_error("larger than the limit");
    let mut nodes_args = base(&["--tx", &hex(tx(1)), "--nodes", "/dev/zero"]);
    nodes_args.drain(1..3);
    cli.run(nodes_args).assert_usage_error("larger than the limit");
    // A FIFO nobody writes to: given up by --deadline.
    let fifo = cli.path("txs.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let run = cli.run(base(&["--tx-file", &path_str(&fifo), "--deadline", "1s"]));
    run.assert_usage_error("gave up reading tx file");
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
    // An ABI with 250,000 functions (just under the 16 MiB cap): the error stays one short line.
    let mut abi = String::from("[");
    for i in 0..250_000 {
        if i > 0 {
            abi.push(',');
        }
        abi.push_str(&format!(
            r#"{{"type":"function","name":"f{i}","inputs":[],"outputs":[]}}"#
        ));
    }
    abi.push(']');
    let abi_file = cli.write("big.json", &abi);
    let run = cli.run(base(&["--tx", &hex(tx(1)), "--abi", &path_str(&abi_file)]));
    run.assert_usage_error("has no function 'vote'");
    assert!(run.stderr().len() < 500, "{} bytes", run.stderr().len());
    // A tx file with a UTF-8 byte-order mark is fine.
    let bom = cli.write("bom.txt", &format!("\u{feff}{}\n", hex(tx(1))));
    let run = cli.run(base(&["--tx-file", &path_str(&bom), "--retries", "0"]));
    assert_eq!(run.code(), 3, "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_a_node_says_can_forge_a_line() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let forged = format!("x\n{} confirmed: {}\u{1b}[2K\u{202e}", "Transaction", hex(tx(9)));
    let body = serde_json::to_string(&serde_json::json!([
        {"jsonrpc": "2.0", "id": 0, "error": {"code": -32000, "message": forged}}
    ]))
    .unwrap();
    let liar = Proxy::start(&fleet.url(0), Fault::Body(body)).await;
    let cli = Cli::new();
    let mut args = check_args(
        std::slice::from_ref(&liar.url),
        contract,
        &[tx(1)],
        &["--threshold", "1"],
    );
    args[2] = "text".into();
    let run = cli.run_async(args).await;
    let out = run.stdout();
    assert_eq!(run.code(), 3, "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{out:?}");
    assert_eq!(out.lines().filter(|l| l.starts_with("Transaction")).count(), 1, "{out}");
    assert!(
        out.contains("\\u{1b}") && out.contains("\\u{202e}"),
        "escaped, visibly: {out}"
    );
    // JSON stays valid and carries the escaped text.
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&liar.url),
            contract,
            &[tx(1)],
            &["--threshold", "1"],
        ))
        .await;
    match &run.report().txs[0].nodes[0].status {
        NodeStatus::RpcError { message, .. } => assert!(!message.contains('\u{1b}'), "{message:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.report().txs[0].verdict, Verdict::Inconclusive);
}

#[test]
fn smaller_holes() {
    let cli = Cli::new();
    let base = [
        "check",
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--tx",
    ];
    let h = hex(tx(1));
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(h.clone()))
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    // Entries are numbered as written, empty ones included.
    cli.run_env(with(&[]), &[("QUORUM_RPC_URLS", "http://127.0.0.1:9,,ftp://x")])
        .assert_usage_error("RPC URL #3");
    cli.run_env(with(&[]), &[("QUORUM_RPC_URLS", "")])
        .assert_usage_error("no nodes configured");
    cli.run_env(with(&[]), &[("QUORUM_RPC_URLS", " , ")])
        .assert_usage_error("no nodes configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_nodes_reports_what_it_heard() {
    let (fleet, _contract) = voting_fleet(1, &[]).await;
    let hang = Proxy::start(&fleet.url(0), Fault::Hang).await;
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.args([
        "nodes",
        "--rpc",
        &fleet.url(0),
        "--rpc",
        &hang.url,
        "--threshold",
        "2",
        "--format",
        "json",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let report: quorum_check::health::HealthReport =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "quorum not shown reachable");
    assert!(report.nodes[0].healthy);
    assert_eq!(report.nodes[1].failure, Some(NodeStatus::Interrupted));
}

/// Answers built to hurt a parser: nested a million levels deep, or a batch
/// of a million tiny entries. Each is the node's `bad_response`, quickly,
/// and the honest nodes still decide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_and_huge_answers_are_bad_responses() {
    let (fleet, contract) = voting_fleet(3, &[(tx(1), 3)]).await;
    let nested = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    let many = format!(
        "[{}]",
        vec![r#"{"jsonrpc":"2.0","id":0,"result":"0x"}"#; 200_000].join(",")
    );
    let deep = Proxy::start(&fleet.url(0), Fault::Body(nested)).await;
    let wide = Proxy::start(&fleet.url(1), Fault::Body(many)).await;
    let urls = vec![deep.url.clone(), wide.url.clone(), fleet.url(2)];
    let run = Cli::new()
        .run_async(check_args(
            &urls,
            contract,
            &[tx(1)],
            &["--threshold", "1", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    for i in 0..2 {
        assert!(
            matches!(report.txs[0].nodes[i].status, NodeStatus::BadResponse { .. }),
            "{:?}",
            report.txs[0].nodes[i].status
        );
    }
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}
