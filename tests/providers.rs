//! Hosted providers do not behave like anvil: they refuse or cap JSON-RPC
//! batches, compress answers, and other node software shapes its errors
//! differently. Each behaviour is a proxy mode in front of a real anvil;
//! RELIABILITY.md lists these cases with the rest of the fault matrix.

mod support;

use std::time::Duration;

use alloy::sol_types::{Revert, SolError};
use quorum_check::report::{CheckReport, NodeStatus, VoteJson};
use support::{
    proxy::{Fault, Proxy},
    *,
};

fn hashes(n: u64) -> Vec<alloy::primitives::B256> {
    (100..100 + n).map(tx).collect()
}

/// Every node's vote on every hash: true/false, or the status name.
fn votes(report: &CheckReport) -> Vec<Vec<String>> {
    report
        .txs
        .iter()
        .map(|t| {
            t.nodes
                .iter()
                .map(|n| match &n.status {
                    NodeStatus::Ok {
                        vote: VoteJson::Bool(b),
                    } => b.to_string(),
                    other => other.name().to_string(),
                })
                .collect()
        })
        .collect()
}

/// A fleet of one node where the even hashes of `hs` are approved.
async fn one_node(hs: &[alloy::primitives::B256]) -> (quorum_check::devnet::Fleet, alloy::primitives::Address) {
    let (fleet, contract) = voting_fleet(1, &[]).await;
    for (i, h) in hs.iter().enumerate() {
        fleet.cast_vote(0, contract, *h, i % 2 == 0).await.unwrap();
    }
    (fleet, contract)
}

