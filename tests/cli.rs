//! The CLI's contract: usage errors (exit 2, one line naming the culprit,
//! before any network call), configuration precedence, and that no URL with
//! its key is ever printed.

mod support;

use std::{net::TcpListener, path::PathBuf};

use quorum_check::report::NodeStatus;
use support::*;

const KEY: &str = "sk_test_DO_NOT_PRINT_4f9a2b";
const CONTRACT: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

fn hash() -> String {
    hex(tx(1))
}

/// A port with nothing listening (bound, then released).
/// Valid arguments but for the ones a test overrides.
fn base(cli: &Cli) -> Vec<String> {
    let _ = cli;
    [
        "check",
        "--rpc",
        &format!("http://127.0.0.1:{}/", closed_port()),
        "--contract",
        CONTRACT,
        "--tx",
        &hash(),
        "--abi",
        &abi("Voting.json"),
        "--timeout",
        "2s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = value.to_string(),
        None => args.extend([flag.to_string(), value.to_string()]),
    }
    args
}

#[test]
fn bad_hashes_are_named() {
    let cli = Cli::new();
    for bad in ["0x1234", "0xzz", &"ab".repeat(33), ""] {
        cli.run(with(base(&cli), "--tx", bad)).assert_usage_error("--tx");
    }
    let file = cli.write("txs.txt", &format!("{}\n# fine\nnot-a-hash\n", hash()));
    let mut args = base(&cli);
    args.extend(["--tx-file".into(), path_str(&file)]);
    cli.run(args).assert_usage_error("line 3 of");
}

#[test]
fn bad_addresses_are_named() {
    let cli = Cli::new();
    for bad in [
        "0x12",
        "0xZZbDB2315678afecb367f032d93F642f64180aa3",
        "0x5FbDB2315678afecb367f032d93F642f64180aA3",
    ] {
        cli.run(with(base(&cli), "--contract", bad))
            .assert_usage_error("--contract");
    }
    let nodes = cli.write(
        "nodes.toml",
        "[[node]]\nurl = \"http://127.0.0.1:1\"\nfrom = \"0xnope\"\n",
    );
    let mut args = base(&cli);
    args.drain(1..3);
    args.extend(["--nodes".into(), path_str(&nodes)]);
    cli.run(args).assert_usage_error("from");
}

#[test]
fn bad_abis_are_named() {
    let cli = Cli::new();
    cli.run(with(base(&cli), "--abi", "missing.json"))
        .assert_usage_error("missing.json");
    let garbage = cli.write("garbage.json", "{ not json");
    cli.run(with(base(&cli), "--abi", &path_str(&garbage)))
        .assert_usage_error("garbage.json");
    // Right name, wrong types.
    let wrong = cli.write(
        "wrong.json",
        r#"[{"type":"function","name":"vote","stateMutability":"view","inputs":[{"name":"h","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]}]"#,
    );
    cli.run(with(base(&cli), "--abi", &path_str(&wrong)))
        .assert_usage_error("vote(uint256)");
    cli.run(with(base(&cli), "--function", "ballot"))
        .assert_usage_error("'ballot'");
    cli.run(with(base(&cli), "--function", "castVote"))
        .assert_usage_error("castVote(bytes32,bool)");
}

#[test]
fn bad_thresholds_are_named() {
    let cli = Cli::new();
    for (bad, named) in [
        ("seven", "seven"),
        ("0", "at least 1"),
        ("2", "outside 1..=1"),
        ("150%", "150%"),
        ("3/2", "3/2"),
    ] {
        cli.run(with(base(&cli), "--threshold", bad)).assert_usage_error(named);
    }
    // uint votes need an absolute threshold; the default one is said to be
    // the default, so a user who never typed "majority" knows where it came from.
    let uint = with(base(&cli), "--function", "weight(bytes32)(uint96)");
    let uint: Vec<String> = {
        let abi = uint.iter().position(|a| a == "--abi").unwrap();
        let mut args = uint.clone();
        args.drain(abi..abi + 2);
        args
    };
    cli.run(&uint)
        .assert_usage_error("threshold 'majority' (the default) is relative");
    let typed = cli.run(with(uint.clone(), "--threshold", "majority"));
    typed.assert_usage_error("threshold 'majority' is relative");
    let from_env = cli.run_env(&uint, &[("QUORUM_THRESHOLD", "2/3")]);
    from_env.assert_usage_error("threshold '2/3' is relative");
}

