//! Asks every node at once. Per node, the `vote()` calls for all transaction
//! hashes (plus `eth_chainId` when a chain is expected) go out as JSON-RPC
//! batches of at most `batch_size` entries, packed into Multicall3
//! `aggregate3` calls where the node has it (`ask` asks and
//! interprets); the answers feed one [`Tally`] per transaction as they
//! arrive, and as soon as every verdict is settled the nodes still out are
//! dropped (reported `skipped`) unless `--wait-all`. A global deadline and an
//! interrupt signal end the run early with every node accounted for. With
//! `--block pinned` ([`pin`]), the open transactions may be read again at a
//! lower pin, when the nodes behind the first one could settle them.

use std::{future::Future, ops::Range, pin::Pin};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes},
};
use futures::{StreamExt, stream::FuturesUnordered};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    check::ask::{self, Asked, Carrier, Ctx},
    check::multicall,
    check::pin::{self, choice},
    check::rpc::RpcClient,
    config::{BlockSpec, CheckConfig, Node},
    report::{Answer, Cell, NodeStatus, PinFacts, Report, RunFacts, Statuses, Via},
    secrets::Secrets,
    tally::Tally,
};

use super::window::{BATCHES_IN_FLIGHT_PER_NODE, Window};

/// One node's share of the work: which transactions are still to ask, how
/// (Multicall3 or plain calls), and how many requests it may have out.
struct Driver<'a> {
    node: &'a Node,
    window: Window,
    /// Bounds the Multicall3 requests in flight (see [`multicall::IN_FLIGHT`]).
    multicall_slots: Semaphore,
    work: std::sync::Mutex<Work>,
}

struct Work {
    /// The first transaction nobody has claimed yet.
    next: usize,
    /// Transactions handed back to be asked again with plain calls.
    again: Vec<Range<usize>>,
    /// The Multicall3-compatible contract to use, while it works for this node.
    multicall: Option<Address>,
    /// Some answers came through Multicall3 / through plain calls.
    used_multicall: bool,
    used_plain: Option<Via>,
}

impl Driver<'_> {
    fn has_work(&self, total: usize) -> bool {
        self.work
            .lock()
            .map(|w| w.next < total || !w.again.is_empty())
            .unwrap_or(false)
    }

    /// The next transactions to ask, and how.
    fn claim(&self, total: usize, plain: usize, multicall: usize) -> Option<(Range<usize>, Carrier)> {
        let mut w = self.work.lock().ok()?;
        if let Some(r) = w.again.pop() {
            let end = (r.start + plain).min(r.end);
            if end < r.end {
                w.again.push(end..r.end);
            }
            return Some((r.start..end, Carrier::Plain));
        }
        if w.next >= total {
            return None;
        }
        let (size, carrier) = match w.multicall {
            Some(at) => (multicall, Carrier::Multicall(at)),
            None => (plain, Carrier::Plain),
        };
        let range = w.next..(w.next + size).min(total);
        w.next = range.end;
        Some((range, carrier))
    }

    /// Notes how a request went; a Multicall3 that did not answer usably is
    /// not used again for this node, and its transactions go back in the queue.
    fn settle(&self, asked: &mut Asked) {
        let Ok(mut w) = self.work.lock() else { return };
        if let Some(why) = asked.multicall_unusable.take() {
            if w.multicall.take().is_some() {
                tracing::info!(node = %self.node.label(), reason = %why, "Multicall3 not usable: plain calls for the rest of the run");
            }
            w.again.append(&mut asked.plain_again);
        }
        match asked.via {
            Via::Multicall if !asked.answered.is_empty() => w.used_multicall = true,
            Via::Multicall => {}
            plain => {
                w.used_plain = Some(match w.used_plain {
                    Some(Via::Batch) => Via::Batch,
                    _ => plain,
                })
            }
        }
    }

    /// How the node was asked, as the report says it.
    fn via(&self) -> Option<Via> {
        let w = self.work.lock().ok()?;
        match (w.used_multicall, w.multicall.is_some(), w.used_plain) {
            (true, true, _) => Some(Via::Multicall),
            (_, _, Some(plain)) => Some(plain),
            (true, false, None) => Some(Via::Multicall),
            (false, _, None) => None,
        }
    }
}

