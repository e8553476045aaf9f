//! Asks every node at once. Per node, the `vote()` calls for all transaction
//! hashes (plus `eth_chainId` when a chain is expected) go out as JSON-RPC
//! batches of at most `batch_size` entries, packed into Multicall3
//! `aggregate3` calls where the node has it (`ask` asks and interprets);
//! each node's [`driver`] claims the next transactions whenever its window
//! lets a request out. The answers feed one [`Tally`](crate::tally::Tally)
//! per transaction as they arrive ([`state`]), and as soon as every verdict
//! is settled the nodes still out are dropped (reported `skipped`) unless
//! `--wait-all`. A global deadline and an interrupt signal end the run early
//! with every node accounted for. With `--block pinned` ([`pinned`]), the
//! unsettled transactions may be read again at a lower pin, when the nodes
//! behind the first one could settle them.

mod driver;
mod pinned;
mod state;

use std::{future::Future, pin::Pin};

use alloy::{eips::BlockNumberOrTag, primitives::Bytes};
use tokio::time::Instant;

use self::{
    driver::{BatchSizes, Driver},
    state::{InFlight, RunState},
};
use crate::{
    check::{ask::Ctx, rpc::RpcClient},
    config::{BlockSpec, CheckConfig},
    report::{Answer, Cell, Report, RunFacts, Statuses, Via},
    secrets::Secrets,
    tally::Tally,
};

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
    let clock = Clock {
        start: Instant::now(),
        run_deadline: clock_start + config.limits.deadline,
    };
    tokio::pin!(interrupt);
    match config.block {
        BlockSpec::At(tag) => {
            let mut statuses = Statuses::default();
            let nobody = vec![None; config.nodes.len()];
            let answers = read(config, client, clock, tag, nobody, &mut statuses, interrupt).await;
            let run = RunFacts {
                elapsed: clock.start.elapsed(),
                interrupted: answers.interrupted,
                pins: None,
                vias: answers.vias,
            };
            Report::build(config, statuses, answers.cells, answers.tallies, run)
        }
        BlockSpec::Pinned => pinned::run(config, client, clock, interrupt).await,
    }
}

/// When a run started (latencies count from it) and when it must end.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    run_deadline: Instant,
}

/// One read of every transaction of `config` on every node, at one block.
struct Read {
    /// `cells[tx * nodes + node]`, every one filled.
    cells: Vec<Cell>,
    tallies: Vec<Tally>,
    vias: Vec<Option<Via>>,
    interrupted: bool,
}

/// Reads `config.txs` at `block` from every node that has no answer yet
/// (`answered_before`: failed, or lagging); each node's budget (`--timeout`)
/// counts from now, and the read ends by the run's deadline.
async fn read<F: Future<Output = ()>>(
    config: &CheckConfig,
    client: &RpcClient,
    clock: Clock,
    block: BlockNumberOrTag,
    answered_before: Vec<Option<Answer>>,
    statuses: &mut Statuses,
    mut interrupt: Pin<&mut F>,
) -> Read {
    let ctx = Ctx {
        config,
        client,
        block,
        deadline: (Instant::now() + config.limits.timeout).min(clock.run_deadline),
    };
    let mut state = RunState::new(config, answered_before, statuses);
    let secrets: Vec<Secrets> = config.nodes.iter().map(Secrets::of).collect();
    let calldata: Vec<Bytes> = config.txs.iter().map(|h| config.function.calldata(*h)).collect();
    let sizes = BatchSizes::of(config);
    // One hash gains nothing from Multicall3; a node with `from` cannot use it
    // (the vote would be read for Multicall3's address, not the voter's).
    let multicall_at = config.multicall.address().filter(|_| config.txs.len() > 1);
    let drivers: Vec<Driver> = config
        .nodes
        .iter()
        .map(|node| {
            let multicall = multicall_at.filter(|_| node.from.is_none());
            Driver::new(node, multicall, client.learned(), config.limits.retries)
        })
        .collect();
    let total = config.txs.len();
    let mut in_flight = InFlight::new(config.nodes.len(), |node| {
        drivers[node].turn(ctx, &secrets[node], &calldata, sizes)
    });
    for driver in drivers.iter().filter(|d| state.to_ask(d.node.index)) {
        in_flight.top_up(driver.node.index, driver.requests_left(total, sizes));
    }

    let mut interrupted = false;
    let deadline_hit = tokio::time::sleep_until(clock.run_deadline);
    tokio::pin!(deadline_hit);
    while !in_flight.is_empty() && !state.settled() {
        tokio::select! {
            Some(turn) = in_flight.next() => {
                // Keep the node busy while it has transactions left (some may
                // have come back to be asked again).
                in_flight.top_up(turn.node, drivers[turn.node].requests_left(total, sizes));
                if let Some(asked) = turn.asked {
                    state.record(turn.node, asked, clock.start.elapsed(), statuses);
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
    drop(in_flight);
    let vias = drivers.iter().map(Driver::via).collect();
    tracing::debug!(elapsed = ?clock.start.elapsed(), "fan-out ended");
    state.finish(interrupted, vias, statuses)
}
