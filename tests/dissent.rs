//! Who disagrees (issue 21): per-node `dissent` and `failed` counts in the
//! text, JSON and Prometheus outputs, and `--dissent-log`'s lines — against
//! real anvil fleets with lying nodes (the proxy's `flip` and `noncanon`
//! modes), a lagging node at `--block pinned`, a node on another chain and a
//! failing node. `serve`'s counter is tested in tests/serve.rs.

mod support;

use std::time::Duration;

use alloy::primitives::{Address, B256};
use quorum_check::{
    devnet::{Contract, Fleet, NodeSpec},
    report::CheckReport,
};
use serde_json::Value;
use support::{
    proxy::{Fault, Proxy},
    *,
};

/// A nodes file naming `urls` `node-1`, `node-2`, … in order.
fn nodes_file(cli: &Cli, urls: &[String]) -> String {
    let text: String = urls
        .iter()
        .enumerate()
        .map(|(i, url)| format!("[[node]]\nname = \"node-{}\"\nurl = \"{url}\"\n\n", i + 1))
        .collect();
    path_str(&cli.write("nodes.toml", &text))
}

/// `check` arguments for the nodes of `nodes` (a nodes file), JSON output.
fn args(nodes: &str, contract: Address, txs: &[B256], extra: &[&str]) -> Vec<String> {
    let mut args = check_args(&[], contract, txs, extra);
    args.extend(["--nodes".into(), nodes.into()]);
    args
}

fn with_format(mut args: Vec<String>, format: &str) -> Vec<String> {
    let i = args.iter().position(|a| a == "--format").unwrap();
    args[i + 1] = format.into();
    args
}

/// The log's lines, each parsed as JSON (a torn line fails the test).
fn log_lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the log ends with a whole line"
    );
    text.lines()
        .map(|l| {
            assert!(l.len() < 4096, "a line of {} bytes", l.len());
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
        })
        .collect()
}

/// (dissent, failed) of every node of the top-level `nodes[]`.
fn counts(report: &CheckReport) -> Vec<(u64, u64)> {
    report.nodes.iter().map(|n| (n.dissent, n.failed)).collect()
}

