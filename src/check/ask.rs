//! One request to one node about a run of transactions, and what its answers
//! mean: the `vote()` calls go either as plain `eth_call`s or packed into
//! Multicall3 `aggregate3` calls; either way every transaction gets the same
//! status a plain call would give (`ok`, `reverted`, `no_contract`,
//! `no_function`, `bad_response`, …). [`crate::check::fanout`] decides what to ask
//! whom; this module asks and interprets.

use std::ops::Range;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes, U64},
};
use serde_json::{json, value::RawValue};

use crate::{
    abi::{DecodeError, VoteValue},
    check::multicall::{self, Decoded, Via},
    check::rpc::{Call, CallResult, NodeFailure, RpcClient, node_text},
    config::{CheckConfig, Node},
    report::NodeStatus,
    secrets::Secrets,
};

/// One transaction's answer from one node.
pub(crate) type Verdict1 = (NodeStatus, Option<VoteValue>);

/// What every request of a run shares.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub config: &'a CheckConfig,
    pub client: &'a RpcClient,
    pub block: BlockNumberOrTag,
    pub deadline: tokio::time::Instant,
}

/// The answers of one request.
pub(crate) struct Asked {
    /// Answered transactions: runs of consecutive ones, each with its first index.
    pub answered: Vec<(usize, Vec<Verdict1>)>,
    /// Transactions to ask again with plain calls (the node's Multicall3 did
    /// not answer usably for them).
    pub plain_again: Vec<Range<usize>>,
    /// Why the node's Multicall3 cannot be used, when it cannot.
    pub multicall_unusable: Option<String>,
    pub attempts: u32,
    pub rate_limited: bool,
    pub via: Via,
}

/// How a request carries its `vote()` calls.
pub(crate) enum Carrier {
    /// One `eth_call` per transaction.
    Plain,
    /// `aggregate3` calls on this contract, [`multicall::CHUNK`] transactions each.
    Multicall(Address),
}

/// Asks `node` about `txs` (indices into `calldata`), interpreting every answer.
pub(crate) async fn ask(
    ctx: Ctx<'_>,
    node: &Node,
    secrets: &Secrets,
    calldata: &[Bytes],
    txs: Range<usize>,
    carrier: Carrier,
) -> Asked {
    let config = ctx.config;
    let mut calls = Vec::new();
    if config.chain_id.is_some() {
        calls.push(Call {
            method: "eth_chainId",
            params: json!([]),
        });
    }
    // Each entry's transactions.
    let mut entries: Vec<Range<usize>> = Vec::new();
    match carrier {
        Carrier::Plain => {
            for i in txs.clone() {
                calls.push(eth_call(node, config.contract, calldata[i].clone(), ctx.block));
                entries.push(i..i + 1);
            }
        }
        Carrier::Multicall(at) => {
            for start in txs.clone().step_by(multicall::CHUNK) {
                let end = (start + multicall::CHUNK).min(txs.end);
                let data = multicall::encode(config.contract, &calldata[start..end]);
                calls.push(eth_call(node, at, data, ctx.block));
                entries.push(start..end);
            }
        }
    }
    let via = match carrier {
        Carrier::Multicall(_) => Via::Multicall,
        Carrier::Plain if calls.len() == 1 || ctx.client.batch_limit(node) <= 1 => Via::Single,
        Carrier::Plain => Via::Batch,
    };

    let outcome = ctx.client.batch(node, &calls, ctx.deadline).await;
    let mut asked = Asked {
        answered: Vec::new(),
        plain_again: Vec::new(),
        multicall_unusable: None,
        attempts: outcome.attempts,
        rate_limited: outcome.rate_limited,
        via,
    };
    // The batch may have been split down to single requests on the way.
    if asked.via == Via::Batch && ctx.client.batch_limit(node) <= 1 {
        asked.via = Via::Single;
    }
    let fail_all = |asked: &mut Asked, status: NodeStatus| {
        asked.answered = vec![(txs.start, vec![(status, None); txs.len()])];
    };
    let mut results = match outcome.results {
        Err(failure) => {
            tracing::info!(node = %node.label(), error = %secrets.scrub(&failure.to_string()), "node failed");
            fail_all(&mut asked, secrets.scrub_status(failure_status(failure)));
            return asked;
        }
        Ok(results) => results,
    };
    if let Some(expected) = config.chain_id
        && let Err(status) = check_chain(expected, results.remove(0))
    {
        fail_all(&mut asked, secrets.scrub_status(status));
        return asked;
    }

    let mut answered: Vec<(usize, Vec<Verdict1>)> = Vec::with_capacity(entries.len());
    for (range, result) in entries.into_iter().zip(results) {
        match carrier {
            Carrier::Plain => answered.push((range.start, vec![vote_status(config, result)])),
            Carrier::Multicall(_) => match aggregate_outcomes(result, range.len()) {
                Ok(outcomes) => answered.push((
                    range.start,
                    outcomes
                        .into_iter()
                        .map(|(success, data)| inner_status(config, success, &data))
                        .collect(),
                )),
                Err(why) => {
                    asked.multicall_unusable.get_or_insert(secrets.scrub(&why));
                    asked.plain_again.push(range);
                }
            },
        }
    }
    // Plain answers come one per entry: join them into one run.
    if matches!(carrier, Carrier::Plain) {
        let verdicts = answered.into_iter().flat_map(|(_, v)| v).collect();
        answered = vec![(txs.start, verdicts)];
    }

    // An empty result means no code, or no such function: ask which, once.
    if answered
        .iter()
        .flat_map(|(_, v)| v)
        .any(|(s, _)| *s == NodeStatus::NoContract)
    {
        let (has_code, attempts) = has_code(ctx, node).await;
        asked.attempts += attempts;
        for (status, _) in answered
            .iter_mut()
            .flat_map(|(_, v)| v.iter_mut())
            .filter(|(s, _)| *s == NodeStatus::NoContract)
        {
            *status = match has_code {
                Some(false) => NodeStatus::NoContract,
                Some(true) => NodeStatus::NoFunction,
                None => NodeStatus::BadResponse {
                    reason: "empty result, and eth_getCode gave no usable answer".into(),
                },
            };
        }
    }
    // Whatever the node said may echo its key back: mask it before it goes anywhere.
    for (status, _) in answered.iter_mut().flat_map(|(_, v)| v.iter_mut()) {
        *status = secrets.scrub_status(std::mem::replace(status, NodeStatus::Timeout));
    }
    asked.answered = answered;
    asked
}