/// Asks `driver`'s node about the next transactions it has, when its window
/// lets it; `None` when there was nothing left to ask.
async fn drive(
    ctx: Ctx<'_>,
    driver: &Driver<'_>,
    secrets: &Secrets,
    calldata: &[Bytes],
    sizes: (usize, usize),
) -> Option<(usize, Asked)> {
    let permit = driver.window.permits.acquire().await;
    let sent_in = driver.window.epoch();
    let total = calldata.len();
    let (range, carrier) = driver.claim(total, sizes.0, sizes.1)?;
    let _slot = match carrier {
        Carrier::Multicall(_) => driver.multicall_slots.acquire().await.ok(),
        Carrier::Plain => None,
    };
    let mut asked = ask::ask(ctx, driver.node, secrets, calldata, range, carrier).await;
    driver.settle(&mut asked);
    if driver.window.after_batch(asked.rate_limited, sent_in)
        && let Ok(permit) = permit
    {
        permit.forget();
    }
    Some((driver.node.index, asked))
}

/// Runs the check; `interrupt` resolving ends it early (Ctrl-C, SIGTERM).
/// The run's `--deadline` counts from now.
pub async fn run(config: &CheckConfig, client: &RpcClient, interrupt: impl Future<Output = ()>) -> Report {
    run_from(config, client, interrupt, Instant::now()).await
}

/// Like [`run`], with the `--deadline` counted from `clock_start` (for
/// `check`: when the command started, so that reading a long hash list is
/// inside the deadline too). Each read gives every node `--timeout` from
/// its start, within the deadline.
pub async fn run_from(
    config: &CheckConfig,
    client: &RpcClient,
    interrupt: impl Future<Output = ()>,
    clock_start: Instant,
) -> Report {
    let start = Instant::now();
    let run_deadline = clock_start + config.limits.deadline;
    tokio::pin!(interrupt);
    match config.block {
        BlockSpec::At(tag) => {
            let mut statuses = Statuses::default();
            let early = vec![None; config.nodes.len()];
            let answers = read(
                config,
                client,
                tag,
                early,
                &mut statuses,
                start,
                run_deadline,
                interrupt,
            )
            .await;
            let run = RunFacts {
                elapsed: start.elapsed(),
                interrupted: answers.interrupted,
                pins: None,
                vias: answers.vias,
            };
            Report::build(config, statuses, answers.cells, answers.tallies, run)
        }
        BlockSpec::Pinned => run_pinned(config, client, start, run_deadline, interrupt).await,
    }
}

