//! Asks every node at once. Per node, the calls for all transaction hashes
//! (plus `eth_chainId` when a chain is expected) go out as JSON-RPC batches of
//! `batch_size` calls; the answers feed one [`Tally`] per transaction as they
//! arrive, and as soon as every verdict is settled the nodes still out are
//! dropped (reported `skipped`) unless `--wait-all`. A global deadline and an
//! interrupt signal end the run early with every node accounted for.

use std::{future::Future, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Bytes, U64},
};
use futures::{StreamExt, stream::FuturesUnordered};
use serde_json::{json, value::RawValue};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    abi::DecodeError,
    config::{BlockSpec, CheckConfig, Node},
    pin::pin_block,
    report::{Answer, Cell, NodeStatus, Report, Statuses},
    rpc::{Call, CallResult, NodeFailure, RpcClient, clean},
    tally::Tally,
};

/// Batches in flight to one node at a time.
const BATCHES_IN_FLIGHT_PER_NODE: usize = 4;

/// What every batch of the main round trip shares.
#[derive(Clone, Copy)]
struct Round<'a> {
    config: &'a CheckConfig,
    client: &'a RpcClient,
    block: BlockNumberOrTag,
    start: Instant,
    /// The nodes' time budget ends here.
    deadline: Instant,
}

/// The answers of one batch: a node and a run of consecutive transactions.
struct BatchAnswers {
    node: usize,
    first_tx: usize,
    statuses: Vec<(NodeStatus, Option<crate::abi::VoteValue>)>,
    latency: Duration,
    attempts: u32,
}

/// Runs the check; `interrupt` resolving ends it early (Ctrl-C, SIGTERM).
/// The run's `--deadline` counts from now.
pub async fn run(config: &CheckConfig, client: &RpcClient, interrupt: impl Future<Output = ()>) -> Report {
    run_from(config, client, interrupt, Instant::now()).await
}

