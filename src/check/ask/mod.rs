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

use self::interpret::{Interpreted, answer_size, interpret};
pub(crate) use self::interpret::{TxAnswer, check_chain};
use crate::{
    abi::VoteFunction,
    check::multicall,
    check::rpc::{self, Call, CallResult, RpcClient},
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
    /// Why the node's Multicall3 cannot be used, when it cannot.
    pub multicall_unusable: Option<String>,
    pub attempts: u32,
    pub rate_limited: bool,
    pub via: Via,
}

impl Asked {
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
    /// `aggregate3` calls on this contract, [`multicall::CHUNK`] transactions each.
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
) -> Asked {
    let (calls, entries) = request(ctx, node, calldata, txs.clone(), &carrier);
    let planned = carrier.via(calls.len(), ctx.client.batch_limit(node));
    let mut outcome = ctx.client.batch(node, &calls, ctx.deadline).await;
    // The answers stay counted in the run's body budget until read.
    let held = std::mem::take(&mut outcome.held);
    let mut asked = Asked {
        answered: Vec::new(),
        plain_again: Vec::new(),
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
    for (range, why) in fallback {
        asked.multicall_unusable.get_or_insert_with(|| secrets.scrub(&why));
        asked.plain_again.push(range);
    }
    // Plain answers come one per entry: join them into one run.
    let mut answered = if multicall {
        answered
    } else {
        vec![(txs.start, answered.into_iter().flat_map(|(_, a)| a).collect())]
    };
    asked.attempts += tell_empty_results_apart(ctx, node, &mut answered).await;
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
            for start in txs.clone().step_by(multicall::CHUNK) {
                let end = (start + multicall::CHUNK).min(txs.end);
                let data = multicall::encode(config.contract, &calldata[start..end]);
                calls.push(eth_call(node, *at, data, ctx.block));
                entries.push(start..end);
            }
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

/// An empty result means no code, or no such function: asks which, once,
/// and says so in every such answer. Returns the requests that took.
async fn tell_empty_results_apart(ctx: Ctx<'_>, node: &Node, answered: &mut [(usize, Vec<TxAnswer>)]) -> u32 {
    let is_empty = |a: &TxAnswer| a.status == NodeStatus::NoContract;
    if !answered.iter().flat_map(|(_, a)| a).any(is_empty) {
        return 0;
    }
    let (has_code, attempts) = has_code(ctx, node).await;
    for answer in answered
        .iter_mut()
        .flat_map(|(_, a)| a.iter_mut())
        .filter(|a| is_empty(a))
    {
        answer.status = match has_code {
            Some(false) => NodeStatus::NoContract,
            Some(true) => NodeStatus::NoFunction,
            None => NodeStatus::BadResponse {
                reason: "empty result, and eth_getCode gave no usable answer".into(),
            },
        };
    }
    attempts
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