/// `--block pinned`: the heads first, then a read at the first pin; while
/// verdicts stay open that the nodes behind it could settle, those
/// transactions are read again at the next lower pin worth it (within
/// `--max-pin-lag` and the deadline). A settled verdict is never re-read;
/// a lower reading replaces one above only when it stands (see
/// [`choice::lower_reading_stands`]), and each transaction records the block
/// its answers come from.
async fn run_pinned<F: Future<Output = ()>>(
    config: &CheckConfig,
    client: &RpcClient,
    start: Instant,
    run_deadline: Instant,
    mut interrupt: Pin<&mut F>,
) -> Report {
    let uint_votes = matches!(config.function.kind(), crate::abi::VoteKind::Uint(_));
    let needed = if uint_votes {
        config.total_weight / 2 + 1
    } else {
        config.threshold
    };
    let mut statuses = Statuses::default();
    // The heads' round trip is bounded by a node's budget and the run's deadline (watch rounds included).
    let heads_deadline = (start + config.limits.timeout).min(run_deadline);
    let heads = tokio::select! {
        heads = pin::ask_heads(config, client, needed, start, heads_deadline) => heads,
        () = interrupt.as_mut() => {
            let interrupted = vec![Some(Answer::without_response(NodeStatus::Interrupted)); config.nodes.len()];
            return unread(config, statuses, interrupted, start, true);
        }
    };
    let spare = config.total_weight.saturating_sub(needed);
    let Some(plan) = choice::plan(&heads.claims, needed, spare, config.max_pin_lag) else {
        // No node gave its head: there is no block to read at, and every
        // node already has its answer (its failure).
        return unread(config, statuses, heads.failed, start, false);
    };
    tracing::info!(block = plan.first, head = plan.top, "pinned block");
    let first = read(
        config,
        client,
        BlockNumberOrTag::Number(plan.first),
        heads.early_at(plan.first),
        &mut statuses,
        start,
        run_deadline,
        interrupt.as_mut(),
    )
    .await;
    let mut interrupted = first.interrupted;
    let mut vias = first.vias;
    let mut readings = Readings {
        read_at: vec![0; config.txs.len()],
        cells: first.cells,
        tallies: first.tallies,
    };
    let mut blocks = vec![plan.first];
    // Transactions still open, with the answering weight that could settle each.
    let mut open: Vec<(usize, u128)> = readings
        .tallies
        .iter()
        .enumerate()
        .filter_map(|(tx, tally)| choice::weight_to_settle(tally, uint_votes).map(|w| (tx, w)))
        .collect();
    let mut current = plan.first;
    while !interrupted && Instant::now() < run_deadline && blocks.len() <= usize::from(u8::MAX) {
        let Some(need) = open.iter().map(|(_, w)| *w).min() else {
            break;
        };
        let Some(lower) = choice::lower_pin(&heads.claims, &plan, current, need) else {
            break;
        };
        tracing::info!(
            block = lower,
            open = open.len(),
            "reading the open transactions again at a lower pin"
        );
        let again_config = CheckConfig {
            txs: open.iter().map(|(tx, _)| config.txs[*tx]).collect(),
            ..config.clone()
        };
        let again = read(
            &again_config,
            client,
            BlockNumberOrTag::Number(lower),
            heads.early_at(lower),
            &mut statuses,
            start,
            run_deadline,
            interrupt.as_mut(),
        )
        .await;
        interrupted = again.interrupted;
        for (via, asked) in vias.iter_mut().zip(&again.vias) {
            if asked.is_some() {
                *via = *asked;
            }
        }
        let round = blocks.len() as u8;
        blocks.push(lower);
        open = readings.take_lower(config, &statuses, &again, &open, round);
        current = lower;
    }
    let run = RunFacts {
        elapsed: start.elapsed(),
        interrupted,
        pins: Some(PinFacts {
            head: plan.top,
            blocks,
            read_at: readings.read_at,
        }),
        vias,
    };
    Report::build(config, statuses, readings.cells, readings.tallies, run)
}

/// What a pinned run reports: per transaction, the answers of one block.
struct Readings {
    /// `cells[tx * nodes + node]`.
    cells: Vec<Cell>,
    tallies: Vec<Tally>,
    /// Per transaction, the index of the read its answers come from.
    read_at: Vec<u8>,
}

impl Readings {
    /// Takes the answers of `lower` — the read numbered `round` of the
    /// transactions `open`, in that order — for each transaction whose lower
    /// reading stands; returns the transactions still open there.
    fn take_lower(
        &mut self,
        config: &CheckConfig,
        statuses: &Statuses,
        lower: &Read,
        open: &[(usize, u128)],
        round: u8,
    ) -> Vec<(usize, u128)> {
        let n_nodes = config.nodes.len();
        let uint_votes = matches!(config.function.kind(), crate::abi::VoteKind::Uint(_));
        let mut still_open = Vec::new();
        for (k, &(tx, _)) in open.iter().enumerate() {
            let tally = &lower.tallies[k];
            let below = &lower.cells[k * n_nodes..(k + 1) * n_nodes];
            let row = tx * n_nodes..(tx + 1) * n_nodes;
            if tally.settled().is_some() {
                let answers = config
                    .nodes
                    .iter()
                    .zip(self.cells[row.clone()].iter().zip(below))
                    .map(|(node, (above, below))| (node.weight, statuses.vote(above), statuses.vote(below)));
                if choice::lower_reading_stands(config.threshold, config.total_weight, uint_votes, answers) {
                    self.cells[row].copy_from_slice(below);
                    self.tallies[tx] = tally.clone();
                    self.read_at[tx] = round;
                }
                // Otherwise votes changed since the block above, and an
                // older block would be staler still: the reading above stays.
            } else if let Some(w) = choice::weight_to_settle(tally, uint_votes) {
                still_open.push((tx, w));
            }
        }
        still_open
    }
}

