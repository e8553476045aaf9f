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
    secrets::Secrets,
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
    /// Per node, what to mask in whatever it says (computed once per run).
    secrets: &'a [Secrets],
}

/// The answers of one batch: a node and a run of consecutive transactions.
struct BatchAnswers {
    node: usize,
    first_tx: usize,
    statuses: Vec<(NodeStatus, Option<crate::abi::VoteValue>)>,
    latency: Duration,
    attempts: u32,
    /// The node said "slow down" while answering.
    rate_limited: bool,
}

/// How many batches one node gets at once: up to
/// [`BATCHES_IN_FLIGHT_PER_NODE`], down to 1 as soon as it rate-limits,
/// then one more per batch answered without a rate limit (AIMD).
struct Window {
    permits: Semaphore,
    size: std::sync::atomic::AtomicUsize,
    /// Permits to retire as in-flight batches finish.
    deficit: std::sync::atomic::AtomicUsize,
    /// Counts the shrinks: a batch sent before the last one does not grow
    /// the window when it comes back fine.
    epoch: std::sync::atomic::AtomicUsize,
}

impl Window {
    fn new() -> Self {
        Self {
            permits: Semaphore::new(BATCHES_IN_FLIGHT_PER_NODE),
            size: BATCHES_IN_FLIGHT_PER_NODE.into(),
            deficit: 0.into(),
            epoch: 0.into(),
        }
    }

    /// The epoch to pass to [`after_batch`](Self::after_batch) for a batch sent now.
    fn epoch(&self) -> usize {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Adjusts the window after a batch sent in `sent_in` (an epoch);
    /// returns whether that batch's permit must be retired (not given back).
    fn after_batch(&self, rate_limited: bool, sent_in: usize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let size = self.size.load(SeqCst);
        if rate_limited {
            if size > 1 {
                self.size.store(1, SeqCst);
                self.deficit.fetch_add(size - 1, SeqCst);
                self.epoch.fetch_add(1, SeqCst);
            }
        } else if size < BATCHES_IN_FLIGHT_PER_NODE && sent_in == self.epoch() {
            self.size.store(size + 1, SeqCst);
            if self.deficit.load(SeqCst) > 0 {
                self.deficit.fetch_sub(1, SeqCst);
            } else {
                self.permits.add_permits(1);
            }
        }
        self.deficit.fetch_update(SeqCst, SeqCst, |d| d.checked_sub(1)).is_ok()
    }
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

    let secrets: Vec<Secrets> = config.nodes.iter().map(Secrets::of).collect();
    let round = Round {
        config,
        client,
        block,
        start,
        deadline: node_deadline,
        secrets: &secrets,
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
        let window = Arc::new(Window::new());
        for first_tx in (0..config.txs.len()).step_by(per_batch) {
            let count = per_batch.min(config.txs.len() - first_tx);
            let window = window.clone();
            let calldata = calldata.clone();
            batches.push(async move {
                let permit = window.permits.acquire().await;
                let sent_in = window.epoch();
                let calldata = &calldata[first_tx..first_tx + count];
                let answers = ask(round, node, calldata, first_tx).await;
                if window.after_batch(answers.rate_limited, sent_in)
                    && let Ok(permit) = permit
                {
                    permit.forget();
                }
                answers
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
        secrets,
    } = *round;
    let secrets = &secrets[node.index];
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
    let mut attempts = outcome.attempts;
    let rate_limited = outcome.rate_limited;
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
        rate_limited,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shrinks_to_one_on_a_rate_limit_and_grows_back() {
        let w = Window::new();
        assert_eq!(w.permits.available_permits(), 4);
        // Four batches in flight; the first comes back rate-limited.
        let held: Vec<_> = (0..4).map(|_| w.permits.try_acquire().unwrap()).collect();
        let sent_in = w.epoch();
        let mut retire = Vec::new();
        for (i, permit) in held.into_iter().enumerate() {
            // The three sent alongside it come back fine: no growth for them.
            if w.after_batch(i == 0, sent_in) {
                permit.forget();
                retire.push(i);
            }
        }
        // Three permits retired: one batch at a time now.
        assert_eq!(retire.len(), 3);
        assert_eq!(w.permits.available_permits(), 1);
        // Each clean answer adds one back, up to four.
        for expected in [2, 3, 4, 4] {
            let p = w.permits.try_acquire().unwrap();
            assert!(!w.after_batch(false, w.epoch()));
            drop(p);
            assert_eq!(w.permits.available_permits(), expected);
        }
    }

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