fn eth_call(node: &Node, to: Address, data: Bytes, block: BlockNumberOrTag) -> Call {
    let mut tx = json!({ "to": to, "data": data });
    if let Some(from) = node.from {
        tx["from"] = json!(from);
    }
    Call {
        method: "eth_call",
        params: json!([tx, block]),
    }
}

/// The outcomes of one `aggregate3` entry, or why there are none usable.
fn aggregate_outcomes(result: CallResult, expected: usize) -> Result<Vec<(bool, Bytes)>, String> {
    let raw = result.map_err(|e| format!("aggregate3 failed: {}: {}", e.code, node_text(&e.message)))?;
    let data = serde_json::from_str::<Bytes>(raw.get()).map_err(|_| "aggregate3 result is not hex data".to_string())?;
    match multicall::decode(&data, expected) {
        Decoded::Outcomes(outcomes) => Ok(outcomes),
        Decoded::NoCode => Err("no Multicall3 code at its address".into()),
        Decoded::Bad(why) => Err(why),
    }
}

/// One inner call's status, the same as the plain call would have given.
fn inner_status(config: &CheckConfig, success: bool, data: &Bytes) -> Verdict1 {
    if success {
        decode_vote(config, data)
    } else {
        let reason = if data.is_empty() {
            // What nodes say for a plain call reverting without data.
            "execution reverted".to_string()
        } else {
            node_text(&config.function.describe_revert(data))
        };
        (NodeStatus::Reverted { reason }, None)
    }
}

/// Whether the contract has code on `node` (`None`: no usable answer), and
/// the requests that took.
async fn has_code(ctx: Ctx<'_>, node: &Node) -> (Option<bool>, u32) {
    let code = ctx
        .client
        .batch(
            node,
            &[Call {
                method: "eth_getCode",
                params: json!([ctx.config.contract, ctx.block]),
            }],
            ctx.deadline,
        )
        .await;
    let has_code = match code.results {
        Ok(mut r) => match r.remove(0) {
            Ok(raw) => serde_json::from_str::<Bytes>(raw.get()).ok().map(|b| !b.is_empty()),
            Err(_) => None,
        },
        Err(_) => None,
    };
    (has_code, code.attempts)
}