#[test]
fn bad_durations_blocks_and_numbers_are_named() {
    let cli = Cli::new();
    cli.run(with(base(&cli), "--timeout", "soon"))
        .assert_usage_error("--timeout");
    cli.run(with(base(&cli), "--block", "yesterday"))
        .assert_usage_error("yesterday");
    cli.run(with(base(&cli), "--chain-id", "main"))
        .assert_usage_error("--chain-id");
    cli.run(with(base(&cli), "--batch-size", "0"))
        .assert_usage_error("--batch-size");
}

#[test]
fn missing_nodes_contract_or_hashes_are_named() {
    let cli = Cli::new();
    let args = base(&cli);
    let without = |flag: &str| {
        let mut a = args.clone();
        let i = a.iter().position(|x| x == flag).unwrap();
        a.drain(i..i + 2);
        a
    };
    cli.run(without("--rpc")).assert_usage_error("no nodes configured");
    cli.run(without("--contract")).assert_usage_error("--contract");
    cli.run(without("--tx")).assert_usage_error("no transaction hash");
}

#[test]
fn malformed_nodes_files_are_named_without_their_keys() {
    let cli = Cli::new();
    let cases = [
        ("empty.toml", String::new(), "no [[node]]"),
        (
            "syntax.toml",
            format!("[[node]]\nurl = \"https://x.example/{KEY}\" oops\n"),
            "line 2",
        ),
        (
            "scheme.toml",
            format!("[[node]]\nname = \"n1\"\nurl = \"wss://x.example/{KEY}\"\n"),
            "node #1 (n1)",
        ),
        (
            "weight.toml",
            format!("[[node]]\nurl = \"https://x.example/{KEY}\"\nweight = 0\n"),
            "weight",
        ),
        (
            "field.toml",
            format!("[[node]]\nurl = \"https://x.example/{KEY}\"\nwieght = 2\n"),
            "wieght",
        ),
    ];
    for (name, text, named) in cases {
        let file = cli.write(name, &text);
        let mut args = base(&cli);
        args.drain(1..3);
        args.extend(["--nodes".into(), path_str(&file)]);
        let run = cli.run(args);
        run.assert_usage_error(named);
        run.assert_usage_error(name);
        assert!(!run.stderr().contains(KEY), "{}", run.stderr());
    }
    cli.run({
        let mut a = base(&cli);
        a.drain(1..3);
        a.extend(["--nodes".into(), "nowhere.toml".into()]);
        a
    })
    .assert_usage_error("nowhere.toml");
}

#[test]
fn bad_rpc_urls_are_numbered_not_echoed() {
    let cli = Cli::new();
    let args = with(base(&cli), "--rpc", &format!("ftp://host/{KEY}"));
    let run = cli.run(args);
    run.assert_usage_error("RPC URL #1");
    assert!(!run.stderr().contains(KEY));
    // A valid URL with nothing behind it: not a usage error, an unreachable node.
    let run = cli.run_env(with(base(&cli), "--rpc", "http://127.0.0.1:1"), &[]);
    assert_eq!(run.code(), 3, "inconclusive: {}", run.stderr());
    assert!(
        run.stdout().lines().any(|l| l.starts_with("Transaction inconclusive")),
        "{}",
        run.stdout()
    );
}

