//! `--block pinned`: the heads first, then a read at the first pin; while
//! verdicts stay unsettled that the nodes behind it could settle, those
//! transactions are read again at the next lower pin worth it (within
//! `--max-pin-lag` and the deadline). A settled verdict is never re-read;
//! a lower reading replaces one above only when it stands (see
//! [`choice::lower_reading_stands`]), and each transaction records the block
//! its answers come from.

use std::{future::Future, pin::Pin};

use alloy::eips::BlockNumberOrTag;
use tokio::time::Instant;

use super::{Clock, Read, read};
use crate::{
    check::{
        pin::{self, choice},
        rpc::RpcClient,
    },
    config::CheckConfig,
    report::{Answer, Cell, NodeStatus, PinFacts, Report, RunFacts, Statuses},
    tally::Tally,
};

/// A transaction whose verdict is not settled, and the answering weight
/// that could still settle it.
#[derive(Debug, Clone, Copy)]
struct Unsettled {
    tx: usize,
    weight_to_settle: u128,
}

/// Runs a pinned check (see the module's description).
pub(super) async fn run<F: Future<Output = ()>>(
    config: &CheckConfig,
    client: &RpcClient,
    clock: Clock,
    mut interrupt: Pin<&mut F>,
) -> Report {
    let uint_votes = config.uint_votes();
    let needed = if uint_votes {
        config.total_weight / 2 + 1
    } else {
        config.threshold
    };
    let mut statuses = Statuses::default();
    // The heads' round trip is bounded by a node's budget and the run's deadline (watch rounds included).
    let heads_deadline = (clock.start + config.limits.timeout).min(clock.run_deadline);
    let heads = tokio::select! {
        heads = pin::ask_heads(config, client, needed, clock.start, heads_deadline) => heads,
        () = interrupt.as_mut() => {
            let interrupted = vec![Some(Answer::without_response(NodeStatus::Interrupted)); config.nodes.len()];
            return unread(config, statuses, interrupted, clock.start, true);
        }
    };
    let spare = config.total_weight.saturating_sub(needed);
    let Some(plan) = choice::plan(&heads.claims, needed, spare, config.max_pin_lag) else {
        // No node gave its head: there is no block to read at, and every
        // node already has its answer (its failure).
        return unread(config, statuses, heads.failed, clock.start, false);
    };
    tracing::info!(block = plan.first, head = plan.top, "pinned block");
    let first = read(
        config,
        client,
        clock,
        BlockNumberOrTag::Number(plan.first),
        heads.answers_before(plan.first),
        &mut statuses,
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
    let mut unsettled: Vec<Unsettled> = readings
        .tallies
        .iter()
        .enumerate()
        .filter_map(|(tx, tally)| {
            let weight_to_settle = choice::weight_to_settle(tally, uint_votes)?;
            Some(Unsettled { tx, weight_to_settle })
        })
        .collect();
    let mut current = plan.first;
    while !interrupted && Instant::now() < clock.run_deadline && blocks.len() <= usize::from(u8::MAX) {
        let Some(need) = unsettled.iter().map(|u| u.weight_to_settle).min() else {
            break;
        };
        let Some(lower) = choice::lower_pin(&heads.claims, &plan, current, need) else {
            break;
        };
        tracing::info!(
            block = lower,
            open = unsettled.len(),
            "reading the open transactions again at a lower pin"
        );
        let again_config = config.with_txs(unsettled.iter().map(|u| config.txs[u.tx]).collect());
        let again = read(
            &again_config,
            client,
            clock,
            BlockNumberOrTag::Number(lower),
            heads.answers_before(lower),
            &mut statuses,
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
        unsettled = readings.take_lower(config, &statuses, &again, &unsettled, round);
        current = lower;
    }
    let run = RunFacts {
        elapsed: clock.start.elapsed(),
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
    /// transactions `unsettled`, in that order — for each transaction whose
    /// lower reading stands; returns the transactions still unsettled there.
    fn take_lower(
        &mut self,
        config: &CheckConfig,
        statuses: &Statuses,
        lower: &Read,
        unsettled: &[Unsettled],
        round: u8,
    ) -> Vec<Unsettled> {
        let n_nodes = config.nodes.len();
        let uint_votes = config.uint_votes();
        let mut still_unsettled = Vec::new();
        for (k, &Unsettled { tx, .. }) in unsettled.iter().enumerate() {
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
            } else if let Some(weight_to_settle) = choice::weight_to_settle(tally, uint_votes) {
                still_unsettled.push(Unsettled { tx, weight_to_settle });
            }
        }
        still_unsettled
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
    let row: Vec<Cell> = answers
        .into_iter()
        .map(|a| {
            Cell::of(
                a.unwrap_or(Answer::without_response(NodeStatus::Timeout)),
                &mut statuses,
            )
        })
        .collect();
    let mut tally = config.new_tally();
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
