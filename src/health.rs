//! Node health for `quorum-check nodes`: per node, one JSON-RPC batch asking
//! its chain id, head block (number and time), client version and — when a
//! contract is given — whether the contract has code there. A node is healthy
//! when it answers, is on the expected chain and has the contract; the quorum
//! is reachable when the healthy nodes hold the threshold's weight.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, Bytes, U64};
use futures::{StreamExt, stream::FuturesUnordered};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::{
    config::Node,
    report::NodeStatus,
    rpc::{Call, CallResult, RpcClient, clean},
};

/// One node's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHealth {
    /// 1-based position in the configuration.
    pub node: usize,
    pub name: String,
    pub url: String,
    pub weight: u64,
    pub healthy: bool,
    /// Why not healthy; empty when healthy.
    pub problems: Vec<String>,
    /// Why the node gave no answer at all (timeout, connect_error, …).
    pub failure: Option<NodeStatus>,
    pub chain_id: Option<u64>,
    pub head_block: Option<u64>,
    /// Seconds between the head block's timestamp and now.
    pub head_age_s: Option<i64>,
    pub client_version: Option<String>,
    /// Whether the contract has code (absent without `--contract`).
    pub contract_has_code: Option<bool>,
    pub latency_ms: f64,
}

/// The health of all nodes and what it means for the quorum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub schema_version: u32,
    pub expected_chain_id: Option<u64>,
    pub contract: Option<Address>,
    pub total_weight: u128,
    pub healthy_weight: u128,
    pub threshold: u128,
    /// Whether the healthy nodes hold the threshold's weight.
    pub quorum_reachable: bool,
    pub nodes: Vec<NodeHealth>,
}

/// What to check.
pub struct HealthCheck<'a> {
    pub nodes: &'a [Node],
    pub chain_id: Option<u64>,
    pub contract: Option<Address>,
    pub threshold: u128,
    pub timeout: Duration,
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
    let deadline = start + spec.timeout;
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
    ];
    if let Some(contract) = spec.contract {
        calls.push(Call {
            method: "eth_getCode",
            params: json!([contract, "latest"]),
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
    results: Result<Vec<CallResult>, crate::rpc::NodeFailure>,
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
        client_version: None,
        contract_has_code: None,
        latency_ms: (latency.as_secs_f64() * 1e4).round() / 10.0,
    };
    let secrets = crate::secrets::Secrets::of(node);
    let results = match results {
        Ok(r) => r,
        Err(failure) => {
            health.problems.push(secrets.scrub(&failure.to_string()));
            health.failure = Some(secrets.scrub_status(crate::ask::failure_status(failure)));
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
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            health.head_age_s = Some(now - ts.to::<u64>() as i64);
        }
    }
    health.client_version = next()
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .map(|v| secrets.scrub(&clean(&v)));
    if spec.contract.is_some() {
        health.contract_has_code = next()
            .and_then(|raw| serde_json::from_str::<Bytes>(raw.get()).ok())
            .map(|code| !code.is_empty());
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
    match health.contract_has_code {
        Some(false) => health.problems.push("no code at the contract address".into()),
        None if spec.contract.is_some() => health.problems.push("no usable eth_getCode answer".into()),
        _ => {}
    }
    health.healthy = health.problems.is_empty();
    health
}
