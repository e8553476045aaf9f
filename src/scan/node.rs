//! One node's side of a scan, over JSON-RPC: the survey before it (chain
//! id, the block at `--to-block`, and the hash of the block the state file
//! remembers), then `eth_getLogs` range after range as the [`RangePlanner`]
//! sizes them — refusals bisected, answers validated entry by entry and fed
//! to the shared [`Union`] — and the hash of the last block scanned.

use std::{ops::RangeInclusive, sync::Mutex, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U64},
    rpc::types::{Filter, Log},
};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::{
    event::VoteEvent,
    hint::{Hint, parse_hint},
    planner::RangePlanner,
    union::Union,
};
use crate::{
    check::rpc::{Call, CallResult, NodeFailure, RpcClient, clean},
    config::Node,
    report::NodeStatus,
    secrets::Secrets,
};

/// What a scan asks every node for.
pub(super) struct Ask<'a> {
    /// For the survey and block hashes: transient failures retried.
    pub client: &'a RpcClient,
    /// For logs: no retries inside (a 5xx may mean "smaller"); see [`scan_logs`].
    pub logs_client: &'a RpcClient,
    pub contract: Address,
    pub event: &'a VoteEvent,
    /// A single request's budget, retries included.
    pub timeout: Duration,
    /// Retries of a log request that failed for a reason other than its size.
    pub retries: u32,
}

/// A block's number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) struct BlockHead {
    /// Its number.
    pub number: U64,
    /// Its hash.
    pub hash: B256,
}

/// What the survey learned of a node.
#[derive(Debug, Clone)]
pub(super) struct Survey {
    pub chain_id: u64,
    /// The block at `--to-block` (`latest` when a number was given).
    pub head: BlockHead,
    /// The node's hash now at the block the state file remembers (`None`
    /// inside when the node has no such block any more).
    pub remembered: Option<Option<B256>>,
}

/// Asks `node` for its chain id, its block at `tag`, and, with `remembered`,
/// its current block at that number: one request.
pub(super) async fn survey(
    ask: &Ask<'_>,
    node: &Node,
    tag: BlockNumberOrTag,
    remembered: Option<u64>,
) -> (Result<Survey, NodeStatus>, u32) {
    let mut calls = vec![
        Call {
            method: "eth_chainId",
            params: json!([]),
        },
        Call {
            method: "eth_getBlockByNumber",
            params: json!([tag, false]),
        },
    ];
    if let Some(n) = remembered {
        calls.push(Call {
            method: "eth_getBlockByNumber",
            params: json!([BlockNumberOrTag::Number(n), false]),
        });
    }
    let outcome = ask.client.batch(node, &calls, Instant::now() + ask.timeout).await;
    let survey = outcome.results.map_err(NodeStatus::from).and_then(|mut r| {
        let chain: U64 = quantity(r.remove(0), "eth_chainId")?;
        let head = block(r.remove(0))?.ok_or_else(|| NodeStatus::BadResponse {
            reason: format!("the node has no {tag} block"),
        })?;
        let remembered = match r.pop() {
            Some(result) if remembered.is_some() => Some(block(result)?.map(|b| b.hash)),
            _ => None,
        };
        Ok(Survey {
            chain_id: chain.to::<u64>(),
            head,
            remembered,
        })
    });
    let survey = survey.map_err(|s| s.scrubbed(&Secrets::of(node)));
    (survey, outcome.attempts)
}

/// The hash of block `number` on `node` (after its scan); `None` when it
/// could not be had. Returns the requests made too.
pub(super) async fn block_hash(ask: &Ask<'_>, node: &Node, number: u64) -> (Option<B256>, u32) {
    let call = Call {
        method: "eth_getBlockByNumber",
        params: json!([BlockNumberOrTag::Number(number), false]),
    };
    let outcome = ask
        .client
        .batch(node, std::slice::from_ref(&call), Instant::now() + ask.timeout)
        .await;
    let hash = outcome
        .results
        .ok()
        .and_then(|mut r| r.pop())
        .and_then(|r| block(r).ok().flatten())
        .filter(|b| b.number.to::<u64>() == number)
        .map(|b| b.hash);
    (hash, outcome.attempts)
}

fn quantity(result: CallResult, method: &str) -> Result<U64, NodeStatus> {
    let raw = result.map_err(|e| NodeStatus::RpcError {
        code: e.code,
        message: clean(&e.message),
    })?;
    serde_json::from_str(raw.get()).map_err(|_| NodeStatus::BadResponse {
        reason: format!("{method} result is not a quantity"),
    })
}