/// The same check straight to the node and through `proxy`, threshold 1,
/// with plain calls (as on a chain without Multicall3): the batch handling
/// under test is that of plain `eth_call`s.
async fn direct_and_via(
    cli: &Cli,
    fleet: &quorum_check::devnet::Fleet,
    contract: alloy::primitives::Address,
    hs: &[alloy::primitives::B256],
    proxy: &Proxy,
) -> (Run, Run) {
    let direct = cli
        .run_async(check_args(
            &[fleet.url(0)],
            contract,
            hs,
            &["--threshold", "1", "--multicall", "off"],
        ))
        .await;
    let via = cli
        .run_async(check_args(
            std::slice::from_ref(&proxy.url),
            contract,
            hs,
            &["--threshold", "1", "--multicall", "off"],
        ))
        .await;
    (direct, via)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_refuses_batches_gets_single_requests() {
    let hs = hashes(5);
    let (fleet, contract) = one_node(&hs).await;
    let refusing = Proxy::start(&fleet.url(0), Fault::RefuseBatches).await;
    let cli = Cli::new();
    let (direct, run) = direct_and_via(&cli, &fleet, contract, &hs, &refusing).await;
    assert_eq!(run.code(), direct.code(), "{}", run.stderr());
    assert_eq!(votes(&run.report()), votes(&direct.report()));
    // One refused batch, then halving down to plain requests: 1 + 2 + 4…
    assert_eq!(refusing.max_batch(), 5);
    assert!(refusing.requests() <= 1 + 2 + 5, "{} requests", refusing.requests());
    // --batch-size 1 sends plain objects, never a one-element array.
    let before = refusing.requests();
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&refusing.url),
            contract,
            &hs,
            &["--threshold", "1", "--batch-size", "1", "--multicall", "off"],
        ))
        .await;
    assert_eq!(votes(&run.report()), votes(&direct.report()));
    assert_eq!(
        refusing.requests() - before,
        5,
        "one plain request per hash, none refused"
    );
    assert_eq!(run.report().nodes[0].via, Some(quorum_check::report::Via::Single));
    // Through Multicall3 the five reads are one aggregate3 call: one plain request.
    let before = refusing.requests();
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&refusing.url),
            contract,
            &hs,
            &["--threshold", "1"],
        ))
        .await;
    assert_eq!(votes(&run.report()), votes(&direct.report()));
    assert_eq!(refusing.requests() - before, 1);
    assert_eq!(run.report().nodes[0].via, Some(quorum_check::report::Via::Multicall));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_batch_size_is_found_and_kept() {
    let hs = hashes(25);
    let (fleet, contract) = one_node(&hs).await;
    let capped = Proxy::start(&fleet.url(0), Fault::CapBatch(10)).await;
    let cli = Cli::new();
    let (direct, run) = direct_and_via(&cli, &fleet, contract, &hs, &capped).await;
    assert_eq!(votes(&run.report()), votes(&direct.report()), "{}", run.stderr());
    // 25 refused, 12 refused, then batches of 6 for the rest: 2 + 5 requests.
    assert!(capped.requests() <= 7, "{} requests", capped.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_bounds_every_request_chain_id_included() {
    let hs = hashes(25);
    let (fleet, contract) = one_node(&hs).await;
    let capped = Proxy::start(&fleet.url(0), Fault::CapBatch(10)).await;
    let run = Cli::new()
        .run_async(check_args(
            std::slice::from_ref(&capped.url),
            contract,
            &hs,
            &[
                "--threshold",
                "1",
                "--batch-size",
                "10",
                "--chain-id",
                "31337",
                "--multicall",
                "off",
            ],
        ))
        .await;
    assert!(run.report().txs.iter().all(|t| t.nodes[0].status.name() == "ok"));
    assert_eq!(capped.max_batch(), 10, "eth_chainId rides within --batch-size");
    assert_eq!(capped.requests(), 3, "ceil(25 / 9) batches, none refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_answers_are_decoded_and_bombs_are_cut() {
    let hs = hashes(3);
    let (fleet, contract) = one_node(&hs).await;
    let gzip = Proxy::start(&fleet.url(0), Fault::Gzip).await;
    let cli = Cli::new();
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&gzip.url),
            contract,
            &hs,
            &["--threshold", "1"],
        ))
        .await;
    assert!(
        run.report().txs.iter().all(|t| t.nodes[0].status.name() == "ok"),
        "{}",
        run.stdout()
    );
    assert!(
        gzip.heads()
            .iter()
            .all(|h| h.to_ascii_lowercase().contains("accept-encoding: gzip"))
    );
    // 64 MiB of spaces in a few dozen KiB: cut at the decoded limit.
    let bomb = Proxy::start(&fleet.url(0), Fault::gzip_bomb(64 << 20)).await;
    let run = cli
        .run_async(check_args(
            std::slice::from_ref(&bomb.url),
            contract,
            &hs,
            &["--threshold", "1", "--max-response-bytes", "1048576"],
        ))
        .await;
    match &run.report().txs[0].nodes[0].status {
        NodeStatus::BadResponse { reason } => assert!(reason.contains("too large"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_reasons_decode_in_hardhat_and_ganache_shapes() {
    let hs = hashes(1);
    let (fleet, contract) = one_node(&hs).await;
    let data = alloy::primitives::hex::encode_prefixed(Revert::from("closed").abi_encode());
    let shapes = [
        // hardhat: the data nested under error.data.data
        serde_json::json!({"message": "Error: VM Exception while processing transaction: reverted with reason string 'closed'", "data": data}),
        // ganache 7 / geth: a hex string
        serde_json::json!(data),
    ];
    for shape in shapes {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 0,
            "error": {"code": -32603, "message": "execution reverted", "data": shape}});
        let node = Proxy::start(&fleet.url(0), Fault::Body(body.to_string())).await;
        let run = Cli::new()
            .run_async(check_args(
                std::slice::from_ref(&node.url),
                contract,
                &hs,
                &["--threshold", "1"],
            ))
            .await;
        match &run.report().txs[0].nodes[0].status {
            NodeStatus::Reverted { reason } => assert_eq!(reason, "Error(\"closed\")"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_entries_are_asked_again_alone() {
    let hs = hashes(10);
    let (fleet, contract) = one_node(&hs).await;
    let limiting = Proxy::start(&fleet.url(0), Fault::RateLimitEntries).await;
    let cli = Cli::new();
    let (direct, run) = direct_and_via(&cli, &fleet, contract, &hs, &limiting).await;
    assert_eq!(votes(&run.report()), votes(&direct.report()), "{}", run.stderr());
    // The 5 refused entries went again, alone; the 5 answers already in were kept.
    assert_eq!(limiting.requests(), 2);
    assert_eq!(limiting.calls(), 10 + 5);
    assert!(run.report().txs.iter().any(|t| t.nodes[0].attempts == 2));
}
