//! The fault matrix: real anvil nodes behind a fault-injecting proxy. Each
//! case asserts the node's status, the verdict, the exit code, and that the
//! run finished within its time bound. RELIABILITY.md lists every case.

mod support;

use std::time::Duration;

use alloy::primitives::Address;
use quorum_check::{
    devnet::Fleet,
    report::{CheckReport, NodeReport, NodeStatus},
    tally::Verdict,
};
use support::{
    proxy::{Fault, Proxy},
    *,
};

/// One proxy per node, with `faults[i]` in front of node `i`.
async fn proxies(fleet: &Fleet, faults: Vec<Fault>) -> Vec<Proxy> {
    let mut out = Vec::new();
    for (i, fault) in faults.into_iter().enumerate() {
        out.push(Proxy::start(&fleet.url(i), fault).await);
    }
    out
}

fn urls(proxies: &[Proxy]) -> Vec<String> {
    proxies.iter().map(|p| p.url.clone()).collect()
}

/// A fleet of `n` approving nodes (on `tx(1)`), each behind its fault.
async fn setup(n: usize, approve: usize, faults: Vec<Fault>) -> (Fleet, Address, Vec<Proxy>) {
    assert_eq!(faults.len(), n);
    let (fleet, contract) = voting_fleet(n, &[(tx(1), approve)]).await;
    let proxies = proxies(&fleet, faults).await;
    (fleet, contract, proxies)
}

async fn check(proxies: &[Proxy], contract: Address, extra: &[&str]) -> (Run, CheckReport) {
    let run = Cli::new()
        .run_async(check_args(&urls(proxies), contract, &[tx(1)], extra))
        .await;
    let report = run.report();
    (run, report)
}

fn node(report: &CheckReport, i: usize) -> &NodeReport {
    &report.txs[0].nodes[i]
}

