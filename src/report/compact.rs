//! The run's result in compact form. A check of a million hashes on ten nodes
//! has ten million answers: each is a 12-byte [`Cell`] (an index into the
//! run's distinct statuses, the latency, the attempts), and everything that
//! is the same for many answers — a node's name and URL, a status and its
//! message, the tally's threshold — is stored once. Renderers read it through
//! [`TxView`]; [`NodeReport`]s are made on the fly, one at a time.

use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize, ser::SerializeSeq};

use super::{
    Answer, CheckReport, NodeReport, NodeStatus, SCHEMA_VERSION, Summary, ThresholdReport, TxReport,
    inconclusive_reason,
};
use crate::{
    abi::VoteValue,
    config::CheckConfig,
    multicall::Via,
    tally::{Tally, Verdict},
};

/// One node's answer for one transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cell {
    /// Index into the run's [`Statuses`].
    status: u32,
    /// Milliseconds from the start of the run; NaN when there was no response.
    latency_ms: f32,
    attempts: u16,
}

impl Cell {
    /// A cell for `answer`, its status interned in `statuses`.
    pub(crate) fn of(answer: Answer, statuses: &mut Statuses) -> Self {
        Self {
            status: statuses.intern(answer.status, answer.vote),
            latency_ms: answer
                .latency
                .map(|d| ((d.as_secs_f64() * 1e4).round() / 10.0) as f32)
                .unwrap_or(f32::NAN),
            attempts: answer.attempts.min(u32::from(u16::MAX)) as u16,
        }
    }
}

/// The distinct statuses of a run, each with the vote it carries.
#[derive(Debug, Default)]
pub(crate) struct Statuses {
    list: Vec<(NodeStatus, Option<VoteValue>)>,
    index: HashMap<NodeStatus, u32>,
}

impl Statuses {
    /// The index of `status`, added when new.
    pub(crate) fn intern(&mut self, status: NodeStatus, vote: Option<VoteValue>) -> u32 {
        if let Some(&i) = self.index.get(&status) {
            return i;
        }
        let i = self.list.len() as u32;
        self.index.insert(status.clone(), i);
        self.list.push((status, vote));
        i
    }
}

/// A node as every transaction's report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Position in the configuration, 1-based.
    pub node: usize,
    /// The node's name, or its redacted URL.
    pub name: String,
    /// Scheme, host and port only.
    pub url: String,
    /// Its weight in the tally.
    pub weight: u64,
    /// The caller of its `eth_call`, when configured.
    pub from: Option<Address>,
    /// How the node was asked: through Multicall3, in batches, or one call
    /// per request. Absent when it was not asked (e.g. it lagged the pinned block).
    pub via: Option<Via>,
}

/// How a run went, beside the answers.
pub(crate) struct RunFacts {
    pub elapsed: std::time::Duration,
    pub interrupted: bool,
    /// With `--block pinned`: the block every node was read at.
    pub pinned_block: Option<u64>,
    /// Per node, how it was asked.
    pub vias: Vec<Option<Via>>,
}

/// The result of a run.
#[derive(Debug)]
pub struct Report {
    contract: Address,
    function: String,
    block: String,
    pinned_block: Option<u64>,
    chain_id: Option<u64>,
    threshold: ThresholdReport,
    total_weight: u128,
    elapsed_ms: f64,
    interrupted: bool,
    summary: Summary,
    uint_votes: bool,
    nodes: Vec<NodeInfo>,
    statuses: Vec<(NodeStatus, Option<VoteValue>)>,
    hashes: Vec<B256>,
    tallies: Vec<Tally>,
    /// `cells[tx * nodes + node]`.
    cells: Vec<Cell>,
}

impl Report {
    /// Assembles the report from the fan-out's cells (`cells[tx * nodes +
    /// node]`, every one filled) and tallies.
    pub(crate) fn build(
        config: &CheckConfig,
        statuses: Statuses,
        cells: Vec<Cell>,
        tallies: Vec<Tally>,
        run: RunFacts,
    ) -> Self {
        let RunFacts {
            elapsed,
            interrupted,
            pinned_block,
            vias,
        } = run;
        debug_assert_eq!(cells.len(), config.txs.len() * config.nodes.len());
        let mut summary = Summary::default();
        for tally in &tallies {
            match tally.verdict() {
                Verdict::Confirmed => summary.confirmed += 1,
                Verdict::Rejected => summary.rejected += 1,
                Verdict::Inconclusive => summary.inconclusive += 1,
            }
        }
        Self {
            contract: config.contract,
            function: config.function.signature(),
            block: config.block.to_string(),
            pinned_block,
            chain_id: config.chain_id,
            threshold: ThresholdReport {
                spec: config.threshold_spec.to_string(),
                value: config.threshold,
            },
            total_weight: config.total_weight,
            elapsed_ms: (elapsed.as_secs_f64() * 1e4).round() / 10.0,
            interrupted,
            summary,
            uint_votes: matches!(config.function.kind(), crate::abi::VoteKind::Uint(_)),
            nodes: config
                .nodes
                .iter()
                .zip(vias.into_iter().chain(std::iter::repeat(None)))
                .map(|(node, via)| NodeInfo {
                    node: node.index + 1,
                    name: node.label(),
                    url: node.url.redacted().to_string(),
                    weight: node.weight,
                    from: node.from,
                    via,
                })
                .collect(),
            statuses: statuses.list,
            hashes: config.txs.clone(),
            tallies,
            cells,
        }
    }

