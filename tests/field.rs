//! quorum-check where operators run it: from any directory with no ABI
//! file, with keys in the environment rather than on the command line,
//! behind TLS with a private CA, with hostile `.env` files around, duplicate
//! nodes, closed pipes and full disks, and with the shell integration they
//! install. Every node is a real anvil, behind the project's proxy where a
//! provider's behaviour is needed.

mod support;

use std::process::{Command, Stdio};

use quorum_check::{devnet::Contract, report::NodeStatus, tally::Verdict};
use support::{
    proxy::{Fault, Proxy, TestCa},
    *,
};

const TOKEN: &str = "tok_DO_NOT_PRINT_77aa";
const KEY: &str = "key_DO_NOT_PRINT_88bb";

/// `check` arguments without `--abi`, JSON output.
fn bare_args(urls: &[String], contract: alloy::primitives::Address, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["check".to_string(), "--format".into(), "json".into()];
    args.extend(["--contract".into(), format!("{contract:#x}")]);
    for url in urls {
        args.extend(["--rpc".into(), url.clone()]);
    }
    args.extend(["--tx".into(), hex(tx(1))]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn votes(run: &Run) -> Vec<(String, Option<bool>)> {
    run.report().txs[0]
        .nodes
        .iter()
        .map(|n| {
            let vote = match &n.status {
                NodeStatus::Ok {
                    vote: quorum_check::report::VoteJson::Bool(b),
                } => Some(*b),
                _ => None,
            };
            (n.status.name().to_string(), vote)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_abi_file_is_needed_and_signatures_give_the_same_votes() {
    let (fleet, contract) = voting_fleet(3, &[(tx(1), 2)]).await;
    let urls = fleet.urls();
    let cli = Cli::new();
    // The reference: the ABI file of the repository.
    let with_abi = cli
        .run_async(check_args(
            &urls,
            contract,
            &[tx(1)],
            &["--wait-all", "--threshold", "2"],
        ))
        .await;
    assert_eq!(with_abi.code(), 0, "{}", with_abi.stderr());
    let expected = votes(&with_abi);
    assert_eq!(expected.iter().filter(|(_, v)| *v == Some(true)).count(), 2);
    for function in [
        None,
        Some("vote"),
        Some("vote(bytes32)"),
        Some("vote(bytes32)(bool)"),
        Some("function vote(bytes32 txHash) view returns (bool)"),
    ] {
        let mut extra = vec!["--wait-all", "--threshold", "2"];
        if let Some(f) = function {
            extra.extend(["--function", f]);
        }
        let run = cli.run_async(bare_args(&urls, contract, &extra)).await;
        assert_eq!(run.code(), 0, "{function:?}: {}", run.stderr());
        assert_eq!(votes(&run), expected, "{function:?}");
        assert_eq!(run.report().function, "vote(bytes32)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uint_signature_reads_weights_without_an_abi() {
    let fleet = fleet(2).await;
    let contract = fleet.deploy_all(Contract::WeightedVoting).await.unwrap();
    for (i, w) in [5u64, 3].into_iter().enumerate() {
        fleet
            .cast_weight(i, contract, tx(1), alloy::primitives::U256::from(w))
            .await
            .unwrap();
    }
    let cli = Cli::new();
    let run = cli
        .run_async(bare_args(
            &fleet.urls(),
            contract,
            &["--function", "vote(bytes32)(uint96)", "--threshold", "8"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.report().txs[0].yes, 8);
    // A signature of the wrong shape is a usage error before any request.
    let proxy = Proxy::start(&fleet.url(0), Fault::None).await;
    let run = cli
        .run_async(bare_args(
            std::slice::from_ref(&proxy.url),
            contract,
            &["--function", "vote(bytes32)(string)"],
        ))
        .await;
    run.assert_usage_error("vote(bytes32)");
    assert_eq!(proxy.requests(), 0);
}

/// Reads devnet's stdout up to the blank line that ends its `.env` block,
/// and the one-line command after it.
fn read_devnet_block(child: &mut std::process::Child) -> (Vec<String>, String) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut env = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if line.is_empty() {
            break;
        }
        if !line.starts_with('#') {
            env.push(line);
        }
    }
    let one_line = lines
        .map(|l| l.expect("line"))
        .find(|l| l.starts_with("quorum-check "))
        .expect("one-line command");
    (env, one_line)
}

#[test]
fn devnets_printed_configuration_works_pasted_in_any_directory() {
    let anvil_dir = anvil().parent().unwrap().to_path_buf();
    let workdir = tempfile::tempdir().unwrap();
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_quorum-check"))
        .args(["devnet", "--nodes", "3"])
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", anvil_dir.display()))
        .current_dir(workdir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (env, one_line) = read_devnet_block(&mut devnet);
    // Paste the block into .env in another, empty directory.
    let cli = Cli::new();
    cli.write(".env", &(env.join("\n") + "\n"));
    // --wait-all: every node heard, so the line is exactly "(yes 2 of 3, …)".
    let run = cli.run(["check", "--wait-all"]);
    let pasted = run.stdout();
    // And the one-liner, as a shell would split it.
    let words: Vec<&str> = one_line.split_whitespace().skip(1).collect();
    let second = Cli::new().run(&words);
    let _ = Command::new("kill").arg(devnet.id().to_string()).status();
    let _ = devnet.wait();
    assert_eq!(run.code(), 0, "{pasted}{}", run.stderr());
    assert!(pasted.contains("Transaction confirmed"), "{pasted}");
    assert!(pasted.contains("(yes 2 of 3, threshold 2)"), "{pasted}");
    assert_eq!(second.code(), 0, "{}", second.stderr());
    assert!(second.stdout().contains("Transaction confirmed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_file_keys_and_headers_come_from_the_environment_and_never_print() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let guarded = Proxy::start(
        &fleet.url(0),
        Fault::RequireHeader {
            name: "Authorization".into(),
            value: format!("Bearer {TOKEN}"),
        },
    )
    .await;
    let cli = Cli::new();
    let nodes = cli.write(
        "nodes.toml",
        &format!(
            "[[node]]\nname = \"provider\"\nurl = \"{}/v2/${{ALCHEMY_KEY}}\"\nheaders = {{ Authorization = \"Bearer ${{NODE_TOKEN}}\" }}\n",
            guarded.url
        ),
    );
    let args = |format: &str, verbose: &str| -> Vec<String> {
        [
            "check",
            verbose,
            "--format",
            format,
            "--nodes",
            &path_str(&nodes),
            "--contract",
            &format!("{contract:#x}"),
            "--tx",
            &hex(tx(1)),
            "--threshold",
            "1",
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect()
    };
    let env = [("ALCHEMY_KEY", KEY), ("NODE_TOKEN", TOKEN), ("RUST_LOG", "trace")];
    for format in ["text", "json", "prometheus"] {
        for verbose in ["", "-vvv"] {
            let run = cli.run_async_env(args(format, verbose), &env).await;
            assert_eq!(run.code(), 0, "{format} {verbose}: {}{}", run.stdout(), run.stderr());
            let all = run.stdout() + &run.stderr();
            assert!(!all.contains(TOKEN) && !all.contains(KEY), "{format} {verbose}: {all}");
        }
    }
    // The header reached the node, with the key in the path.
    let heads = guarded.heads();
    assert!(heads.iter().all(|h| h.contains(&format!("/v2/{KEY}"))));
    // Without the token the node refuses (401), and says so.
    let wrong = [("ALCHEMY_KEY", KEY), ("NODE_TOKEN", "wrong")];
    let run = cli.run_async_env(args("json", ""), &wrong).await;
    assert_eq!(run.code(), 3);
    assert!(matches!(
        run.report().txs[0].nodes[0].status,
        NodeStatus::HttpError { http_status: 401, .. }
    ));
    // An unset variable is a usage error naming it, before any request.
    let before = guarded.requests();
    let run = cli.run_async_env(args("json", ""), &[("ALCHEMY_KEY", KEY)]).await;
    run.assert_usage_error("NODE_TOKEN");
    assert!(!run.stderr().contains(KEY));
    assert_eq!(guarded.requests(), before);
}

#[test]
fn dotenv_is_read_from_the_working_directory_only() {
    let cli = Cli::new();
    // A .env in the parent directory would supply the contract.
    cli.write(
        ".env",
        "QUORUM_CONTRACT=0x5FbDB2315678afecb367f032d93F642f64180aa3\nQUORUM_THRESHOLD=all\n",
    );
    let child = cli.path("child");
    std::fs::create_dir(&child).unwrap();
    let mut cmd = cli.command();
    cmd.current_dir(&child)
        .args(["check", "--rpc", "http://127.0.0.1:9", "--tx", &hex(tx(1))]);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--contract"), "{err}");
}

#[test]
fn a_malformed_dotenv_names_file_and_line_but_not_help_or_completions() {
    let cli = Cli::new();
    cli.write(
        ".env",
        &format!("# nodes\nQUORUM_TX=0x11\nQUORUM_RPC_URLS https://x.example/v2/{KEY}\n"),
    );
    let run = cli.run(["check"]);
    run.assert_usage_error(".env line 3");
    assert!(!run.stderr().contains(KEY));
    for args in [
        vec!["--help"],
        vec!["--version"],
        vec!["check", "--help"],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let run = cli.run(&args);
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr());
        assert!(!run.output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn the_same_node_twice_is_refused_naming_both_entries() {
    let cli = Cli::new();
    let base = ["check", "--contract", "0x5FbDB2315678afecb367f032d93F642f64180aa3"];
    let tx_arg = ["--tx", &hex(tx(1))];
    for (a, b) in [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545/"),
        ("HTTP://LOCALHOST:8545/rpc", "http://localhost:8545/rpc/"),
        ("https://node.example/v2/K", "https://node.example:443/v2/K"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--rpc", "http://127.0.0.1:1", "--rpc", a, "--rpc", b]);
        args.extend(tx_arg);
        let run = cli.run(&args);
        run.assert_usage_error("RPC URL #2 and RPC URL #3 are the same node");
    }
    let nodes = cli.write(
        "nodes.toml",
        &format!(
            "[[node]]\nname='a'\nurl='https://eth.example/v2/{KEY}'\n[[node]]\nname='b'\nurl='https://ETH.example:443/v2/{KEY}/'\n"
        ),
    );
    let mut args: Vec<&str> = base.to_vec();
    let nodes = path_str(&nodes);
    args.extend(["--nodes", &nodes]);
    args.extend(tx_arg);
    let run = cli.run(&args);
    run.assert_usage_error("node #1 (a) and node #2 (b) are the same node");
    assert!(!run.stderr().contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_endpoints_that_print_alike_get_distinct_labels() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let proxy = Proxy::start(&fleet.url(0), Fault::None).await;
    let urls = vec![
        format!("{}/v2/{KEY}", proxy.url),
        format!("{}/v2/other{KEY}", proxy.url),
    ];
    let run = Cli::new()
        .run_async(bare_args(&urls, contract, &["--wait-all", "--threshold", "2"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    let names: Vec<&str> = report.txs[0].nodes.iter().map(|n| n.name.as_str()).collect();
    assert_ne!(names[0], names[1]);
    for name in &names {
        assert!(name.starts_with(&format!("{} [", proxy.url)), "{name}");
        assert!(!name.contains(KEY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_url_alias_and_output_dash() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let args = vec![
        "check".to_string(),
        "--rpc-url".into(),
        fleet.url(0),
        "--contract".into(),
        format!("{contract:#x}"),
        "--tx".into(),
        hex(tx(1)),
        "--format".into(),
        "json".into(),
        "--output".into(),
        "-".into(),
    ];
    let cli = Cli::new();
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.report().txs[0].verdict, Verdict::Confirmed);
    assert!(!cli.path("-").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_output_is_refused_before_any_request() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let proxy = Proxy::start(&fleet.url(0), Fault::None).await;
    let cli = Cli::new();
    for (output, culprit) in [
        ("/nonexistent-dir/out.prom".to_string(), "/nonexistent-dir"),
        (path_str(cli.dir.path()), "is a directory"),
    ] {
        let run = cli
            .run_async(bare_args(
                std::slice::from_ref(&proxy.url),
                contract,
                &["--output", &output],
            ))
            .await;
        run.assert_usage_error(culprit);
    }
    assert_eq!(proxy.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let ca = TestCa::new();
    let tls = Proxy::start_tls(&fleet.url(0), Fault::None, ca.server.clone()).await;
    let cli = Cli::new();
    let ca_file = cli.write("ca.pem", &ca.ca_pem);
    let one =
        |url: &str, extra: &[&str]| bare_args(&[url.to_string()], contract, &[&["--retries", "2"], extra].concat());

    // Untrusted: tls_error, in plain English, not retried.
    let run = cli.run_async(one(&tls.url, &[])).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let node = &run.report().txs[0].nodes[0];
    match &node.status {
        NodeStatus::TlsError { message } => assert!(
            message.contains("unknown issuer") && message.contains("--ca-cert"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(node.attempts, 1);

    // Trusted through --ca-cert, SSL_CERT_FILE, or the nodes file's ca_cert.
    let run = cli.run_async(one(&tls.url, &["--ca-cert", &path_str(&ca_file)])).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = cli
        .run_async_env(one(&tls.url, &[]), &[("SSL_CERT_FILE", &path_str(&ca_file))])
        .await;
    assert_eq!(run.code(), 0, "SSL_CERT_FILE: {}", run.stderr());
    let nodes = cli.write(
        "nodes.toml",
        &format!("[[node]]\nurl = \"{}\"\nca_cert = \"ca.pem\"\n", tls.url),
    );
    let args = vec![
        "check".to_string(),
        "--nodes".into(),
        path_str(&nodes),
        "--contract".into(),
        format!("{contract:#x}"),
        "--tx".into(),
        hex(tx(1)),
    ];
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "ca_cert: {}", run.stderr());

    // The wrong scheme for the port says which mistake it probably is
    // (anvil's own HTTP server answers a TLS hello in plain HTTP).
    let https_to_plain = fleet.url(0).replace("http://", "https://");
    let run = cli.run_async(one(&https_to_plain, &[])).await;
    match &run.report().txs[0].nodes[0].status {
        NodeStatus::TlsError { message } => assert!(message.contains("use http://"), "{message}"),
        other => panic!("https to a plain port: {other:?}"),
    }
    let http_to_tls = tls.url.replace("https://", "http://");
    let run = cli.run_async(one(&http_to_tls, &[])).await;
    let status = &run.report().txs[0].nodes[0].status;
    assert!(
        matches!(status, NodeStatus::TlsError { message } if message.contains("use https://")),
        "http to a TLS port: {status:?}"
    );

    // A CA file that is not PEM is a usage error.
    let junk = cli.write("junk.pem", "not a certificate");
    cli.run_async(one(&tls.url, &["--ca-cert", &path_str(&junk)]))
        .await
        .assert_usage_error("junk.pem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let elsewhere = Proxy::start(&fleet.url(0), Fault::None).await;
    let redirecting = Proxy::start(
        &fleet.url(0),
        Fault::Redirect {
            code: 307,
            location: format!("{}/stolen", elsewhere.url),
        },
    )
    .await;
    let run = Cli::new()
        .run_async(bare_args(&[format!("{}/v2/{KEY}", redirecting.url)], contract, &[]))
        .await;
    assert_eq!(run.code(), 3);
    match &run.report().txs[0].nodes[0].status {
        NodeStatus::HttpError {
            http_status: 307,
            reason: Some(reason),
        } => assert_eq!(reason, "redirect to another URL not followed"),
        other => panic!("{other:?}"),
    }
    assert_eq!(elsewhere.requests(), 0, "the redirect was followed");
    assert!(
        redirecting
            .heads()
            .iter()
            .all(|h| !h.to_ascii_lowercase().contains("referer"))
    );
    assert!(!run.stdout().contains("stolen"));
}

/// Runs the binary through bash (with pipefail, so a pipeline reports the
/// binary's status) so that a stream can be closed (`>&-`) or pointed at
/// /dev/full. Returns the exit code and stderr.
fn sh(script: &str) -> (Option<i32>, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .env("Q", env!("CARGO_BIN_EXE_quorum-check"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pipes_and_full_disks_never_abort() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let check = format!(
        "\"$Q\" check --rpc {} --contract {contract:#x} --tx {}",
        fleet.url(0),
        hex(tx(1))
    );
    let cases = [
        // The verdict's code survives a closed stdout.
        (format!("{check} --wait-all | head -c 1 >/dev/null"), 0),
        (format!("{check} >&-"), 0),
        (format!("{check} --format json >&-"), 0),
        (format!("{check} --rpc nonsense 2>&-"), 2),
        // A full disk is exit 2 with one line.
        (format!("{check} >/dev/full"), 2),
        (format!("{check} --format json >/dev/full"), 2),
        ("\"$Q\" completions bash >/dev/full".to_string(), 2),
        ("\"$Q\" completions bash >&-".to_string(), 0),
        ("\"$Q\" completions bash | head -c 1 >/dev/null".to_string(), 0),
        ("\"$Q\" man | head -c 1 >/dev/null".to_string(), 0),
        ("\"$Q\" man >/dev/full".to_string(), 2),
        ("\"$Q\" --help >&-".to_string(), 0),
    ];
    for (script, expected) in cases {
        let shown = script.clone();
        let (code, err) = tokio::task::spawn_blocking(move || sh(&script)).await.unwrap();
        assert!(!err.contains("panicked"), "{shown}: {err}");
        assert_eq!(code, Some(expected), "{shown}: {err}");
        assert!(err.lines().count() <= 1, "{shown}: one line at most: {err}");
        if expected == 2 && err.lines().count() == 1 {
            assert!(err.starts_with("quorum-check: error: "), "{shown}: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devnet_that_cannot_print_stops_its_anvils() {
    let anvil_dir = anvil().parent().unwrap().to_path_buf();
    // Two free consecutive ports, so that we can see them freed again.
    let base = loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p < 65000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            break p;
        }
    };
    let script = format!("\"$Q\" devnet --nodes 2 --port {base} >/dev/full; echo \"exit=$?\" >&2");
    let path = format!("{}:/usr/bin:/bin", anvil_dir.display());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("Q", env!("CARGO_BIN_EXE_quorum-check"))
            .env("PATH", path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exit=2"), "{err}");
    assert!(err.contains("cannot write to stdout"), "{err}");
    assert!(err.contains("starting 2 anvil nodes"), "{err}");
    // The anvils it started are gone: their ports are free.
    for port in [base, base + 1] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} still taken"
        );
    }
}

#[test]
fn colour_only_when_asked_and_never_in_files() {
    let cli = Cli::new();
    // No node answers: the verdict line is still printed (inconclusive).
    let args = |color: &str| -> Vec<String> {
        [
            "check",
            "--color",
            color,
            "--rpc",
            "http://127.0.0.1:9",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--tx",
            &hex(tx(1)),
            "--retries",
            "0",
            "-q",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let always = cli.run(args("always"));
    assert!(
        always.stdout().starts_with("\x1b[1;33mTransaction inconclusive"),
        "{:?}",
        always.stdout()
    );
    assert!(!cli.run(args("never")).stdout().contains('\x1b'));
    // auto: stdout is a pipe here.
    assert!(!cli.run(args("auto")).stdout().contains('\x1b'));
    let mut to_file = args("always");
    to_file.extend(["--output".into(), "out.txt".into()]);
    assert_eq!(cli.run(to_file).code(), 3);
    assert!(!std::fs::read_to_string(cli.path("out.txt")).unwrap().contains('\x1b'));
}

/// Completions: sourced in a real bash, the completion function completes
/// subcommands, their flags and the flags' values.
#[test]
fn bash_completion_completes_after_a_subcommand() {
    let cli = Cli::new();
    let script = cli.run(["completions", "bash"]);
    assert_eq!(script.code(), 0);
    let path = cli.write("quorum-check.bash", &script.stdout());
    let probe = format!(
        r#"
source {path}
try() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=();
  _quorum__check quorum-check "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}";
  echo "${{COMPREPLY[*]}}"; }}
try quorum-check ch
try quorum-check check --thr
try quorum-check check --format ''
try quorum-check watch --inter
try quorum-check nodes --format ''
try quorum-check devnet --appr
"#,
        path = path_str(&path)
    );
    let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "check",
            "--threshold",
            "text json prometheus",
            "--interval",
            "text json prometheus",
            "--approve"
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// fish is asked for its completions; zsh's script is syntax-checked and
/// holds each subcommand's flags. Without fish or zsh (CI installs both) the
/// test fails under CI and records the skip elsewhere.
#[test]
fn fish_and_zsh_completions() {
    let cli = Cli::new();
    if let Some(fish) = require_tool("fish", "fish", "fish's own completion of the fish script") {
        let path = cli.write("qc.fish", &cli.run(["completions", "fish"]).stdout());
        let out = Command::new(fish)
            .arg("-c")
            .arg(format!(
                "source {}; complete -C 'quorum-check check --thr'; complete -C 'quorum-check check --format '",
                path_str(&path)
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("--threshold"), "{text}");
        for value in ["text", "json", "prometheus"] {
            assert!(text.lines().any(|l| l.split('\t').next() == Some(value)), "{text}");
        }
    }
    let run = cli.run(["completions", "zsh"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let zsh = run.stdout();
    assert!(zsh.contains("'--threshold=[") && zsh.contains("prometheus"), "{zsh}");
    if let Some(shell) = require_tool("zsh", "zsh", "zsh -n on the zsh script") {
        let path = cli.write("_quorum-check", &zsh);
        let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn man_pages_for_every_subcommand_render() {
    let cli = Cli::new();
    let dir = cli.path("man1");
    let run = cli.run(["man", "--dir", &path_str(&dir)]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "quorum-check-check.1",
            "quorum-check-completions.1",
            "quorum-check-demo.1",
            "quorum-check-devnet.1",
            "quorum-check-man.1",
            "quorum-check-nodes.1",
            "quorum-check-scan.1",
            "quorum-check-serve.1",
            "quorum-check-watch.1",
            "quorum-check.1"
        ]
    );
    let man = require_tool(
        "man",
        "man-db",
        "the pages rendered by man (read as roff source instead)",
    );
    for name in &names {
        let path = dir.join(name);
        let text = match &man {
            Some(man) => {
                let out = Command::new(man)
                    .args(["-l", "-P", "cat"])
                    .arg(&path)
                    .env("MANWIDTH", "100")
                    .env("LANG", "C")
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            None => std::fs::read_to_string(&path).unwrap(),
        };
        for section in ["NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
            assert!(text.contains(section), "{name}: no {section}\n{text}");
        }
        if name == "quorum-check-check.1" {
            // Rendered, an option reads `--threshold`; in roff source `\-\-threshold`.
            let flag = if man.is_some() {
                "--threshold"
            } else {
                "\\-\\-threshold"
            };
            assert!(text.contains(flag) && text.contains("QUORUM_THRESHOLD"), "{text}");
        }
    }
}
