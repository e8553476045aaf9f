//! `--block pinned` against nodes that lie about their head and nodes that
//! lag: real anvil nodes at different heads (blocks mined on some), liars
//! played by the proxy rewriting `eth_blockNumber` answers in front of a real
//! anvil (their calls at a block they do not have then fail as anvil answers
//! them). Each case asserts the verdict, the pinned block and its lag as the
//! JSON reports them, and that the run ends within its `--deadline`.

mod support;

use std::time::Duration;

use alloy::primitives::Address;
use quorum_check::{
    Checker, Node, Threshold, VoteFunction,
    config::BlockSpec,
    devnet::Fleet,
    report::{CheckReport, NodeReport, NodeStatus, VoteJson},
    tally::Verdict,
};
use support::{
    proxy::{Fault, Proxy},
    *,
};

/// A head no chain will reach: 10^12.
const FAR_AHEAD: u64 = 1_000_000_000_000;

/// Mines empty blocks on node `i` until its head is `target`.
async fn mine_to(fleet: &Fleet, i: usize, target: u64) {
    let now = head(&fleet.url(i)).await;
    assert!(now <= target, "node {i} is already at {now}, past {target}");
    if now < target {
        fleet.mine(i, target - now).await.expect("mine");
    }
    assert_eq!(head(&fleet.url(i)).await, target);
}

fn node(report: &CheckReport, i: usize) -> &NodeReport {
    &report.txs[0].nodes[i]
}

fn voted(report: &CheckReport, i: usize, yes: bool) -> bool {
    node(report, i).status
        == NodeStatus::Ok {
            vote: VoteJson::Bool(yes),
        }
}

/// Arguments of a pinned check of `tx(1)` with `extra` flags.
fn pinned(urls: &[String], contract: Address, extra: &[&str]) -> Vec<String> {
    let mut flags = vec!["--block", "pinned", "--timeout", "5s", "--deadline", "10s"];
    flags.extend_from_slice(extra);
    check_args(urls, contract, &[tx(1)], &flags)
}

/// Every run here has `--deadline 10s`; the process may take a little longer
/// to print and exit, never the length of another round.
fn assert_within_deadline(run: &Run) {
    assert!(run.elapsed < Duration::from_secs(12), "{:?}", run.elapsed);
}

