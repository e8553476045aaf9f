//! `--block pinned`: one round trip before the check asks every node for its
//! head and fixes one block for all of them — the highest that nodes holding
//! the needed weight have reached — so that every vote is read at the same
//! block. Nodes behind it are `lagging`: not asked, not counted.

use std::time::Duration;

use alloy::primitives::U64;
use futures::{StreamExt, stream::FuturesUnordered};
use serde_json::json;
use tokio::time::Instant;

use crate::{
    check::ask::{check_chain, failure_status},
    check::rpc::{Call, RpcClient, node_text},
    config::CheckConfig,
    report::{Answer, NodeStatus},
};

/// The outcome of the `--block pinned` round trip.
pub(crate) struct Pin {
    pub(crate) block: u64,
    /// Per node: its final answer when the round trip already settled it
    /// (failed, or lagging behind the pinned block).
    pub(crate) early: Vec<Option<Answer>>,
}

/// Asks every node for its head and pins the highest block that nodes with
/// `needed` weight have reached. Once heads covering `needed` are in, slower
/// nodes get a grace period as long as the wait so far (at least 20 ms);
/// nodes still silent after it are read at the pinned block all the same.
pub(crate) async fn pin_block(
    config: &CheckConfig,
    client: &RpcClient,
    needed: u128,
    start: Instant,
    deadline: Instant,
) -> Pin {
    let mut early: Vec<Option<Answer>> = vec![None; config.nodes.len()];
    // (head, weight, node, latency) of every node that reported its head.
    let mut heads: Vec<(u64, u64, usize, Duration)> = Vec::new();
    let mut asks: FuturesUnordered<_> = config
        .nodes
        .iter()
        .map(|node| async move {
            // With --chain-id, the chain is asked in the same batch: a node on
            // another chain must not set the pin for the others.
            let mut calls = Vec::with_capacity(2);
            if config.chain_id.is_some() {
                calls.push(Call {
                    method: "eth_chainId",
                    params: json!([]),
                });
            }
            calls.push(Call {
                method: "eth_blockNumber",
                params: json!([]),
            });
            let outcome = client.batch(node, &calls, deadline).await;
            let head = outcome.results.map_err(failure_status).and_then(|mut r| {
                if let Some(expected) = config.chain_id {
                    check_chain(expected, r.remove(0))?;
                }
                match r.remove(0) {
                    Ok(raw) => serde_json::from_str::<U64>(raw.get())
                        .map(|h| h.to::<u64>())
                        .map_err(|_| NodeStatus::BadResponse {
                            reason: "eth_blockNumber result is not a quantity".into(),
                        }),
                    Err(e) => Err(NodeStatus::RpcError {
                        code: e.code,
                        message: node_text(&e.message),
                    }),
                }
            });
            let head = head.map_err(|status| crate::secrets::Secrets::of(node).scrub_status(status));
            (node.index, head, outcome.attempts, start.elapsed())
        })
        .collect();
    let mut grace_until: Option<Instant> = None;
    loop {
        let next = match grace_until {
            Some(until) => match tokio::time::timeout_at(until, asks.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => asks.next().await,
        };
        let Some((node, head, attempts, latency)) = next else {
            break;
        };
        match head {
            Ok(head) => heads.push((head, config.nodes[node].weight, node, latency)),
            Err(status) => {
                early[node] = Some(Answer {
                    status,
                    vote: None,
                    latency: Some(latency),
                    attempts,
                })
            }
        }
        let covered: u128 = heads.iter().map(|h| u128::from(h.1)).sum();
        if grace_until.is_none() && covered >= needed {
            let waited = start.elapsed().max(Duration::from_millis(20));
            grace_until = Some((Instant::now() + waited).min(deadline));
        }
    }
    drop(asks);

    // The highest head that nodes holding `needed` weight have all reached;
    // with too few heads, the lowest one seen (every answering node can serve it).
    heads.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
    let mut covered = 0u128;
    let mut block = heads.last().map(|h| h.0).unwrap_or(0);
    for (head, weight, _, _) in &heads {
        covered += u128::from(*weight);
        if covered >= needed {
            block = *head;
            break;
        }
    }
    tracing::info!(block, nodes = heads.len(), "pinned block");

    // Nodes that reported a lower head are lagging: not asked, not counted.
    for &(head, _, node, latency) in heads.iter().filter(|h| h.0 < block) {
        early[node] = Some(Answer {
            status: NodeStatus::Lagging {
                head,
                lag: block - head,
            },
            vote: None,
            latency: Some(latency),
            attempts: 1,
        });
    }
    Pin { block, early }
}
