//! Node health for `quorum-check nodes`: per node, one JSON-RPC batch asking
//! its chain id, head block (number and time), client version, sync state
//! and — when a contract is given — whether the contract has code there and
//! whether its vote function answers a call for the zero hash with a valid
//! vote. A node is healthy when it answers, is on the expected chain, is not
//! syncing, is at most `--max-lag` blocks behind the highest head of the
//! nodes on its chain, its head is not older than `--max-head-age`, and the
//! contract is there and answers. Every failing rule is a named problem. The
//! quorum is reachable when the healthy nodes hold the threshold's weight.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, Bytes, U64};
use futures::{StreamExt, stream::FuturesUnordered};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::{
    abi::VoteFunction,
    config::Node,
    report::NodeStatus,
    rpc::{Call, CallResult, RpcClient, node_text},
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
    let mut calls = vec![
        Call {
            method: "eth_chainId",
            params: json!([]),
        },
        Call {
            method: "eth_getBlockByNumber",
            params: json!(["latest", false]),
        },
        Call {
            method: "web3_clientVersion",
            params: json!([]),
        },
        Call {
            method: "eth_syncing",
            params: json!([]),
        },
    ];
    if let Some(contract) = spec.contract {
        calls.push(Call {
            method: "eth_getCode",
            params: json!([contract, "latest"]),
        });
        calls.push(Call {
            method: "eth_call",
            params: json!([{ "to": contract, "data": spec.function.calldata(B256::ZERO) }, "latest"]),
        });
    }
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
                Some((node, results, latency)) => nodes.push(assess(spec, node, results, latency)),
                None => break,
            },
            () = &mut interrupt => break,
        }
    }
    drop(pending);
    let heard: Vec<usize> = nodes.iter().map(|h| h.node).collect();
    for node in spec.nodes.iter().filter(|n| !heard.contains(&(n.index + 1))) {
        let mut health = assess(spec, node, Ok(Vec::new()), start.elapsed());
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

fn assess(
    spec: &HealthCheck<'_>,
    node: &Node,
    results: Result<Vec<CallResult>, crate::check::rpc::NodeFailure>,
    latency: Duration,
) -> NodeHealth {
    let mut health = NodeHealth {
        node: node.index + 1,
        name: node.label(),
        url: node.url.redacted().to_string(),
        weight: node.weight,
        healthy: false,
        problems: Vec::new(),
        failure: None,
        chain_id: None,
        head_block: None,
        head_age_s: None,
        clock_ahead_s: None,
        head_lag: None,
        syncing: None,
        client_version: None,
        contract_has_code: None,
        vote_answers: None,
        latency_ms: (latency.as_secs_f64() * 1e4).round() / 10.0,
    };
    let secrets = crate::secrets::Secrets::of(node);
    let results = match results {
        Ok(r) => r,
        Err(failure) => {
            health.problems.push(secrets.scrub(&failure.to_string()));
            health.failure = Some(NodeStatus::from(failure).scrubbed(&secrets));
            return health;
        }
    };
    let mut results = results.into_iter();
    let mut next = || results.next().and_then(|r| r.ok());

    health.chain_id = next()
        .and_then(|raw| serde_json::from_str::<U64>(raw.get()).ok())
        .map(|c| c.to::<u64>());
    if let Some(block) = next().and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok()) {
        let quantity = |key: &str| {
            block
                .get(key)
                .and_then(|v| serde_json::from_value::<U64>(v.clone()).ok())
        };
        health.head_block = quantity("number").map(|n| n.to::<u64>());
        if let Some(ts) = quantity("timestamp") {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let (age, ahead) = head_age(now, ts.to::<u64>());
            health.head_age_s = Some(i64::try_from(age).unwrap_or(i64::MAX));
            health.clock_ahead_s = ahead;
        }
    }
    health.client_version = next()
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .map(|v| secrets.scrub(&node_text(&v)));
    // `false`, or an object describing the sync's progress.
    health.syncing = next()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .map(|v| v != serde_json::Value::Bool(false));
    let mut vote_problem = None;
    if spec.contract.is_some() {
        health.contract_has_code = next()
            .and_then(|raw| serde_json::from_str::<Bytes>(raw.get()).ok())
            .map(|code| !code.is_empty());
        let answer = results.next();
        let decoded = match answer {
            Some(Ok(raw)) => match serde_json::from_str::<Bytes>(raw.get()) {
                Ok(data) => spec.function.decode(&data).map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => Err("eth_call result is not hex data".to_string()),
            },
            Some(Err(e)) => Err(format!("{}: {}", e.code, node_text(&e.message))),
            None => Err("no answer".to_string()),
        };
        health.vote_answers = Some(decoded.is_ok());
        vote_problem = decoded.err().map(|why| {
            format!(
                "{} does not answer with a valid vote: {}",
                spec.function.signature(),
                secrets.scrub(&why)
            )
        });
    }

    match (spec.chain_id, health.chain_id) {
        (_, None) => health.problems.push("no usable eth_chainId answer".into()),
        (Some(expected), Some(actual)) if expected != actual => {
            health.problems.push(format!("on chain {actual}, expected {expected}"));
        }
        _ => {}
    }
    if health.head_block.is_none() {
        health.problems.push("no usable head block".into());
    }
    if health.syncing == Some(true) {
        health.problems.push("syncing (eth_syncing is not false)".into());
    }
    if let (Some(max), Some(age)) = (spec.max_head_age, health.head_age_s)
        && u64::try_from(age).unwrap_or(0) > max.as_secs()
    {
        health.problems.push(format!(
            "head block is {age}s old (--max-head-age {})",
            humantime::format_duration(max)
        ));
    }
    // A clock a little ahead is common (hardhat, ganache); a head stamped
    // further ahead than a head may be old is as unusable as a stale one.
    if let (Some(max), Some(ahead)) = (spec.max_head_age, health.clock_ahead_s)
        && ahead > max.as_secs()
    {
        health.problems.push(format!(
            "head block is stamped {ahead}s in the future (--max-head-age {})",
            humantime::format_duration(max)
        ));
    }
    match health.contract_has_code {
        Some(false) => health.problems.push("no code at the contract address".into()),
        None if spec.contract.is_some() => health.problems.push("no usable eth_getCode answer".into()),
        // No code says it all; a call to nothing answers nothing.
        _ => health.problems.extend(vote_problem),
    }
    health.healthy = health.problems.is_empty();
    health
}