    /// The exit code: 0 all confirmed, 1 some rejected and none
    /// inconclusive, 3 some inconclusive.
    pub fn exit_code(&self) -> u8 {
        if self.summary.inconclusive > 0 {
            3
        } else if self.summary.rejected > 0 {
            1
        } else {
            0
        }
    }

    /// Counts of verdicts.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Whether Ctrl-C or SIGTERM ended the run.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Wall time of the fan-out, in milliseconds.
    pub fn elapsed_ms(&self) -> f64 {
        self.elapsed_ms
    }

    /// Whether the votes are uint weights (else bools).
    pub fn uint_votes(&self) -> bool {
        self.uint_votes
    }

    /// The nodes, in configuration order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are no transactions.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Transaction `index`.
    pub fn tx(&self, index: usize) -> TxView<'_> {
        TxView { report: self, index }
    }

    /// Every transaction, in the order given.
    pub fn txs(&self) -> impl ExactSizeIterator<Item = TxView<'_>> {
        (0..self.hashes.len()).map(|index| self.tx(index))
    }

    /// The whole report as owned data (the JSON document's shape).
    pub fn to_document(&self) -> CheckReport {
        CheckReport {
            schema_version: SCHEMA_VERSION,
            contract: self.contract,
            function: self.function.clone(),
            block: self.block.clone(),
            pinned_block: self.pinned_block,
            chain_id: self.chain_id,
            threshold: self.threshold.clone(),
            total_weight: self.total_weight,
            node_count: self.nodes.len(),
            elapsed_ms: self.elapsed_ms,
            interrupted: self.interrupted,
            summary: self.summary.clone(),
            nodes: self.nodes.clone(),
            txs: self.txs().map(|t| t.to_document()).collect(),
        }
    }
}

/// Reasons for inconclusive verdicts already written, by what they depend
/// on: the statuses of the unanswered nodes and the tally.
#[derive(Debug, Default)]
pub struct ReasonCache {
    seen: HashMap<(Vec<u32>, TallyKey), std::rc::Rc<str>>,
    last: Option<(Vec<u32>, TallyKey, std::rc::Rc<str>)>,
    scratch: Vec<u32>,
}

/// The numbers a reason quotes: yes, undecided, threshold.
type TallyKey = (u128, u128, u128);

/// One transaction of a [`Report`].
#[derive(Clone, Copy)]
pub struct TxView<'a> {
    report: &'a Report,
    index: usize,
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

    /// Node `node`'s latency in milliseconds, if it answered.
    pub fn latency_ms(&self, node: usize) -> Option<f64> {
        let ms = self.cell(node).latency_ms;
        (!ms.is_nan()).then(|| (f64::from(ms) * 10.0).round() / 10.0)
    }

    /// Like [`reason`](Self::reason), remembering reasons already written in
    /// `cache`: a million inconclusive transactions usually share a handful,
    /// and neighbours (one batch) usually share one.
    pub fn reason_cached(&self, cache: &mut ReasonCache) -> Option<std::rc::Rc<str>> {
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
            let unanswered = (0..self.report.nodes.len())
                .map(|n| &self.report.statuses[self.cell(n).status as usize])
                .filter(|(_, vote)| vote.is_none())
                .map(|(status, _)| status);
            inconclusive_reason(unanswered, self.tally())
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
            nodes: self.nodes().collect(),
        }
    }
}

