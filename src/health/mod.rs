//! Node health for `quorum-check nodes`: per node, one JSON-RPC batch asking
//! its chain id, head block (number and time), client version, sync state
//! and — when a contract is given — whether the contract has code there and
//! whether its vote function answers a call for the zero hash with a valid
//! vote. A node is healthy when it answers, is on the expected chain, is not
//! syncing, is at most `--max-lag` blocks behind the highest head of the
//! nodes on its chain, its head is not older than `--max-head-age`, and the
//! contract is there and answers. Every failing rule is a named problem. The
//! quorum is reachable when the healthy nodes hold the threshold's weight.

mod assess;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use futures::{StreamExt, stream::FuturesUnordered};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use self::assess::{Answers, Question, assess, judge_lag};
use crate::{
    abi::VoteFunction,
    check::rpc::{Call, RpcClient},
    config::Node,
    report::NodeStatus,
};

/// One node's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHealth {
    /// 1-based position in the configuration.
    pub node: usize,
    /// The node's name, or its redacted URL.
    pub name: String,
    /// Scheme, host and port only.
    pub url: String,
    /// Its weight.
    pub weight: u64,
    /// Every rule holds.
    pub healthy: bool,
    /// Why not healthy; empty when healthy.
    pub problems: Vec<String>,
    /// Why the node gave no answer at all (timeout, connect_error, …).
    pub failure: Option<NodeStatus>,
    /// Its chain id.
    pub chain_id: Option<u64>,
    /// Its head block number.
    pub head_block: Option<u64>,
    /// Seconds between the head block's timestamp and now; 0 when the
    /// timestamp is in the future (see `clock_ahead_s`).
    pub head_age_s: Option<i64>,
    /// How far the head block's timestamp is ahead of this machine's clock
    /// (hardhat and ganache stamp blocks ahead); absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_ahead_s: Option<u64>,
    /// Blocks behind the highest head among the nodes on the same chain.
    #[serde(default)]
    pub head_lag: Option<u64>,
    /// Whether `eth_syncing` says the node is syncing.
    #[serde(default)]
    pub syncing: Option<bool>,
    /// `web3_clientVersion` (cleaned).
    pub client_version: Option<String>,
    /// Whether the contract has code (absent without `--contract`).
    pub contract_has_code: Option<bool>,
    /// Whether the vote function answered a call for the zero hash with a
    /// valid vote (absent without `--contract`).
    #[serde(default)]
    pub vote_answers: Option<bool>,
    /// Time to its answer.
    pub latency_ms: f64,
}

/// The health of all nodes and what it means for the quorum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The document's shape (1).
    pub schema_version: u32,
    /// `--chain-id`, if given.
    pub expected_chain_id: Option<u64>,
    /// `--contract`, if given.
    pub contract: Option<Address>,
    /// Sum of the weights.
    pub total_weight: u128,
    /// Weight of the healthy nodes.
    pub healthy_weight: u128,
    /// Weight the healthy nodes must hold.
    pub threshold: u128,
    /// Whether the healthy nodes hold the threshold's weight.
    pub quorum_reachable: bool,
    /// Every node, in configuration order.
    pub nodes: Vec<NodeHealth>,
}

/// What to check.
pub struct HealthCheck<'a> {
    /// The nodes.
    pub nodes: &'a [Node],
    /// The expected chain.
    pub chain_id: Option<u64>,
    /// The contract to look for.
    pub contract: Option<Address>,
    /// The vote function to call (with `contract`).
    pub function: &'a VoteFunction,
    /// Weight the healthy nodes must hold.
    pub threshold: u128,
    /// A node's whole budget.
    pub timeout: Duration,
    /// Most blocks a node may be behind the highest head on its chain.
    pub max_lag: u64,
    /// Oldest head block a node may have.
    pub max_head_age: Option<Duration>,
}

/// Asks every node at once.
pub async fn check(spec: &HealthCheck<'_>, client: &RpcClient) -> HealthReport {
    check_until(spec, client, std::future::pending()).await
}

/// Like [`check`]; when `interrupt` resolves first (Ctrl-C, SIGTERM), the
/// nodes not heard from yet are reported `interrupted` (unhealthy).
pub async fn check_until(
    spec: &HealthCheck<'_>,
    client: &RpcClient,
    interrupt: impl std::future::Future<Output = ()>,
) -> HealthReport {
    let start = Instant::now();
    // A timeout built by hand may be Duration::MAX: a year is as good as never.
    let deadline = start
        .checked_add(spec.timeout)
        .unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600));
    let questions = Question::all(spec.contract.is_some());
    let calls: Vec<Call> = questions.iter().map(|q| q.call(spec)).collect();
    let calls = &calls;
    let mut pending: FuturesUnordered<_> = spec
        .nodes
        .iter()
        .map(|node| async move {
            let outcome = client.batch(node, calls, deadline).await;
            (node, outcome.results, start.elapsed())
        })
        .collect();
    let mut nodes = Vec::with_capacity(spec.nodes.len());
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            next = pending.next() => match next {
                Some((node, results, latency)) => {
                let answers = results.map(|results| Answers::of(questions, results));
                nodes.push(assess(spec, node, answers, latency, unix_now()));
            }
                None => break,
            },
            () = &mut interrupt => break,
        }
    }
    drop(pending);
    let heard: Vec<usize> = nodes.iter().map(|h| h.node).collect();
    for node in spec.nodes.iter().filter(|n| !heard.contains(&(n.index + 1))) {
        let mut health = assess(spec, node, Ok(Answers::default()), start.elapsed(), unix_now());
        health.problems = vec!["interrupted before it answered".into()];
        health.failure = Some(NodeStatus::Interrupted);
        health.healthy = false;
        nodes.push(health);
    }
    nodes.sort_by_key(|n| n.node);
    judge_lag(&mut nodes, spec.max_lag);
    let total_weight = spec.nodes.iter().map(|n| u128::from(n.weight)).sum();
    let healthy_weight = nodes.iter().filter(|n| n.healthy).map(|n| u128::from(n.weight)).sum();
    HealthReport {
        schema_version: 1,
        expected_chain_id: spec.chain_id,
        contract: spec.contract,
        total_weight,
        healthy_weight,
        threshold: spec.threshold,
        quorum_reachable: healthy_weight >= spec.threshold,
        nodes,
    }
}

/// Now, in Unix seconds (0 before 1970).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
