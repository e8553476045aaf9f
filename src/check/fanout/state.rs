//! The state of one read, in named steps: the answers known before it
//! (`RunState::new`), each request's answers recorded as they come
//! ([`RunState::record`]), whether every verdict is settled
//! ([`RunState::settled`]), and the report's cells once it ends
//! ([`RunState::finish`], every node not heard from given the reason).
//! The requests out are [`InFlight`]: at most
//! [`BATCHES_IN_FLIGHT_PER_NODE`] turns per node, each counted until it
//! reports back — whether or not it found anything to ask.

use std::{future::Future, time::Duration};

use futures::{StreamExt, stream::FuturesUnordered};

use super::{Read, driver::Turn};
use crate::{
    check::{
        ask::{Asked, TxAnswer},
        window::BATCHES_IN_FLIGHT_PER_NODE,
    },
    config::CheckConfig,
    report::{Answer, Cell, NodeStatus, Statuses, Via},
    tally::Tally,
};

/// What a read knows so far: a tally per transaction and an answer per
/// transaction and node.
pub(super) struct RunState<'a> {
    config: &'a CheckConfig,
    tallies: Vec<Tally>,
    /// `cells[tx * nodes + node]`; `None` until the node's answer is in.
    cells: Vec<Option<Cell>>,
    /// Transactions whose verdict is not settled yet.
    unsettled: usize,
}

impl<'a> RunState<'a> {
    /// The state before any request: the nodes with an answer already
    /// (`answered_before`: failed on the heads round, or lagging) have it
    /// for every transaction, counted as failures.
    pub(super) fn new(config: &'a CheckConfig, answered_before: Vec<Option<Answer>>, statuses: &mut Statuses) -> Self {
        let n_nodes = config.nodes.len();
        let mut tallies: Vec<Tally> = config.txs.iter().map(|_| config.new_tally()).collect();
        let mut cells = vec![None; config.txs.len() * n_nodes];
        for (node, answer) in answered_before.into_iter().enumerate() {
            let Some(answer) = answer else { continue };
            let cell = Cell::of(answer, statuses);
            for (tx, tally) in tallies.iter_mut().enumerate() {
                tally.record_failure(config.nodes[node].weight);
                cells[tx * n_nodes + node] = Some(cell);
            }
        }
        let unsettled = tallies.iter().filter(|t| t.settled().is_none()).count();
        Self {
            config,
            tallies,
            cells,
            unsettled,
        }
    }

    /// Whether `node` is still to be asked (it has no answer yet).
    pub(super) fn to_ask(&self, node: usize) -> bool {
        self.cells.get(node).is_some_and(Option::is_none)
    }

    /// Whether the read may end: every verdict is settled, and the run does
    /// not wait for every node (`--wait-all`).
    pub(super) fn settled(&self) -> bool {
        self.unsettled == 0 && !self.config.wait_all
    }

    /// Records `node`'s answers of one request, which came `latency` after the run's start.
    pub(super) fn record(&mut self, node: usize, asked: Asked, latency: Duration, statuses: &mut Statuses) {
        let n_nodes = self.config.nodes.len();
        let weight = self.config.nodes[node].weight;
        for (first_tx, answers) in asked.answered {
            for (offset, TxAnswer { status, vote }) in answers.into_iter().enumerate() {
                let tx = first_tx + offset;
                let tally = &mut self.tallies[tx];
                let was_unsettled = tally.settled().is_none();
                match vote {
                    Some(v) => tally.record_vote(weight, v),
                    None => tally.record_failure(weight),
                }
                if was_unsettled && tally.settled().is_some() {
                    self.unsettled -= 1;
                }
                let answer = Answer {
                    status,
                    vote,
                    latency: Some(latency),
                    attempts: asked.attempts,
                };
                self.cells[tx * n_nodes + node] = Some(Cell::of(answer, statuses));
            }
        }
    }

    /// The read's result. Every node not heard from gets the reason it was
    /// not: interrupted; else timed out, while a verdict was still open or
    /// every node was waited for; else skipped (not waited for).
    pub(super) fn finish(self, interrupted: bool, vias: Vec<Option<Via>>, statuses: &mut Statuses) -> Read {
        let missing = if interrupted {
            NodeStatus::Interrupted
        } else if self.unsettled > 0 || self.config.wait_all {
            NodeStatus::Timeout
        } else {
            NodeStatus::Skipped
        };
        let missing = Cell::of(Answer::without_response(missing), statuses);
        Read {
            cells: self.cells.into_iter().map(|c| c.unwrap_or(missing)).collect(),
            tallies: self.tallies,
            vias,
            interrupted,
        }
    }
}

/// The turns out, per node at most [`BATCHES_IN_FLIGHT_PER_NODE`]; each is
/// counted from its spawn until it reports back.
pub(super) struct InFlight<F, Spawn> {
    turns: FuturesUnordered<F>,
    per_node: Vec<usize>,
    spawn: Spawn,
}

impl<F: Future<Output = Turn>, Spawn: Fn(usize) -> F> InFlight<F, Spawn> {
    /// No turn out yet among `nodes` nodes; `spawn(node)` makes one turn of `node`'s driver.
    pub(super) fn new(nodes: usize, spawn: Spawn) -> Self {
        Self {
            turns: FuturesUnordered::new(),
            per_node: vec![0; nodes],
            spawn,
        }
    }

    /// Spawns turns of `node` until it has as many out as `requests_left`
    /// need, at most [`BATCHES_IN_FLIGHT_PER_NODE`]. (A turn out that has
    /// not claimed its transactions yet may find them gone: it reports back
    /// with nothing asked.)
    pub(super) fn top_up(&mut self, node: usize, requests_left: usize) {
        let room = BATCHES_IN_FLIGHT_PER_NODE.saturating_sub(self.per_node[node]);
        for _ in 0..requests_left.min(room) {
            self.turns.push((self.spawn)(node));
            self.per_node[node] += 1;
        }
    }

    /// Whether no turn is out.
    pub(super) fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// The next turn to report back (`None` when none is out).
    pub(super) async fn next(&mut self) -> Option<Turn> {
        let turn = self.turns.next().await?;
        self.per_node[turn.node] -= 1;
        Some(turn)
    }
}