fn block(result: CallResult) -> Result<Option<BlockHead>, NodeStatus> {
    let raw = result.map_err(|e| NodeStatus::RpcError {
        code: e.code,
        message: clean(&e.message),
    })?;
    serde_json::from_str(raw.get()).map_err(|_| NodeStatus::BadResponse {
        reason: "eth_getBlockByNumber result is not a block".into(),
    })
}

/// How one node's log scan went.
#[derive(Debug)]
pub(super) struct Scanned {
    /// The blocks it answered, from the start of its range (none, or a prefix).
    pub answered: Option<RangeInclusive<u64>>,
    /// HTTP requests for logs.
    pub requests: u32,
    /// Valid logs it returned.
    pub logs: u64,
    /// Why it stopped before the end, if it did.
    pub failure: Option<NodeStatus>,
}

/// Scans `range` on `node`, range by range as `planner` sizes them; every
/// hash goes into `union` (under `index`). Stops at the first range that
/// fails for good: the blocks before it are what the node answered.
pub(super) async fn scan_logs(
    ask: &Ask<'_>,
    node: &Node,
    index: usize,
    planner: &mut RangePlanner,
    range: RangeInclusive<u64>,
    union: &Mutex<Union>,
) -> Scanned {
    let secrets = Secrets::of(node);
    let mut scanned = Scanned {
        answered: None,
        requests: 0,
        logs: 0,
        failure: None,
    };
    let (start, end) = (*range.start(), *range.end());
    let mut from = start;
    let mut retried = 0u32;
    while from <= end {
        let asked = planner.next(from, end);
        let (outcome, attempts) = get_logs(ask, node, &asked).await;
        scanned.requests = scanned.requests.saturating_add(attempts);
        let refusal = match outcome {
            Ok(found) => {
                retried = 0;
                scanned.logs += found.len() as u64;
                if let Ok(mut union) = union.lock() {
                    for (hash, block, log_index) in found {
                        union.record(index, hash, block, log_index);
                    }
                }
                planner.accepted(asked.end() - asked.start() + 1);
                scanned.answered = Some(start..=*asked.end());
                match asked.end().checked_add(1) {
                    Some(next) => from = next,
                    None => break,
                }
                continue;
            }
            Err(refusal) => refusal,
        };
        let status = match refusal {
            Refusal::Range(hint, _) if asked.start() < asked.end() => {
                tracing::debug!(node = %node.label(), from = asked.start(), to = asked.end(), ?hint, "log range refused");
                planner.refused(&asked, hint);
                continue;
            }
            // One block refused with an error message: that is the node's answer.
            Refusal::Range(_, status @ NodeStatus::RpcError { .. }) => status,
            Refusal::Range(_, status) | Refusal::Again(status) if retried >= ask.retries => status,
            Refusal::Range(..) | Refusal::Again(_) => {
                retried += 1;
                tokio::time::sleep(crate::check::rpc::backoff(retried)).await;
                continue;
            }
            Refusal::Fatal(status) => status,
        };
        scanned.failure = Some(status.scrubbed(&secrets));
        break;
    }
    scanned
}

/// Why a log request gave nothing usable.
enum Refusal {
    /// The range may be too large: smaller ones may pass.
    Range(Hint, NodeStatus),
    /// Not about the range, worth asking again (connection, rate limit).
    Again(NodeStatus),
    /// A definitive failure (a malformed answer, TLS, a redirect, HTTP 4xx).
    Fatal(NodeStatus),
}

/// One `eth_getLogs` for `range`: the (hash, block, log index) of every
/// log, each validated, or why not. Returns the HTTP requests made.
async fn get_logs(
    ask: &Ask<'_>,
    node: &Node,
    range: &RangeInclusive<u64>,
) -> (Result<Vec<(B256, u64, u64)>, Refusal>, u32) {
    let filter = Filter::new()
        .address(ask.contract)
        .event_signature(ask.event.topic0())
        .from_block(*range.start())
        .to_block(*range.end());
    let call = Call {
        method: "eth_getLogs",
        params: json!([filter]),
    };
    let outcome = ask
        .logs_client
        .batch(node, std::slice::from_ref(&call), Instant::now() + ask.timeout)
        .await;
    let result = match outcome.results {
        Ok(mut results) => match results.pop() {
            Some(Ok(raw)) => read_logs(ask, raw.get(), range).map_err(|reason| {
                Refusal::Fatal(NodeStatus::BadResponse {
                    reason: format!(
                        "eth_getLogs answer for blocks {}-{}: {reason}",
                        range.start(),
                        range.end()
                    ),
                })
            }),
            Some(Err(e)) => Err(refusal_of(NodeFailure::Rpc {
                code: e.code,
                message: clean(&e.message),
            })),
            None => Err(Refusal::Fatal(NodeStatus::BadResponse {
                reason: "no answer to eth_getLogs".into(),
            })),
        },
        Err(failure) => Err(refusal_of(failure)),
    };
    (result, outcome.attempts)
}

