//! `--block pinned`: one round trip before the check asks every node for its
//! head (with `eth_chainId` when a chain is expected), so that every vote is
//! read at one block. What to make of the heads — nodes may lie about them —
//! is the pure [`choice`]: the first pin, the window of `--max-pin-lag`
//! blocks, the lower pins worth a retry and whether a lower reading stands.
//! Nodes behind the block read are `lagging`: not asked, not counted.

pub(crate) mod choice;

use std::time::Duration;

use alloy::primitives::U64;
use futures::{StreamExt, stream::FuturesUnordered};
use serde_json::json;
use tokio::time::Instant;

use self::choice::Claim;
use crate::{
    check::ask::check_chain,
    check::rpc::{Call, CallResult, RpcClient, node_text},
    config::CheckConfig,
    report::{Answer, NodeStatus},
};

/// What the nodes said about their heads.
pub(crate) struct Heads {
    /// The nodes that reported a head.
    pub(crate) claims: Vec<Claim>,
    /// Per node: its final answer when the round trip already settled it
    /// (it failed, or serves another chain); such a node is not asked again.
    pub(crate) failed: Vec<Option<Answer>>,
    /// Per node that reported a head: when, and in how many requests.
    answered: Vec<Option<(Duration, u32)>>,
}

impl Heads {
    /// Every node's answer before a read at `pin`: its failure, or
    /// `lagging` when its head is below `pin`; `None` for the nodes to ask.
    pub(crate) fn answers_before(&self, pin: u64) -> Vec<Option<Answer>> {
        let mut answers = self.failed.clone();
        for claim in self.claims.iter().filter(|c| c.head < pin) {
            let (latency, attempts) = self.answered[claim.node].unwrap_or_default();
            answers[claim.node] = Some(Answer {
                status: NodeStatus::Lagging {
                    head: claim.head,
                    lag: pin - claim.head,
                },
                vote: None,
                latency: Some(latency),
                attempts,
            });
        }
        answers
    }
}

/// Asks every node for its head. Once heads covering `needed` weight are in,
/// slower nodes get a grace period as long as the wait so far (at least
/// 20 ms); nodes still silent after it have neither a claim nor a failure:
/// they are read at the pinned block all the same.
pub(crate) async fn ask_heads(
    config: &CheckConfig,
    client: &RpcClient,
    needed: u128,
    start: Instant,
    deadline: Instant,
) -> Heads {
    let mut heads = Heads {
        claims: Vec::new(),
        failed: vec![None; config.nodes.len()],
        answered: vec![None; config.nodes.len()],
    };
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
            let head = outcome
                .results
                .map_err(NodeStatus::from)
                .and_then(|results| read_head(config.chain_id, results))
                .map_err(|status| status.scrubbed(&crate::secrets::Secrets::of(node)));
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
            Ok(head) => {
                heads.claims.push(Claim {
                    node,
                    head,
                    weight: config.nodes[node].weight,
                });
                heads.answered[node] = Some((latency, attempts));
            }
            Err(status) => {
                heads.failed[node] = Some(Answer {
                    status,
                    vote: None,
                    latency: Some(latency),
                    attempts,
                })
            }
        }
        let covered: u128 = heads.claims.iter().map(|c| u128::from(c.weight)).sum();
        if grace_until.is_none() && covered >= needed {
            let waited = start.elapsed().max(Duration::from_millis(20));
            grace_until = Some((Instant::now() + waited).min(deadline));
        }
    }
    drop(asks);
    tracing::debug!(heads = ?heads.claims.iter().map(|c| c.head).collect::<Vec<_>>(), "heads reported");
    heads
}

/// The head a node's answers claim: its `eth_blockNumber` (after its
/// `eth_chainId`, when `expected_chain` is set), or why there is none
/// (before its secrets are masked).
fn read_head(expected_chain: Option<u64>, mut results: Vec<CallResult>) -> Result<u64, NodeStatus> {
    if let Some(expected) = expected_chain {
        check_chain(expected, results.remove(0))?;
    }
    match results.remove(0) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn ok(json: &str) -> CallResult {
        Ok(RawValue::from_string(json.to_string()).unwrap())
    }

    #[test]
    fn a_head_is_read_after_the_chain_is_checked() {
        assert_eq!(read_head(None, vec![ok("\"0x2a\"")]), Ok(42));
        assert_eq!(read_head(Some(1), vec![ok("\"0x1\""), ok("\"0x2a\"")]), Ok(42));
        assert_eq!(
            read_head(Some(1), vec![ok("\"0x5\""), ok("\"0x2a\"")]),
            Err(NodeStatus::WrongChain { chain_id: 5 })
        );
        assert_eq!(
            read_head(None, vec![ok("\"soon\"")]),
            Err(NodeStatus::BadResponse {
                reason: "eth_blockNumber result is not a quantity".into()
            })
        );
        let refused = Err(alloy::rpc::json_rpc::ErrorPayload {
            code: -32601,
            message: "method not found".into(),
            data: None,
        });
        assert_eq!(
            read_head(None, vec![refused]),
            Err(NodeStatus::RpcError {
                code: -32601,
                message: "method not found".into()
            })
        );
    }
}