/// The report of a pinned run that read no vote: every node has `answers`
/// (its failure, or `interrupted`) for every transaction.
fn unread(
    config: &CheckConfig,
    mut statuses: Statuses,
    answers: Vec<Option<Answer>>,
    start: Instant,
    interrupted: bool,
) -> Report {
    let uint_votes = matches!(config.function.kind(), crate::abi::VoteKind::Uint(_));
    let row: Vec<Cell> = answers
        .into_iter()
        .map(|a| {
            Cell::of(
                a.unwrap_or(Answer::without_response(NodeStatus::Timeout)),
                &mut statuses,
            )
        })
        .collect();
    let mut tally = Tally::new(config.threshold, config.total_weight, uint_votes);
    for node in &config.nodes {
        tally.record_failure(node.weight);
    }
    let cells = row.iter().copied().cycle().take(row.len() * config.txs.len()).collect();
    let tallies = vec![tally; config.txs.len()];
    let run = RunFacts {
        elapsed: start.elapsed(),
        interrupted,
        pins: None,
        vias: vec![None; config.nodes.len()],
    };
    Report::build(config, statuses, cells, tallies, run)
}

/// One read of every transaction of `config` on every node, at one block.
struct Read {
    /// `cells[tx * nodes + node]`, every one filled.
    cells: Vec<Cell>,
    tallies: Vec<Tally>,
    vias: Vec<Option<Via>>,
    interrupted: bool,
}

