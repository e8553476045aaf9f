//! One request to one node about a run of transactions, and what its answers
//! mean: the `vote()` calls go either as plain `eth_call`s or packed into
//! Multicall3 `aggregate3` calls; either way every transaction gets the same
//! status a plain call would give (`ok`, `reverted`, `no_contract`,
//! `no_function`, `bad_response`, …). [`crate::check::fanout`] decides what
//! to ask whom; this module asks — build the request, send it, read the
//! answers ([`interpret`], pure), tell an empty result's two meanings apart,
//! mask the node's secrets.

mod interpret;

use std::ops::Range;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes},
};
use serde_json::json;

use self::interpret::{Again, Interpreted, answer_size, interpret};
pub(crate) use self::interpret::{TxAnswer, check_chain};
use crate::{
    abi::VoteFunction,
    check::multicall,
    check::rpc::{self, Call, CallResult, NodeFailure, RpcClient, learned::Shrunk},
    config::{CheckConfig, Node},
    report::{NodeStatus, Via},
    secrets::Secrets,
};

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
    pub answered: Vec<(usize, Vec<TxAnswer>)>,
    /// Transactions to ask again with plain calls (the node's Multicall3 did
    /// not answer usably for them).
    pub plain_again: Vec<Range<usize>>,
    /// Transactions to ask again through Multicall3, in smaller chunks.
    pub multicall_again: Vec<Range<usize>>,
    /// Transactions whose `aggregate3` failed for a transient reason: the
    /// same again, while the node's retries last.
    pub transient_again: Vec<Range<usize>>,
    /// Why the node's Multicall3 cannot be used, when it cannot.
    pub multicall_unusable: Option<String>,
    pub attempts: u32,
    pub rate_limited: bool,
    pub via: Via,
}

/// A large request's attempt gets at most this share of the node's budget…
const LARGE_ATTEMPT_SHARE: u32 = 4;
/// …and at least this long.
const LARGE_ATTEMPT_LEAST: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a failure of a Multicall3 request says "too much at once": a
/// 413, a 5xx, an attempt that timed out, an answer over
/// `--max-response-bytes`.
fn too_large(failure: &NodeFailure) -> bool {
    match failure {
        NodeFailure::Http(413 | 500..=599) | NodeFailure::Timeout => true,
        // Over `--max-response-bytes`; not an answer cut for holding more
        // than its share of the run's budget (that is the node's doing).
        NodeFailure::BadResponse(reason) => reason.starts_with("response too large (over"),
        _ => false,
    }
}

impl Asked {
    /// An `aggregate3` of `size` reads was too much for the node (`why`):
    /// `range` is asked again in smaller chunks, or with plain calls once
    /// the chunk would fall below the floor.
    fn shrink(&mut self, ctx: Ctx<'_>, node: &Node, secrets: &Secrets, size: usize, why: &str, range: Range<usize>) {
        let learned = ctx.client.learned();
        match learned.chunk_failed(node.index, size, tokio::time::Instant::now()) {
            Shrunk::To(_) => self.multicall_again.push(range),
            Shrunk::BelowFloor => {
                let why = secrets.scrub(&format!(
                    "aggregate3 of {size} reads still too large ({why}): below {} the node gets plain calls",
                    multicall::CHUNK_FLOOR
                ));
                learned.set_no_multicall(node.index, &why, tokio::time::Instant::now());
                self.multicall_unusable.get_or_insert(why);
                self.plain_again.push(range);
            }
        }
    }

    /// Every transaction of `txs` answered `status`, without a vote.
    fn all_failed(mut self, txs: &Range<usize>, status: NodeStatus) -> Self {
        self.answered = vec![(txs.start, vec![TxAnswer::invalid(status); txs.len()])];
        self
    }
}

/// How a request carries its `vote()` calls.
pub(crate) enum Carrier {
    /// One `eth_call` per transaction.
    Plain,
    /// One `aggregate3` call on this contract for all the request's
    /// transactions (the driver claims a chunk's worth).
    Multicall(Address),
}

impl Carrier {
    /// How a request of `calls` calls goes to a node that takes batches of
    /// at most `batch_limit` calls.
    fn via(&self, calls: usize, batch_limit: usize) -> Via {
        match self {
            Self::Multicall(_) => Via::Multicall,
            Self::Plain if calls == 1 || batch_limit <= 1 => Via::Single,
            Self::Plain => Via::Batch,
        }
    }
}