/// The JSON document, written as [`CheckReport`] would be, without ever
/// holding more than one node's part in memory.
impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Doc<'a> {
            schema_version: u32,
            contract: Address,
            function: &'a str,
            block: &'a str,
            pinned_block: Option<u64>,
            chain_id: Option<u64>,
            threshold: &'a ThresholdReport,
            total_weight: u128,
            node_count: usize,
            elapsed_ms: f64,
            interrupted: bool,
            summary: &'a Summary,
            nodes: &'a [NodeInfo],
            txs: Txs<'a>,
        }
        struct Txs<'a>(&'a Report);
        impl Serialize for Txs<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                let mut reasons = ReasonCache::default();
                for tx in self.0.txs() {
                    seq.serialize_element(&TxDoc {
                        tx_hash: tx.tx_hash(),
                        verdict: tx.verdict(),
                        reason: tx.reason_cached(&mut reasons),
                        yes: tx.yes(),
                        no: tx.no(),
                        undecided: tx.undecided(),
                        threshold: tx.threshold(),
                        total_weight: tx.total_weight(),
                        nodes: Nodes(tx),
                    })?;
                }
                seq.end()
            }
        }
        #[derive(Serialize)]
        struct TxDoc<'a> {
            tx_hash: B256,
            verdict: Verdict,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<std::rc::Rc<str>>,
            yes: u128,
            no: u128,
            undecided: u128,
            threshold: u128,
            total_weight: u128,
            nodes: Nodes<'a>,
        }
        struct Nodes<'a>(TxView<'a>);
        impl Serialize for Nodes<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.report.nodes.len()))?;
                for node in self.0.nodes() {
                    seq.serialize_element(&node)?;
                }
                seq.end()
            }
        }
        Doc {
            schema_version: SCHEMA_VERSION,
            contract: self.contract,
            function: &self.function,
            block: &self.block,
            pinned_block: self.pinned_block,
            chain_id: self.chain_id,
            threshold: &self.threshold,
            total_weight: self.total_weight,
            node_count: self.nodes.len(),
            elapsed_ms: self.elapsed_ms,
            interrupted: self.interrupted,
            summary: &self.summary,
            nodes: &self.nodes,
            txs: Txs(self),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        abi::VoteFunction,
        config::{BlockSpec, Limits, nodes_from_urls},
        threshold::ThresholdSpec,
    };
    use std::time::Duration;

    fn config(txs: usize) -> CheckConfig {
        CheckConfig {
            nodes: nodes_from_urls(&["http://a:1".into(), "http://b:2".into(), "http://c:3".into()]).unwrap(),
            contract: Address::ZERO,
            function: VoteFunction::builtin(),
            txs: (0..txs).map(|i| B256::repeat_byte(i as u8)).collect(),
            threshold_spec: ThresholdSpec::Absolute(2),
            threshold: 2,
            total_weight: 3,
            block: BlockSpec::At(alloy::eips::BlockNumberOrTag::Latest),
            chain_id: None,
            limits: Limits {
                timeout: Duration::from_secs(1),
                deadline: Duration::from_secs(2),
                retries: 0,
                batch_size: 10,
                max_response_bytes: 1 << 20,
            },
            multicall: crate::check::multicall::Multicall::Auto,
            wait_all: false,
        }
    }

    #[test]
    fn the_compact_report_serialises_as_the_document() {
        let cfg = config(2);
        let mut statuses = Statuses::default();
        let mut cells = Vec::new();
        let mut tallies = Vec::new();
        for tx in 0..2 {
            let mut tally = Tally::new(2, 3, false);
            for node in 0..3 {
                let answer = if node == 2 && tx == 1 {
                    tally.record_failure(1);
                    Answer {
                        status: NodeStatus::ConnectError {
                            message: "refused".into(),
                        },
                        vote: None,
                        latency: Some(Duration::from_micros(1500)),
                        attempts: 3,
                    }
                } else {
                    let vote = VoteValue::Bool(node == 0);
                    tally.record_vote(1, vote);
                    Answer {
                        status: NodeStatus::Ok { vote: vote.into() },
                        vote: Some(vote),
                        latency: Some(Duration::from_millis(12)),
                        attempts: 1,
                    }
                };
                cells.push(Cell::of(answer, &mut statuses));
            }
            tallies.push(tally);
        }
        assert_eq!(statuses.list.len(), 3, "statuses are stored once");
        let report = Report::build(
            &cfg,
            statuses,
            cells,
            tallies,
            RunFacts {
                elapsed: Duration::from_millis(20),
                interrupted: false,
                pinned_block: None,
                vias: vec![Some(Via::Multicall), Some(Via::Batch), None],
            },
        );
        let streamed = serde_json::to_value(&report).unwrap();
        let owned = serde_json::to_value(report.to_document()).unwrap();
        assert_eq!(streamed, owned);
        let back: CheckReport = serde_json::from_value(streamed).unwrap();
        assert_eq!(back, report.to_document());
        assert_eq!(back.txs[1].nodes[2].attempts, 3);
        let vias: Vec<_> = back.nodes.iter().map(|n| n.via).collect();
        assert_eq!(vias, [Some(Via::Multicall), Some(Via::Batch), None]);
        assert_eq!(back.txs[1].nodes[2].latency_ms, Some(1.5));
        assert_eq!(back.txs[0].nodes[0].contribution, "1");
        assert_eq!(report.tx(1).verdict(), Verdict::Inconclusive);
        assert!(report.tx(1).reason().unwrap().contains("1 connect_error"));
        assert_eq!(report.exit_code(), 3);
        assert_eq!(std::mem::size_of::<Cell>(), 12);
    }
}