/// Like [`run`], with the `--deadline` counted from `clock_start` (for
/// `check`: when the command started, so that reading a long hash list is
/// inside the deadline too). Node budgets (`--timeout`) count from now.
pub async fn run_from(
    config: &CheckConfig,
    client: &RpcClient,
    interrupt: impl Future<Output = ()>,
    clock_start: Instant,
) -> Report {
    let start = Instant::now();
    let run_deadline = clock_start + config.limits.deadline;
    let node_deadline = (start + config.limits.timeout).min(run_deadline);
    let uint_votes = matches!(config.function.kind(), crate::abi::VoteKind::Uint(_));
    let n_nodes = config.nodes.len();

    let mut tallies: Vec<Tally> = config
        .txs
        .iter()
        .map(|_| Tally::new(config.threshold, config.total_weight, uint_votes))
        .collect();
    // cells[tx * n_nodes + node]; `None` until the node's answer is in.
    let mut cells: Vec<Option<Cell>> = vec![None; config.txs.len() * n_nodes];
    let mut statuses = Statuses::default();
    tokio::pin!(interrupt);

    // With --block pinned, a first round trip fixes one block for everyone.
    let (block, pinned_block, early) = match config.block {
        BlockSpec::At(tag) => (tag, None, vec![None; n_nodes]),
        BlockSpec::Pinned => {
            let needed = if uint_votes {
                config.total_weight / 2 + 1
            } else {
                config.threshold
            };
            tokio::select! {
                // The pin round is bounded by the run's deadline too (watch rounds included).
                pin = pin_block(config, client, needed, start, node_deadline.min(run_deadline)) => {
                    (BlockNumberOrTag::Number(pin.block), Some(pin.block), pin.early)
                }
                () = &mut interrupt => {
                    let missing = Cell::of(Answer::without_response(NodeStatus::Interrupted), &mut statuses);
                    let cells = vec![missing; config.txs.len() * n_nodes];
                    return Report::build(config, statuses, cells, tallies, start.elapsed(), true, None);
                }
            }
        }
    };
    // Nodes settled by the first round trip (failed, or lagging) are not asked again.
    for (node, early) in early.into_iter().enumerate() {
        if let Some(answer) = early {
            let cell = Cell::of(answer, &mut statuses);
            for (tx, tally) in tallies.iter_mut().enumerate() {
                tally.record_failure(config.nodes[node].weight);
                cells[tx * n_nodes + node] = Some(cell);
            }
        }
    }
    let mut open = tallies.iter().filter(|t| t.settled().is_none()).count();

    let round = Round {
        config,
        client,
        block,
        start,
        deadline: node_deadline,
    };
    let round = &round;
    let calldata: Arc<Vec<Bytes>> = Arc::new(config.txs.iter().map(|h| config.function.calldata(*h)).collect());
    // `--batch-size` bounds a request's entries, the `eth_chainId` riding along included.
    let per_batch = match (config.chain_id, config.limits.batch_size) {
        (Some(_), n) if n > 1 => n - 1,
        (_, n) => n.max(1),
    };
    let mut batches = FuturesUnordered::new();
    for node in config
        .nodes
        .iter()
        .filter(|n| cells.get(n.index).is_none_or(|c| c.is_none()))
    {
        let permits = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT_PER_NODE));
        for first_tx in (0..config.txs.len()).step_by(per_batch) {
            let count = per_batch.min(config.txs.len() - first_tx);
            let permits = permits.clone();
            let calldata = calldata.clone();
            batches.push(async move {
                let _permit = permits.acquire().await;
                let calldata = &calldata[first_tx..first_tx + count];
                ask(round, node, calldata, first_tx).await
            });
        }
    }

    let mut interrupted = false;
    let deadline_hit = tokio::time::sleep_until(run_deadline);
    tokio::pin!(deadline_hit);
    while !batches.is_empty() && (open > 0 || config.wait_all) {
        tokio::select! {
            Some(batch) = batches.next() => {
                let weight = config.nodes[batch.node].weight;
                for (offset, (status, vote)) in batch.statuses.into_iter().enumerate() {
                    let tx = batch.first_tx + offset;
                    let was_open = tallies[tx].settled().is_none();
                    match vote {
                        Some(v) => tallies[tx].record_vote(weight, v),
                        None => tallies[tx].record_failure(weight),
                    }
                    if was_open && tallies[tx].settled().is_some() {
                        open -= 1;
                    }
                    cells[tx * n_nodes + batch.node] = Some(Cell::of(
                        Answer {
                            status,
                            vote,
                            latency: Some(batch.latency),
                            attempts: batch.attempts,
                        },
                        &mut statuses,
                    ));
                }
            }
            () = &mut deadline_hit => {
                tracing::warn!("run deadline reached with nodes still out");
                break;
            }
            () = &mut interrupt => {
                interrupted = true;
                break;
            }
        }
    }
    drop(batches);
    tracing::debug!(elapsed = ?start.elapsed(), "fan-out ended");

    // Every node not heard from gets the reason it was not.
    let missing = if interrupted {
        NodeStatus::Interrupted
    } else if open > 0 || config.wait_all {
        NodeStatus::Timeout
    } else {
        NodeStatus::Skipped
    };
    let missing = Cell::of(Answer::without_response(missing), &mut statuses);
    let cells = cells.into_iter().map(|c| c.unwrap_or(missing)).collect();
    Report::build(
        config,
        statuses,
        cells,
        tallies,
        start.elapsed(),
        interrupted,
        pinned_block,
    )
}

