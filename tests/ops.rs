//! Running checks the way operators do: Prometheus metrics (parsed by a real
//! parser), atomic output files, `watch` while votes arrive, `nodes` health,
//! completions and man page, JSON logs, and the shipped examples.

mod support;

use std::{collections::HashMap, time::Duration};

use clap::Parser;
use quorum_check::{
    cli::Cli as Args,
    devnet::{Contract, Fleet, NodeSpec},
    health::HealthReport,
    report::NodeStatus,
};
use support::*;

fn prometheus(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("valid exposition format")
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"));
    match sample.value {
        prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{metric}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_parse_and_carry_the_verdict_and_nodes() {
    let (ok, no) = (tx(1), tx(2));
    // ok: nodes 1-2 approve (confirmed). no: node 1 approves, node 3 is down (inconclusive).
    let (mut fleet, contract) = voting_fleet(3, &[(ok, 2), (no, 1)]).await;
    let urls = fleet.urls();
    fleet.kill(2);
    let cli = Cli::new();
    let mut args = check_args(
        &urls,
        contract,
        &[ok, no],
        &[
            "--threshold",
            "2",
            "--format",
            "prometheus",
            "--timeout",
            "2s",
            "--metrics-per-tx",
        ],
    );
    args.retain(|a| a != "json");
    let first_format = args.iter().position(|a| a == "--format").unwrap();
    args.remove(first_format);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let scrape = prometheus(&run.stdout());
    let (h_ok, h_no) = (hex(ok), hex(no));
    assert_eq!(
        value(
            &scrape,
            "quorum_check_tx_verdict",
            &[("tx", &h_ok), ("verdict", "confirmed")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "quorum_check_tx_verdict",
            &[("tx", &h_ok), ("verdict", "rejected")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &scrape,
            "quorum_check_tx_verdict",
            &[("tx", &h_no), ("verdict", "inconclusive")]
        ),
        1.0
    );
    assert_eq!(value(&scrape, "quorum_check_tx_yes_weight", &[("tx", &h_ok)]), 2.0);
    assert_eq!(
        value(&scrape, "quorum_check_tx_threshold_weight", &[("tx", &h_ok)]),
        2.0
    );
    assert_eq!(value(&scrape, "quorum_check_node_up", &[("node", &urls[0])]), 1.0);
    assert_eq!(value(&scrape, "quorum_check_node_up", &[("node", &urls[2])]), 0.0);
    assert_eq!(
        value(
            &scrape,
            "quorum_check_node_status",
            &[("node", &urls[2]), ("status", "connect_error")]
        ),
        1.0
    );
    assert!(value(&scrape, "quorum_check_run_timestamp_seconds", &[]) > 1.7e9);
    assert!(value(&scrape, "quorum_check_run_duration_seconds", &[]) > 0.0);

    // --output writes the same atomically; stdout stays empty.
    let target = cli.path("metrics.prom");
    args.extend(["--output".into(), path_str(&target)]);
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 3);
    assert!(run.stdout().is_empty());
    let scrape = prometheus(&std::fs::read_to_string(&target).unwrap());
    assert_eq!(
        value(
            &scrape,
            "quorum_check_tx_verdict",
            &[("tx", &h_ok), ("verdict", "confirmed")]
        ),
        1.0
    );
    let leftovers = std::fs::read_dir(cli.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"));
    assert_eq!(leftovers.count(), 0, "no temporary file left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_labels_never_carry_keys() {
    let key = "sk_live_PROM_KEY_123";
    let cli = Cli::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://u:{key}@127.0.0.1:{port}/v2/{key}?k={key}");
    let args = [
        "check",
        "--rpc",
        &url,
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--tx",
        &hex(tx(1)),
        "--abi",
        &abi("Voting.json"),
        "--format",
        "prometheus",
        "--retries",
        "0",
        "-vv",
    ];
    let run = cli.run(args);
    assert_eq!(run.code(), 3);
    assert!(!run.stdout().contains(key) && !run.stderr().contains(key));
    // The logs were written (so the check above read something): they
    // name the failed node, without its credentials.
    assert!(
        run.stderr()
            .contains(&format!("node failed node=http://127.0.0.1:{port}")),
        "{}",
        run.stderr()
    );
    prometheus(&run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_waits_for_votes_that_arrive_while_it_watches() {
    let h = tx(3);
    let (fleet, contract) = voting_fleet(3, &[]).await;
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[h],
        &["--threshold", "2", "--interval", "200ms", "--deadline", "30s"],
    );
    args[0] = "watch".into();
    let format = args.iter().position(|a| a == "--format").unwrap();
    args.drain(format..format + 2);
    let cli = Cli::new();
    let watching = cli.run_async(args);
    let voting = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        fleet.cast_votes(contract, &[h], &[true, true, false]).await.unwrap();
    };
    let (run, ()) = tokio::join!(watching, voting);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "only changes are printed: {out}");
    assert!(lines[0].contains("start -> pending (yes 0 of 3, threshold 2)"), "{out}");
    assert!(lines[1].contains("pending -> Transaction confirmed"), "{out}");
    assert!(!out.contains("rejected"), "waiting is not rejecting: {out}");
    assert!(run.elapsed >= Duration::from_millis(1200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_gives_up_at_its_deadline_with_the_last_verdict() {
    let h = tx(4);
    let (fleet, contract) = voting_fleet(3, &[(h, 1)]).await;
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[h],
        &["--threshold", "2", "--interval", "300ms", "--deadline", "1500ms"],
    );
    args[0] = "watch".into();
    let run = Cli::new().run_async(args).await;
    assert_eq!(run.code(), 4, "gave up waiting: {}", run.stderr());
    assert!(
        run.elapsed >= Duration::from_millis(1100) && run.elapsed < Duration::from_secs(5),
        "{:?}",
        run.elapsed
    );
    // JSON mode: one document at the end, changes on stderr.
    let report = run.report();
    // Two "no" settle it; the approving node may or may not have been heard first.
    assert_eq!(report.txs[0].verdict, quorum_check::tally::Verdict::Rejected);
    assert!(report.txs[0].no >= 2 && report.txs[0].yes <= 1, "{:?}", report.txs[0]);
    let err = run.stderr();
    assert_eq!(err.matches("start -> pending (yes").count(), 1, "{err}");
    assert!(!err.contains("-> Transaction"), "{err}");
    // The real time it watched, not the flag's value echoed.
    let last = err.trim_end().lines().last().unwrap_or_default();
    let seconds: f64 = last
        .strip_prefix("gave up after ")
        .and_then(|rest| rest.strip_suffix("s: 0 of 1 confirmed"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!((1.4..5.0).contains(&seconds), "{err}");
}

/// `check_args` ask for JSON; these read the text lines.
fn text_format(args: &mut [String]) {
    let format = args.iter().position(|a| a == "--format").unwrap();
    args[format + 1] = "text".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_runs_a_last_round_at_its_deadline() {
    // One node of three has voted, threshold 2. The interval is longer than
    // the deadline: the only regular round is the first. The second vote
    // arrives between it and the deadline; the round timed to end at the
    // deadline sees it, so the watch ends confirmed instead of giving up.
    let h = tx(5);
    let (fleet, contract) = voting_fleet(3, &[]).await;
    fleet.cast_votes(contract, &[h], &[true, false, false]).await.unwrap();
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[h],
        &["--threshold", "2", "--interval", "30s", "--deadline", "4s"],
    );
    args[0] = "watch".into();
    text_format(&mut args);
    let cli = Cli::new();
    let watching = cli.run_async(args);
    let vote = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        fleet.cast_vote(1, contract, h, true).await.unwrap();
    };
    let (run, ()) = tokio::join!(watching, vote);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stdout().contains("pending -> Transaction confirmed"),
        "{}",
        run.stdout()
    );
    assert!(run.elapsed >= Duration::from_millis(2500), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_has_its_own_deadline_variable() {
    // QUORUM_DEADLINE is check's (a few seconds); a watch must not give up by it.
    let h = tx(6);
    let (fleet, contract) = voting_fleet(2, &[(h, 0)]).await;
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[h],
        &["--threshold", "2", "--interval", "200ms"],
    );
    args[0] = "watch".into();
    text_format(&mut args);
    let cli = Cli::new();
    let run = cli
        .run_async_env(
            args.clone(),
            &[("QUORUM_DEADLINE", "300ms"), ("QUORUM_WATCH_DEADLINE", "2s")],
        )
        .await;
    assert_eq!(run.code(), 4, "{}{}", run.stdout(), run.stderr());
    assert!(run.elapsed >= Duration::from_millis(1900), "{:?}", run.elapsed);
    assert!(run.stdout().contains("gave up after 2."), "{}", run.stdout());
    // The command line still wins over the variable.
    args.extend(["--deadline".into(), "500ms".into()]);
    let run = cli.run_async_env(args, &[("QUORUM_WATCH_DEADLINE", "1m")]).await;
    assert_eq!(run.code(), 4, "{}{}", run.stdout(), run.stderr());
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_reports_down_and_wrong_chain_nodes() {
    let specs = vec![
        NodeSpec::default(),
        NodeSpec::default(),
        NodeSpec {
            chain_id: Some(999),
            ..Default::default()
        },
    ];
    let mut fleet = Fleet::start(&anvil(), &specs).await.unwrap();
    let contract = fleet.deploy_all(Contract::Voting).await.unwrap();
    let urls = fleet.urls();
    fleet.kill(1);
    let cli = Cli::new();
    let args = |threshold: &str, format: &str| {
        let mut a = vec![
            "nodes".to_string(),
            "--chain-id".into(),
            "31337".into(),
            "--contract".into(),
        ];
        a.extend([
            format!("{contract:#x}"),
            "--threshold".into(),
            threshold.into(),
            "--format".into(),
            format.into(),
        ]);
        a.extend(["--timeout".into(), "2s".into(), "--retries".into(), "0".into()]);
        for u in &urls {
            a.extend(["--rpc".into(), u.clone()]);
        }
        a
    };
    let run = cli.run_async(args("2", "json")).await;
    assert_eq!(run.code(), 1, "healthy weight 1 < 2: {}", run.stderr());
    let report: HealthReport = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(
        (report.healthy_weight, report.threshold, report.quorum_reachable),
        (1, 2, false)
    );
    let [up, down, foreign] = &report.nodes[..] else {
        panic!("3 nodes")
    };
    assert!(up.healthy && up.chain_id == Some(31337) && up.contract_has_code == Some(true));
    assert!(
        up.client_version
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .contains("anvil"),
        "{:?}",
        up.client_version
    );
    assert!(up.head_block.is_some() && up.head_age_s.is_some());
    assert!(!down.healthy && matches!(down.failure, Some(NodeStatus::ConnectError { .. })));
    assert!(!foreign.healthy && foreign.chain_id == Some(999));
    assert!(
        foreign.problems.iter().any(|p| p.contains("chain 999")),
        "{:?}",
        foreign.problems
    );

    let run = cli.run_async(args("1", "text")).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("Quorum reachable: healthy weight 1 of 3, threshold 1"),
        "{out}"
    );
    assert!(out.contains("unhealthy"), "{out}");
    // No trailing spaces in the table (a padded last column left them).
    assert!(out.lines().all(|l| l == l.trim_end()), "{out:?}");

    // A function the contract does not have: the problem says why, not
    // "3: execution reverted". QUORUM_FORMAT applies to nodes too.
    let mut missing = args("1", "text");
    let format = missing.iter().position(|a| a == "--format").unwrap();
    missing.drain(format..format + 2);
    missing.extend(["--function".into(), "approve(bytes32)(bool)".into()]);
    let run = cli.run_async_env(missing, &[("QUORUM_FORMAT", "json")]).await;
    let report: HealthReport = serde_json::from_slice(&run.output.stdout)
        .unwrap_or_else(|e| panic!("QUORUM_FORMAT=json gives JSON: {e}: {}", run.stdout()));
    let problems = report.nodes[0].problems.join("; ");
    assert!(
        problems.contains("approve(bytes32) does not answer with a valid vote: it reverted without a reason"),
        "{problems}"
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = cli.run(["completions", shell]);
        assert_eq!(run.code(), 0);
        let out = run.stdout();
        assert!(
            out.contains("quorum-check") && out.contains("watch") && out.contains("threshold"),
            "{shell}"
        );
        // The words --block and --multicall know are offered.
        for word in ["finalized", "pinned", "earliest"] {
            assert!(out.contains(word), "{shell} completion lacks --block {word}");
        }
        assert!(out.contains("auto") && out.contains("off"), "{shell}: --multicall");
    }
    // Offered, but not the only values: a number and an address still parse.
    let run = cli.run([
        "check",
        "--block",
        "12",
        "--multicall",
        "0xcA11bde05977b3631167028862bE2a173976CA11",
    ]);
    assert!(
        !run.stderr().contains("--block") && !run.stderr().contains("--multicall"),
        "{}",
        run.stderr()
    );
    cli.run(["completions", "tcsh"]).assert_usage_error("tcsh");
    let run = cli.run(["man"]);
    assert_eq!(run.code(), 0);
    assert!(
        run.stdout().starts_with(".ie") || run.stdout().contains(".TH"),
        "{}",
        &run.stdout()[..200]
    );
    assert!(run.stdout().contains("quorum\\-check"));
}

#[test]
fn logs_can_be_json_lines() {
    let cli = Cli::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = cli.run([
        "check",
        "-v",
        "--log-format",
        "json",
        "--rpc",
        &format!("http://127.0.0.1:{port}"),
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--tx",
        &hex(tx(1)),
        "--abi",
        &abi("Voting.json"),
        "--retries",
        "0",
    ]);
    assert_eq!(run.code(), 3);
    let err = run.stderr();
    assert!(err.lines().count() >= 2, "{err}");
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some() && v.get("fields").is_some(), "{line}");
    }
}

/// `quorum-check ...` words as the CLI parser would take them.
fn parses(words: &[&str]) {
    if let Err(e) = Args::try_parse_from(words) {
        panic!("{words:?} does not parse: {e}");
    }
}

#[test]
fn the_crontab_example_uses_absolute_paths() {
    let text = std::fs::read_to_string(repo().join("examples/cron/crontab")).unwrap();
    let entries: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains('='))
        .collect();
    assert_eq!(entries.len(), 1);
    let fields: Vec<&str> = entries[0].split_whitespace().collect();
    for f in &fields[..5] {
        assert!(
            !f.is_empty() && f.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
            "schedule field {f}"
        );
    }
    // cron's PATH is /usr/bin:/bin: the command and its log are absolute paths,
    // and no % (cron would turn it into a newline).
    assert!(fields[5].starts_with('/') && fields[5].ends_with("/quorum-check-cron"));
    assert!(!entries[0].contains('%'));
    assert!(fields.iter().any(|f| f.starts_with('/') && f.ends_with(".log")));
}

/// The cron wrapper, run as cron would (empty environment, PATH=/usr/bin:/bin)
/// against a real fleet: every line stamped, each exit code named and acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_wrapper_stamps_lines_and_acts_on_each_exit_code() {
    let (confirmed, rejected) = (tx(71), tx(72));
    let (fleet, contract) = voting_fleet(3, &[(confirmed, 2), (rejected, 1)]).await;
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let cases = [
        (hex(confirmed), fleet.urls().join(","), 0, "all transactions confirmed"),
        (
            hex(rejected),
            fleet.urls().join(","),
            1,
            "not (yet) confirmed by a quorum",
        ),
        (hex(confirmed), format!("{},{dead}", fleet.url(0)), 3, "inconclusive"),
        (
            "not-a-hash".to_string(),
            fleet.urls().join(","),
            2,
            "configuration or input error",
        ),
    ];
    for (pending, urls, expected, meaning) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            format!("QUORUM_RPC_URLS={urls}\nQUORUM_CONTRACT={contract:#x}\nQUORUM_THRESHOLD=2\nQUORUM_TIMEOUT=2s\nQUORUM_RETRIES=0\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("pending.txt"), format!("{pending}\n")).unwrap();
        let out = run_cron_wrapper(dir.path(), Some("echo ALERT")).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(expected), "{text}");
        assert!(text.lines().count() >= 2, "{text}");
        for line in text.lines() {
            let (stamp, _) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(humantime::parse_rfc3339(stamp).is_ok(), "no timestamp: {line}");
        }
        assert!(
            text.contains(&format!("exit {expected}: ")) && text.contains(meaning),
            "{text}"
        );
        assert_eq!(text.contains(&format!("ALERT {expected} ")), expected != 0, "{text}");
        // A hash nobody voted on exits 1 as well: never claim a vote against it.
        assert!(!text.contains("voted against"), "{text}");
    }
}

/// examples/cron/quorum-check-cron as cron runs it: an empty environment
/// but for PATH, the binary and the directory (and `QUORUM_ALERT` if given).
async fn run_cron_wrapper(dir: &std::path::Path, alert: Option<&str>) -> std::process::Output {
    let mut command = std::process::Command::new(repo().join("examples/cron/quorum-check-cron"));
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QUORUM_CHECK_BIN", env!("CARGO_BIN_EXE_quorum-check"))
        .env("QUORUM_CHECK_DIR", dir);
    if let Some(alert) = alert {
        command.env("QUORUM_ALERT", alert);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_wrapper_logs_a_configuration_diagnosis() {
    let h = tx(41);
    let (fleet, _contract) = voting_fleet(2, &[(h, 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "QUORUM_RPC_URLS={}\nQUORUM_CONTRACT=0x000000000000000000000000000000000000dEaD\nQUORUM_THRESHOLD=2\n",
            fleet.urls().join(",")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("pending.txt"), format!("{}\n", hex(h))).unwrap();
    let out = run_cron_wrapper(dir.path(), None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("no node has code at 0x000000000000000000000000000000000000dEaD"),
        "{text}"
    );
    assert!(text.contains("exit 3: inconclusive"), "{text}");
}

/// The examples rely on .env for the contract: parse with it supplied as a flag.
fn parses_with_env(words: &[&str]) {
    let mut words = words.to_vec();
    if !words.contains(&"--contract") {
        words.extend(["--contract", "0x5FbDB2315678afecb367f032d93F642f64180aa3"]);
    }
    parses(&words);
}

#[test]
fn the_systemd_units_parse() {
    let service = std::fs::read_to_string(repo().join("examples/systemd/quorum-check.service")).unwrap();
    let timer = std::fs::read_to_string(repo().join("examples/systemd/quorum-check.timer")).unwrap();
    let sections = |text: &str| -> HashMap<String, Vec<(String, String)>> {
        let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut current = String::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.to_string();
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("not key=value: {line}"));
            assert!(!current.is_empty(), "{line} outside a section");
            out.entry(current.clone())
                .or_default()
                .push((k.to_string(), v.to_string()));
        }
        out
    };
    let service = sections(&service);
    let exec = &service["Service"].iter().find(|(k, _)| k == "ExecStart").unwrap().1;
    let mut words: Vec<&str> = exec.split_whitespace().collect();
    assert!(words[0].ends_with("/quorum-check"));
    words[0] = "quorum-check";
    parses_with_env(&words);
    assert!(
        service["Service"]
            .iter()
            .any(|(k, v)| k == "SuccessExitStatus" && v.contains('1') && v.contains('3'))
    );
    let timer = sections(&timer);
    assert!(
        timer["Timer"]
            .iter()
            .any(|(k, v)| k == "Unit" && v == "quorum-check.service")
    );
    assert!(timer.contains_key("Install"));
    let keys: Vec<&str> = service["Service"].iter().map(|(k, _)| k.as_str()).collect();
    for hardening in [
        "ProtectSystem",
        "PrivateTmp",
        "NoNewPrivileges",
        "RestrictAddressFamilies",
        "SystemCallFilter",
        "ReadWritePaths",
        "EnvironmentFile",
    ] {
        assert!(keys.contains(&hardening), "{hardening}");
    }
    assert!(
        !keys.contains(&"WorkingDirectory"),
        "the service must not read a .env of its own"
    );
    // The serve unit: its command parses, it listens on loopback only.
    let serve = std::fs::read_to_string(repo().join("examples/systemd/quorum-check-serve.service")).unwrap();
    let serve = sections(&serve);
    let exec = &serve["Service"].iter().find(|(k, _)| k == "ExecStart").unwrap().1;
    let mut words: Vec<&str> = exec.split_whitespace().collect();
    words[0] = "quorum-check";
    assert_eq!(words[1], "serve");
    parses_with_env(&words);
    assert!(exec.contains("--listen 127.0.0.1:"), "{exec}");
}

/// `systemd-analyze verify` on the units (with the binary where the unit
/// expects it replaced by the one built here, and the man pages it cites
/// installed in a temporary MANPATH), and the exposure score of
/// `systemd-analyze security`, which the README quotes.
#[test]
fn the_systemd_units_verify_and_are_hardened() {
    let Some(analyze) = require_tool(
        "systemd-analyze",
        "systemd",
        "the systemd units (verify, exposure score)",
    ) else {
        return;
    };
    let cli = Cli::new();
    let man = cli.path("man");
    assert_eq!(cli.run(["man", "--dir", &path_str(&man.join("man1"))]).code(), 0);
    for unit in [
        "quorum-check.service",
        "quorum-check.timer",
        "quorum-check-serve.service",
    ] {
        let text = std::fs::read_to_string(repo().join("examples/systemd").join(unit))
            .unwrap()
            .replace("/usr/local/bin/quorum-check", env!("CARGO_BIN_EXE_quorum-check"));
        cli.write(unit, &text);
    }
    let out = std::process::Command::new(&analyze)
        .args(["verify", "--man=yes"])
        .arg(cli.path("quorum-check.service"))
        .arg(cli.path("quorum-check.timer"))
        .arg(cli.path("quorum-check-serve.service"))
        .env("MANPATH", &man)
        .current_dir(cli.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "verify: {err}");
    for unit in ["quorum-check.service", "quorum-check-serve.service"] {
        let out = std::process::Command::new(&analyze)
            .args(["security", "--offline=true", "--no-pager"])
            .arg(cli.path(unit))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let score: f64 = text
            .lines()
            .find_map(|l| l.split(&format!("Overall exposure level for {unit}:")).nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure score in: {text}"));
        assert!(score <= 2.0, "{unit}: exposure {score} > 2.0:\n{text}");
    }
}

#[test]
fn the_nodes_file_example_parses() {
    let text = std::fs::read_to_string(repo().join("examples/nodes.toml")).unwrap();
    let env = |name: &str| {
        ["ALCHEMY_KEY", "INFURA_KEY", "GETH_TOKEN"]
            .contains(&name)
            .then(|| "k".to_string())
    };
    let nodes = quorum_check::nodes_file::parse_nodes_toml_with(&text, &env).unwrap();
    // Every ${...} it uses is set in the testnet .env example.
    let testnet = std::fs::read_to_string(repo().join("examples/testnet.env")).unwrap();
    for name in ["ALCHEMY_KEY", "INFURA_KEY", "GETH_TOKEN"] {
        assert!(
            text.contains(&format!("${{{name}}}")) && testnet.contains(&format!("{name}=")),
            "{name}"
        );
    }
    assert_eq!(nodes.len(), 4);
    assert!(nodes.iter().all(|n| n.name.is_some() && n.from.is_some()));
    assert_eq!(nodes.iter().map(|n| n.weight).sum::<u64>(), 6);
}

#[test]
fn the_env_examples_parse() {
    use quorum_check::{cli::*, config::BlockSpec, node_url::NodeUrl, threshold::Threshold};
    for file in ["examples/testnet.env", ".env.example"] {
        let path = repo().join(file);
        for item in dotenvy::from_path_iter(&path).unwrap() {
            let (key, value) = item.unwrap();
            let ok = match key.as_str() {
                "QUORUM_RPC_URLS" => value.split(',').all(|u| NodeUrl::parse(u).is_ok()),
                "QUORUM_NODES" => repo().join("examples").join(&value).is_file() || value.ends_with(".toml"),
                "QUORUM_CONTRACT" => parse_address(&value).is_ok(),
                "QUORUM_ABI" => repo().join(&value).is_file(),
                "QUORUM_FUNCTION" => !value.is_empty(),
                "QUORUM_MULTICALL" => value.parse::<quorum_check::Multicall>().is_ok(),
                "QUORUM_TX" => value.split(',').all(|t| parse_tx_hash(t).is_ok()),
                "QUORUM_THRESHOLD" => value.parse::<Threshold>().is_ok(),
                "QUORUM_CHAIN_ID" | "QUORUM_RETRIES" | "QUORUM_BATCH_SIZE" | "QUORUM_MAX_RESPONSE_BYTES" => {
                    value.parse::<u64>().is_ok()
                }
                "QUORUM_BLOCK" => value.parse::<BlockSpec>().is_ok(),
                "QUORUM_TIMEOUT" | "QUORUM_DEADLINE" | "QUORUM_INTERVAL" => parse_duration(&value).is_ok(),
                "QUORUM_FORMAT" => ["text", "json", "prometheus"].contains(&value.as_str()),
                "QUORUM_LOG_FORMAT" => ["text", "json"].contains(&value.as_str()),
                "ANVIL_BIN" | "QUORUM_OUTPUT" | "QUORUM_CA_CERT" => true,
                "ALCHEMY_KEY" | "INFURA_KEY" | "GETH_TOKEN" => value.starts_with("YOUR_"),
                other => panic!("{file}: unknown variable {other}"),
            };
            assert!(ok, "{file}: {key}={value} does not parse");
        }
    }
}