pub(crate) fn failure_status(failure: NodeFailure) -> NodeStatus {
    match failure {
        NodeFailure::Timeout => NodeStatus::Timeout,
        NodeFailure::Connect(message) => NodeStatus::ConnectError { message },
        NodeFailure::Http(http_status) => NodeStatus::HttpError {
            http_status,
            reason: None,
        },
        NodeFailure::Redirect(http_status) => NodeStatus::HttpError {
            http_status,
            reason: Some(NodeFailure::Redirect(http_status).to_string()),
        },
        NodeFailure::Tls(message) => NodeStatus::TlsError { message },
        NodeFailure::Rpc { code, message } => NodeStatus::RpcError { code, message },
        NodeFailure::BadResponse(reason) => NodeStatus::BadResponse { reason },
    }
}

pub(crate) fn check_chain(expected: u64, result: CallResult) -> Result<(), NodeStatus> {
    let raw = result.map_err(|e| NodeStatus::RpcError {
        code: e.code,
        message: node_text(&e.message),
    })?;
    let id: U64 = serde_json::from_str(raw.get()).map_err(|_| NodeStatus::BadResponse {
        reason: "eth_chainId result is not a quantity".into(),
    })?;
    let id = id.to::<u64>();
    if id == expected {
        Ok(())
    } else {
        Err(NodeStatus::WrongChain { chain_id: id })
    }
}

fn vote_status(config: &CheckConfig, result: CallResult) -> Verdict1 {
    match result {
        Ok(raw) => decode_result(config, &raw),
        Err(e) if e.code == 3 || e.message.to_ascii_lowercase().contains("revert") => {
            let data = e.data.as_ref().map(|d| revert_data(d.get())).unwrap_or_default();
            let reason = if data.is_empty() {
                node_text(&e.message)
            } else {
                node_text(&config.function.describe_revert(&data))
            };
            (NodeStatus::Reverted { reason }, None)
        }
        Err(e) => (
            NodeStatus::RpcError {
                code: e.code,
                message: node_text(&e.message),
            },
            None,
        ),
    }
}

/// Revert data wherever node software puts it: `error.data` as a hex string
/// (geth, anvil, ganache), nested as `error.data.data` (hardhat), or as the
/// `return` of the one entry of an object keyed by transaction (old ganache).
fn revert_data(raw: &str) -> Bytes {
    fn find(v: &serde_json::Value, depth: u8) -> Option<Bytes> {
        match v {
            serde_json::Value::String(s) => s.parse::<Bytes>().ok(),
            serde_json::Value::Object(map) if depth < 3 => ["data", "return", "result"]
                .iter()
                .filter_map(|k| map.get(*k))
                .chain(map.values())
                .find_map(|inner| find(inner, depth + 1)),
            _ => None,
        }
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| find(&v, 0))
        .unwrap_or_default()
}

fn decode_result(config: &CheckConfig, raw: &RawValue) -> Verdict1 {
    match serde_json::from_str::<Bytes>(raw.get()) {
        Ok(data) => decode_vote(config, &data),
        Err(_) => (
            NodeStatus::BadResponse {
                reason: "eth_call result is not hex data".into(),
            },
            None,
        ),
    }
}

/// A call's return data as a vote, strictly; empty data is `no_contract`
/// until `eth_getCode` says otherwise.
fn decode_vote(config: &CheckConfig, data: &Bytes) -> Verdict1 {
    match config.function.decode(data) {
        Ok(vote) => (NodeStatus::Ok { vote: vote.into() }, Some(vote)),
        Err(DecodeError::Empty) => (NodeStatus::NoContract, None),
        Err(e) => (NodeStatus::BadResponse { reason: e.to_string() }, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_data_is_found_in_every_shape() {
        let data = "0x08c379a0";
        for raw in [
            format!("\"{data}\""),
            format!(r#"{{"message":"reverted","data":"{data}"}}"#),
            format!(r#"{{"0xabc":{{"error":"revert","return":"{data}"}}}}"#),
        ] {
            assert_eq!(revert_data(&raw).to_string(), data, "{raw}");
        }
        assert!(revert_data("null").is_empty());
    }
}