/// Asks `node` about `txs` (indices into `calldata`), interpreting every answer.
pub(crate) async fn ask(
    ctx: Ctx<'_>,
    node: &Node,
    secrets: &Secrets,
    calldata: &[Bytes],
    txs: Range<usize>,
    carrier: Carrier,
    code: &CodeCache,
) -> Asked {
    let (calls, entries) = request(ctx, node, calldata, txs.clone(), &carrier);
    let planned = carrier.via(calls.len(), ctx.client.batch_limit(node));
    let learned = ctx.client.learned();
    // A Multicall3 request that could be halved gives up early on a slow
    // answer (a quarter of the node's budget): smaller ones may get through.
    let shrinkable = matches!(carrier, Carrier::Multicall(_)) && txs.len() / 2 >= multicall::CHUNK_FLOOR;
    let sent = tokio::time::Instant::now();
    let mut outcome = if shrinkable {
        let attempt = (ctx.config.limits.timeout / LARGE_ATTEMPT_SHARE).max(LARGE_ATTEMPT_LEAST);
        ctx.client.batch_large(node, &calls, ctx.deadline, attempt).await
    } else {
        ctx.client.batch(node, &calls, ctx.deadline).await
    };
    let took = sent.elapsed();
    // The answers stay counted in the run's body budget until read.
    let held = std::mem::take(&mut outcome.held);
    let mut asked = Asked {
        answered: Vec::new(),
        plain_again: Vec::new(),
        multicall_again: Vec::new(),
        transient_again: Vec::new(),
        multicall_unusable: None,
        attempts: outcome.attempts,
        rate_limited: outcome.rate_limited,
        // The batch may have been split down to single requests on the way.
        via: match planned {
            Via::Batch if ctx.client.batch_limit(node) <= 1 => Via::Single,
            via => via,
        },
    };
    let mut results = match outcome.results {
        Ok(results) => results,
        Err(failure) if shrinkable && too_large(&failure) && tokio::time::Instant::now() < ctx.deadline => {
            tracing::info!(node = %node.label(), reads = txs.len(), error = %secrets.scrub(&failure.to_string()), "aggregate3 too large for the node: asking in smaller chunks");
            asked.shrink(ctx, node, secrets, txs.len(), &failure.to_string(), txs);
            return asked;
        }
        Err(failure) => {
            tracing::info!(node = %node.label(), error = %secrets.scrub(&failure.to_string()), "node failed");
            return asked.all_failed(&txs, NodeStatus::from(failure).scrubbed(secrets));
        }
    };
    if let Some(expected) = ctx.config.chain_id
        && let Err(status) = check_chain(expected, results.remove(0))
    {
        return asked.all_failed(&txs, status.scrubbed(secrets));
    }
    let multicall = matches!(carrier, Carrier::Multicall(_));
    let interpreted = read(&ctx.config.function, multicall, entries, results).await;
    drop(held);
    let Some(Interpreted { answered, fallback }) = interpreted else {
        let unreadable = NodeStatus::BadResponse {
            reason: "the answer could not be read".into(),
        };
        return asked.all_failed(&txs, unreadable);
    };
    for (range, again) in fallback {
        match again {
            Again::Unusable(why) => {
                let why = secrets.scrub(&why);
                learned.set_no_multicall(node.index, &why, tokio::time::Instant::now());
                asked.multicall_unusable.get_or_insert(why);
                asked.plain_again.push(range);
            }
            Again::Smaller(why) => {
                let size = range.len();
                asked.shrink(ctx, node, secrets, size, &why, range);
            }
            Again::Transient(_) => asked.transient_again.push(range),
        }
    }
    if multicall {
        for (_, answers) in &answered {
            learned.chunk_answered(node.index, answers.len(), took, tokio::time::Instant::now());
        }
    }
    // Plain answers come one per entry: join them into one run.
    let mut answered = if multicall {
        answered
    } else {
        vec![(txs.start, answered.into_iter().flat_map(|(_, a)| a).collect())]
    };
    let selector = calldata
        .get(txs.start)
        .and_then(|c| c.get(..4))
        .and_then(|s| s.try_into().ok());
    asked.attempts += tell_empty_results_apart(ctx, node, code, selector, &mut answered).await;
    // Whatever the node said may echo its key back: mask it before it goes anywhere.
    for answer in answered.iter_mut().flat_map(|(_, a)| a.iter_mut()) {
        answer.status = std::mem::replace(&mut answer.status, NodeStatus::Timeout).scrubbed(secrets);
    }
    asked.answered = answered;
    asked
}