/// The issue's fleet: 10 nodes, threshold 7. Eight honest nodes approve
/// `tx(1)`: five at head 101, three at head 100. Two liars (their own
/// chains a few blocks long, where they reject) claim another head. Nobody
/// approves `tx(2)`.
async fn issue_fleet() -> (Fleet, Address) {
    let (fleet, contract) = voting_fleet(10, &[(tx(1), 8), (tx(2), 0)]).await;
    for i in 0..5 {
        mine_to(&fleet, i, 101).await;
    }
    for i in 5..8 {
        mine_to(&fleet, i, 100).await;
    }
    (fleet, contract)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liars_about_their_head_cannot_block_what_the_honest_nodes_decide() {
    let (fleet, contract) = issue_fleet().await;
    for claimed in [FAR_AHEAD, 100] {
        let liars = [
            Proxy::start(&fleet.url(8), Fault::Head(claimed)).await,
            Proxy::start(&fleet.url(9), Fault::Head(claimed)).await,
        ];
        let mut urls: Vec<String> = (0..8).map(|i| fleet.url(i)).collect();
        urls.extend(liars.iter().map(|l| l.url.clone()));
        let run = Cli::new()
            .run_async(pinned(&urls, contract, &["--threshold", "7", "--wait-all"]))
            .await;
        assert_eq!(run.code(), 0, "liars at {claimed}: {}\n{}", run.stdout(), run.stderr());
        let report = run.report();
        let tx = &report.txs[0];
        assert_eq!(tx.verdict, Verdict::Confirmed, "liars at {claimed}");
        // All eight honest nodes read at 100 — the three one block behind included.
        assert_eq!((tx.yes, tx.no), (8, 0), "liars at {claimed}: {tx:?}");
        assert!((0..8).all(|i| voted(&report, i, true)), "{tx:?}");
        assert_eq!(report.pinned_block, Some(100));
        assert_eq!(tx.pinned_block, Some(100));
        // The head is 101 whatever the liars claim.
        assert_eq!(report.pinned_lag, Some(1));
        // The liars' chains have no block 100: their calls fail, nothing more.
        for i in [8, 9] {
            assert!(
                matches!(node(&report, i).status, NodeStatus::RpcError { .. }),
                "{:?}",
                node(&report, i).status
            );
        }
        assert_within_deadline(&run);
    }

    // Liars that hang instead (on eth_blockNumber too) hold the first read
    // at 101 for one --timeout; the read at 100 still decides in time.
    let liars = [
        Proxy::start(&fleet.url(8), Fault::Hang).await,
        Proxy::start(&fleet.url(9), Fault::Hang).await,
    ];
    let mut urls: Vec<String> = (0..8).map(|i| fleet.url(i)).collect();
    urls.extend(liars.iter().map(|l| l.url.clone()));
    let flags = [
        "--block",
        "pinned",
        "--timeout",
        "2s",
        "--deadline",
        "4s",
        "--threshold",
        "7",
    ];
    let run = Cli::new()
        .run_async(check_args(&urls, contract, &[tx(1)], &flags))
        .await;
    assert_eq!(run.code(), 0, "hanging liars: {}\n{}", run.stdout(), run.stderr());
    let report = run.report();
    assert_eq!(report.txs[0].pinned_block, Some(100));
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);

    // Two transactions: tx(2), which the five nodes at 101 reject, is
    // settled there and never read again; tx(1) is read again at 100.
    let liars = [
        Proxy::start(&fleet.url(8), Fault::Head(FAR_AHEAD)).await,
        Proxy::start(&fleet.url(9), Fault::Head(FAR_AHEAD)).await,
    ];
    let mut urls: Vec<String> = (0..8).map(|i| fleet.url(i)).collect();
    urls.extend(liars.iter().map(|l| l.url.clone()));
    let flags = [
        "--block",
        "pinned",
        "--deadline",
        "10s",
        "--threshold",
        "7",
        "--wait-all",
    ];
    let mut args = check_args(&urls, contract, &[tx(1), tx(2)], &flags);
    let cli = Cli::new();
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let report = run.report();
    let verdicts: Vec<_> = report.txs.iter().map(|t| (t.verdict, t.pinned_block)).collect();
    assert_eq!(
        verdicts,
        [(Verdict::Confirmed, Some(100)), (Verdict::Rejected, Some(101))]
    );
    assert_eq!((report.txs[1].yes, report.txs[1].no), (0, 5), "{:?}", report.txs[1]);
    assert_eq!(report.txs[1].nodes[5].status, NodeStatus::Lagging { head: 100, lag: 1 });
    assert_eq!((report.pinned_block, report.pinned_lag), (Some(100), Some(1)));
    assert_within_deadline(&run);

    // The text says the pin is behind the head, below the unchanged verdict lines.
    let format = args.iter().position(|a| a == "--format").unwrap();
    args[format + 1] = "text".into();
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let out = run.stdout();
    for line in [
        format!("Transaction confirmed: {} (yes 8 of 10, threshold 7)", hex(tx(1))),
        format!("Transaction rejected: {} (yes 0 of 10, threshold 7)", hex(tx(2))),
        "pinned block 100 is 1 block behind head 101 (1 of 2 transactions were settled at a higher \
         pinned block; --format json gives each one's block)"
            .to_string(),
    ] {
        assert_eq!(out.lines().filter(|l| *l == line).count(), 1, "{line}\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_liar_claiming_a_far_head_cannot_keep_threshold_1_from_an_honest_yes() {
    // Node 1 approves, node 2 rejects; the liar (node 3, rejecting on its own
    // chain) alone covers threshold 1 with its claim, so the first pin is its 10^12.
    let (fleet, contract) = voting_fleet(3, &[(tx(1), 1)]).await;
    let honest_head = head(&fleet.url(0)).await;
    let liar = Proxy::start(&fleet.url(2), Fault::Head(FAR_AHEAD)).await;
    let urls = vec![fleet.url(0), fleet.url(1), liar.url.clone()];
    let run = Cli::new()
        .run_async(pinned(&urls, contract, &["--threshold", "1", "--wait-all"]))
        .await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    let report = run.report();
    assert_eq!(report.txs[0].verdict, Verdict::Confirmed);
    assert!(voted(&report, 0, true) && voted(&report, 1, false), "{report:?}");
    assert_eq!(report.pinned_block, Some(honest_head));
    assert_eq!(report.pinned_lag, Some(0));
    assert_within_deadline(&run);
}

/// Nine honest nodes at head 100 — six approve, three reject — and one liar
/// whose own chain approves, claiming `claimed`: the honest nodes alone
/// cannot decide 7 of 10; only the liar's answer could.
async fn split_fleet(claimed: u64, votes_after: u64) -> (Fleet, Address, Proxy, Proxy) {
    let fleet = fleet(10).await;
    let contract = fleet
        .deploy_all(quorum_check::devnet::Contract::Voting)
        .await
        .expect("deploy");
    // The liar voted long ago; the honest nodes vote at block `votes_after + 1`.
    fleet.cast_vote(9, contract, tx(1), true).await.expect("vote");
    for i in 0..9 {
        mine_to(&fleet, i, votes_after).await;
        fleet.cast_vote(i, contract, tx(1), i < 6).await.expect("vote");
        mine_to(&fleet, i, 100).await;
    }
    mine_to(&fleet, 9, 100).await;
    let liar = Proxy::start(&fleet.url(9), Fault::Head(claimed)).await;
    // Node 1 behind a counting proxy: how many times its vote was read.
    let counted = Proxy::start(&fleet.url(0), Fault::None).await;
    (fleet, contract, liar, counted)
}

fn split_urls(fleet: &Fleet, counted: &Proxy, liar: &Proxy) -> Vec<String> {
    let mut urls = vec![counted.url.clone()];
    urls.extend((1..9).map(|i| fleet.url(i)));
    urls.push(liar.url.clone());
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_liar_does_not_drag_the_pin() {
    let (fleet, contract, liar, counted) = split_fleet(0, 10).await;
    let urls = split_urls(&fleet, &counted, &liar);
    let run = Cli::new()
        .run_async(pinned(&urls, contract, &["--threshold", "7", "--wait-all"]))
        .await;
    assert_eq!(run.code(), 3, "{}\n{}", run.stdout(), run.stderr());
    let report = run.report();
    assert_eq!((report.txs[0].yes, report.txs[0].no), (6, 3));
    // Its weight could tip the verdict, but block 0 is 100 behind the head:
    // it is lagging, and nobody is read there.
    assert_eq!(node(&report, 9).status, NodeStatus::Lagging { head: 0, lag: 100 });
    assert_eq!((report.pinned_block, report.pinned_lag), (Some(100), Some(0)));
    assert_eq!(counted.eth_calls(), 1, "the honest node was read once, at 100");
    assert_within_deadline(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_liar_within_reach_cannot_turn_votes_cast_since_into_a_rejection() {
    // The liar claims 50, inside the window; the honest nodes voted at 81.
    // Read at 50, all nine honest nodes say no (they had not voted yet): a
    // stale rejection. Their votes at 100 differ, so that reading does not stand.
    let (fleet, contract, liar, counted) = split_fleet(50, 80).await;
    let urls = split_urls(&fleet, &counted, &liar);
    let run = Cli::new()
        .run_async(pinned(&urls, contract, &["--threshold", "7", "--wait-all"]))
        .await;
    assert_eq!(run.code(), 3, "{}\n{}", run.stdout(), run.stderr());
    let report = run.report();
    let tx = &report.txs[0];
    assert_eq!(tx.verdict, Verdict::Inconclusive);
    assert_eq!((tx.yes, tx.no), (6, 3), "the reading at 100 stays: {tx:?}");
    assert_eq!((report.pinned_block, tx.pinned_block), (Some(100), Some(100)));
    assert_eq!(node(&report, 9).status, NodeStatus::Lagging { head: 50, lag: 50 });
    assert_eq!(counted.eth_calls(), 2, "read at 100, then at 50");
    assert_within_deadline(&run);
}

/// Four approving nodes; nodes 1–3 `ahead` blocks ahead of node 4.
async fn one_behind(ahead: u64) -> (Fleet, Address, u64) {
    let (fleet, contract) = voting_fleet(4, &[(tx(1), 4)]).await;
    let behind = head(&fleet.url(3)).await;
    for i in 0..3 {
        mine_to(&fleet, i, behind + ahead).await;
    }
    (fleet, contract, behind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_all_reports_how_far_behind_the_pin_is() {
    let (fleet, contract, behind) = one_behind(5).await;
    let cli = Cli::new();
    let run = cli
        .run_async(pinned(&fleet.urls(), contract, &["--threshold", "all"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report.pinned_block, Some(behind));
    assert_eq!(report.pinned_lag, Some(5));
    assert_within_deadline(&run);

    let mut text = pinned(&fleet.urls(), contract, &["--threshold", "all"]);
    let format = text.iter().position(|a| a == "--format").unwrap();
    text[format + 1] = "text".into();
    let run = cli.run_async(text.clone()).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let line = format!("pinned block {behind} is 5 blocks behind head {}", behind + 5);
    assert_eq!(
        run.stdout().lines().filter(|l| *l == line).count(),
        1,
        "{}",
        run.stdout()
    );
    // -q keeps to the verdict lines.
    text.push("-q".into());
    let run = cli.run_async(text).await;
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.stdout());
    assert!(run.stdout().starts_with("Transaction confirmed: "));

    let mut prometheus = pinned(&fleet.urls(), contract, &["--threshold", "all"]);
    prometheus[format + 1] = "prometheus".into();
    let run = cli.run_async(prometheus).await;
    assert!(
        run.stdout().contains("\nquorum_check_pinned_lag_blocks 5\n"),
        "{}",
        run.stdout()
    );

    // QUORUM_MAX_PIN_LAG=4: five blocks is too far; the slow node is lagging.
    let run = cli
        .run_async_env(
            pinned(&fleet.urls(), contract, &["--threshold", "all"]),
            &[("QUORUM_MAX_PIN_LAG", "4")],
        )
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = run.report();
    assert_eq!(node(&report, 3).status, NodeStatus::Lagging { head: behind, lag: 5 });
    assert_eq!((report.pinned_block, report.pinned_lag), (Some(behind + 5), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_far_behind_is_lagging_rather_than_a_pin_far_back() {
    let (fleet, contract, behind) = one_behind(100).await;
    let cli = Cli::new();
    let run = cli
        .run_async(pinned(&fleet.urls(), contract, &["--threshold", "all", "--wait-all"]))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = run.report();
    assert_eq!(node(&report, 3).status, NodeStatus::Lagging { head: behind, lag: 100 });
    assert_eq!((report.txs[0].yes, report.txs[0].undecided), (3, 1));
    assert_eq!((report.pinned_block, report.pinned_lag), (Some(behind + 100), Some(0)));
    assert_within_deadline(&run);

    // A window that reaches it, from the library: read 100 back, and say so.
    let mut builder = Checker::builder()
        .contract(contract)
        .function(VoteFunction::parse("vote(bytes32)(bool)").unwrap())
        .threshold(Threshold::parse("all").unwrap())
        .block(BlockSpec::Pinned)
        .max_pin_lag(100)
        .timeout(Duration::from_secs(5));
    for url in fleet.urls() {
        builder = builder.node(Node::new(&url).unwrap());
    }
    let report = builder.build().unwrap().check(&[tx(1)]).await.unwrap();
    assert_eq!(report.tx(0).verdict(), Verdict::Confirmed);
    assert_eq!((report.pinned_block(), report.pinned_lag()), (Some(behind), Some(100)));

    // A bad value is a usage error naming the flag, before any request.
    let run = cli.run(pinned(&fleet.urls(), contract, &["--max-pin-lag", "lots"]));
    run.assert_usage_error("--max-pin-lag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_head_at_all_gives_a_null_pinned_block() {
    // Two ports nothing listens on (once the listeners are dropped).
    let listeners: Vec<_> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://127.0.0.1:{}", l.local_addr().unwrap().port()))
        .collect();
    drop(listeners);
    let contract = Address::repeat_byte(0x11);
    let cli = Cli::new();
    let run = cli
        .run_async(pinned(&urls, contract, &["--threshold", "1", "--retries", "0"]))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let json: serde_json::Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(json["pinned_block"], serde_json::Value::Null, "{json}");
    assert_eq!(json["pinned_lag"], serde_json::Value::Null, "{json}");
    assert!(json["txs"][0].get("pinned_block").is_none(), "{json}");
    assert_eq!(json["txs"][0]["nodes"][0]["status"], "connect_error");
    assert_within_deadline(&run);

    let mut text = pinned(&urls, contract, &["--threshold", "1", "--retries", "0"]);
    let format = text.iter().position(|a| a == "--format").unwrap();
    text[format + 1] = "text".into();
    let run = cli.run_async(text.clone()).await;
    assert_eq!(run.code(), 3);
    assert!(!run.stdout().contains("pinned"), "{}", run.stdout());
    text[format + 1] = "prometheus".into();
    let run = cli.run_async(text).await;
    assert!(run.stdout().contains("quorum_check_txs{verdict=\"inconclusive\"} 1"));
    assert!(!run.stdout().contains("pinned"), "{}", run.stdout());
}
