//! `quorum-check check` against real anvil fleets: the verdicts, the exit
//! codes and every node's status, read from the typed JSON report.

mod support;

use alloy::primitives::U256;
use quorum_check::{devnet::Contract, report::NodeStatus, tally::Verdict};
use support::{
    proxy::{Fault, Proxy},
    *,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_of_ten_confirms_and_six_rejects() {
    let (yes7, yes6) = (tx(7), tx(6));
    let (fleet, contract) = voting_fleet(10, &[(yes7, 7), (yes6, 6)]).await;
    let cli = Cli::new();

    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[yes7],
            &["--threshold", "7", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.threshold.value, 7);
    let t = &report.txs[0];
    assert_eq!((t.verdict, t.yes, t.no, t.undecided), (Verdict::Confirmed, 7, 3, 0));
    assert_eq!(t.nodes.len(), 10);
    assert!(t.nodes.iter().all(|n| matches!(n.status, NodeStatus::Ok { .. })));
    assert_eq!(t.nodes.iter().filter(|n| n.contribution == "1").count(), 7);

    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[yes6],
            &["--threshold", "7", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!((t.verdict, t.yes, t.no), (Verdict::Rejected, 6, 4));

    // Both in one run: one rejected, none inconclusive -> 1.
    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[yes7, yes6],
            &["--threshold", "7"],
        ))
        .await;
    assert_eq!(run.code(), 1);
    let report = run.report();
    assert_eq!((report.summary.confirmed, report.summary.rejected), (1, 1));
    assert_eq!(report.txs[0].tx_hash, yes7, "reports keep the order of the hashes");

    // The text output carries the phrases scripts look for.
    // --wait-all: every node heard, so no "(N not waited for)" in the lines.
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[yes7, yes6],
        &["--threshold", "7", "--wait-all"],
    );
    args.retain(|a| a != "json");
    let pos = args.iter().position(|a| a == "--format").unwrap();
    args.remove(pos);
    let run = cli.run_async(args).await;
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "Transaction confirmed: {} (yes 7 of 10, threshold 7)",
            hex(yes7)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Transaction rejected: {} (yes 6 of 10, threshold 7)",
            hex(yes6)
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_nodes_make_it_inconclusive_only_when_the_arithmetic_says_so() {
    // a: nodes 1-7 approve, 8-10 reject.  b: nodes 1-3 reject, 4-10 approve.
    let (a, b) = (tx(1), tx(2));
    let (mut fleet, contract) = voting_fleet(10, &[(a, 7)]).await;
    let approvals_b: Vec<bool> = (0..10).map(|i| i >= 3).collect();
    fleet.cast_votes(contract, &[b], &approvals_b).await.unwrap();
    let urls = fleet.urls();
    for i in 7..10 {
        fleet.kill(i);
    }
    let run = Cli::new()
        .run_async(check_args(
            &urls,
            contract,
            &[a, b],
            &["--threshold", "7", "--timeout", "3s"],
        ))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = run.report();
    let (ra, rb) = (&report.txs[0], &report.txs[1]);
    // a: the 7 approvals are all alive.
    assert_eq!((ra.verdict, ra.yes), (Verdict::Confirmed, 7));
    // b: 4 yes, 3 no, 3 unknown: the unknown could make 7.
    assert_eq!(
        (rb.verdict, rb.yes, rb.no, rb.undecided),
        (Verdict::Inconclusive, 4, 3, 3)
    );
    assert!(
        rb.reason.as_deref().unwrap_or("").contains("connect_error"),
        "{:?}",
        rb.reason
    );
    for n in &rb.nodes[7..] {
        assert!(matches!(n.status, NodeStatus::ConnectError { .. }), "{:?}", n.status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_from_the_nodes_file_count() {
    let (heavy, light) = (tx(10), tx(11));
    let fleet = fleet(4).await;
    let contract = fleet.deploy_all(Contract::Voting).await.unwrap();
    // heavy: only the weight-5 node approves. light: the three weight-1 nodes approve.
    fleet
        .cast_votes(contract, &[heavy], &[true, false, false, false])
        .await
        .unwrap();
    fleet
        .cast_votes(contract, &[light], &[false, true, true, true])
        .await
        .unwrap();
    let cli = Cli::new();
    let mut toml = String::new();
    for (i, url) in fleet.urls().iter().enumerate() {
        let weight = if i == 0 { 5 } else { 1 };
        toml.push_str(&format!(
            "[[node]]\nname = \"n{i}\"\nurl = \"{url}\"\nweight = {weight}\n\n"
        ));
    }
    let nodes = cli.write("nodes.toml", &toml);
    let args = |t| {
        vec![
            "check".to_string(),
            "--format=json".into(),
            "--abi".into(),
            abi("Voting.json"),
            "--nodes".into(),
            path_str(&nodes),
            "--contract".into(),
            format!("{contract:#x}"),
            "--tx".into(),
            hex(t),
            "--wait-all".into(),
        ]
    };
    // Total 8, majority 5.
    let run = cli.run_async(args(heavy)).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert_eq!(
        (
            report.total_weight,
            report.threshold.value,
            report.threshold.spec.as_str()
        ),
        (8, 5, "majority")
    );
    assert_eq!(report.txs[0].yes, 5);
    assert_eq!(report.txs[0].nodes[0].name, "n0");
    let run = cli.run_async(args(light)).await;
    assert_eq!(run.code(), 1);
    let t = &run.report().txs[0];
    assert_eq!((t.verdict, t.yes, t.no), (Verdict::Rejected, 3, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uint_votes_are_summed_against_an_absolute_threshold() {
    let h = tx(20);
    let fleet = fleet(3).await;
    let contract = fleet.deploy_all(Contract::WeightedVoting).await.unwrap();
    for (i, w) in [100u64, 50, 0].into_iter().enumerate() {
        fleet.cast_weight(i, contract, h, U256::from(w)).await.unwrap();
    }
    let cli = Cli::new();
    let args = |threshold: &str| {
        let mut a = check_args(&fleet.urls(), contract, &[h], &["--threshold", threshold]);
        let i = a.iter().position(|x| x.ends_with("Voting.json")).unwrap();
        a[i] = abi("WeightedVoting.json");
        a
    };
    let run = cli.run_async(args("150")).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!((t.verdict, t.yes), (Verdict::Confirmed, 150));
    let run = cli.run_async(args("151")).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!((t.verdict, t.yes, t.no), (Verdict::Rejected, 150, 1));
    assert!(t.nodes.iter().any(|n| n.status
        == NodeStatus::Ok {
            vote: quorum_check::report::VoteJson::Uint("100".into())
        }));
    // A relative threshold makes no sense for weights.
    cli.run_async(args("majority")).await.assert_usage_error("majority");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voter_registry_reads_each_nodes_vote_through_its_from_address() {
    let h = tx(30);
    let fleet = fleet(1).await;
    let registry = fleet.deploy(0, Contract::VoterRegistry).await.unwrap();
    let voters: Vec<_> = fleet.accounts(0)[1..6].to_vec();
    for (i, voter) in voters.iter().enumerate() {
        fleet.add_voter(0, registry, *voter).await.unwrap();
        fleet.registry_vote(0, registry, *voter, h, i < 3).await.unwrap();
    }
    let cli = Cli::new();
    let mut toml = String::new();
    for (i, voter) in voters.iter().enumerate() {
        toml.push_str(&format!(
            "[[node]]\nname = \"voter{i}\"\nurl = \"{}\"\nfrom = \"{voter:#x}\"\n\n",
            fleet.url(0)
        ));
    }
    let nodes = cli.write("nodes.toml", &toml);
    let args_for = |threshold: &str| -> Vec<String> {
        let (nodes, abi, h, registry) = (
            path_str(&nodes),
            abi("VoterRegistry.json"),
            hex(h),
            format!("{registry:#x}"),
        );
        [
            "check",
            "--format",
            "json",
            "--abi",
            &abi,
            "--nodes",
            &nodes,
            "--contract",
            &registry,
            "--tx",
            &h,
            "--threshold",
            threshold,
            "--wait-all",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = cli.run_async(args_for("3")).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!((t.yes, t.no), (3, 2));
    assert_eq!(t.nodes[0].from, Some(voters[0]));
    let run = cli.run_async(args_for("4")).await;
    assert_eq!(run.code(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_contract_is_reported_and_not_counted() {
    let h = tx(40);
    let fleet = fleet(3).await;
    let contract = fleet.deploy(0, Contract::Voting).await.unwrap();
    assert_eq!(fleet.deploy(1, Contract::Voting).await.unwrap(), contract);
    fleet.cast_vote(0, contract, h, true).await.unwrap();
    fleet.cast_vote(1, contract, h, true).await.unwrap();
    let run = Cli::new()
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[h],
            &["--threshold", "3", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!(t.nodes[2].status, NodeStatus::NoContract);
    assert_eq!((t.verdict, t.yes, t.undecided), (Verdict::Inconclusive, 2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_the_contract_lacks_is_no_function_not_a_revert() {
    // Voting has no ballot(bytes32) and no fallback: the call reverts
    // without data, and ballot's selector is nowhere in Voting's
    // dispatcher (issue 19): no_function, on every node, not `reverted`.
    let h = tx(41);
    let (fleet, contract) = voting_fleet(2, &[(h, 2)]).await;
    let cli = Cli::new();
    let abi_path = cli.write(
        "ballot.json",
        r#"[{"type":"function","name":"ballot","stateMutability":"view","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"bool"}]}]"#,
    );
    let mut args = check_args(
        &fleet.urls(),
        contract,
        &[h],
        &["--function", "ballot", "--threshold", "1"],
    );
    let i = args.iter().position(|x| x.ends_with("Voting.json")).unwrap();
    args[i] = path_str(&abi_path);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert!(
        t.nodes.iter().all(|n| n.status == NodeStatus::NoFunction),
        "{:?}",
        t.nodes
    );
    // The same through plain calls.
    let mut plain = args.clone();
    plain.extend(["--multicall".to_string(), "off".to_string()]);
    let run = cli.run_async(plain).await;
    let t = &run.report().txs[0];
    assert!(
        t.nodes.iter().all(|n| n.status == NodeStatus::NoFunction),
        "{:?}",
        t.nodes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_another_chain_is_excluded() {
    let h = tx(50);
    let specs = vec![
        quorum_check::devnet::NodeSpec::default(),
        quorum_check::devnet::NodeSpec::default(),
        quorum_check::devnet::NodeSpec {
            chain_id: Some(999),
            ..Default::default()
        },
    ];
    let fleet = quorum_check::devnet::Fleet::start(&anvil(), &specs).await.unwrap();
    let contract = fleet.deploy_all(Contract::Voting).await.unwrap();
    fleet.cast_votes(contract, &[h], &[true, true, true]).await.unwrap();
    let cli = Cli::new();
    // Without --chain-id the foreign node is counted like any other.
    let run = cli
        .run_async(check_args(&fleet.urls(), contract, &[h], &["--threshold", "3"]))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[h],
            &["--threshold", "3", "--chain-id", "31337", "--wait-all"],
        ))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let t = &run.report().txs[0];
    assert_eq!(t.nodes[2].status, NodeStatus::WrongChain { chain_id: 999 });
    assert_eq!(t.nodes[2].contribution, "0");
    assert_eq!((t.yes, t.verdict), (2, Verdict::Inconclusive));
    let run = cli
        .run_async(check_args(
            &fleet.urls(),
            contract,
            &[h],
            &["--threshold", "2", "--chain-id", "31337"],
        ))
        .await;
    assert_eq!(run.code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_hashes_in_one_run_are_batched() {
    let hashes: Vec<_> = (0..120).map(|i| tx(1000 + i)).collect();
    let fleet = fleet(3).await;
    let contract = fleet.deploy_all(Contract::Voting).await.unwrap();
    // Even hashes approved by nodes 1 and 2, odd ones by nobody.
    let even: Vec<_> = hashes.iter().step_by(2).copied().collect();
    fleet.cast_votes(contract, &even, &[true, true, false]).await.unwrap();
    // Counted at a proxy in front of each node: plain eth_call batches
    // (--multicall off), so --batch-size is what shapes the requests.
    let proxies = [
        Proxy::start(&fleet.url(0), Fault::None).await,
        Proxy::start(&fleet.url(1), Fault::None).await,
        Proxy::start(&fleet.url(2), Fault::None).await,
    ];
    let urls: Vec<String> = proxies.iter().map(|p| p.url.clone()).collect();
    let cli = Cli::new();
    let list: String = hashes.iter().map(|h| format!("{}\n", hex(*h))).collect();
    let file = cli.write("txs.txt", &format!("# generated\n{list}"));
    let mut args = check_args(
        &urls,
        contract,
        &[],
        &[
            "--threshold",
            "2",
            "--batch-size",
            "50",
            "--wait-all",
            "--multicall",
            "off",
        ],
    );
    args.extend(["--tx-file".into(), path_str(&file)]);
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report.txs.len(), 120);
    assert_eq!(
        (
            report.summary.confirmed,
            report.summary.rejected,
            report.summary.inconclusive
        ),
        (60, 60, 0)
    );
    for (i, t) in report.txs.iter().enumerate() {
        assert_eq!(t.tx_hash, hashes[i]);
        let expected = if i % 2 == 0 {
            Verdict::Confirmed
        } else {
            Verdict::Rejected
        };
        assert_eq!(t.verdict, expected, "tx {i}");
    }
    // Every node read every hash once, in batches of at most 50:
    // 120 = 50 + 50 + 20, three requests.
    for (node, proxy) in proxies.iter().enumerate() {
        assert_eq!(proxy.eth_calls(), 120, "node {node}");
        assert_eq!(proxy.max_batch(), 50, "node {node}");
        assert_eq!(proxy.requests(), 3, "node {node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_every_node_rejects_is_named_not_counted() {
    let h = tx(31);
    let (fleet, contract) = voting_fleet(3, &[(h, 3)]).await;
    let cli = Cli::new();
    let quiet = |contract: alloy::primitives::Address, extra: &[&str]| {
        let mut args = check_args(&fleet.urls(), contract, &[h], &["--threshold", "2", "-q"]);
        let format = args.iter().position(|a| a == "--format").unwrap();
        args.drain(format..format + 2);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // Nothing deployed at the address on any node.
    let empty: alloy::primitives::Address = "0x000000000000000000000000000000000000dEaD".parse().unwrap();
    let run = cli.run_async(quiet(empty, &[])).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(
        run.stdout().contains(
            "no node has code at 0x000000000000000000000000000000000000dEaD (check --contract and --chain-id)"
        ),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains("could still reach it"), "{}", run.stdout());

    // Every node on anvil's chain, not the one asked for (by name, too).
    for chain in ["1", "mainnet", "0x1"] {
        let run = cli.run_async(quiet(contract, &["--chain-id", chain])).await;
        assert_eq!(run.code(), 3, "{}", run.stderr());
        assert!(
            run.stdout().contains("every node is on chain 31337, not 1"),
            "{chain}: {}",
            run.stdout()
        );
    }
    // A function the contract does not have (a solc dispatcher reverts
    // without data): no_function on every node, named.
    let run = cli
        .run_async(quiet(contract, &["--function", "approve(bytes32)(bool)"]))
        .await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(
        run.stdout()
            .contains("no node's contract has approve(bytes32) (check --function and --abi)"),
        "{}",
        run.stdout()
    );
    // The right chain in hex is accepted.
    let run = cli.run_async(quiet(contract, &["--chain-id", "0x7a69"])).await;
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());

    // A mix (one node down, the others without code) is still named: a node
    // that did not answer neither makes nor breaks the diagnosis.
    let mut urls = fleet.urls();
    urls[0] = format!("http://127.0.0.1:{}", closed_port());
    let mut args = check_args(&urls, empty, &[h], &["--threshold", "2", "--retries", "0"]);
    args.push("--wait-all".into());
    let report = cli.run_async(args).await.report();
    let reason = report.txs[0].reason.clone().unwrap_or_default();
    assert!(reason.starts_with("no node has code at"), "{reason}");
    // A bad --chain-id is a usage error before any request.
    cli.run(quiet(contract, &["--chain-id", "moonbase-xyz"]))
        .assert_usage_error("--chain-id");
}
