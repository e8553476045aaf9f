//! Read access to a [`Report`]: one transaction at a time, its node answers
//! made on the fly.

use std::collections::HashMap;

use alloy::primitives::B256;

use super::{Cell, Report};
use crate::{
    report::{Asked, NodeReport, NodeStatus, TxReport, inconclusive_reason},
    tally::{Tally, Verdict},
};

/// Reasons for inconclusive verdicts already written, by what they depend
/// on: the statuses of the unanswered nodes and the tally.
#[derive(Debug, Default)]
pub(crate) struct ReasonCache {
    seen: HashMap<(Vec<u32>, TallyKey), std::rc::Rc<str>>,
    last: Option<(Vec<u32>, TallyKey, std::rc::Rc<str>)>,
    scratch: Vec<u32>,
}

/// The numbers a reason quotes: yes, undecided, threshold.
type TallyKey = (u128, u128, u128);

/// One transaction of a [`Report`].
#[derive(Clone, Copy)]
pub struct TxView<'a> {
    pub(super) report: &'a Report,
    pub(super) index: usize,
}

impl<'a> TxView<'a> {
    fn tally(&self) -> &'a Tally {
        &self.report.tallies[self.index]
    }

    fn cell(&self, node: usize) -> &'a Cell {
        &self.report.cells[self.index * self.report.nodes.len() + node]
    }

    /// The transaction hash.
    pub fn tx_hash(&self) -> B256 {
        self.report.hashes[self.index]
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.tally().verdict()
    }

    /// Sum of contributions to yes.
    pub fn yes(&self) -> u128 {
        self.tally().yes()
    }

    /// Weight of the nodes that answered no.
    pub fn no(&self) -> u128 {
        self.tally().no()
    }

    /// Weight of the nodes without a valid answer.
    pub fn undecided(&self) -> u128 {
        self.tally().undecided()
    }

    /// The yes-weight needed.
    pub fn threshold(&self) -> u128 {
        self.tally().threshold()
    }

    /// The total weight of the nodes.
    pub fn total_weight(&self) -> u128 {
        self.tally().total_weight()
    }

    /// With `--block pinned`: the block this transaction's answers were read
    /// at; `None` without a pin, or when no node gave its head.
    pub fn pinned_block(&self) -> Option<u64> {
        let pins = self.report.pins.as_ref()?;
        let index = pins.read_at.get(self.index).copied().unwrap_or(0);
        pins.blocks.get(usize::from(index)).copied()
    }

    /// Whether the votes are uint weights.
    pub fn uint_votes(&self) -> bool {
        self.report.uint_votes
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.report.nodes.len()
    }

    /// Node `node`'s status.
    pub fn status(&self, node: usize) -> &'a NodeStatus {
        &self.report.statuses[self.cell(node).status as usize].0
    }

    /// Whether node `node` dissented from this transaction's quorum, gave no
    /// valid answer, or neither ([`crate::dissent`]).
    pub fn mark(&self, node: usize) -> Option<crate::dissent::Mark> {
        let tally = self.tally();
        let (status, vote) = &self.report.statuses[self.cell(node).status as usize];
        crate::dissent::mark(
            crate::dissent::quorum(tally.yes(), tally.no(), tally.threshold()),
            super::answer_of(status, *vote),
        )
    }

    /// The vote node `node` answered, if valid.
    pub fn vote(&self, node: usize) -> Option<crate::abi::VoteValue> {
        self.report.statuses[self.cell(node).status as usize].1
    }

    /// Node `node`'s latency in milliseconds, if it answered.
    pub fn latency_ms(&self, node: usize) -> Option<f64> {
        let ms = self.cell(node).latency_ms;
        (!ms.is_nan()).then(|| (f64::from(ms) * 10.0).round() / 10.0)
    }

    /// Like [`reason`](Self::reason), remembering reasons already written in
    /// `cache`: a million inconclusive transactions usually share a handful,
    /// and neighbours (one batch) usually share one.
    pub(crate) fn reason_cached(&self, cache: &mut ReasonCache) -> Option<std::rc::Rc<str>> {
        if self.verdict() != Verdict::Inconclusive {
            return None;
        }
        let tally = self.tally();
        let mut key = std::mem::take(&mut cache.scratch);
        key.clear();
        key.extend(
            (0..self.report.nodes.len())
                .map(|n| self.cell(n).status)
                .filter(|&s| self.report.statuses[s as usize].1.is_none()),
        );
        key.sort_unstable();
        let numbers = (tally.yes(), tally.undecided(), tally.threshold());
        if let Some((last_key, last_numbers, reason)) = &cache.last
            && *last_key == key
            && *last_numbers == numbers
        {
            let reason = reason.clone();
            cache.scratch = key;
            return Some(reason);
        }
        let reason = match cache.seen.get(&(key.clone(), numbers)) {
            Some(reason) => reason.clone(),
            None => {
                let reason: std::rc::Rc<str> = self.reason().unwrap_or_default().into();
                cache.seen.insert((key.clone(), numbers), reason.clone());
                reason
            }
        };
        cache.last = Some((key, numbers, reason.clone()));
        Some(reason)
    }

    /// Why the verdict is inconclusive; `None` otherwise.
    pub fn reason(&self) -> Option<String> {
        (self.verdict() == Verdict::Inconclusive).then(|| {
            let answers = (0..self.report.nodes.len()).map(|n| &self.report.statuses[self.cell(n).status as usize]);
            let nobody_voted = answers.clone().all(|(_, vote)| vote.is_none());
            let unanswered = answers.filter(|(_, vote)| vote.is_none()).map(|(status, _)| status);
            let asked = Asked {
                contract: self.report.contract,
                function: &self.report.function,
                chain_id: self.report.chain_id,
            };
            inconclusive_reason(unanswered, nobody_voted, self.tally(), &asked)
        })
    }

    /// Node `node`'s part, as owned data.
    pub fn node(&self, node: usize) -> NodeReport {
        let info = &self.report.nodes[node];
        let cell = self.cell(node);
        let (status, vote) = &self.report.statuses[cell.status as usize];
        NodeReport {
            node: info.node,
            name: info.name.clone(),
            url: info.url.clone(),
            weight: info.weight,
            from: info.from,
            status: status.clone(),
            contribution: vote.map(|v| v.contribution(info.weight)).unwrap_or(0).to_string(),
            latency_ms: self.latency_ms(node),
            attempts: u32::from(cell.attempts),
        }
    }

    /// Every node's part, in configuration order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeReport> + 'a {
        let view = *self;
        (0..self.report.nodes.len()).map(move |n| view.node(n))
    }

    /// The transaction as owned data.
    pub fn to_document(&self) -> TxReport {
        TxReport {
            tx_hash: self.tx_hash(),
            verdict: self.verdict(),
            reason: self.reason(),
            yes: self.yes(),
            no: self.no(),
            undecided: self.undecided(),
            threshold: self.threshold(),
            total_weight: self.total_weight(),
            pinned_block: self.pinned_block(),
            nodes: self.nodes().collect(),
        }
    }
}
