//! Monitoring that tells the truth: nodes not waited for are never "down",
//! `nodes` catches lagging, syncing, stale and silent nodes, and the alert
//! rules name metrics that exist — tested against real anvil fleets,
//! metrics read by a Prometheus parser. `quorum-check serve` is tested in
//! tests/serve.rs.

mod support;

use std::time::Duration;

use alloy::primitives::B256;
use quorum_check::{health::HealthReport, report::CheckReport};
use support::{
    proxy::{Fault, Proxy},
    *,
};

fn prometheus(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("valid exposition format")
}

fn samples<'a>(
    scrape: &'a prometheus_parse::Scrape,
    metric: &'a str,
) -> impl Iterator<Item = &'a prometheus_parse::Sample> + 'a {
    scrape.samples.iter().filter(move |s| s.metric == metric)
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(scrape, metric)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{metric}: {other:?}"),
        })
}

/// `check` arguments with Prometheus output (the helper's JSON dropped).
fn prometheus_args(urls: &[String], contract: alloy::primitives::Address, txs: &[B256], extra: &[&str]) -> Vec<String> {
    let mut args = check_args(urls, contract, txs, extra);
    let i = args.iter().position(|a| a == "json").unwrap();
    args[i] = "prometheus".into();
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_not_waited_for_are_unknown_never_down() {
    let h = tx(1);
    let (fleet, contract) = voting_fleet(4, &[(h, 4)]).await;
    // Node 4 answers after 1.5 s; three fast "yes" settle the verdict long before.
    let slow = Proxy::start(&fleet.url(3), Fault::Delay(Duration::from_millis(1500))).await;
    let urls = vec![fleet.url(0), fleet.url(1), fleet.url(2), slow.url.clone()];
    let cli = Cli::new();

    // --no-wait-all: settled early, the slow node not heard — and not down.
    let run = cli
        .run_async(prometheus_args(
            &urls,
            contract,
            &[h],
            &["--threshold", "3", "--no-wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let scrape = prometheus(&run.stdout());
    assert_eq!(
        value(&scrape, "quorum_check_node_heard", &[("node", &urls[3])]),
        Some(0.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_node_up", &[("node", &urls[3])]),
        None,
        "no up sample for a node not heard"
    );
    assert_eq!(
        value(
            &scrape,
            "quorum_check_node_status",
            &[("node", &urls[3]), ("status", "skipped")]
        ),
        Some(1.0)
    );
    assert!(run.elapsed < Duration::from_millis(1400), "{:?}", run.elapsed);

    // The default for Prometheus output: every node waited for and heard, all up.
    let run = cli
        .run_async(prometheus_args(&urls, contract, &[h], &["--threshold", "3"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.elapsed >= Duration::from_millis(1500));
    let scrape = prometheus(&run.stdout());
    for url in &urls {
        assert_eq!(value(&scrape, "quorum_check_node_heard", &[("node", url)]), Some(1.0));
        assert_eq!(value(&scrape, "quorum_check_node_up", &[("node", url)]), Some(1.0));
    }
    assert_eq!(value(&scrape, "quorum_check_healthy_weight", &[]), Some(4.0));
    // The same with --output FILE, in any format: a monitoring run waits.
    let file = cli.path("report.json");
    let mut args = check_args(&urls, contract, &[h], &["--threshold", "3"]);
    args.extend(["--output".into(), path_str(&file)]);
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report: CheckReport = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(report.txs[0].nodes.iter().all(|n| n.status.name() == "ok"));
    // And plain stdout JSON still settles early.
    let run = cli
        .run_async(check_args(&urls, contract, &[h], &["--threshold", "3"]))
        .await;
    assert_eq!(run.report().txs[0].nodes[3].status.name(), "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_low_cardinality_unless_asked() {
    let hs: Vec<B256> = (10..15).map(tx).collect();
    let (fleet, contract) = voting_fleet(2, &[(hs[0], 2), (hs[1], 1)]).await;
    let cli = Cli::new();
    let urls = fleet.urls();
    let run = cli
        .run_async(prometheus_args(&urls, contract, &hs, &["--threshold", "2"]))
        .await;
    let text = run.stdout();
    let scrape = prometheus(&text);
    assert!(
        scrape.samples.iter().all(|s| s.labels.get("tx").is_none()),
        "no tx label by default"
    );
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "rejected")]),
        Some(4.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "inconclusive")]),
        Some(0.0)
    );
    // The URL only in the info metric; a full state set per node.
    for s in &scrape.samples {
        assert_eq!(
            s.labels.get("url").is_some(),
            s.metric == "quorum_check_node_info",
            "{}",
            s.metric
        );
    }
    assert_eq!(samples(&scrape, "quorum_check_node_status").count(), 2 * 14);
    assert_eq!(
        samples(&scrape, "quorum_check_node_status")
            .filter(|s| matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 1.0))
            .count(),
        2
    );
    assert_eq!(
        value(
            &scrape,
            "quorum_check_node_info",
            &[("node", &urls[0]), ("via", "multicall")]
        ),
        Some(1.0)
    );
    // Floats rounded to the millisecond.
    for line in text
        .lines()
        .filter(|l| l.starts_with("quorum_check_node_latency_seconds"))
    {
        let number = line.rsplit(' ').next().unwrap();
        assert!(number.split('.').nth(1).is_none_or(|d| d.len() <= 3), "{line}");
    }
    // --metrics-per-tx: 7 series per hash.
    let run = cli
        .run_async(prometheus_args(
            &urls,
            contract,
            &hs,
            &["--threshold", "2", "--metrics-per-tx"],
        ))
        .await;
    let scrape = prometheus(&run.stdout());
    assert_eq!(
        scrape.samples.iter().filter(|s| s.labels.get("tx").is_some()).count(),
        7 * hs.len()
    );
}

/// Every `quorum_check_*` name in an expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("quorum_check_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        out.push(name);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_rules_parse_and_name_metrics_that_exist() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(repo().join("examples/prometheus/alerts.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("alerts.yml is YAML");
    let rules = docs[0]["groups"][0]["rules"].as_vec().expect("groups[0].rules");
    let alerts: Vec<&str> = rules.iter().map(|r| r["alert"].as_str().expect("alert name")).collect();
    assert_eq!(
        alerts,
        [
            "QuorumCheckStale",
            "QuorumCheckQuorumAtRisk",
            "QuorumCheckNodeDown",
            "QuorumCheckTransactionUnconfirmed",
            "QuorumCheckNodeKeepsDissenting",
            "QuorumCheckNodeKeepsFailing"
        ]
    );
    // The metrics they use are written by a real run.
    let h = tx(1);
    let (fleet, contract) = voting_fleet(1, &[(h, 1)]).await;
    let run = Cli::new()
        .run_async(prometheus_args(&fleet.urls(), contract, &[h], &["--threshold", "1"]))
        .await;
    let scrape = prometheus(&run.stdout());
    for rule in rules {
        let expr = rule["expr"].as_str().expect("expr");
        assert!(rule["for"].as_str().is_some(), "{expr}: a `for` duration");
        for name in metric_names(expr) {
            assert!(
                samples(&scrape, &name).next().is_some(),
                "{name} (in `{expr}`) is not written"
            );
        }
    }
    // The scrape configuration is YAML and loads the rules.
    let config = std::fs::read_to_string(repo().join("examples/prometheus/prometheus.yml")).unwrap();
    let config = &YamlLoader::load_from_str(&config).unwrap()[0];
    assert_eq!(config["rule_files"][0].as_str(), Some("alerts.yml"));
    assert_eq!(config["scrape_configs"][0]["metrics_path"].as_str(), Some("/metrics"));
    // promtool (Debian package prometheus; CI installs it) checks the rules fully.
    if let Some(promtool) = require_tool("promtool", "prometheus", "`promtool check rules` on the alert rules") {
        let out = std::process::Command::new(promtool)
            .args(["check", "rules"])
            .arg(repo().join("examples/prometheus/alerts.yml"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "promtool: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // It found every rule (a file it read as empty would pass as well).
        let total: usize = docs[0]["groups"]
            .as_vec()
            .expect("groups")
            .iter()
            .map(|g| g["rules"].as_vec().map_or(0, Vec::len))
            .sum();
        assert!(said.contains(&format!("SUCCESS: {total} rules found")), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_catches_lag_syncing_stale_heads_and_silent_vote_functions() {
    let (fleet, contract) = voting_fleet(5, &[]).await;
    fleet.mine(0, 10).await.unwrap(); // the others are now 10 blocks behind node 1
    fleet.set_code(2, contract, &[0x00]).await.unwrap(); // code, but vote() answers nothing
    let syncing = Proxy::start(
        &fleet.url(3),
        Fault::rewrite(|v| {
            for entry in v.as_array_mut().into_iter().flatten() {
                if entry["result"] == serde_json::Value::Bool(false) {
                    entry["result"] =
                        serde_json::json!({"startingBlock": "0x0", "currentBlock": "0x1", "highestBlock": "0x99"});
                }
            }
        }),
    )
    .await;
    let ahead = Proxy::start(
        &fleet.url(4),
        Fault::rewrite(|v| {
            let future = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 100;
            for entry in v.as_array_mut().into_iter().flatten() {
                if entry["result"].get("timestamp").is_some() {
                    entry["result"]["timestamp"] = serde_json::json!(format!("{future:#x}"));
                }
            }
        }),
    )
    .await;
    let urls = vec![
        fleet.url(0),
        fleet.url(1),
        fleet.url(2),
        syncing.url.clone(),
        ahead.url.clone(),
    ];
    let cli = Cli::new();
    let nodes = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["nodes".into(), "--contract".into(), format!("{contract:#x}")];
        for u in &urls {
            args.extend(["--rpc".into(), u.clone()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = cli.run_async(nodes(&["--format", "json", "--threshold", "1"])).await;
    let report: HealthReport = serde_json::from_str(&run.stdout()).unwrap_or_else(|_| panic!("{}", run.stderr()));
    let problems: Vec<String> = report.nodes.iter().map(|n| n.problems.join("; ")).collect();
    assert!(report.nodes[0].healthy, "{problems:?}");
    assert_eq!(report.nodes[0].head_lag, Some(0));
    assert_eq!(report.nodes[1].head_lag, Some(10));
    assert!(
        problems[1].contains("10 blocks behind the highest on chain 31337 (--max-lag 5)"),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("does not answer with a valid vote"),
        "{problems:?}"
    );
    assert_eq!(report.nodes[2].vote_answers, Some(false));
    assert!(problems[3].contains("syncing"), "{problems:?}");
    assert_eq!(report.nodes[3].syncing, Some(true));
    assert_eq!(report.nodes[4].head_age_s, Some(0), "clamped, not negative");
    assert!(report.nodes[4].clock_ahead_s.is_some_and(|a| (95..=105).contains(&a)));
    assert_eq!(run.code(), 0, "node 1 alone holds the threshold");
    // --max-lag raised: the lagging node is healthy again. --max-head-age: stale heads.
    let run = cli.run_async(nodes(&["--format", "json", "--max-lag", "20"])).await;
    let report: HealthReport = serde_json::from_str(&run.stdout()).unwrap();
    assert!(report.nodes[1].healthy);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let run = cli
        .run_async(nodes(&["--format", "json", "--max-head-age", "1s", "--max-lag", "20"]))
        .await;
    let report: HealthReport = serde_json::from_str(&run.stdout()).unwrap();
    assert!(
        report.nodes[1].problems.iter().any(|p| p.contains("--max-head-age 1s")),
        "{:?}",
        report.nodes[1]
    );
    // A head 100 s ahead is not stale, but further ahead than a head may be
    // old (issue #16): a problem of its own.
    assert!(
        report.nodes[4].problems.iter().all(|p| !p.contains(" old (")),
        "a head ahead is not stale: {:?}",
        report.nodes[4].problems
    );
    assert!(
        report.nodes[4]
            .problems
            .iter()
            .any(|p| p.contains("in the future (--max-head-age 1s)")),
        "{:?}",
        report.nodes[4].problems
    );
    // Prometheus output for nodes.
    let run = cli
        .run_async(nodes(&["--format", "prometheus", "--threshold", "1"]))
        .await;
    let scrape = prometheus(&run.stdout());
    assert_eq!(value(&scrape, "quorum_check_health_quorum_reachable", &[]), Some(1.0));
    assert_eq!(
        value(
            &scrape,
            "quorum_check_health_node_head_lag_blocks",
            &[("node", &urls[1])]
        ),
        Some(10.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_health_node_syncing", &[("node", &urls[3])]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_health_node_healthy", &[("node", &urls[0])]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_health_node_healthy", &[("node", &urls[2])]),
        Some(0.0)
    );
    // The text table marks a head ahead of the clock.
    let run = cli.run_async(nodes(&["--threshold", "1"])).await;
    assert!(run.stdout().contains("+"), "{}", run.stdout());
}
