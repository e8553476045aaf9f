//! Node software nobody here wrote: one anvil, one hardhat node and one
//! ganache node (npm packages pinned in tools/interop, installed by
//! `npm ci --prefix tools/interop`, which the README's test command runs),
//! the same contract and votes on each, checked as one fleet. Each node
//! starts once for the whole suite (one test), on a free 127.0.0.1 port.

mod support;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes},
    providers::{Provider, ProviderBuilder, RootProvider},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};
use quorum_check::{
    config::CANONICAL,
    report::{CheckReport, NodeStatus, Via, VoteJson},
};
use support::*;

sol!(VotingContract, "abi/Voting.json");

/// The mnemonic anvil and hardhat derive their accounts from: given to
/// ganache too, so the first deployment lands at the same address on all three.
const MNEMONIC: &str = "test test test test test test test test test test test junk";

/// A node process, killed on drop.
struct NodeProcess {
    child: Child,
    url: String,
    /// The RPC method that replaces an account's code.
    set_code: &'static str,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_bin(name: &str) -> PathBuf {
    let bin = repo().join("tools/interop/node_modules/.bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci --prefix tools/interop` (the README's test command does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn start(mut cmd: Command, port: u16, set_code: &'static str) -> NodeProcess {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let node = NodeProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
        set_code,
    };
    let provider = provider(&node.url);
    for _ in 0..240 {
        if provider.get_chain_id().await.is_ok() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{:?} did not answer within 60 s", cmd.get_program());
}

async fn hardhat() -> NodeProcess {
    let port = free_port();
    let mut cmd = Command::new(interop_bin("hardhat"));
    cmd.current_dir(repo().join("tools/interop"))
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
        .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()]);
    start(cmd, port, "hardhat_setCode").await
}

async fn ganache() -> NodeProcess {
    let port = free_port();
    let mut cmd = Command::new(interop_bin("ganache"));
    cmd.args([
        "--server.host",
        "127.0.0.1",
        "--server.port",
        &port.to_string(),
        "--chain.chainId",
        "31337",
        "--wallet.mnemonic",
        MNEMONIC,
        "--logging.quiet",
    ]);
    start(cmd, port, "evm_setAccountCode").await
}

fn provider(url: &str) -> RootProvider {
    ProviderBuilder::default().connect_http(url.parse().expect("url"))
}

/// Sends through the node's first unlocked account; returns the receipt's
/// contract address, if any.
async fn send(url: &str, tx: TransactionRequest) -> Option<Address> {
    let p = provider(url);
    let from = p.get_accounts().await.expect("accounts")[0];
    // ganache does not estimate gas: it would give 90,000.
    let pending = p
        .send_transaction(tx.from(from).with_gas_limit(3_000_000))
        .await
        .expect("send");
    let receipt = pending.get_receipt().await.expect("receipt");
    assert!(receipt.status(), "transaction failed on {url}: {receipt:?}");
    receipt.contract_address
}

async fn set_code(node_url: &str, method: &'static str, at: Address, code: &[u8]) {
    provider(node_url)
        .raw_request::<_, serde_json::Value>(method.into(), (at, Bytes::copy_from_slice(code)))
        .await
        .unwrap_or_else(|e| panic!("{method} on {node_url}: {e}"));
}

fn statuses(report: &CheckReport) -> Vec<Vec<String>> {
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
                    NodeStatus::Reverted { reason } if reason.starts_with("Error(") => reason.clone(),
                    NodeStatus::Reverted { reason } => format!("reverted: {reason}"),
                    other => other.name().to_string(),
                })
                .collect()
        })
        .collect()
}