/// Asks one node about a run of transactions (one batch, with retries).
async fn ask(round: &Round<'_>, node: &Node, calldata: &[Bytes], first_tx: usize) -> BatchAnswers {
    let Round {
        config,
        client,
        block,
        start,
        deadline,
    } = *round;
    let mut calls = Vec::with_capacity(calldata.len() + 1);
    if config.chain_id.is_some() {
        calls.push(Call {
            method: "eth_chainId",
            params: json!([]),
        });
    }
    for data in calldata {
        let mut tx = json!({ "to": config.contract, "data": data });
        if let Some(from) = node.from {
            tx["from"] = json!(from);
        }
        calls.push(Call {
            method: "eth_call",
            params: json!([tx, block]),
        });
    }

    let outcome = client.batch(node, &calls, deadline).await;
    let secrets = crate::secrets::Secrets::of(node);
    let mut attempts = outcome.attempts;
    let fail_all = |status: NodeStatus| vec![(status, None); calldata.len()];
    let statuses = match outcome.results {
        Err(failure) => {
            tracing::info!(node = %node.label(), error = %secrets.scrub(&failure.to_string()), "node failed");
            fail_all(failure_status(failure))
        }
        Ok(mut results) => {
            let chain_check = config.chain_id.map(|expected| (expected, results.remove(0)));
            match chain_check.map(|(expected, r)| check_chain(expected, r)) {
                Some(Err(status)) => fail_all(status),
                _ => {
                    let mut statuses: Vec<_> = results.into_iter().map(|r| vote_status(config, r)).collect();
                    // An empty result means no code, or no such function: ask which.
                    if statuses.iter().any(|(s, _)| *s == NodeStatus::NoContract) {
                        let code = client
                            .batch(
                                node,
                                &[Call {
                                    method: "eth_getCode",
                                    params: json!([config.contract, block]),
                                }],
                                deadline,
                            )
                            .await;
                        attempts += code.attempts;
                        let has_code = match code.results {
                            Ok(mut r) => match r.remove(0) {
                                Ok(raw) => serde_json::from_str::<Bytes>(raw.get()).ok().map(|b| !b.is_empty()),
                                Err(_) => None,
                            },
                            Err(_) => None,
                        };
                        for (status, _) in statuses.iter_mut().filter(|(s, _)| *s == NodeStatus::NoContract) {
                            *status = match has_code {
                                Some(false) => NodeStatus::NoContract,
                                Some(true) => NodeStatus::NoFunction,
                                None => NodeStatus::BadResponse {
                                    reason: "empty result, and eth_getCode gave no usable answer".into(),
                                },
                            };
                        }
                    }
                    statuses
                }
            }
        }
    };
    // Whatever the node said may echo its key back: mask it before it goes anywhere.
    let statuses = statuses
        .into_iter()
        .map(|(status, vote)| (secrets.scrub_status(status), vote))
        .collect();
    BatchAnswers {
        node: node.index,
        first_tx,
        statuses,
        latency: start.elapsed(),
        attempts,
    }
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
        message: clean(&e.message),
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

fn vote_status(config: &CheckConfig, result: CallResult) -> (NodeStatus, Option<crate::abi::VoteValue>) {
    match result {
        Ok(raw) => decode_result(config, &raw),
        Err(e) if e.code == 3 || e.message.to_ascii_lowercase().contains("revert") => {
            let data = e.data.as_ref().map(|d| revert_data(d.get())).unwrap_or_default();
            let reason = if data.is_empty() {
                clean(&e.message)
            } else {
                clean(&config.function.describe_revert(&data))
            };
            (NodeStatus::Reverted { reason }, None)
        }
        Err(e) => (
            NodeStatus::RpcError {
                code: e.code,
                message: clean(&e.message),
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

fn decode_result(config: &CheckConfig, raw: &RawValue) -> (NodeStatus, Option<crate::abi::VoteValue>) {
    let bad = |reason: String| (NodeStatus::BadResponse { reason }, None);
    let Ok(data) = serde_json::from_str::<Bytes>(raw.get()) else {
        return bad("eth_call result is not hex data".into());
    };
    match config.function.decode(&data) {
        Ok(vote) => (NodeStatus::Ok { vote: vote.into() }, Some(vote)),
        Err(DecodeError::Empty) => (NodeStatus::NoContract, None),
        Err(e) => bad(e.to_string()),
    }
}
