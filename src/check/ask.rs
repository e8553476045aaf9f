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
    abi::{DecodeError, MAX_REVERT_BYTES, VoteFunction, VoteValue},
    check::multicall::{self, Decoded},
    check::rpc::{self, Call, CallResult, RpcClient, node_text},
    config::{CheckConfig, Node},
    report::{NodeStatus, Via},
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

    let mut outcome = ctx.client.batch(node, &calls, ctx.deadline).await;
    // The answers stay counted in the run's body budget until read.
    let held = std::mem::take(&mut outcome.held);
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
            fail_all(&mut asked, NodeStatus::from(failure).scrubbed(secrets));
            return asked;
        }
        Ok(results) => results,
    };
    if let Some(expected) = config.chain_id
        && let Err(status) = check_chain(expected, results.remove(0))
    {
        fail_all(&mut asked, status.scrubbed(secrets));
        return asked;
    }

    // Reading the answers is linear in their size; a large one is read on
    // the decode worker, so that the fan-out keeps taking other nodes'
    // answers (and its deadline keeps firing) meanwhile.
    let multicall = matches!(carrier, Carrier::Multicall(_));
    let size: usize = results.iter().map(answer_size).sum();
    let interpreted = if size <= rpc::OFF_LOOP_BYTES {
        Some(interpret(&config.function, multicall, entries, results))
    } else {
        let function = config.function.clone();
        rpc::off_loop(size, move || interpret(&function, multicall, entries, results)).await
    };
    drop(held);
    let Some(Interpreted { mut answered, fallback }) = interpreted else {
        fail_all(
            &mut asked,
            NodeStatus::BadResponse {
                reason: "the answer could not be read".into(),
            },
        );
        return asked;
    };
    for (range, why) in fallback {
        asked.multicall_unusable.get_or_insert_with(|| secrets.scrub(&why));
        asked.plain_again.push(range);
    }
    // Plain answers come one per entry: join them into one run.
    if !multicall {
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
        *status = std::mem::replace(status, NodeStatus::Timeout).scrubbed(secrets);
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

/// What one request's answers say, before the `eth_getCode` follow-up and
/// before secrets are masked.
struct Interpreted {
    /// Per entry, its first transaction and one verdict per transaction.
    answered: Vec<(usize, Vec<Verdict1>)>,
    /// Entries to ask again with plain calls, and why Multicall3 was not usable.
    fallback: Vec<(Range<usize>, String)>,
}

/// Reads each entry's answer: a plain `eth_call` result, or an `aggregate3`
/// result for the entry's transactions. Pure; linear in the answers' size,
/// with bounded work per revert reason.
fn interpret(
    function: &VoteFunction,
    multicall: bool,
    entries: Vec<Range<usize>>,
    results: Vec<CallResult>,
) -> Interpreted {
    let mut answered = Vec::with_capacity(entries.len());
    let mut fallback = Vec::new();
    for (range, result) in entries.into_iter().zip(results) {
        if !multicall {
            answered.push((range.start, vec![vote_status(function, result)]));
            continue;
        }
        match aggregate_outcomes(result, range.len()) {
            Aggregate::Outcomes(outcomes) => answered.push((
                range.start,
                outcomes
                    .into_iter()
                    .map(|(success, data)| inner_status(function, success, &data))
                    .collect(),
            )),
            Aggregate::Malformed(reason) => {
                let status = NodeStatus::BadResponse { reason };
                answered.push((range.start, vec![(status, None); range.len()]));
            }
            Aggregate::Unusable(why) => fallback.push((range, why)),
        }
    }
    Interpreted { answered, fallback }
}

/// The bytes of one call's answer that reading it has to go through.
fn answer_size(result: &CallResult) -> usize {
    match result {
        Ok(raw) => raw.get().len(),
        Err(e) => e.message.len() + e.data.as_ref().map_or(0, |d| d.get().len()),
    }
}

/// What one `aggregate3` entry's answer means.
enum Aggregate {
    /// One `(success, returnData)` per transaction.
    Outcomes(Vec<(bool, Bytes)>),
    /// The node's bad response for all of the entry's transactions.
    Malformed(String),
    /// What is at the address is not Multicall3: ask with plain calls.
    Unusable(String),
}

fn aggregate_outcomes(result: CallResult, expected: usize) -> Aggregate {
    let raw = match result {
        Ok(raw) => raw,
        Err(e) => return Aggregate::Unusable(format!("aggregate3 failed: {}: {}", e.code, node_text(&e.message))),
    };
    let Ok(data) = serde_json::from_str::<Bytes>(raw.get()) else {
        return Aggregate::Unusable("aggregate3 result is not hex data".into());
    };
    match multicall::decode(&data, expected) {
        Decoded::Outcomes(outcomes) => Aggregate::Outcomes(outcomes),
        Decoded::NoCode => Aggregate::Unusable("no Multicall3 code at its address".into()),
        Decoded::Bad(why) => Aggregate::Unusable(why),
        Decoded::Malformed(why) => Aggregate::Malformed(why),
    }
}

/// One inner call's status, the same as the plain call would have given.
fn inner_status(function: &VoteFunction, success: bool, data: &Bytes) -> Verdict1 {
    if success {
        decode_vote(function, data)
    } else {
        let reason = if data.is_empty() {
            // What nodes say for a plain call reverting without data.
            "execution reverted".to_string()
        } else {
            node_text(&function.describe_revert(data))
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

fn vote_status(function: &VoteFunction, result: CallResult) -> Verdict1 {
    match result {
        Ok(raw) => decode_result(function, &raw),
        Err(e) if e.code == 3 || e.message.to_ascii_lowercase().contains("revert") => {
            let reason = match e.data.as_ref().and_then(|d| revert_data(d.get(), 0)) {
                Some((head, total)) if total > 0 => node_text(&function.describe_revert_head(&head, total)),
                _ => node_text(&e.message),
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
/// Returns its first [`MAX_REVERT_BYTES`] and its whole length: the rest is
/// checked to be hex but never decoded, and nothing of the JSON is copied.
fn revert_data(raw: &str, depth: u8) -> Option<(Bytes, usize)> {
    match raw.trim_start().as_bytes().first()? {
        b'"' => {
            let text: std::borrow::Cow<'_, str> = match serde_json::from_str::<&str>(raw) {
                Ok(borrowed) => borrowed.into(),
                // Escapes in the string: it cannot borrow.
                Err(_) => serde_json::from_str::<String>(raw).ok()?.into(),
            };
            let digits = text.strip_prefix("0x").unwrap_or(&text).as_bytes();
            if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let head = &digits[..digits.len().min(2 * MAX_REVERT_BYTES)];
            let head = alloy::primitives::hex::decode(head).ok()?;
            Some((head.into(), digits.len() / 2))
        }
        b'{' if depth < 3 => {
            let map: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(raw).ok()?;
            ["data", "return", "result"]
                .iter()
                .filter_map(|k| map.get(*k))
                .chain(map.values())
                .find_map(|inner| revert_data(inner.get(), depth + 1))
        }
        _ => None,
    }
}

/// A plain `eth_call` result: `"0x"` and 64 hex digits, or `"0x"` (empty).
/// Anything longer is not a vote, and is not decoded to find that out.
fn decode_result(function: &VoteFunction, raw: &RawValue) -> Verdict1 {
    const LONGEST: usize = "\"0x\"".len() + 64;
    let text = raw.get();
    let is_hex_string = |t: &str| {
        t.len() >= 4
            && t.starts_with("\"0x")
            && t.ends_with('"')
            && t.as_bytes()[3..t.len() - 1].iter().all(u8::is_ascii_hexdigit)
    };
    if text.len() > LONGEST {
        let reason = if is_hex_string(text) {
            DecodeError::Length((text.len() - 4) / 2).to_string()
        } else {
            "eth_call result is not hex data".into()
        };
        return (NodeStatus::BadResponse { reason }, None);
    }
    match serde_json::from_str::<Bytes>(text) {
        Ok(data) => decode_vote(function, &data),
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
fn decode_vote(function: &VoteFunction, data: &Bytes) -> Verdict1 {
    match function.decode(data) {
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
            // An escaped digit: still found.
            r#""0x08c379\u0061\u0030""#.to_string(),
        ] {
            let (head, total) = revert_data(&raw, 0).unwrap_or_else(|| panic!("{raw}"));
            assert_eq!((head.to_string().as_str(), total), (data, 4), "{raw}");
        }
        assert!(revert_data("null", 0).is_none());
        assert!(revert_data("\"0xzz\"", 0).is_none());
        assert!(revert_data("\"0x123\"", 0).is_none());
    }

    #[test]
    fn long_revert_data_is_cut_before_it_is_decoded() {
        let total = 3 * MAX_REVERT_BYTES + 5;
        let raw = format!(r#"{{"data":"0x{}"}}"#, "ab".repeat(total));
        let (head, length) = revert_data(&raw, 0).unwrap();
        assert_eq!((head.len(), length), (MAX_REVERT_BYTES, total));
        assert!(head.iter().all(|&b| b == 0xab));
        // Not hex after the part that would be decoded: not revert data.
        let raw = format!("\"0x{}zz\"", "ab".repeat(total));
        assert!(revert_data(&raw, 0).is_none());
    }

    #[test]
    fn long_results_are_bad_responses_without_decoding() {
        let function = VoteFunction::builtin();
        let raw = |s: String| RawValue::from_string(s).unwrap();
        let status = |text: String| decode_result(&function, &raw(text)).0;
        let word = format!("\"0x{}1\"", "0".repeat(63));
        assert!(matches!(status(word), NodeStatus::Ok { .. }));
        match status(format!("\"0x{}\"", "00".repeat(1000))) {
            NodeStatus::BadResponse { reason } => assert!(reason.contains("1000 bytes"), "{reason}"),
            other => panic!("{other:?}"),
        }
        match status(format!("\"0x{}zz\"", "00".repeat(1000))) {
            NodeStatus::BadResponse { reason } => assert!(reason.contains("not hex"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(status("\"0x\"".into()), NodeStatus::NoContract));
    }
}
