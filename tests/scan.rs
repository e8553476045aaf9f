//! `scan`: the hashes to check, found in the contract's vote events on real
//! anvil nodes — through every provider's `eth_getLogs` limit (a proxy
//! speaking each one's words), past nodes that hide, truncate, forge or
//! misplace logs, across runs (`--state`) and reorgs (`evm_snapshot` /
//! `evm_revert`), for `Voting` and for `VoterRegistry` read through `from`.

mod support;

use std::collections::BTreeSet;

use alloy::primitives::{Address, B256};
use quorum_check::{
    devnet::{Contract, Fleet},
    scan::ScanReport,
};
use serde_json::json;
use support::{
    logs::{self, Limit},
    proxy::{Fault, Proxy},
    *,
};

/// A fleet of `nodes` nodes with Voting; on each, every hash of `hashes`
/// approved in turn, `gap` empty blocks after each vote.
async fn spread_votes(nodes: usize, hashes: &[B256], gap: u64) -> (Fleet, Address) {
    let (fleet, contract) = voting_fleet(nodes, &[]).await;
    vote_on(&fleet, contract, hashes, gap).await;
    (fleet, contract)
}

async fn vote_on(fleet: &Fleet, contract: Address, hashes: &[B256], gap: u64) {
    for i in 0..fleet.len() {
        for h in hashes {
            fleet.cast_vote(i, contract, *h, true).await.expect("vote");
            fleet.mine(i, gap).await.expect("mine");
        }
    }
}

/// A JSON-RPC call straight to `url` (not through quorum-check).
async fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("rpc")
        .json()
        .await
        .expect("json");
    answer["result"].clone()
}