#[test]
fn the_key_never_appears_in_any_format_or_log_level() {
    let cli = Cli::new();
    let port = closed_port();
    let urls = [
        format!("http://127.0.0.1:{port}/v2/{KEY}"),
        format!("http://user:{KEY}@127.0.0.1:{port}/?apikey={KEY}"),
    ];
    for format in ["text", "json", "prometheus"] {
        for verbosity in [None, Some("-vv"), Some("-vvv")] {
            let mut args = base(&cli);
            args.drain(1..3);
            for url in &urls {
                args.extend(["--rpc".into(), url.clone()]);
            }
            args.extend(["--format".into(), format.into(), "--retries".into(), "1".into()]);
            args.extend(verbosity.map(String::from));
            for env in [&[][..], &[("RUST_LOG", "trace")][..]] {
                let run = cli.run_env(&args, env);
                assert_eq!(run.code(), 3, "unreachable nodes: inconclusive; {}", run.stderr());
                let all = format!("{}{}", run.stdout(), run.stderr());
                assert!(
                    !all.contains(KEY),
                    "key leaked ({format}, {verbosity:?}, {env:?}):\n{all}"
                );
                assert!(
                    all.contains(&format!("127.0.0.1:{port}")),
                    "the redacted host is shown: {all}"
                );
                // With logs asked for, they were written (and checked above),
                // naming the failed node by its redacted URL.
                if verbosity.is_some() || !env.is_empty() {
                    assert!(
                        run.stderr()
                            .contains(&format!("node failed node=http://127.0.0.1:{port}")),
                        "no log of the failed node ({format}, {verbosity:?}, {env:?}):\n{}",
                        run.stderr()
                    );
                }
            }
        }
    }
    // --help shows environment variable names, not the values behind them.
    let run = cli.run_env(["check", "--help"], &[("QUORUM_RPC_URLS", &urls[0])]);
    assert_eq!(run.code(), 0);
    assert!(!run.stdout().contains(KEY), "{}", run.stdout());
    assert!(run.stdout().contains("QUORUM_RPC_URLS"));
}

#[test]
fn unreachable_nodes_are_reported_as_connect_errors() {
    let cli = Cli::new();
    let run = cli.run(with(with(base(&cli), "--format", "json"), "--retries", "0"));
    assert_eq!(run.code(), 3);
    let report = run.report();
    assert!(matches!(report.txs[0].nodes[0].status, NodeStatus::ConnectError { .. }));
    assert_eq!(report.txs[0].nodes[0].attempts, 1);
}

#[test]
fn flag_beats_environment_beats_dotenv() {
    let cli = Cli::new();
    let args: Vec<String> = {
        let mut a = base(&cli);
        let i = a.iter().position(|x| x == "--tx").unwrap();
        a.drain(i..i + 2);
        a.extend(["--format".into(), "json".into(), "--retries".into(), "0".into()]);
        a
    };
    // .env alone: its threshold is used (and a bad one is named).
    cli.write(".env", &format!("QUORUM_TX={}\nQUORUM_THRESHOLD=nonsense\n", hash()));
    cli.run(&args).assert_usage_error("nonsense");
    // The environment beats .env.
    let run = cli.run_env(&args, &[("QUORUM_THRESHOLD", "1")]);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert_eq!(run.report().threshold.spec, "1");
    // A flag beats both.
    let run = cli.run_env(with(args.clone(), "--threshold", "all"), &[("QUORUM_THRESHOLD", "1")]);
    assert_eq!(run.report().threshold.spec, "all");
    // --rpc on the command line beats QUORUM_NODES from the environment.
    let run = cli.run_env(
        with(args.clone(), "--threshold", "1"),
        &[("QUORUM_NODES", "/nonexistent.toml")],
    );
    assert_eq!(run.code(), 3, "{}", run.stderr());
    // Both node sources from the same level are ambiguous.
    let mut only_env = args.clone();
    only_env.drain(1..3);
    cli.run_env(
        with(only_env, "--threshold", "1"),
        &[
            ("QUORUM_NODES", "/nonexistent.toml"),
            ("QUORUM_RPC_URLS", "http://127.0.0.1:1"),
        ],
    )
    .assert_usage_error("use one of them");
}