fn gauge(scrape: &prometheus_parse::Scrape, metric: &str, node: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && s.labels.get("node") == Some(node))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{metric}: {other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liars_and_a_failing_node_are_counted_in_every_output_and_the_log() {
    // tx 1 and 2: everybody voted yes; tx 3: nobody did.
    let hs = [tx(1), tx(2), tx(3)];
    let (fleet, contract) = voting_fleet(6, &[(hs[0], 6), (hs[1], 6), (hs[2], 0)]).await;
    // Node 4 answers non-canonical bool words, node 5 flips every vote,
    // node 6 answers HTTP 500.
    let noncanon = Proxy::start(&fleet.url(3), Fault::noncanon_votes(false)).await;
    let flip = Proxy::start(&fleet.url(4), Fault::flip_votes()).await;
    let down = Proxy::start(
        &fleet.url(5),
        Fault::Status {
            code: 500,
            retry_after: None,
        },
    )
    .await;
    let urls = vec![
        fleet.url(0),
        fleet.url(1),
        fleet.url(2),
        noncanon.url.clone(),
        flip.url.clone(),
        down.url.clone(),
    ];
    let cli = Cli::new();
    let nodes = nodes_file(&cli, &urls);
    let common = ["--threshold", "3", "--retries", "0", "--chain-id", "31337"];

    // JSON: a quorum formed on all three (yes, yes, no) — on tx 3 the no
    // side reached the threshold, though the verdict stays inconclusive
    // (the failed nodes could have said yes).
    let run = cli
        .run_async(args(&nodes, contract, &hs, &[&common[..], &["--wait-all"]].concat()))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = run.report();
    assert_eq!(
        counts(&report),
        [(0, 0), (0, 0), (0, 0), (0, 3), (3, 0), (0, 3)],
        "{:?}",
        report.nodes
    );
    // What the checker makes of a non-canonical bool word: no valid answer.
    assert!(
        report.txs.iter().all(|t| t.nodes[3].status.name() == "bad_response"),
        "{:?}",
        report.txs[0].nodes[3]
    );

    // Text, with the log: the log makes the run wait for every node.
    let log = cli.path("dissent.log");
    let text_args = with_format(
        args(
            &nodes,
            contract,
            &hs,
            &[&common[..], &["--dissent-log", &path_str(&log)]].concat(),
        ),
        "text",
    );
    let run = cli.run_async(text_args).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let stdout = run.stdout();
    let disputes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("dissent: ") || l.starts_with("failed: "))
        .collect();
    assert_eq!(
        disputes,
        [
            "dissent: node-5 disagreed with the quorum on 3 of 3 transactions",
            "failed: node-4 gave no valid answer for 3 transactions",
            "failed: node-6 gave no valid answer for 3 transactions",
        ],
        "{stdout}"
    );
    // After the verdict lines.
    let lines: Vec<&str> = stdout.lines().collect();
    let last_verdict = lines.iter().rposition(|l| l.starts_with("Transaction ")).unwrap();
    let first_dispute = lines.iter().position(|l| l.starts_with("dissent: ")).unwrap();
    assert!(first_dispute > last_verdict, "{stdout}");

    // The log: one line per (transaction, node) dispute.
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 9, "{lines:?}");
    let by_node = |node: &str| lines.iter().filter(|l| l["node"] == node).collect::<Vec<_>>();
    let liar = by_node("node-5");
    assert_eq!(liar.len(), 3);
    for line in &liar {
        let h = line["tx_hash"].as_str().unwrap();
        let (vote, verdict) = if h == hex(hs[2]) {
            (true, "inconclusive")
        } else {
            (false, "confirmed")
        };
        assert_eq!(line["status"], "ok");
        assert_eq!(line["vote"], vote, "{line}");
        assert_eq!(line["verdict"], verdict, "{line}");
        assert_eq!((&line["block"], &line["chain_id"]), (&"latest".into(), &31337.into()));
        let time = line["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && humantime::parse_rfc3339(time).is_ok(), "{time}");
    }
    let mut liar_txs: Vec<&str> = liar.iter().map(|l| l["tx_hash"].as_str().unwrap()).collect();
    liar_txs.sort();
    let mut expected: Vec<String> = hs.iter().map(|h| hex(*h)).collect();
    expected.sort();
    assert_eq!(liar_txs, expected);
    for (node, status) in [("node-4", "bad_response"), ("node-6", "http_error")] {
        let failed = by_node(node);
        assert_eq!(failed.len(), 3, "{node}");
        assert!(
            failed.iter().all(|l| l["status"] == status && l["vote"].is_null()),
            "{failed:?}"
        );
    }
    assert!(by_node("node-1").is_empty() && by_node("node-2").is_empty());

    // Prometheus: the gauges of the run.
    let run = cli
        .run_async(with_format(args(&nodes, contract, &hs, &common), "prometheus"))
        .await;
    let text = run.stdout();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let pairs: Vec<(Option<f64>, Option<f64>)> = (1..=6)
        .map(|i| {
            let node = format!("node-{i}");
            (
                gauge(&scrape, "quorum_check_node_dissent", &node),
                gauge(&scrape, "quorum_check_node_failed", &node),
            )
        })
        .collect();
    let expected: Vec<(Option<f64>, Option<f64>)> = [(0., 0.), (0., 0.), (0., 0.), (0., 3.), (3., 0.), (0., 3.)]
        .iter()
        .map(|(d, f)| (Some(*d), Some(*f)))
        .collect();
    assert_eq!(pairs, expected, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_word_is_no_valid_answer_and_a_node_not_waited_for_is_neither() {
    let h = tx(7);
    let (fleet, contract) = voting_fleet(4, &[(h, 4)]).await;
    // Node 3 answers a bool word with 32 more bytes behind it; node 4 lies,
    // slowly: three answers settle the verdict before it is heard.
    let noncanon = Proxy::start(&fleet.url(2), Fault::noncanon_votes(true)).await;
    let flip = Proxy::start(&fleet.url(3), Fault::flip_votes()).await;
    let slow = Proxy::start(&flip.url, Fault::Delay(Duration::from_millis(1500))).await;
    let urls = vec![fleet.url(0), fleet.url(1), noncanon.url.clone(), slow.url.clone()];
    let cli = Cli::new();
    let nodes = nodes_file(&cli, &urls);

    let run = cli
        .run_async(args(&nodes, contract, &[h], &["--threshold", "2", "--no-wait-all"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    let t = &report.txs[0];
    assert_eq!(t.nodes[3].status.name(), "skipped");
    // Node 3 may or may not have answered before the verdict settled.
    let third = match t.nodes[2].status.name() {
        "skipped" => (0, 0),
        "bad_response" => (0, 1),
        other => panic!("node 3: {other}"),
    };
    assert_eq!(counts(&report), [(0, 0), (0, 0), third, (0, 0)], "{:?}", report.nodes);

    // Waited for, the liar is a dissenter.
    let run = cli
        .run_async(args(&nodes, contract, &[h], &["--threshold", "2", "--wait-all"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(counts(&run.report()), [(0, 0), (0, 0), (0, 1), (1, 0)]);

    // --dissent-log waits for every node; --no-wait-all turns that off again.
    let log = cli.path("d.log");
    let logged = |extra: &'static [&'static str]| {
        let mut a = with_format(
            args(
                &nodes,
                contract,
                &[h],
                &["--threshold", "2", "--dissent-log", &path_str(&log)],
            ),
            "text",
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = cli.run_async(logged(&[])).await;
    assert!(
        run.stdout()
            .contains("\ndissent: node-4 disagreed with the quorum on 1 of 1 transaction\n"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("\nfailed: node-3 gave no valid answer for 1 transaction\n")
    );
    assert_eq!(log_lines(&log).len(), 2);
    let run = cli.run_async(logged(&["--no-wait-all"])).await;
    assert!(!run.stdout().contains("dissent: "), "{}", run.stdout());
    let lines = log_lines(&log);
    assert_eq!(
        lines.iter().filter(|l| l["node"] == "node-4").count(),
        1,
        "the liar, not waited for, is not logged again: {lines:?}"
    );
    assert!(lines.iter().skip(2).all(|l| l["node"] == "node-3"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_and_a_node_on_another_chain_gave_no_valid_answer() {
    let h = tx(11);
    let mut specs = vec![NodeSpec::default(); 4];
    specs.push(NodeSpec {
        chain_id: Some(999),
        ..Default::default()
    });
    let fleet = Fleet::start(&anvil(), &specs).await.unwrap();
    let contract = fleet.deploy_all(Contract::Voting).await.unwrap();
    fleet.cast_votes(contract, &[h], &[true; 5]).await.unwrap();
    // Nodes 1–3 move 5 blocks on; node 4 stays behind: lagging at the pin.
    for i in 0..3 {
        fleet.mine(i, 5).await.unwrap();
    }
    let cli = Cli::new();
    let nodes = nodes_file(&cli, &fleet.urls());
    let log = cli.path("d.log");
    let extra = [
        "--threshold",
        "3",
        "--block",
        "pinned",
        "--chain-id",
        "31337",
        "--dissent-log",
        &path_str(&log),
    ];
    let run = cli.run_async(args(&nodes, contract, &[h], &extra)).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    let t = &report.txs[0];
    assert_eq!(
        (t.nodes[3].status.name(), t.nodes[4].status.name()),
        ("lagging", "wrong_chain")
    );
    assert_eq!(counts(&report), [(0, 0), (0, 0), (0, 0), (0, 1), (0, 1)]);
    let pinned = report.pinned_block.expect("pinned");
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, (node, status)) in lines.iter().zip([("node-4", "lagging"), ("node-5", "wrong_chain")]) {
        assert_eq!((&line["node"], &line["status"]), (&node.into(), &status.into()));
        assert_eq!(line["block"], pinned, "the block read, as a number");
        assert_eq!(
            (&line["chain_id"], &line["verdict"]),
            (&31337.into(), &"confirmed".into())
        );
    }
    assert!(lines[1]["detail"].as_str().unwrap().contains("999"), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_logs_each_dispute_once_over_many_rounds() {
    // tx 1 confirmed by all; tx 2 by nobody: it stays pending, the watch goes on.
    let hs = [tx(21), tx(22)];
    let (fleet, contract) = voting_fleet(4, &[(hs[0], 4), (hs[1], 0)]).await;
    let flip = Proxy::start(&fleet.url(3), Fault::flip_votes()).await;
    let urls = vec![fleet.url(0), fleet.url(1), fleet.url(2), flip.url.clone()];
    let cli = Cli::new();
    let nodes = nodes_file(&cli, &urls);
    let log = cli.path("watch.log");
    let mut watch = with_format(
        args(
            &nodes,
            contract,
            &hs,
            &[
                "--threshold",
                "3",
                "--interval",
                "200ms",
                "--deadline",
                "2s",
                "--dissent-log",
                &path_str(&log),
            ],
        ),
        "text",
    );
    watch[0] = "watch".into();
    let run = cli.run_async(watch).await;
    assert_eq!(run.code(), 4, "gave up on tx 2: {}{}", run.stdout(), run.stderr());
    let rounds = flip.requests();
    assert!(rounds >= 3, "several rounds asked the liar: {rounds}");
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "each dispute once: {lines:?}");
    let mut txs: Vec<&str> = lines.iter().map(|l| l["tx_hash"].as_str().unwrap()).collect();
    txs.sort();
    let mut expected = [hex(hs[0]), hex(hs[1])];
    expected.sort();
    assert_eq!(txs, expected);
    assert!(lines.iter().all(|l| l["node"] == "node-4" && l["status"] == "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_appending_to_one_log_leave_whole_lines() {
    let hs: Vec<B256> = (100..124).map(tx).collect();
    let votes: Vec<(B256, usize)> = hs.iter().map(|h| (*h, 3)).collect();
    let (fleet, contract) = voting_fleet(3, &votes).await;
    let flip = Proxy::start(&fleet.url(2), Fault::flip_votes()).await;
    let cli = Cli::new();
    // A name longer than a line may be: it is cut to fit 4 KiB.
    let long = "x".repeat(6000);
    let text = format!(
        "[[node]]\nurl = \"{}\"\n[[node]]\nurl = \"{}\"\n[[node]]\nname = \"{long}\"\nurl = \"{}\"\n",
        fleet.url(0),
        fleet.url(1),
        flip.url
    );
    let nodes = path_str(&cli.write("nodes.toml", &text));
    let log = cli.path("shared.log");
    let run_args = args(
        &nodes,
        contract,
        &hs,
        &["--threshold", "2", "--dissent-log", &path_str(&log)],
    );
    let (a, b) = tokio::join!(cli.run_async(run_args.clone()), cli.run_async(run_args));
    assert_eq!((a.code(), b.code()), (0, 0), "{}{}", a.stderr(), b.stderr());
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2 * hs.len());
    for line in &lines {
        let node = line["node"].as_str().unwrap();
        assert!(
            node.starts_with("xxx") && node.ends_with('…') && node.len() < 4096,
            "{}",
            node.len()
        );
        assert_eq!(line["vote"], false);
    }
}

#[test]
fn a_bad_log_path_is_a_usage_error_before_any_request() {
    let cli = Cli::new();
    let dir = path_str(cli.dir.path());
    // Nothing listens on port 9: a request would fail, not a usage error.
    for (bad, culprit) in [
        ("/dev/null", "not a regular file"),
        (dir.as_str(), "is a directory"),
        ("-", "must be a file path"),
    ] {
        let run = cli.run(check_args(
            &["http://127.0.0.1:9".into()],
            Address::repeat_byte(0x11),
            &[tx(1)],
            &["--dissent-log", bad],
        ));
        run.assert_usage_error("--dissent-log");
        assert!(run.stderr().contains(culprit), "{}", run.stderr());
        let run = cli.run_env(
            check_args(
                &["http://127.0.0.1:9".into()],
                Address::repeat_byte(0x11),
                &[tx(1)],
                &[],
            ),
            &[("QUORUM_DISSENT_LOG", bad)],
        );
        run.assert_usage_error("--dissent-log");
    }
}