fn scan_args(urls: &[String], contract: Address, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "scan".to_string(),
        "--format".into(),
        "json".into(),
        "--contract".into(),
        format!("{contract:#x}"),
    ];
    for url in urls {
        args.extend(["--rpc".into(), url.clone()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn scan_report(run: &Run) -> ScanReport {
    serde_json::from_slice(&run.output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a scan report ({e}):\n{}\nstderr:\n{}",
            run.stdout(),
            run.stderr()
        )
    })
}

fn found(report: &ScanReport) -> Vec<B256> {
    report.txs.iter().map(|t| t.tx_hash).collect()
}

fn urls(proxies: &[Proxy]) -> Vec<String> {
    proxies.iter().map(|p| p.url.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_limit_is_learned_within_the_request_bound() {
    // 30 votes, one every 100 blocks: about 3,000 blocks.
    let hashes: Vec<B256> = (0..30).map(tx).collect();
    let (fleet, contract) = spread_votes(1, &hashes, 100).await;
    let blocks = head(&fleet.url(0)).await + 1;
    let styles = [
        Limit::MaxBlockRange(1_000),
        Limit::MaxIsK(1_000),
        Limit::FreeTier(500),
        Limit::LimitedTo(1_024),
        Limit::MaxResultsRetry(5),
        Limit::MoreThanResults(5),
        Limit::ResponseSize(1_000),
        Limit::MaxRequestedBlocks(300),
        Limit::Http413(700),
        Limit::Http503(400),
        Limit::Unknown(100),
    ];
    let cli = Cli::new();
    for style in styles {
        let (fault, counts) = logs::limited(style);
        let proxy = Proxy::start(&fleet.url(0), fault).await;
        let run = cli
            .run_async(scan_args(
                std::slice::from_ref(&proxy.url),
                contract,
                &["--from-block", "0", "--threshold", "1", "--log-range", "2000"],
            ))
            .await;
        assert_eq!(run.code(), 0, "{style:?}: {}", run.stderr());
        let report = scan_report(&run);
        assert!(report.complete, "{style:?}");
        assert_eq!(found(&report), hashes, "{style:?}: every vote, in order");
        let requests = proxy.requests();
        assert_eq!(
            report.nodes[0].requests as usize, requests,
            "{style:?}: requests reported = counted"
        );
        let bound = counts.request_bound(blocks);
        assert!(requests <= bound, "{style:?}: {requests} requests, bound {bound}");
        assert!(counts.refusals() >= 1, "{style:?}: the limit was hit");
        if let Some(max) = style.blocks() {
            let largest = counts.accepted().iter().map(|(f, t)| t - f + 1).max().unwrap();
            assert!(largest <= max, "{style:?}");
            if style.names_its_range() {
                // Followed straight to the named range: one refusal, then that size.
                assert_eq!(counts.refusals(), 1, "{style:?}");
                assert_eq!(largest, max, "{style:?}");
                assert_eq!(report.nodes[0].range, Some(max), "{style:?}");
            } else {
                // Halved until accepted: within a factor 2 of the limit.
                assert!(largest * 2 > max, "{style:?}: {largest}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hiding_a_vote_cannot_suppress_it_and_is_flagged() {
    let hashes: Vec<B256> = (0..4).map(tx).collect();
    let (fleet, contract) = spread_votes(3, &hashes, 5).await;
    let proxies = vec![
        Proxy::start(&fleet.url(0), Fault::None).await,
        Proxy::start(&fleet.url(1), logs::hide(hashes[2], 1)).await,
        Proxy::start(&fleet.url(2), Fault::None).await,
    ];
    let run = Cli::new()
        .run_async(scan_args(
            &urls(&proxies),
            contract,
            &["--from-block", "0", "--threshold", "2"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = scan_report(&run);
    assert_eq!(found(&report), hashes);
    let hidden = &report.txs[2];
    assert_eq!(hidden.seen_by, vec![proxies[0].url.clone(), proxies[2].url.clone()]);
    let missing: Vec<u64> = report.nodes.iter().map(|n| n.missing).collect();
    assert_eq!(missing, vec![0, 1, 0]);
    assert!(
        run.stderr()
            .contains(&format!("node {}: missing 1 log(s)", proxies[1].url)),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncating_node_is_flagged_and_the_union_is_whole() {
    let hashes: Vec<B256> = (10..16).map(tx).collect();
    let (fleet, contract) = spread_votes(2, &hashes, 2).await;
    let proxies = vec![
        Proxy::start(&fleet.url(0), Fault::None).await,
        Proxy::start(&fleet.url(1), logs::truncate(1)).await,
    ];
    let run = Cli::new()
        .run_async(scan_args(
            &urls(&proxies),
            contract,
            &["--from-block", "0", "--threshold", "1"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = scan_report(&run);
    assert_eq!(found(&report), hashes);
    // One range, six logs, one kept: five missing.
    assert_eq!(report.nodes[1].logs, 1);
    assert_eq!(report.nodes[1].missing, hashes.len() as u64 - 1);
    assert_eq!(report.nodes[0].missing, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_hash_is_a_candidate_that_check_does_not_confirm() {
    let hashes: Vec<B256> = (20..23).map(tx).collect();
    let forged = tx(99);
    let (fleet, contract) = spread_votes(3, &hashes, 3).await;
    let proxies = vec![
        Proxy::start(&fleet.url(0), logs::forge(forged)).await,
        Proxy::start(&fleet.url(1), Fault::None).await,
        Proxy::start(&fleet.url(2), Fault::None).await,
    ];
    let cli = Cli::new();
    let run = cli
        .run_async(scan_args(
            &urls(&proxies),
            contract,
            &["--from-block", "0", "--threshold", "2"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = scan_report(&run);
    assert!(found(&report).contains(&forged));
    let entry = report.txs.iter().find(|t| t.tx_hash == forged).unwrap();
    assert_eq!(entry.seen_by, vec![proxies[0].url.clone()]);
    // The candidates go to check: the forged one has no quorum.
    let list: String = found(&report).iter().map(|h| format!("{h:#x}\n")).collect();
    cli.write("txs.txt", &list);
    let check = cli
        .run_async(check_args(
            &urls(&proxies),
            contract,
            &[],
            &["--tx-file", "txs.txt", "--threshold", "2"],
        ))
        .await;
    let checked = check.report();
    for t in &checked.txs {
        let confirmed = t.verdict == quorum_check::tally::Verdict::Confirmed;
        assert_eq!(confirmed, t.tx_hash != forged, "{:#x}", t.tx_hash);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misplaced_log_is_bad_response_and_too_little_coverage_exits_3() {
    let hashes: Vec<B256> = (30..33).map(tx).collect();
    let (fleet, contract) = spread_votes(2, &hashes, 3).await;
    let proxies = vec![
        Proxy::start(&fleet.url(0), Fault::None).await,
        Proxy::start(&fleet.url(1), logs::misplace()).await,
    ];
    let cli = Cli::new();
    // Threshold 1 of 2: a block needs both nodes (more than 2 − 1).
    let state = cli.path("state.json");
    let mut args = scan_args(&urls(&proxies), contract, &["--from-block", "0", "--threshold", "1"]);
    args.extend(["--state".into(), path_str(&state)]);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let report = scan_report(&run);
    assert!(!report.complete);
    assert_eq!(report.nodes[1].status, "bad_response");
    assert!(
        report.nodes[1]
            .error
            .as_deref()
            .unwrap()
            .contains("outside the range asked")
    );
    let to = report.to_block.unwrap();
    assert_eq!(report.uncovered.len(), 1);
    assert_eq!((report.uncovered[0].from, report.uncovered[0].to), (0, to));
    assert!(
        run.stderr().contains(&format!("not covered: blocks 0-{to}")),
        "{}",
        run.stderr()
    );
    // The honest node's hashes are still printed; the cursor did not move.
    assert_eq!(found(&report), hashes);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["next_block"], 0);
    // Threshold 2 of 2 needs one answer: covered.
    let run = cli
        .run_async(scan_args(
            &urls(&proxies),
            contract,
            &["--from-block", "0", "--threshold", "2"],
        ))
        .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_resumes_with_new_blocks_only_and_never_holds_the_url() {
    let first: Vec<B256> = (40..43).map(tx).collect();
    let (fleet, contract) = spread_votes(2, &first, 10).await;
    let (fault, _) = logs::limited(Limit::MaxBlockRange(7));
    let proxies = [
        Proxy::start(&fleet.url(0), fault).await,
        Proxy::start(&fleet.url(1), Fault::None).await,
    ];
    let keyed: Vec<String> = proxies.iter().map(|p| format!("{}/v2/SECRETKEY123", p.url)).collect();
    let cli = Cli::new();
    let state = cli.path("state.json");
    let mut args = scan_args(&keyed, contract, &["--from-block", "0", "--threshold", "2"]);
    args.extend(["--state".into(), path_str(&state)]);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(found(&scan_report(&run)), first);
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("SECRETKEY") && !text.contains("127.0.0.1"), "{text}");
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    let head_then = head(&fleet.url(0)).await;
    assert_eq!(saved["next_block"], head_then + 1);
    // The limited node's learned range is kept.
    let ranges: BTreeSet<u64> = saved["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["range"].as_u64().unwrap())
        .collect();
    assert!(ranges.contains(&7), "{text}");

    let second: Vec<B256> = (43..45).map(tx).collect();
    vote_on(&fleet, contract, &second, 10).await;
    let before = proxies[0].requests();
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = scan_report(&run);
    assert_eq!(found(&report), second, "only the new blocks");
    assert_eq!(report.from_block, head_then + 1);
    // Started at the learned 7 blocks: never refused again.
    let new_blocks = head(&fleet.url(0)).await - head_then;
    let requests = proxies[0].requests() - before;
    assert!(
        requests as u64 <= new_blocks.div_ceil(7) + 2,
        "{requests} for {new_blocks} blocks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_is_noticed_and_the_new_branch_votes_are_found() {
    let (fleet, contract) = spread_votes(2, &[tx(50)], 2).await;
    let snapshots: Vec<serde_json::Value> = futures_join(&fleet, "evm_snapshot", json!([])).await;
    vote_on(&fleet, contract, &[tx(51)], 2).await;
    let cli = Cli::new();
    let state = cli.path("state.json");
    let mut args = scan_args(&fleet.urls(), contract, &["--from-block", "0", "--threshold", "2"]);
    args.extend(["--state".into(), path_str(&state)]);
    let run = cli.run_async(args.clone()).await;
    assert_eq!(found(&scan_report(&run)), vec![tx(50), tx(51)]);
    // The old branch goes; a new one with another vote grows past it.
    for (i, id) in snapshots.iter().enumerate() {
        assert_eq!(rpc(&fleet.url(i), "evm_revert", json!([id])).await, json!(true));
    }
    vote_on(&fleet, contract, &[tx(52)], 20).await;
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = scan_report(&run);
    assert!(report.nodes.iter().all(|n| n.reorg), "{}", run.stdout());
    assert!(found(&report).contains(&tx(52)), "{}", run.stdout());
    assert!(!found(&report).contains(&tx(51)), "the old branch's vote is gone");
    assert!(run.stderr().contains("reorg"), "{}", run.stderr());
}

async fn futures_join(fleet: &Fleet, method: &str, params: serde_json::Value) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for url in fleet.urls() {
        out.push(rpc(&url, method, params.clone()).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_foreign_states_are_usage_errors_before_any_request() {
    let (fleet, contract) = spread_votes(1, &[tx(60)], 1).await;
    let proxy = Proxy::start(&fleet.url(0), Fault::None).await;
    let cli = Cli::new();
    let url = [proxy.url.clone()];
    let run = |extra: &[&str]| cli.run(scan_args(&url, contract, extra));
    run(&["--event", "VoteCast(bytes32 indexed"]).assert_usage_error("--event");
    run(&["--from-block", "0", "--event", "VoteCast(bool approve)"]).assert_usage_error("no bytes32");
    run(&["--from-block", "0", "--event-field", "approve"]).assert_usage_error("not a bytes32");
    run(&[]).assert_usage_error("--from-block is required");
    run(&["--from-block", "ten"]).assert_usage_error("--from-block");
    run(&["--from-block", "9", "--to-block", "5"]).assert_usage_error("--to-block 5 is before --from-block 9");
    run(&["--from-block", "0", "--to-block", "pending"]).assert_usage_error("--to-block");
    run(&["--from-block", "0", "--log-range", "0"]).assert_usage_error("--log-range");
    run(&["--from-block", "0", "--state", "/nonexistent-dir/s.json"]).assert_usage_error("--state /nonexistent-dir");
    cli.write("corrupt.json", "{not json");
    run(&["--state", "corrupt.json"]).assert_usage_error("state file corrupt.json is not a quorum-check scan state (");
    // A state written for this contract, then used for another contract, event or chain.
    let good = scan_args(&url, contract, &["--from-block", "0", "--state", "s.json"]);
    assert_eq!(cli.run(good).code(), 0);
    run(&[
        "--state",
        "s.json",
        "--event-field",
        "txHash",
        "--event",
        "VoteCast(bytes32 indexed txHash, bool approve, uint256 n)",
    ])
    .assert_usage_error("belongs to event");
    cli.run(scan_args(&url, Address::repeat_byte(7), &["--state", "s.json"]))
        .assert_usage_error("belongs to contract");
    run(&["--state", "s.json", "--chain-id", "1"]).assert_usage_error("belongs to chain 31337");
    let requests = proxy.requests();
    // Those refusals made no request: only the good run did.
    run(&["--state", "s.json", "--chain-id", "5"]).assert_usage_error("belongs to chain");
    assert_eq!(proxy.requests(), requests);
    // Without --chain-id the chain is known only from the nodes: a node of
    // another chain with this state file is refused all the same (exit 2).
    let other = Fleet::start(
        &anvil(),
        &[quorum_check::devnet::NodeSpec {
            chain_id: Some(5),
            ..Default::default()
        }],
    )
    .await
    .unwrap();
    let other_contract = other.deploy_all(Contract::Voting).await.unwrap();
    assert_eq!(other_contract, contract, "same deployer and nonce");
    cli.run(scan_args(&[other.url(0)], contract, &["--state", "s.json"]))
        .assert_usage_error("belongs to chain 31337, but the nodes serve chain 5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voter_registry_votes_are_found_with_event_and_read_through_from_nodes() {
    let fleet = fleet(1).await;
    let registry = fleet.deploy(0, Contract::VoterRegistry).await.unwrap();
    let voters: Vec<Address> = fleet.accounts(0)[1..4].to_vec();
    let hashes = [tx(70), tx(71)];
    for (i, voter) in voters.iter().enumerate() {
        fleet.add_voter(0, registry, *voter).await.unwrap();
        for h in &hashes {
            // All three approve tx(70); only the first two approve tx(71).
            fleet
                .registry_vote(0, registry, *voter, *h, *h == tx(70) || i < 2)
                .await
                .unwrap();
            fleet.mine(0, 2).await.unwrap();
        }
    }
    let cli = Cli::new();
    let nodes: String = voters
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "[[node]]\nname = \"voter{i}\"\nurl = \"{}\"\nfrom = \"{v:#x}\"\n",
                fleet.url(0)
            )
        })
        .collect();
    let nodes_file = cli.write("nodes.toml", &nodes);
    let event = "VoteCast(address indexed voter, bytes32 indexed txHash, bool approve)";
    let mut args = vec![
        "scan".to_string(),
        "--nodes".into(),
        path_str(&nodes_file),
        "--contract".into(),
        format!("{registry:#x}"),
        "--event".into(),
        event.into(),
        "--event-field".into(),
        "txHash".into(),
        "--from-block".into(),
        "0".into(),
        "--threshold".into(),
        "3".into(),
    ];
    let run = cli.run_async(args.clone()).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines, vec![hex(tx(70)), hex(tx(71))], "each hash once, in order");
    // The default field (the first bytes32) is the same parameter.
    args.truncate(args.len() - 6);
    args.extend(["--from-block".into(), "0".into(), "--threshold".into(), "3".into()]);
    assert_eq!(cli.run_async(args).await.stdout().lines().count(), 2);
    // Piped into check, through the same from nodes: 3 of 3 and 2 of 3.
    cli.write("found.txt", &run.stdout());
    let check = cli
        .run_async(vec![
            "check".into(),
            "--nodes".into(),
            path_str(&nodes_file),
            "--contract".into(),
            format!("{registry:#x}"),
            "--abi".into(),
            abi("VoterRegistry.json"),
            "--tx-file".into(),
            "found.txt".into(),
            "--threshold".into(),
            "3".into(),
        ])
        .await;
    assert_eq!(check.code(), 1, "{}", check.stdout());
    assert!(
        check
            .stdout()
            .contains(&format!("Transaction confirmed: {}", hex(tx(70)))),
        "{}",
        check.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_discover_follows_new_votes_until_the_deadline() {
    let (fleet, contract) = voting_fleet(3, &[(tx(80), 3)]).await;
    let cli = Cli::new();
    let watch = |deadline: &str| {
        let mut args = vec![
            "watch".to_string(),
            "--discover".into(),
            "--from-block".into(),
            "0".into(),
            "--contract".into(),
            format!("{contract:#x}"),
            "--threshold".into(),
            "2".into(),
            "--interval".into(),
            "300ms".into(),
            "--deadline".into(),
            deadline.into(),
            "--state".into(),
            "watch-state.json".into(),
        ];
        for url in fleet.urls() {
            args.extend(["--rpc".into(), url]);
        }
        args
    };
    // A vote that lands while the watch runs is found and followed.
    let running = tokio::spawn({
        let cli_dir = cli.path("");
        let args = watch("4s");
        async move {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quorum-check"));
            cmd.env_clear().current_dir(cli_dir).args(args);
            tokio::task::spawn_blocking(move || cmd.output().expect("watch"))
                .await
                .expect("join")
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    fleet
        .cast_votes(contract, &[tx(81)], &[true, true, false])
        .await
        .unwrap();
    let output = running.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{stdout}"))
    };
    let first = at(&format!("discovered -> pending: {}", hex(tx(80))));
    assert!(first < at(&format!("pending -> Transaction confirmed: {}", hex(tx(80)))));
    let later = at(&format!("discovered -> pending: {}", hex(tx(81))));
    assert!(later < at(&format!("pending -> Transaction confirmed: {}", hex(tx(81)))));
    assert_eq!(stdout.matches("discovered -> pending").count(), 2, "{stdout}");
    // A hash that never reaches the threshold: exit 4 at the deadline. The
    // state file resumes after the blocks already scanned, so only the new
    // vote is discovered.
    fleet
        .cast_votes(contract, &[tx(82)], &[true, false, false])
        .await
        .unwrap();
    let mut args = watch("2s");
    let from = args.iter().position(|a| a == "--from-block").unwrap();
    args.drain(from..from + 2);
    let run = cli.run_async(args).await;
    assert_eq!(run.code(), 4, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stdout()
            .contains(&format!("discovered -> pending: {}", hex(tx(82)))),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains(&hex(tx(80))), "{}", run.stdout());
    assert!(
        run.stdout().contains("gave up after 2.") && run.stdout().contains("s: 0 of 1 confirmed"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_from_zero_on_a_fresh_devnet_finds_every_voted_hash() {
    let cli = Cli::new();
    let hashes = [tx(90), tx(91), tx(92)];
    let mut cmd = cli.command();
    cmd.args(["devnet", "--nodes", "3"]);
    for h in &hashes {
        cmd.args(["--tx", &hex(*h)]);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut devnet = Stopped(cmd.spawn().expect("devnet"));
    let stdout = devnet.0.stdout.take().unwrap();
    let text = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.starts_with("quorum-check check"))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let value = |key: &str| {
        text.iter()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {text:?}"))
            .to_string()
    };
    let env = [
        ("QUORUM_RPC_URLS", value("QUORUM_RPC_URLS")),
        ("QUORUM_CONTRACT", value("QUORUM_CONTRACT")),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let scan = cli.run_env(["scan", "--from-block", "0"], &env);
    let found: Vec<String> = scan.stdout().lines().map(str::to_string).collect();
    // The votes on each node are blocks apart, and all found, in order.
    assert_eq!(
        found,
        hashes.iter().map(|h| hex(*h)).collect::<Vec<_>>(),
        "{}",
        scan.stderr()
    );
    let json = cli.run_env(["scan", "--from-block", "0", "--format", "json"], &env);
    let report = scan_report(&json);
    let blocks: Vec<u64> = report.txs.iter().map(|t| t.first_block).collect();
    assert!(blocks.windows(2).all(|w| w[1] >= w[0] + 2), "{blocks:?}");
    // The tags a provider resolves: never past latest.
    for tag in ["safe", "finalized"] {
        let run = cli.run_env(
            ["scan", "--from-block", "0", "--format", "json", "--to-block", tag],
            &env,
        );
        assert_eq!(run.code(), 0, "{tag}: {}", run.stderr());
        assert!(scan_report(&run).to_block <= report.to_block, "{tag}");
    }
    // The cron recipe: scan piped into check.
    let mut check = cli.command();
    check
        .args(["check", "--tx-file", "-", "--threshold", "2", "-q"])
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = check.spawn().unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(scan.stdout().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("Transaction confirmed")
            .count(),
        3
    );
}

/// A devnet process, stopped with SIGTERM (which stops its anvils) when
/// dropped — also when an assertion fails.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}