/// What a failed log request means for the range.
fn refusal_of(failure: NodeFailure) -> Refusal {
    match &failure {
        // Infura answers "more than 10000 results" with -32005, its
        // rate-limit code: what the message says about the range wins.
        NodeFailure::Rpc { code, message } => match parse_hint(message) {
            Hint::Unknown if matches!(code, -32005 | 429) => Refusal::Again(NodeStatus::from(failure)),
            hint => Refusal::Range(hint, NodeStatus::from(failure)),
        },
        NodeFailure::Http(413) | NodeFailure::Timeout => Refusal::Range(Hint::Unknown, NodeStatus::from(failure)),
        NodeFailure::Http(status) if (500..600).contains(status) => {
            Refusal::Range(Hint::Unknown, NodeStatus::from(failure))
        }
        // Our own --max-response-bytes cut the answer: too many logs at once.
        NodeFailure::BadResponse(reason) if reason.starts_with("response too large") => {
            Refusal::Range(Hint::TooManyResults, NodeStatus::from(failure))
        }
        NodeFailure::Http(429) | NodeFailure::Connect(_) => Refusal::Again(NodeStatus::from(failure)),
        _ => Refusal::Fatal(NodeStatus::from(failure)),
    }
}

/// Validates an `eth_getLogs` result: every entry a log of the contract and
/// event, not removed, with a block number inside `range` and a log index.
fn read_logs(ask: &Ask<'_>, raw: &str, range: &RangeInclusive<u64>) -> Result<Vec<(B256, u64, u64)>, String> {
    let logs: Vec<Log> =
        serde_json::from_str(raw).map_err(|e| format!("not a list of logs ({})", clean(&e.to_string())))?;
    let mut out = Vec::with_capacity(logs.len());
    for (i, log) in logs.iter().enumerate() {
        let bad = |why: &str| format!("entry {i}: {why}");
        if log.address() != ask.contract {
            return Err(bad("a log of another contract"));
        }
        if log.removed {
            return Err(bad("a removed log"));
        }
        let block = log.block_number.ok_or_else(|| bad("no block number"))?;
        if !range.contains(&block) {
            return Err(bad(&format!("block {block} outside the range asked")));
        }
        let log_index = log.log_index.ok_or_else(|| bad("no log index"))?;
        let hash = ask.event.hash_of(log.data()).map_err(|why| bad(&why))?;
        out.push((hash, block, log_index));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_failed_log_request_means() {
        let rpc = |code: i64, message: &str| {
            refusal_of(NodeFailure::Rpc {
                code,
                message: message.into(),
            })
        };
        assert!(matches!(
            rpc(-32005, "query returned more than 10000 results"),
            Refusal::Range(Hint::TooManyResults, _)
        ));
        assert!(matches!(rpc(-32005, "request rate limited"), Refusal::Again(_)));
        assert!(matches!(rpc(429, "too many requests"), Refusal::Again(_)));
        assert!(matches!(
            rpc(-32602, "eth_getLogs is limited to 1024 block range"),
            Refusal::Range(Hint::MaxBlocks(1024), _)
        ));
        assert!(matches!(
            rpc(-32601, "method not found"),
            Refusal::Range(Hint::Unknown, _)
        ));
        for size in [NodeFailure::Http(413), NodeFailure::Http(503), NodeFailure::Timeout] {
            assert!(matches!(refusal_of(size), Refusal::Range(Hint::Unknown, _)));
        }
        assert!(matches!(
            refusal_of(NodeFailure::BadResponse("response too large (over 1024 bytes)".into())),
            Refusal::Range(Hint::TooManyResults, _)
        ));
        for again in [
            NodeFailure::Http(429),
            NodeFailure::Connect("connection refused".into()),
        ] {
            assert!(matches!(refusal_of(again), Refusal::Again(_)));
        }
        for fatal in [
            NodeFailure::Http(401),
            NodeFailure::Redirect(302),
            NodeFailure::BadResponse("not JSON".into()),
        ] {
            assert!(matches!(refusal_of(fatal), Refusal::Fatal(_)));
        }
    }
}