/// Reads `config.txs` at `block` from every node that has no `early` answer
/// yet (failed, or lagging); latencies count from `start`, each node's
/// budget (`--timeout`) from now, and the read ends by `run_deadline`.
#[allow(clippy::too_many_arguments)]
async fn read<F: Future<Output = ()>>(
    config: &CheckConfig,
    client: &RpcClient,
    block: BlockNumberOrTag,
    early: Vec<Option<Answer>>,
    statuses: &mut Statuses,
    start: Instant,
    run_deadline: Instant,
    mut interrupt: Pin<&mut F>,
) -> Read {
    let node_deadline = (Instant::now() + config.limits.timeout).min(run_deadline);
    let uint_votes = matches!(config.function.kind(), crate::abi::VoteKind::Uint(_));
    let n_nodes = config.nodes.len();

    let mut tallies: Vec<Tally> = config
        .txs
        .iter()
        .map(|_| Tally::new(config.threshold, config.total_weight, uint_votes))
        .collect();
    // cells[tx * n_nodes + node]; `None` until the node's answer is in.
    let mut cells: Vec<Option<Cell>> = vec![None; config.txs.len() * n_nodes];
    // Nodes settled before the read (failed, or lagging) are not asked.
    for (node, early) in early.into_iter().enumerate() {
        if let Some(answer) = early {
            let cell = Cell::of(answer, statuses);
            for (tx, tally) in tallies.iter_mut().enumerate() {
                tally.record_failure(config.nodes[node].weight);
                cells[tx * n_nodes + node] = Some(cell);
            }
        }
    }
    let mut open = tallies.iter().filter(|t| t.settled().is_none()).count();
    let secrets: Vec<Secrets> = config.nodes.iter().map(Secrets::of).collect();
    let ctx = Ctx {
        config,
        client,
        block,
        deadline: node_deadline,
    };
    let calldata: Vec<Bytes> = config.txs.iter().map(|h| config.function.calldata(*h)).collect();
    // `--batch-size` bounds a request's entries, the `eth_chainId` riding along included.
    let per_batch = match (config.chain_id, config.limits.batch_size) {
        (Some(_), n) if n > 1 => n - 1,
        (_, n) => n.max(1),
    };
    // Through Multicall3, a request carries a few aggregate3 calls of CHUNK transactions each.
    let sizes = (per_batch, per_batch.min(multicall::PER_REQUEST) * multicall::CHUNK);
    // One hash gains nothing from Multicall3; a node with `from` cannot use it
    // (the vote would be read for Multicall3's address, not the voter's).
    let multicall_at = config.multicall.address().filter(|_| config.txs.len() > 1);
    let drivers: Vec<Driver> = config
        .nodes
        .iter()
        .map(|node| Driver {
            node,
            window: Window::new(),
            multicall_slots: Semaphore::new(multicall::IN_FLIGHT),
            work: std::sync::Mutex::new(Work {
                next: 0,
                again: Vec::new(),
                multicall: multicall_at.filter(|_| node.from.is_none()),
                used_multicall: false,
                used_plain: None,
            }),
        })
        .collect();
    let total = config.txs.len();
    let mut batches = FuturesUnordered::new();
    let mut live = vec![0usize; n_nodes];
    for driver in drivers
        .iter()
        .filter(|d| cells.get(d.node.index).is_none_or(|c| c.is_none()))
    {
        let wanted = total.div_ceil(sizes.0).min(BATCHES_IN_FLIGHT_PER_NODE);
        for _ in 0..wanted {
            batches.push(drive(ctx, driver, &secrets[driver.node.index], &calldata, sizes));
            live[driver.node.index] += 1;
        }
    }

    let mut interrupted = false;
    let deadline_hit = tokio::time::sleep_until(run_deadline);
    tokio::pin!(deadline_hit);
    while !batches.is_empty() && (open > 0 || config.wait_all) {
        tokio::select! {
            Some(done) = batches.next() => {
                let Some((node, asked)) = done else { continue };
                // Keep the node busy while it has transactions left (some may
                // have come back to be asked again).
                live[node] -= 1;
                let driver = &drivers[node];
                while live[node] < BATCHES_IN_FLIGHT_PER_NODE && driver.has_work(total) {
                    batches.push(drive(ctx, driver, &secrets[node], &calldata, sizes));
                    live[node] += 1;
                }
                let weight = config.nodes[node].weight;
                let latency = start.elapsed();
                for (first_tx, answers) in asked.answered {
                    for (offset, (status, vote)) in answers.into_iter().enumerate() {
                        let tx = first_tx + offset;
                        let was_open = tallies[tx].settled().is_none();
                        match vote {
                            Some(v) => tallies[tx].record_vote(weight, v),
                            None => tallies[tx].record_failure(weight),
                        }
                        if was_open && tallies[tx].settled().is_some() {
                            open -= 1;
                        }
                        cells[tx * n_nodes + node] = Some(Cell::of(
                            Answer {
                                status,
                                vote,
                                latency: Some(latency),
                                attempts: asked.attempts,
                            },
                            statuses,
                        ));
                    }
                }
            }
            () = &mut deadline_hit => {
                tracing::warn!("run deadline reached with nodes still out");
                break;
            }
            () = interrupt.as_mut() => {
                interrupted = true;
                break;
            }
        }
    }
    drop(batches);
    let vias: Vec<Option<Via>> = drivers.iter().map(Driver::via).collect();
    tracing::debug!(elapsed = ?start.elapsed(), "fan-out ended");

    // Every node not heard from gets the reason it was not.
    let missing = if interrupted {
        NodeStatus::Interrupted
    } else if open > 0 || config.wait_all {
        NodeStatus::Timeout
    } else {
        NodeStatus::Skipped
    };
    let missing = Cell::of(Answer::without_response(missing), statuses);
    let cells = cells.into_iter().map(|c| c.unwrap_or(missing)).collect();
    Read {
        cells,
        tallies,
        vias,
        interrupted,
    }
}
