//! The fan-out's pace per node, measured where a provider would see it: the
//! requests a node has in flight at once, counted at a proxy in front of a
//! real anvil.

mod support;

use std::time::Duration;

use quorum_check::{Checker, Node, Threshold, Verdict, VoteFunction};
use support::{
    proxy::{Fault, Proxy},
    *,
};

/// Batches a node that never rate-limits has in flight at once: BENCHMARKS.md
/// ("at most 4 batches in flight per node") and RELIABILITY.md ("one more per
/// clean answer, up to four").
const DOCUMENTED_BATCHES_IN_FLIGHT: usize = 4;

/// A node without Multicall3 is asked through it once (the first request
/// finds no code there), then with plain batches — and those go out as many
/// at once as for any node, not one at a time: a request that found nothing
/// left to claim still frees its node's place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_falls_back_to_plain_calls_keeps_its_batches_in_flight() {
    // More hashes than one Multicall3 request carries (200 on a node never
    // seen), in batches of 100: twelve plain batches after the fallback.
    let hashes: Vec<_> = (0..1_200).map(tx).collect();
    let (fleet, contract) = voting_fleet(1, &[(hashes[7], 1)]).await;
    fleet.remove_multicall(0).await.unwrap();
    // Each answer held back a while, so that requests sent together are
    // seen together at the proxy however fast anvil answers.
    let proxy = Proxy::start(&fleet.url(0), Fault::Delay(Duration::from_millis(200))).await;
    let checker = Checker::builder()
        .node(Node::new(&proxy.url).unwrap())
        .contract(contract)
        .function(VoteFunction::parse("vote(bytes32)(bool)").unwrap())
        .threshold(Threshold::parse("1").unwrap())
        .timeout(Duration::from_secs(60))
        .batch_size(100)
        .build()
        .unwrap();
    let report = checker.check(&hashes).await.unwrap();

    let verdicts: Vec<Verdict> = report.txs().map(|t| t.verdict()).collect();
    let expected: Vec<Verdict> = (0..hashes.len())
        .map(|i| if i == 7 { Verdict::Confirmed } else { Verdict::Rejected })
        .collect();
    assert_eq!(verdicts, expected);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["nodes"][0]["via"], "batch", "the node fell back to plain batches");
    // The two aggregate3 requests out at once (200 hashes each; the turns
    // waiting for a Multicall3 slot see it gone), then twelve batches of 100.
    assert_eq!(proxy.requests(), 2 + 12);
    assert_eq!(proxy.max_in_flight(), DOCUMENTED_BATCHES_IN_FLIGHT);
}