/// The calls of one request about `txs` (after `eth_chainId` when a chain
/// is expected), and each call's transactions.
fn request(
    ctx: Ctx<'_>,
    node: &Node,
    calldata: &[Bytes],
    txs: Range<usize>,
    carrier: &Carrier,
) -> (Vec<Call>, Vec<Range<usize>>) {
    let config = ctx.config;
    let mut calls = Vec::new();
    if config.chain_id.is_some() {
        calls.push(Call {
            method: "eth_chainId",
            params: json!([]),
        });
    }
    let mut entries: Vec<Range<usize>> = Vec::new();
    match carrier {
        Carrier::Plain => {
            for i in txs {
                calls.push(eth_call(node, config.contract, calldata[i].clone(), ctx.block));
                entries.push(i..i + 1);
            }
        }
        Carrier::Multicall(at) => {
            let data = multicall::encode(config.contract, &calldata[txs.clone()]);
            calls.push(eth_call(node, *at, data, ctx.block));
            entries.push(txs);
        }
    }
    (calls, entries)
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

/// [`interpret`]s the answers. Reading them is linear in their size; a
/// large one is read on the decode worker, so that the fan-out keeps taking
/// other nodes' answers (and its deadline keeps firing) meanwhile. `None`
/// when the worker could not read it.
async fn read(
    function: &VoteFunction,
    multicall: bool,
    entries: Vec<Range<usize>>,
    results: Vec<CallResult>,
) -> Option<Interpreted> {
    let size: usize = results.iter().map(answer_size).sum();
    if size <= rpc::OFF_LOOP_BYTES {
        Some(interpret(function, multicall, entries, results))
    } else {
        let function = function.clone();
        rpc::off_loop(size, move || interpret(&function, multicall, entries, results)).await
    }
}

/// The contract's runtime code on one node, fetched once per run (`None`
/// inside: no usable answer).
pub(crate) type CodeCache = tokio::sync::OnceCell<Option<Bytes>>;

/// An empty result means no code, or no such function: asks which, and
/// says so in every such answer. A revert without data where the contract's
/// dispatcher has no `PUSH4` of the function's selector means no such
/// function too. The code is fetched once per node per run (`code`).
/// Returns the requests that took.
async fn tell_empty_results_apart(
    ctx: Ctx<'_>,
    node: &Node,
    code: &CodeCache,
    selector: Option<[u8; 4]>,
    answered: &mut [(usize, Vec<TxAnswer>)],
) -> u32 {
    let is_empty = |a: &TxAnswer| a.status == NodeStatus::NoContract;
    let is_bare_revert = |a: &TxAnswer| matches!(&a.status, NodeStatus::Reverted { reason } if reason == interpret::REVERTED_WITHOUT_DATA);
    let all = || answered.iter().flat_map(|(_, a)| a);
    if !all().any(|a| is_empty(a) || is_bare_revert(a)) {
        return 0;
    }
    let mut attempts = 0;
    let code = code
        .get_or_init(|| async {
            let (code, took) = contract_code(ctx, node).await;
            attempts = took;
            code
        })
        .await;
    let no_function = code
        .as_ref()
        .zip(selector)
        .is_some_and(|(code, selector)| !code.is_empty() && !dispatches(code, selector));
    for answer in answered.iter_mut().flat_map(|(_, a)| a.iter_mut()) {
        if is_empty(answer) {
            answer.status = match code {
                Some(code) if code.is_empty() => NodeStatus::NoContract,
                Some(_) => NodeStatus::NoFunction,
                None => NodeStatus::BadResponse {
                    reason: "empty result, and eth_getCode gave no usable answer".into(),
                },
            };
        } else if no_function && is_bare_revert(answer) {
            answer.status = NodeStatus::NoFunction;
        }
    }
    attempts
}

/// Whether `code` may dispatch `selector`: a `PUSH4` of it in the code
/// (push data skipped while walking), or a `DELEGATECALL` (a proxy holds its
/// functions elsewhere, so nothing can be told from its code).
fn dispatches(code: &[u8], selector: [u8; 4]) -> bool {
    const PUSH1: u8 = 0x60;
    const PUSH4: u8 = 0x63;
    const PUSH32: u8 = 0x7f;
    const DELEGATECALL: u8 = 0xf4;
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if op == DELEGATECALL {
            return true;
        }
        if op == PUSH4 && code.get(i + 1..i + 5) == Some(&selector[..]) {
            return true;
        }
        i += 1;
        if (PUSH1..=PUSH32).contains(&op) {
            i += usize::from(op - PUSH1) + 1;
        }
    }
    false
}

/// The contract's code on `node` (`None`: no usable answer), and the
/// requests that took.
async fn contract_code(ctx: Ctx<'_>, node: &Node) -> (Option<Bytes>, u32) {
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
    let bytes = match code.results {
        Ok(mut r) => match r.remove(0) {
            Ok(raw) => serde_json::from_str::<Bytes>(raw.get()).ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    (bytes, code.attempts)
}

#[cfg(test)]
mod tests {
    use super::dispatches;

    #[test]
    fn the_dispatcher_is_walked_for_the_selector() {
        let selector = [0x12, 0x34, 0x56, 0x78];
        // PUSH4 selector, EQ.
        assert!(dispatches(&[0x60, 0x00, 0x63, 0x12, 0x34, 0x56, 0x78, 0x14], selector));
        // The same bytes inside a PUSH32's data are not an instruction.
        let mut inside = vec![0x7f];
        inside.extend_from_slice(&[0x63, 0x12, 0x34, 0x56, 0x78]);
        inside.extend_from_slice(&[0; 27]);
        assert!(!dispatches(&inside, selector));
        // Another selector; a revert without anything.
        assert!(!dispatches(&[0x63, 0x12, 0x34, 0x56, 0x79], selector));
        assert!(!dispatches(&[0x60, 0x00, 0x60, 0x00, 0xfd], selector));
        // A proxy: nothing can be told.
        assert!(dispatches(&[0x36, 0xf4], selector));
    }
}