/// Every node gave the same answer for each hash; returns the answers, one per hash.
fn unanimous(report: &CheckReport, label: &str) -> Vec<String> {
    statuses(report)
        .into_iter()
        .zip(&report.txs)
        .map(|(per_node, t)| {
            assert!(
                per_node.iter().all(|s| *s == per_node[0]),
                "{label}: {}: nodes disagree: {per_node:?} ({:?})",
                t.tx_hash,
                t.nodes.iter().map(|n| n.status.detail()).collect::<Vec<_>>()
            );
            per_node[0].clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_hardhat_and_ganache_give_the_same_answers() {
    let (anvil, hardhat, ganache) = tokio::join!(fleet(1), hardhat(), ganache());
    let urls = vec![anvil.url(0), hardhat.url.clone(), ganache.url.clone()];
    let others = [&hardhat, &ganache];

    // The same contract at the same address everywhere, and Multicall3's code.
    let creation =
        Bytes::from(alloy::primitives::hex::decode(include_str!("../contracts/out/Voting.bin").trim()).unwrap());
    let aggregator = provider(&anvil.url(0)).get_code_at(CANONICAL).await.unwrap();
    let mut contract = None;
    for url in &urls {
        let at = send(url, TransactionRequest::default().with_deploy_code(creation.clone()))
            .await
            .expect("contract address");
        assert_eq!(
            *contract.get_or_insert(at),
            at,
            "same deployer, same nonce, same address"
        );
    }
    let contract = contract.unwrap();
    for node in others {
        set_code(&node.url, node.set_code, CANONICAL, &aggregator).await;
    }
    // Many hashes, the same votes on every node: every third approved.
    let hs: Vec<B256> = (0..60).map(|i| tx(7000 + i)).collect();
    for url in &urls {
        for h in hs.iter().step_by(3) {
            let data = VotingContract::castVoteCall {
                txHash: *h,
                approve: true,
            }
            .abi_encode();
            send(
                url,
                TransactionRequest::default().to(contract).with_input(Bytes::from(data)),
            )
            .await;
        }
    }
    // Separate chains, so heads differ (ganache mines a block for a code
    // change): mine up to one height, so any block read has every vote.
    let heads = futures::future::join_all(
        urls.iter()
            .map(|u| async move { provider(u).get_block_number().await.unwrap() }),
    )
    .await;
    let top = *heads.iter().max().unwrap();
    for ((url, head), method) in urls.iter().zip(&heads).zip(["anvil_mine", "hardhat_mine", "evm_mine"]) {
        for _ in *head..top {
            let _: serde_json::Value = provider(url)
                .raw_request(method.into(), serde_json::json!([]))
                .await
                .expect("mine");
        }
    }
    let cli = Cli::new();
    let check = |extra: Vec<&str>, hashes: &[B256]| {
        let mut extra = extra;
        extra.extend(["--threshold", "3", "--wait-all", "--chain-id", "31337"]);
        let args = check_args(&urls, contract, hashes, &extra);
        let cli = &cli;
        async move { cli.run_async(args).await }
    };
    let expected: Vec<String> = (0..hs.len()).map(|i| (i % 3 == 0).to_string()).collect();

    // Through Multicall3 (present on all three), plain, and at one pinned block.
    for (extra, via) in [
        (vec![], Via::Multicall),
        (vec!["--multicall", "off"], Via::Batch),
        (vec!["--block", "pinned"], Via::Multicall),
    ] {
        let run = check(extra.clone(), &hs).await;
        let report = run.report();
        assert_eq!(
            unanimous(&report, &format!("{extra:?}")),
            expected,
            "{extra:?}: {}",
            run.stderr()
        );
        assert_eq!(report.summary.confirmed, 20, "{extra:?}");
        assert_eq!(run.code(), 1, "some rejected");
        assert!(
            report.nodes.iter().all(|n| n.via == Some(via)),
            "{extra:?}: {:?}",
            report.nodes
        );
        if extra.contains(&"pinned") {
            assert!(report.pinned_block.is_some());
        }
    }

    // The canonical Multicall3 (the bytecode deployed on public chains,
    // tests/fixtures/multicall3/PROVENANCE.md) in place of our Aggregator
    // on all three: the same answers, still through Multicall3.
    let canonical = Bytes::from(
        alloy::primitives::hex::decode(include_str!("fixtures/multicall3/canonical-runtime.hex").trim()).unwrap(),
    );
    set_code(&anvil.url(0), "anvil_setCode", CANONICAL, &canonical).await;
    for node in others {
        set_code(&node.url, node.set_code, CANONICAL, &canonical).await;
    }
    for url in &urls {
        assert_eq!(provider(url).get_code_at(CANONICAL).await.unwrap(), canonical, "{url}");
    }
    let run = check(vec![], &hs).await;
    let report = run.report();
    assert_eq!(unanimous(&report, "canonical Multicall3"), expected, "{}", run.stderr());
    assert!(
        report.nodes.iter().all(|n| n.via == Some(Via::Multicall)),
        "{:?}",
        report.nodes
    );
    set_code(&anvil.url(0), "anvil_setCode", CANONICAL, &aggregator).await;

    // Multicall3 absent on hardhat and ganache: they fall back, same answers.
    for node in others {
        set_code(&node.url, node.set_code, CANONICAL, &[]).await;
    }
    let run = check(vec![], &hs).await;
    let report = run.report();
    assert_eq!(unanimous(&report, "multicall absent"), expected, "{}", run.stderr());
    let vias: Vec<_> = report.nodes.iter().map(|n| n.via).collect();
    assert_eq!(vias, [Some(Via::Multicall), Some(Via::Batch), Some(Via::Batch)]);

    // Reverts with a reason, no function, no contract: the same status from
    // each implementation's error shapes, through Multicall3 and without.
    let reverting = Address::repeat_byte(0x71);
    let stopping = Address::repeat_byte(0x72);
    let empty = Address::repeat_byte(0x73);
    // Reverting without data: with vote's selector in the code (PUSH4 it,
    // POP, REVERT(0, 0)) and without it (REVERT(0, 0) alone).
    let bare = Address::repeat_byte(0x74);
    let bare_without = Address::repeat_byte(0x75);
    let selector = &alloy::primitives::keccak256("vote(bytes32)")[..4];
    let bare_code = [&[0x63][..], selector, &[0x50, 0x60, 0x00, 0x60, 0x00, 0xfd]].concat();
    let targets = [
        (anvil.url(0), "anvil_setCode"),
        (hardhat.url.clone(), hardhat.set_code),
        (ganache.url.clone(), ganache.set_code),
    ];
    for (url, method) in &targets {
        set_code(url, method, reverting, &reverting_code()).await;
        set_code(url, method, stopping, &[0x00]).await;
        set_code(url, method, bare, &bare_code).await;
        set_code(url, method, bare_without, &[0x60, 0x00, 0x60, 0x00, 0xfd]).await;
        set_code(url, method, CANONICAL, &aggregator).await;
    }
    for (at, want) in [
        (reverting, "Error(\"closed\")"),
        (stopping, "no_function"),
        (empty, "no_contract"),
        // Each program words a revert without data its own way; read the same.
        (bare, "reverted: execution reverted"),
        (bare_without, "no_function"),
    ] {
        for mode in ["auto", "off"] {
            let args = check_args(
                &urls,
                at,
                &hs[..3],
                &["--threshold", "1", "--wait-all", "--multicall", mode],
            );
            let run = cli.run_async(args).await;
            let report = run.report();
            assert_eq!(
                unanimous(&report, &format!("{at} {mode}")),
                vec![want.to_string(); 3],
                "{mode}: {}",
                run.stderr()
            );
        }
    }

    // The wrong chain, told by each implementation's eth_chainId.
    let args = check_args(&urls, contract, &hs[..2], &["--threshold", "1", "--chain-id", "5"]);
    let report = cli.run_async(args).await.report();
    assert!(
        report.txs[0]
            .nodes
            .iter()
            .all(|n| n.status == NodeStatus::WrongChain { chain_id: 31337 }),
        "{:?}",
        report.txs[0].nodes
    );
}