#[test]
fn a_malformed_dotenv_is_an_error_without_its_content() {
    let cli = Cli::new();
    cli.write(".env", &format!("QUORUM_RPC_URLS='https://x.example/{KEY}\n"));
    let run = cli.run(base(&cli));
    run.assert_usage_error(".env");
    assert!(!run.stderr().contains(KEY));
}

#[test]
fn help_and_version_exit_zero() {
    let cli = Cli::new();
    let run = cli.run(["--version"]);
    assert_eq!(run.code(), 0);
    assert!(run.stdout().starts_with("quorum-check "));
    let run = cli.run(["check", "--help"]);
    assert_eq!(run.code(), 0);
    for flag in [
        "--rpc",
        "--nodes",
        "--contract",
        "--abi",
        "--function",
        "--tx",
        "--tx-file",
        "--threshold",
        "--block",
        "--chain-id",
        "--timeout",
        "--wait-all",
        "--format",
    ] {
        assert!(run.stdout().contains(flag), "{flag} missing from help");
    }
    // Global options under their own heading, apart from the subcommand's.
    let help = run.stdout();
    let global = help.find("Global options:").expect("a Global options heading");
    assert!(help[global..].contains("--log-format"), "{help}");
    assert!(!help[global..].contains("--threshold"), "{help}");
    assert!(help.contains("Nodes:") && help.find("Nodes:") < Some(global), "{help}");
    // serve's --deadline is a check's, watch's is when watching gives up.
    let serve = cli.run(["serve", "--help"]).stdout();
    assert!(
        !serve.contains("watching gives up") && !serve.contains("10m"),
        "{serve}"
    );
    let watch = cli.run(["watch", "--help"]).stdout();
    assert!(
        watch.contains("watching gives up") && watch.contains("QUORUM_WATCH_DEADLINE"),
        "{watch}"
    );
    cli.run(["frobnicate"]).assert_usage_error("frobnicate");
}

#[test]
fn tx_hashes_can_come_from_stdin() {
    use std::io::Write;
    let cli = Cli::new();
    let mut args = base(&cli);
    let i = args.iter().position(|x| x == "--tx").unwrap();
    args.drain(i..i + 2);
    args.extend([
        "--tx-file".into(),
        "-".into(),
        "--retries".into(),
        "0".into(),
        "--format".into(),
        "json".into(),
    ]);
    let mut child = cli
        .command()
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!("# from a pipe\n{}\n{}\n", hash(), hex(tx(2)));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let report: quorum_check::report::CheckReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.txs.len(), 2);
    assert_eq!(report.txs[1].tx_hash, tx(2));

    let mut child = cli
        .command()
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"0x1234\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1 of stdin"));
}

/// An `anvil` for the devnet tests, written to `dir`: it appends `PID PORT`
/// of every start to the log it returns, then runs the real anvil. Started on
/// port `hold`, it first waits (at most 20 s) until every port in `others`
/// accepts connections and logs `others-up`; then, with `fail`, it exits 1
/// without listening (as an anvil that cannot start), else it runs the real
/// anvil too. Anvil's stderr goes to a file beside the log.
fn anvil_wrapper(dir: &std::path::Path, hold: Option<u16>, others: &[u16], fail: bool) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("anvil-starts.log");
    let others: Vec<String> = others.iter().map(u16::to_string).collect();
    let script = format!(
        r#"#!/bin/bash
port=
prev=
for a in "$@"; do [ "$prev" = --port ] && port=$a; prev=$a; done
echo "$$ $port" >> '{log}'
if [ "$port" = '{hold}' ]; then
  for _ in $(seq 400); do
    up=0
    for p in {others}; do (: </dev/tcp/127.0.0.1/$p) 2>/dev/null && up=$((up + 1)); done
    if [ "$up" = {count} ]; then echo others-up >> '{log}'; break; fi
    sleep 0.05
  done
  {fail}
fi
# Not the caller's stderr: an anvil left running would hold the test's pipe
# open, and the test would hang instead of failing.
exec '{anvil}' "$@" 2>> '{log}.stderr'
"#,
        log = log.display(),
        hold = hold.map_or("none".to_string(), |p| p.to_string()),
        others = others.join(" "),
        count = others.len(),
        fail = if fail { "exit 1" } else { ":" },
        anvil = anvil().display(),
    );
    let path = dir.join("anvil");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (path, log)
}