/// A head stamped `timestamp` seen at `now` (both Unix seconds): its age,
/// 0 when stamped in the future, and how far in the future, if it is.
fn head_age(now: u64, timestamp: u64) -> (u64, Option<u64>) {
    match now.checked_sub(timestamp) {
        Some(age) => (age, None),
        None => (0, Some(timestamp - now)),
    }
}

/// Marks the nodes more than `max_lag` blocks behind the highest head among
/// the nodes on the same chain.
fn judge_lag(nodes: &mut [NodeHealth], max_lag: u64) {
    let mut highest: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for n in nodes.iter() {
        if let (Some(chain), Some(head)) = (n.chain_id, n.head_block) {
            let top = highest.entry(chain).or_insert(head);
            *top = (*top).max(head);
        }
    }
    for n in nodes.iter_mut() {
        if let (Some(chain), Some(head)) = (n.chain_id, n.head_block) {
            let lag = highest[&chain] - head;
            n.head_lag = Some(lag);
            if lag > max_lag {
                n.problems.push(format!(
                    "head {lag} blocks behind the highest on chain {chain} (--max-lag {max_lag})"
                ));
                n.healthy = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ages_never_wrap() {
        assert_eq!(head_age(1_000, 400), (600, None));
        assert_eq!(head_age(1_000, 1_000), (0, None));
        assert_eq!(head_age(1_000, 1_300), (0, Some(300)));
        // 2^63 and u64::MAX: far in the future, not in the past.
        assert_eq!(
            head_age(1_000, 9_223_372_036_854_775_808),
            (0, Some(9_223_372_036_854_774_808))
        );
        assert_eq!(head_age(0, u64::MAX), (0, Some(18_446_744_073_709_551_615)));
        assert_eq!(head_age(u64::MAX, 0), (18_446_744_073_709_551_615, None));
    }
}
