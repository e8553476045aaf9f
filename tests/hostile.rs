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
            vec!["--dissent-log", "dissent.log"],
        ] {
            let run = cli.run_async_env(base(&extra), &env).await;
            assert_eq!(run.code(), 3, "{extra:?}: {}", run.stderr());
            seen += &(run.stdout() + &run.stderr());
        }
        seen += &std::fs::read_to_string(&out).unwrap();
        // The dissent log's line for the failed node carries its text, masked.
        let log = std::fs::read_to_string(cli.path("dissent.log")).unwrap();
        assert!(log.contains("***"), "code {code}: {log}");
        std::fs::remove_file(cli.path("dissent.log")).unwrap();
        seen += &log;
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

/// Other spellings of one endpoint would count its vote twice: each is
/// refused, before any request, naming both entries.
#[test]
fn other_spellings_of_one_node_are_refused_naming_both() {
    let cli = Cli::new();
    for (a, b) in [
        ("http://127.0.0.1:8545/rpc?", "http://127.0.0.1:8545/rpc"),
        ("http://localhost:8545", "http://127.0.0.1:8545"),
        ("http://[::1]:8545/", "http://localhost:8545"),
        ("https://node.example/v2/%44", "https://node.example/v2/D"),
        ("https://node.example//v2/K", "https://node.example/v2/K"),
        ("https://node.example/?b=2&a=1", "https://node.example/?a=1&b=2"),
    ] {
        let run = cli.run([
            "check",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--tx",
            &hex(tx(1)),
            "--rpc",
            "http://127.0.0.1:1",
            "--rpc",
            a,
            "--rpc",
            b,
        ]);
        run.assert_usage_error("RPC URL #2 and RPC URL #3 are the same node");
    }
    let nodes = cli.write(
        "nodes.toml",
        &format!(
            "[[node]]\nname = 'a'\nurl = 'https://eth.example/v2/{KEY}?x=1&y=2'\n\
             [[node]]\nname = 'b'\nurl = 'https://eth.example/v2/%4B{}?y=2&x=1'\n",
            &KEY[1..]
        ),
    );
    let run = cli.run(["nodes", "--nodes", &path_str(&nodes)]);
    run.assert_usage_error("node #1 (a) and node #2 (b) are the same node");
    assert!(!run.stderr().contains(KEY), "{}", run.stderr());
}