/// The anvils the wrapper's log says were started: (pid, port).
fn started(log: &std::path::Path) -> Vec<(u32, u16)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (pid, port) = l.split_once(' ')?;
            Some((pid.parse().ok()?, port.parse().ok()?))
        })
        .collect()
}

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.split_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Waits (at most 5 s) until none of `nodes` runs or listens; returns those
/// that still do, after killing them (a failed test leaves no anvil behind).
fn survivors(nodes: &[(u32, u16)]) -> Vec<(u32, u16)> {
    let up = |&(pid, port): &(u32, u16)| alive(pid) || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    let started = std::time::Instant::now();
    while nodes.iter().any(up) && started.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left: Vec<(u32, u16)> = nodes.iter().copied().filter(up).collect();
    for (pid, _) in &left {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    left
}

/// `n` consecutive ports from a base the OS chose, all free just now.
fn free_run(n: u16) -> u16 {
    loop {
        let base = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if base <= 65535 - n && (1..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

#[test]
fn devnet_refuses_a_taken_port_before_starting_any_anvil() {
    // Ports BASE, BASE+1, BASE+2 with BASE+1 taken: the second node cannot start.
    let base = free_run(3);
    let _taken = TcpListener::bind(("127.0.0.1", base + 1)).unwrap();
    let cli = Cli::new();
    let (wrapper, log) = anvil_wrapper(cli.dir.path(), None, &[], false);
    let run = cli.run_env(
        ["devnet", "--nodes", "3", "--approve", "1", "--port", &base.to_string()],
        &[("ANVIL_BIN", &path_str(&wrapper))],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let last = run.stderr().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("quorum-check: error: ") && last.contains(&format!("port {}", base + 1)),
        "{last}"
    );
    assert_eq!(started(&log), [], "anvil was started");
    for port in [base, base + 2] {
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok(), "port {port} is taken");
    }
}

/// Node 3 of 5 cannot start, after the other four are up: devnet fails
/// naming it, and the four anvils that did start are gone.
#[test]
fn devnet_stops_the_anvils_that_started_when_a_later_one_fails() {
    let base = free_run(5);
    let others = [base, base + 1, base + 3, base + 4];
    let cli = Cli::new();
    let (wrapper, log) = anvil_wrapper(cli.dir.path(), Some(base + 2), &others, true);
    let run = cli.run_env(
        ["devnet", "--nodes", "5", "--port", &base.to_string()],
        &[("ANVIL_BIN", &path_str(&wrapper))],
    );
    let nodes: Vec<(u32, u16)> = started(&log)
        .into_iter()
        .filter(|(_, port)| others.contains(port))
        .collect();
    let left = survivors(&nodes);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let last = run.stderr().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("quorum-check: error: ") && last.contains("anvil node 3 failed to start"),
        "{last}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("others-up"),
        "the four others never listened: {log_text}"
    );
    assert_eq!(nodes.len(), 4, "{log_text}");
    assert_eq!(left, [], "anvils left running (pid, port)");
}

/// The same through the library: `Fleet::start` with node 3's port taken
/// by this test. The guard process cannot be what stops the others here
/// (this process lives on): the half-built fleet itself must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_whose_third_node_cannot_start_stops_the_others() {
    use quorum_check::devnet::{Fleet, NodeSpec};
    let ports: Vec<u16> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let _taken = TcpListener::bind(("127.0.0.1", ports[2])).unwrap();
    let others = [ports[0], ports[1], ports[3], ports[4]];
    let dir = tempfile::tempdir().unwrap();
    let (wrapper, log) = anvil_wrapper(dir.path(), Some(ports[2]), &others, false);
    let specs: Vec<NodeSpec> = ports
        .iter()
        .map(|&port| NodeSpec {
            port: Some(port),
            chain_id: None,
        })
        .collect();
    let result = Fleet::start(&wrapper, &specs).await;
    let nodes: Vec<(u32, u16)> = started(&log)
        .into_iter()
        .filter(|(_, port)| others.contains(port))
        .collect();
    let left = tokio::task::spawn_blocking({
        let nodes = nodes.clone();
        move || survivors(&nodes)
    })
    .await
    .unwrap();
    let error = result.expect_err("node 3's port is taken").to_string();
    assert!(error.contains("anvil node 3 failed to start"), "{error}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("others-up"),
        "the four others never listened: {log_text}"
    );
    assert_eq!(nodes.len(), 4, "{log_text}");
    assert_eq!(left, [], "anvils left running (pid, port)");
}

#[test]
fn devnet_with_a_wrong_anvil_path_names_it() {
    let cli = Cli::new();
    let run = cli.run_env(
        ["devnet", "--nodes", "1", "--approve", "1"],
        &[("ANVIL_BIN", "/nonexistent/anvil")],
    );
    run.assert_usage_error("/nonexistent/anvil");
}

/// An https:// URL gets a TLS client, an http:// one a plain client: a TLS
/// listener (certificate from a private CA) that closes every connection
/// once it has read a request. Only a TLS client can judge the certificate,
/// and only with the CA trusted does a request get through the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_get_a_tls_client() {
    use support::proxy::{Fault, Proxy, TestCa};
    let ca = TestCa::new();
    let unused = format!("http://127.0.0.1:{}", closed_port());
    let listener = Proxy::start_tls(&unused, Fault::Close, ca.server.clone()).await;
    let cli = Cli::new();
    let ca_file = cli.write("ca.pem", &ca.ca_pem);
    let port = listener.port;
    let node = |url: &str, extra: &[&str]| {
        let mut args = with(
            with(with(base(&cli), "--rpc", url), "--format", "json"),
            "--retries",
            "0",
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let run = cli.run_async(node(&format!("https://127.0.0.1:{port}/"), &[])).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report.txs[0].nodes[0].url, format!("https://127.0.0.1:{port}"));
    match &report.txs[0].nodes[0].status {
        NodeStatus::TlsError { message } => assert!(
            message.contains("certificate") && message.contains("--ca-cert"),
            "{message}"
        ),
        other => panic!("https without the CA: {other:?}"),
    }
    assert_eq!(listener.requests(), 0, "no request gets past a refused certificate");

    // With the CA the handshake completes and the request is read (then the
    // connection closes): only a TLS client gets that far.
    let run = cli
        .run_async(node(
            &format!("https://127.0.0.1:{port}/"),
            &["--ca-cert", &path_str(&ca_file)],
        ))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert_eq!(listener.requests(), 1);
    let status = &run.report().txs[0].nodes[0].status;
    assert!(matches!(status, NodeStatus::ConnectError { .. }), "{status:?}");

    // A plain client gets no handshake: the listener's TLS alert is not HTTP.
    let run = cli.run_async(node(&format!("http://127.0.0.1:{port}/"), &[])).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    match &run.report().txs[0].nodes[0].status {
        NodeStatus::TlsError { message } => assert!(
            message.contains("use https://") && !message.contains("certificate"),
            "{message}"
        ),
        other => panic!("http to the TLS listener: {other:?}"),
    }
    assert_eq!(listener.requests(), 1, "a plain request never reaches the listener");
}
