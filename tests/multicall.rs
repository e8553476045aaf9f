//! Multicall3: the default path. Every fleet here has a Multicall3-compatible
//! contract (contracts/Aggregator.sol) at the canonical address, as public
//! chains do. Through it, every status must be exactly what plain calls
//! give, on the same fleet; nodes without it, with something else there, or
//! configured with `from` get plain calls; the billed `eth_call`s are counted
//! at a proxy.

mod support;

use alloy::primitives::{Address, B256, Bytes, address};
use quorum_check::{
    config::CANONICAL,
    devnet::Contract,
    report::{CheckReport, NodeStatus, Via},
};
use support::{
    proxy::{Fault, Proxy},
    *,
};

fn hashes(n: u64) -> Vec<B256> {
    (500..500 + n).map(tx).collect()
}

/// Every node's answer on every hash, as the JSON has it (status and vote).
fn answers(report: &CheckReport) -> Vec<Vec<NodeStatus>> {
    report
        .txs
        .iter()
        .map(|t| t.nodes.iter().map(|n| n.status.clone()).collect())
        .collect()
}

fn vias(report: &CheckReport) -> Vec<Option<Via>> {
    report.nodes.iter().map(|n| n.via).collect()
}

/// The runtime code of the Multicall3-compatible contract, as installed.
async fn aggregator_code(fleet: &quorum_check::devnet::Fleet) -> Bytes {
    use alloy::providers::{Provider, ProviderBuilder};
    let provider = ProviderBuilder::new().connect_http(fleet.url(0).parse().unwrap());
    provider.get_code_at(CANONICAL).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_through_multicall_is_the_plain_calls_status() {
    let hs = hashes(7);
    let (fleet, contract) = voting_fleet(6, &[]).await;
    // Mixed votes on nodes 0..2; the others are made to fail in every way a call can.
    for (i, h) in hs.iter().enumerate() {
        for node in 0..3 {
            if (i + node) % 3 != 0 {
                fleet.cast_vote(node, contract, *h, true).await.unwrap();
            }
        }
    }
    fleet.set_code(3, contract, &[]).await.unwrap(); // no_contract
    fleet.set_code(4, contract, &[0x00]).await.unwrap(); // STOP: no_function
    fleet.set_code(5, contract, &reverting_code()).await.unwrap(); // reverted
    // A lying node (a bool that is 2) and an honest one in front of node 0.
    let lying = Proxy::start(
        &fleet.url(0),
        Fault::result("0x0000000000000000000000000000000000000000000000000000000000000002"),
    )
    .await;
    let mut urls = fleet.urls();
    urls.push(lying.url.clone());
    let cli = Cli::new();
    let run = |extra: &'static [&'static str]| {
        let args = check_args(&urls, contract, &hs, extra);
        let cli = &cli;
        async move { cli.run_async(args).await }
    };
    let plain = run(&["--threshold", "2", "--multicall", "off", "--wait-all"]).await;
    let through = run(&["--threshold", "2", "--wait-all"]).await;
    assert_eq!(through.code(), plain.code(), "{}", through.stderr());
    let (plain, through) = (plain.report(), through.report());
    assert_eq!(answers(&through), answers(&plain));
    let names: Vec<&str> = plain.txs[0].nodes.iter().map(|n| n.status.name()).collect();
    assert_eq!(
        names,
        [
            "ok",
            "ok",
            "ok",
            "no_contract",
            "no_function",
            "reverted",
            "bad_response"
        ]
    );
    assert!(
        matches!(&plain.txs[0].nodes[5].status, NodeStatus::Reverted { reason } if reason == "Error(\"closed\")"),
        "{:?}",
        plain.txs[0].nodes[5]
    );
    assert!(
        vias(&through).iter().all(|v| *v == Some(Via::Multicall)),
        "{:?}",
        vias(&through)
    );
    assert!(
        vias(&plain).iter().all(|v| *v == Some(Via::Batch)),
        "{:?}",
        vias(&plain)
    );
    // Verdicts too.
    let verdicts = |r: &CheckReport| r.txs.iter().map(|t| t.verdict).collect::<Vec<_>>();
    assert_eq!(verdicts(&through), verdicts(&plain));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_through_multicall_are_the_plain_calls_weights() {
    let hs = hashes(4);
    let fleet = fleet(3).await;
    let contract = fleet.deploy_all(Contract::WeightedVoting).await.unwrap();
    for (i, h) in hs.iter().enumerate() {
        for node in 0..3 {
            let w = alloy::primitives::U256::from((i * 10 + node) as u64 * 1_000_000_007);
            fleet.cast_weight(node, contract, *h, w).await.unwrap();
        }
    }
    let cli = Cli::new();
    let mut reports = Vec::new();
    for mode in ["off", "auto"] {
        let mut args = check_args(
            &fleet.urls(),
            contract,
            &hs,
            &["--threshold", "1", "--wait-all", "--multicall", mode],
        );
        let i = args.iter().position(|x| x.ends_with("Voting.json")).unwrap();
        args[i] = abi("WeightedVoting.json");
        reports.push(cli.run_async(args).await.report());
    }
    assert_eq!(answers(&reports[0]), answers(&reports[1]));
    assert_eq!(reports[1].txs[3].yes, reports[0].txs[3].yes);
    assert!(reports[1].txs[3].yes > 0);
    assert_eq!(vias(&reports[1]), vec![Some(Via::Multicall); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_chunked_and_counted_at_the_proxy() {
    let hs = hashes(1200);
    let (fleet, contract) = voting_fleet(1, &[]).await;
    for h in hs.iter().step_by(97) {
        fleet.cast_vote(0, contract, *h, true).await.unwrap();
    }
    let counting = Proxy::start(&fleet.url(0), Fault::None).await;
    let cli = Cli::new();
    let list = hs.iter().map(|h| hex(*h)).collect::<Vec<_>>().join("\n");
    let file = path_str(&cli.write("txs.txt", &list));
    let args = |url: &str, mode: &str| {
        let mut a = check_args(
            &[url.to_string()],
            contract,
            &[],
            &["--threshold", "1", "--multicall", mode],
        );
        a.extend(["--tx-file".into(), file.clone(), "--chain-id".into(), "31337".into()]);
        a
    };
    let through = cli.run_async(args(&counting.url, "auto")).await;
    // README: "200 votes per eth_call to start with, up to 500 on a node
    // that answers them fast": 1,200 reads in at most 6 and at least 3.
    let billed = counting.eth_calls();
    assert!((3..=6).contains(&billed), "{billed} billed eth_calls for 1,200 reads");
    // One aggregate3 per request (a body under ~100 KB), eth_chainId riding along.
    assert_eq!(counting.requests(), billed, "requests for 1,200 reads");
    let before = (counting.eth_calls(), counting.requests());
    let plain = cli.run_async(args(&counting.url, "off")).await;
    assert_eq!(counting.eth_calls() - before.0, 1200);
    // At most 100 entries a request (--batch-size's default), eth_chainId
    // among them: 1,201 entries, 13 requests.
    assert_eq!(counting.requests() - before.1, 13);
    let (through, plain) = (through.report(), plain.report());
    assert_eq!(answers(&through), answers(&plain));
    assert_eq!(through.summary.confirmed, hs.len().div_ceil(97));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_multicall_falls_back_after_one_round_trip() {
    let hs = hashes(10);
    let (fleet, contract) = voting_fleet(2, &[(hs[0], 2), (hs[3], 1)]).await;
    fleet.remove_multicall(0).await.unwrap();
    // Node 1 has other code at the canonical address: aggregate3 reverts there.
    fleet
        .set_code(1, CANONICAL, &fleet_voting_code(&fleet, contract).await)
        .await
        .unwrap();
    let proxies = [
        Proxy::start(&fleet.url(0), Fault::None).await,
        Proxy::start(&fleet.url(1), Fault::None).await,
    ];
    let urls: Vec<String> = proxies.iter().map(|p| p.url.clone()).collect();
    let cli = Cli::new();
    let run = cli
        .run_async(check_args(&urls, contract, &hs, &["--threshold", "2", "--wait-all"]))
        .await;
    let report = run.report();
    assert_eq!(vias(&report), [Some(Via::Batch), Some(Via::Batch)], "{}", run.stderr());
    for p in &proxies {
        // One aggregate3 that did not work, then one plain batch of 10.
        assert_eq!((p.requests(), p.eth_calls()), (2, 11));
    }
    let plain = cli
        .run_async(check_args(
            &urls,
            contract,
            &hs,
            &["--threshold", "2", "--wait-all", "--multicall", "off"],
        ))
        .await
        .report();
    assert_eq!(answers(&report), answers(&plain));
    assert_eq!(report.summary.confirmed, 1);
}

/// The runtime code of `Voting` on node 0.
async fn fleet_voting_code(fleet: &quorum_check::devnet::Fleet, contract: Address) -> Vec<u8> {
    use alloy::providers::{Provider, ProviderBuilder};
    let provider = ProviderBuilder::new().connect_http(fleet.url(0).parse().unwrap());
    provider.get_code_at(contract).await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_given_is_used_and_from_nodes_never_go_through_it() {
    let hs = hashes(5);
    let (fleet, contract) = voting_fleet(2, &[(hs[1], 2)]).await;
    let elsewhere = address!("00000000000000000000000000000000000c0ffe");
    let code = aggregator_code(&fleet).await;
    for i in 0..2 {
        fleet.set_code(i, elsewhere, &code).await.unwrap();
        fleet.remove_multicall(i).await.unwrap();
    }
    let counting = Proxy::start(&fleet.url(0), Fault::None).await;
    let cli = Cli::new();
    let urls = [counting.url.clone(), fleet.url(1)];
    let given = cli
        .run_async(check_args(
            &urls,
            contract,
            &hs,
            &["--threshold", "2", "--multicall", &format!("{elsewhere:#x}")],
        ))
        .await;
    assert_eq!(given.code(), 1, "{}", given.stderr());
    assert_eq!(vias(&given.report()), [Some(Via::Multicall); 2]);
    assert_eq!(counting.eth_calls(), 1);

    // A node with `from` reads its vote as that sender: never through Multicall3.
    let registry = fleet.deploy(0, Contract::VoterRegistry).await.unwrap();
    let voter = fleet.accounts(0)[3];
    fleet.add_voter(0, registry, voter).await.unwrap();
    fleet.registry_vote(0, registry, voter, hs[2], true).await.unwrap();
    let nodes = cli.write(
        "nodes.toml",
        &format!("[[node]]\nurl = \"{}\"\nfrom = \"{voter:#x}\"\n", counting.url),
    );
    let before = counting.eth_calls();
    let mut args = check_args(
        &[],
        registry,
        &hs,
        &["--threshold", "1", "--multicall", &format!("{elsewhere:#x}")],
    );
    args.extend(["--nodes".into(), path_str(&nodes)]);
    let run = cli.run_async(args).await;
    let report = run.report();
    assert_eq!(vias(&report), [Some(Via::Batch)], "{}", run.stderr());
    assert_eq!(counting.eth_calls() - before, hs.len());
    assert_eq!(report.summary.confirmed, 1, "the voter's own vote was read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_nodes_lie_the_same_way_through_multicall() {
    let hs = hashes(6);
    let (fleet, contract) = voting_fleet(4, &[(hs[0], 4), (hs[1], 3), (hs[2], 1)]).await;
    let liars = [
        Proxy::start(&fleet.url(0), Fault::flip_votes()).await,
        Proxy::start(&fleet.url(1), Fault::flip_votes()).await,
    ];
    let urls = vec![liars[0].url.clone(), liars[1].url.clone(), fleet.url(2), fleet.url(3)];
    let cli = Cli::new();
    let mut reports = Vec::new();
    for mode in ["off", "auto"] {
        reports.push(
            cli.run_async(check_args(
                &urls,
                contract,
                &hs,
                &["--threshold", "3", "--wait-all", "--multicall", mode],
            ))
            .await
            .report(),
        );
    }
    assert_eq!(answers(&reports[0]), answers(&reports[1]));
    // hs[0]: all four approve, two lie: 2 yes. hs[3..]: nobody approves, two lie: 2 yes.
    assert_eq!(reports[1].txs[0].yes, 2);
    assert_eq!(reports[1].txs[5].yes, 2);
}

#[test]
fn a_bad_multicall_value_is_a_usage_error() {
    let cli = Cli::new();
    let mut args = check_args(&["http://127.0.0.1:9".into()], Address::ZERO, &[tx(1)], &[]);
    args.extend(["--multicall".into(), "on".into()]);
    cli.run(args).assert_usage_error("--multicall");
}