/// Runs `quorum-check` with `args` in `cli`'s directory; fails (instead of
/// hanging the suite) when it does not end within 10 s.
fn run_bounded(cli: &Cli, args: &[&str]) -> support::Run {
    let mut child = cli
        .command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    support::Run {
        output: child.wait_with_output().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// `man --dir` into a directory where someone planted a symlink (to a file
/// of the victim's) or a FIFO under a page's name: refused with one line,
/// the link's target untouched, nothing written, nothing blocking.
#[test]
fn man_dir_follows_no_planted_link_and_blocks_on_no_fifo() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let dir = cli.path("man");
    std::fs::create_dir(&dir).unwrap();
    let victim = cli.write("victim.txt", "precious");
    std::os::unix::fs::symlink(&victim, dir.join("quorum-check-check.1")).unwrap();
    let dir_arg = path_str(&dir);
    let run = run_bounded(&cli, &["man", "--dir", &dir_arg]);
    run.assert_usage_error("symlink");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        !dir.join("quorum-check.1").exists(),
        "nothing is written when a target is refused"
    );

    std::fs::remove_file(dir.join("quorum-check-check.1")).unwrap();
    let fifo = dir.join("quorum-check-watch.1");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let run = run_bounded(&cli, &["man", "--dir", &dir_arg]);
    run.assert_usage_error("not a regular file");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);

    // Without the FIFO: every page written, an old regular page replaced.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(dir.join("quorum-check.1"), "old").unwrap();
    let run = run_bounded(&cli, &["man", "--dir", &dir_arg]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    for page in [
        "quorum-check.1",
        "quorum-check-check.1",
        "quorum-check-watch.1",
        "quorum-check-nodes.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".SH \"EXIT STATUS\""), "{page}");
        let mode = std::fs::metadata(dir.join(page)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600, "{page}: {mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The process ids of the `anvil` children of `parent`, from /proc.
fn anvil_children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if comm.ends_with("(anvil") && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Whether process `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.split_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// `devnet` killed with SIGKILL — no handler runs — takes its anvils with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_anvils_die_with_a_killed_parent() {
    use std::io::BufRead;
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.env("ANVIL_BIN", anvil());
    cmd.args(["devnet", "--nodes", "3"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let urls = tokio::task::spawn_blocking(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if let Some(urls) = line.unwrap().strip_prefix("QUORUM_RPC_URLS=") {
                return urls.split(',').map(String::from).collect::<Vec<_>>();
            }
        }
        panic!("devnet printed no QUORUM_RPC_URLS");
    })
    .await
    .unwrap();
    let ports: Vec<u16> = urls
        .iter()
        .map(|u| u.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let anvils = anvil_children(child.id());
    assert_eq!(anvils.len(), 3, "devnet's anvils: {anvils:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    // A killed process is a zombie a moment before its sockets close: wait for both.
    let listening = || -> Vec<u16> {
        ports
            .iter()
            .copied()
            .filter(|&port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
            .collect()
    };
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5)
        && (anvils.iter().any(|&pid| alive(pid)) || !listening().is_empty())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let survivors: Vec<u32> = anvils.iter().copied().filter(|&pid| alive(pid)).collect();
    // Clean up before failing: a failed run must not leave anvils behind.
    for pid in &survivors {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    assert!(survivors.is_empty(), "anvils outlived devnet: {survivors:?}");
    assert!(listening().is_empty(), "ports still open: {:?}", listening());
}

/// A node whose head is stamped at 2^63 s, at u64::MAX, or an hour ahead:
/// no wrap-around (nor a panic), the distance reported as it is, and with
/// `--max-head-age` a head further in the future than that is a problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_stamped_far_in_the_future_are_problems_not_wrap_arounds() {
    let (fleet, _) = voting_fleet(1, &[]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cli = Cli::new();
    for stamp in [1u64 << 63, u64::MAX, now + 3600] {
        let liar = Proxy::start(
            &fleet.url(0),
            Fault::rewrite(move |v| {
                for item in v.as_array_mut().into_iter().flatten() {
                    if let Some(block) = item.get_mut("result").and_then(|r| r.as_object_mut())
                        && block.contains_key("timestamp")
                    {
                        block.insert("timestamp".into(), format!("{stamp:#x}").into());
                    }
                }
            }),
        )
        .await;
        for max_head_age in [None, Some("1m")] {
            let mut args = vec!["nodes", "--rpc", &liar.url, "--format", "json", "--threshold", "1"];
            if let Some(age) = max_head_age {
                args.extend(["--max-head-age", age]);
            }
            let run = cli.run_async(args.iter().map(|s| s.to_string()).collect()).await;
            let report: quorum_check::health::HealthReport =
                serde_json::from_slice(&run.output.stdout).unwrap_or_else(|e| panic!("{stamp}: {e}: {}", run.stderr()));
            let node = &report.nodes[0];
            let ahead = node.clock_ahead_s.expect("a head in the future is marked");
            // Within the seconds this test takes.
            assert!(ahead <= stamp - now && ahead + 60 >= stamp - now, "{stamp}: {ahead}");
            assert_eq!(node.head_age_s, Some(0), "{stamp}");
            let future = node.problems.iter().any(|p| p.contains("in the future"));
            if max_head_age.is_some() {
                assert!(future && !node.healthy, "{stamp}: {:?}", node.problems);
                assert_eq!(run.code(), 1, "{stamp}: {}", run.stderr());
            } else {
                assert!(!future && node.healthy, "{stamp}: {:?}", node.problems);
                assert_eq!(run.code(), 0, "{stamp}: {}", run.stderr());
            }
        }
    }
}

/// `--retries 4294967295` against a node that rate-limits entries: no
/// overflow, the entries asked again, the votes read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_retry_count_does_not_overflow() {
    let hashes = [tx(1), tx(2), tx(3)];
    let (fleet, contract) = voting_fleet(1, &[(hashes[0], 1), (hashes[1], 1), (hashes[2], 1)]).await;
    let limited = Proxy::start(&fleet.url(0), Fault::RateLimitEntries).await;
    let run = Cli::new()
        .run_async(check_args(
            std::slice::from_ref(&limited.url),
            contract,
            &hashes,
            &["--threshold", "1", "--multicall", "off", "--retries", "4294967295"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert!(report.txs.iter().all(|t| t.verdict == Verdict::Confirmed), "{report:?}");
    assert!(limited.requests() >= 2, "the rate-limited entries were asked again");
}

/// The library takes what the command line takes, and no more: values
/// built by hand (a share over zero, a threshold of zero, a timeout of
/// `Duration::MAX`) are errors, never a panic or a wrap-around.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_built_library_values_are_errors_not_panics() {
    use quorum_check::{Checker, Error, Node, Threshold};
    let node = || Node::new("http://127.0.0.1:9").unwrap();
    let builder = || {
        Checker::builder()
            .node(node())
            .contract("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap())
    };
    for share in [
        Threshold::Share {
            num: 1,
            den: 0,
            percent: true,
        },
        Threshold::Share {
            num: 1,
            den: 0,
            percent: false,
        },
        Threshold::Share {
            num: 2,
            den: 1,
            percent: false,
        },
        Threshold::Absolute(0),
    ] {
        let result = builder().threshold(share).build();
        assert!(matches!(result, Err(Error::Threshold(_))), "{share:?}: {result:?}");
    }
    for (timeout, deadline) in [(Duration::MAX, None), (Duration::from_secs(1), Some(Duration::MAX))] {
        let mut b = builder().timeout(timeout);
        if let Some(d) = deadline {
            b = b.deadline(d);
        }
        let result = b.build();
        assert!(
            matches!(&result, Err(Error::Limit(m)) if m.contains("24h")),
            "{result:?}"
        );
    }
    // The health check's public fields too: a timeout of Duration::MAX.
    let nodes = [node()];
    let function = quorum_check::VoteFunction::parse("vote(bytes32)(bool)").unwrap();
    let spec = quorum_check::health::HealthCheck {
        nodes: &nodes,
        chain_id: None,
        contract: None,
        function: &function,
        threshold: 1,
        timeout: Duration::MAX,
        max_lag: 0,
        max_head_age: Some(Duration::MAX),
    };
    let client = quorum_check::rpc::RpcClient::for_nodes(&nodes, 0, 1 << 20).unwrap();
    let report = quorum_check::health::check(&spec, &client).await;
    assert!(!report.nodes[0].healthy);
    assert!(
        matches!(report.nodes[0].failure, Some(NodeStatus::ConnectError { .. })),
        "{report:?}"
    );
}