/// One node behind `fault`, threshold 1, the given extra flags.
async fn single(fault: Fault, extra: &[&str]) -> (Run, CheckReport, Proxy) {
    let (_fleet, contract, mut proxies) = setup(1, 1, vec![fault]).await;
    let mut args = vec!["--threshold", "1"];
    args.extend_from_slice(extra);
    let (run, report) = check(&proxies, contract, &args).await;
    (run, report, proxies.remove(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hanging_nodes_do_not_delay_a_confirmation() {
    let faults = (0..10)
        .map(|i| if i >= 7 { Fault::Hang } else { Fault::None })
        .collect();
    let (_fleet, contract, proxies) = setup(10, 7, faults).await;
    let (run, report) = check(&proxies, contract, &["--threshold", "7", "--timeout", "10s"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(report.txs[0].verdict, Verdict::Confirmed);
    for i in 7..10 {
        assert_eq!(node(&report, i).status, NodeStatus::Skipped);
    }
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}; the timeout was 10s",
        run.elapsed
    );
    // The quiet line says the three were not waited for: "yes 7 of 10"
    // alone reads as if they had said no.
    let mut args = check_args(
        &urls(&proxies),
        contract,
        &[tx(1)],
        &["--threshold", "7", "--timeout", "10s", "-q"],
    );
    let format = args.iter().position(|a| a == "--format").unwrap();
    args.drain(format..format + 2);
    let quiet = Cli::new().run_async(args).await;
    assert_eq!(quiet.code(), 0, "{}", quiet.stderr());
    assert_eq!(
        quiet.stdout().trim_end(),
        format!(
            "Transaction confirmed: {} (yes 7 of 10 (3 not waited for), threshold 7)",
            hex(tx(1))
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lying_nodes_cannot_block_a_confirmation() {
    let faults = (0..10)
        .map(|i| if i < 2 { Fault::flip_votes() } else { Fault::None })
        .collect();
    let (_fleet, contract, proxies) = setup(10, 10, faults).await;
    let (run, report) = check(&proxies, contract, &["--threshold", "7", "--wait-all"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let t = &report.txs[0];
    assert_eq!((t.verdict, t.yes, t.no), (Verdict::Confirmed, 8, 2));
    assert_eq!(
        node(&report, 0).status,
        NodeStatus::Ok {
            vote: quorum_check::report::VoteJson::Bool(false)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_lying_nodes_reject() {
    let faults = (0..10)
        .map(|i| if i < 4 { Fault::flip_votes() } else { Fault::None })
        .collect();
    let (_fleet, contract, proxies) = setup(10, 10, faults).await;
    let (run, report) = check(&proxies, contract, &["--threshold", "7", "--wait-all"]).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let t = &report.txs[0];
    assert_eq!((t.verdict, t.yes, t.no), (Verdict::Rejected, 6, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_node_is_recovered_by_retry_and_counted_once() {
    let (run, report, proxy) = single(
        Fault::FailFirst {
            n: 2,
            code: 503,
            retry_after: None,
        },
        &["--retries", "2"],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(matches!(node(&report, 0).status, NodeStatus::Ok { .. }));
    assert_eq!(node(&report, 0).attempts, 3);
    assert_eq!(proxy.requests(), 3);
    assert_eq!(report.txs[0].yes, 1, "a retried node counts once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiting_is_retried_after_the_advertised_delay() {
    let fault = Fault::FailFirst {
        n: 1,
        code: 429,
        retry_after: Some(1),
    };
    let (run, report, _proxy) = single(fault, &["--timeout", "5s"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let n = node(&report, 0);
    assert_eq!(n.attempts, 2);
    assert!(
        n.latency_ms.unwrap() >= 1000.0,
        "Retry-After: 1 honoured: {:?}",
        n.latency_ms
    );
    assert!(run.elapsed < Duration::from_secs(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_budget_gives_up_at_once() {
    let (run, report, proxy) = single(
        Fault::Status {
            code: 429,
            retry_after: Some(30),
        },
        &["--timeout", "2s"],
    )
    .await;
    assert_eq!(run.code(), 3);
    assert_eq!(
        node(&report, 0).status,
        NodeStatus::HttpError {
            http_status: 429,
            reason: None
        }
    );
    assert_eq!(proxy.requests(), 1);
    assert!(run.elapsed < Duration::from_secs(2), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_reported() {
    for code in [500u16, 503] {
        let (run, report, proxy) = single(
            Fault::Status {
                code,
                retry_after: None,
            },
            &["--retries", "2"],
        )
        .await;
        assert_eq!(run.code(), 3);
        assert_eq!(
            node(&report, 0).status,
            NodeStatus::HttpError {
                http_status: code,
                reason: None
            }
        );
        assert_eq!((node(&report, 0).attempts, proxy.requests()), (3, 3));
        assert!(run.elapsed < Duration::from_secs(3));
    }
    // A client error is not transient: no retry.
    let (_run, report, proxy) = single(
        Fault::Status {
            code: 401,
            retry_after: None,
        },
        &[],
    )
    .await;
    assert_eq!(
        node(&report, 0).status,
        NodeStatus::HttpError {
            http_status: 401,
            reason: None
        }
    );
    assert_eq!(proxy.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_is_a_connect_error_after_retries() {
    let (run, report, proxy) = single(Fault::Close, &["--retries", "1"]).await;
    assert_eq!(run.code(), 3);
    assert!(
        matches!(node(&report, 0).status, NodeStatus::ConnectError { .. }),
        "{:?}",
        node(&report, 0).status
    );
    assert_eq!(proxy.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_is_a_bad_response_retried_once() {
    let (run, report, proxy) = single(Fault::NotJson, &[]).await;
    assert_eq!(run.code(), 3);
    assert_eq!(
        node(&report, 0).status,
        NodeStatus::BadResponse {
            reason: "answered HTML, not JSON (HTTP 200)".into()
        }
    );
    // A proxy's error page may be a one-off: asked once more, not `--retries` times.
    assert_eq!(proxy.requests(), 2);
    // JSON that is not a JSON-RPC answer is not retried.
    let (run, report, proxy) = single(Fault::Body(r#"{"a":1}"#.into()), &[]).await;
    assert_eq!(run.code(), 3);
    assert!(
        matches!(&node(&report, 0).status, NodeStatus::BadResponse { reason } if reason.contains("not a JSON-RPC response")),
        "{:?}",
        node(&report, 0).status
    );
    assert_eq!(proxy.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_rpc_error_is_reported_with_its_code() {
    let body = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}"#;
    let (run, report, _p) = single(Fault::Body(body.into()), &[]).await;
    assert_eq!(run.code(), 3);
    assert_eq!(
        node(&report, 0).status,
        NodeStatus::RpcError {
            code: -32603,
            message: "internal error".into()
        }
    );
    // A rate-limit code is transient: retried — until the node's budget is
    // spent, not `--retries` times, at least a second apart without a hint.
    let body = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"limit exceeded"}}"#;
    let (run, report, proxy) = single(Fault::Body(body.into()), &["--retries", "0", "--timeout", "3500ms"]).await;
    assert!(matches!(
        node(&report, 0).status,
        NodeStatus::RpcError { code: -32005, .. }
    ));
    assert!((3..=4).contains(&proxy.requests()), "{} requests", proxy.requests());
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ids_and_missing_entries_are_bad_responses() {
    // One call goes as a plain request, so its answer is a plain object too.
    let wrong_id = Fault::rewrite(|v| {
        let shift =
            |item: &mut serde_json::Value| item["id"] = serde_json::json!(item["id"].as_u64().unwrap_or(0) + 100);
        match v.as_array_mut() {
            Some(items) => items.iter_mut().for_each(shift),
            None => shift(v),
        }
    });
    let (run, report, _p) = single(wrong_id, &[]).await;
    assert_eq!(run.code(), 3);
    assert!(matches!(&node(&report, 0).status, NodeStatus::BadResponse { reason } if reason.contains("unexpected id")));

    let missing = Fault::rewrite(|v| {
        if let Some(a) = v.as_array_mut() {
            a.pop();
        }
    });
    let (_run, report, _p) = single(missing, &["--chain-id", "31337"]).await;
    assert!(matches!(&node(&report, 0).status, NodeStatus::BadResponse { reason } if reason.contains("missing")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answered_out_of_order_is_matched_by_id() {
    let reverse = Fault::rewrite(|v| {
        if let Some(a) = v.as_array_mut() {
            a.reverse();
        }
    });
    let (run, report, _p) = single(reverse, &["--chain-id", "31337"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(matches!(node(&report, 0).status, NodeStatus::Ok { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_results_are_never_votes() {
    let cases = [
        (
            "0x0000000000000000000000000000000000000000000000000000000000000002",
            "canonical bool",
        ),
        (
            "0x0100000000000000000000000000000000000000000000000000000000000001",
            "canonical bool",
        ),
        (
            "0x00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000000",
            "64 bytes",
        ),
        ("0x0001", "2 bytes"),
        ("not hex", "not hex"),
    ];
    for (result, expected) in cases {
        let (run, report, _p) = single(Fault::result(result), &[]).await;
        assert_eq!(run.code(), 3, "{result}");
        let status = &node(&report, 0).status;
        assert!(
            matches!(status, NodeStatus::BadResponse { reason } if reason.contains(expected)),
            "{result}: {status:?}"
        );
        assert_eq!(report.txs[0].yes, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_a_connection_error() {
    let (run, report, _p) = single(Fault::Truncate, &["--retries", "0"]).await;
    assert_eq!(run.code(), 3);
    assert!(
        matches!(node(&report, 0).status, NodeStatus::ConnectError { .. }),
        "{:?}",
        node(&report, 0).status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_off() {
    let (run, report, _p) = single(Fault::Endless, &["--max-response-bytes", "65536", "--timeout", "10s"]).await;
    assert_eq!(run.code(), 3);
    assert!(
        matches!(&node(&report, 0).status, NodeStatus::BadResponse { reason } if reason.contains("too large")),
        "{:?}",
        node(&report, 0).status
    );
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_node_is_cut_off_at_its_timeout() {
    let (run, report, _p) = single(Fault::Trickle(Duration::from_millis(100)), &["--timeout", "1s"]).await;
    assert_eq!(run.code(), 3);
    assert_eq!(node(&report, 0).status, NodeStatus::Timeout);
    assert!(run.elapsed < Duration::from_millis(2500), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_nodes_time_out_within_the_budget() {
    let faults = (0..3).map(|_| Fault::Delay(Duration::from_secs(5))).collect();
    let (_fleet, contract, proxies) = setup(3, 3, faults).await;
    let (run, report) = check(&proxies, contract, &["--threshold", "2", "--timeout", "500ms"]).await;
    assert_eq!(run.code(), 3);
    assert!(report.txs[0].nodes.iter().all(|n| n.status == NodeStatus::Timeout));
    assert!(run.elapsed < Duration::from_millis(1500), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_deadline_holds_whatever_the_nodes_do() {
    let faults = vec![Fault::Hang, Fault::Trickle(Duration::from_millis(50)), Fault::Endless];
    let (_fleet, contract, proxies) = setup(3, 3, faults).await;
    let (run, report) = check(
        &proxies,
        contract,
        &[
            "--threshold",
            "2",
            "--timeout",
            "20s",
            "--deadline",
            "1s",
            "--max-response-bytes",
            "1099511627776",
        ],
    )
    .await;
    assert_eq!(run.code(), 3);
    assert_eq!(report.txs[0].nodes.len(), 3, "every node is reported");
    assert!(
        report.txs[0].nodes.iter().all(|n| n.status == NodeStatus::Timeout),
        "{:?}",
        report.txs[0].nodes
    );
    assert!(run.elapsed < Duration::from_millis(1800), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_is_reported_with_pinned_blocks() {
    let (fleet, contract) = voting_fleet(5, &[(tx(1), 5)]).await;
    for i in 0..4 {
        fleet.mine(i, 5).await.unwrap();
    }
    let run = Cli::new()
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[tx(1)],
            &["--threshold", "3", "--block", "pinned", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    let head = report.pinned_block.expect("pinned block reported");
    assert_eq!(report.block, "pinned");
    assert!(
        matches!(node(&report, 4).status, NodeStatus::Lagging { lag: 5, head: h } if h + 5 == head),
        "{:?}",
        node(&report, 4).status
    );
    assert_eq!((report.txs[0].yes, report.txs[0].undecided), (4, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_results_tell_no_contract_from_no_function() {
    let fleet = fleet(2).await;
    let contract = fleet.deploy(0, quorum_check::devnet::Contract::Voting).await.unwrap();
    // Node 2: code that returns nothing for any call.
    fleet.set_code(1, contract, &[0x00]).await.unwrap();
    let run = Cli::new()
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[tx(1)],
            &["--threshold", "1", "--wait-all"],
        ))
        .await;
    let report = run.report();
    assert!(matches!(node(&report, 0).status, NodeStatus::Ok { .. }));
    assert_eq!(node(&report, 1).status, NodeStatus::NoFunction);
    let elsewhere = Address::repeat_byte(0x42);
    let run = Cli::new()
        .run_async(check_args(
            &fleet.urls(),
            elsewhere,
            &[tx(1)],
            &["--threshold", "1", "--wait-all"],
        ))
        .await;
    let report = run.report();
    assert_eq!(node(&report, 0).status, NodeStatus::NoContract);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_check_prints_the_report_so_far() {
    let (_fleet, contract, proxies) = setup(3, 3, vec![Fault::None, Fault::Hang, Fault::Hang]).await;
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.args(check_args(
        &urls(&proxies),
        contract,
        &[tx(1)],
        &["--threshold", "3", "--timeout", "30s"],
    ));
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(output.status.code(), Some(3));
    let report: CheckReport = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.interrupted);
    assert!(matches!(report.txs[0].nodes[0].status, NodeStatus::Ok { .. }));
    assert_eq!(report.txs[0].nodes[1].status, NodeStatus::Interrupted);
    assert_eq!(report.txs[0].verdict, Verdict::Inconclusive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_stops_every_anvil_on_sigterm() {
    use std::io::BufRead;
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.env("ANVIL_BIN", anvil());
    cmd.args(["devnet", "--nodes", "3", "--approve", "2"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let urls = tokio::task::spawn_blocking(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(urls) = line.strip_prefix("QUORUM_RPC_URLS=") {
                return urls.split(',').map(String::from).collect::<Vec<_>>();
            }
        }
        panic!("devnet printed no QUORUM_RPC_URLS");
    })
    .await
    .unwrap();
    assert_eq!(urls.len(), 3);
    let ports: Vec<u16> = urls
        .iter()
        .map(|u| u.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    for port in &ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
            "node up on {port}"
        );
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for port in &ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *port)).is_err(),
            "anvil on {port} still up"
        );
    }
}
