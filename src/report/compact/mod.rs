//! The run's result in compact form. A check of a million hashes on ten nodes
//! has ten million answers: each is a 12-byte [`Cell`] (an index into the
//! run's distinct statuses, the latency, the attempts), and everything that
//! is the same for many answers — a node's name and URL, a status and its
//! message, the tally's threshold — is stored once. Renderers read it through
//! [`TxView`]; [`NodeReport`]s are made on the fly, one at a time.

use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::{Answer, CheckReport, NodeStatus, SCHEMA_VERSION, Summary, ThresholdReport, Via};
use crate::{
    abi::VoteValue,
    config::CheckConfig,
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
    /// The vote `cell`'s answer carries, if any.
    pub(crate) fn vote(&self, cell: &Cell) -> Option<VoteValue> {
        self.list.get(cell.status as usize).and_then(|(_, vote)| *vote)
    }

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
    /// Transactions on which a quorum formed while this node's valid answer
    /// was on the other side ([`crate::dissent`]).
    #[serde(default)]
    pub dissent: u64,
    /// Transactions for which this node gave no valid answer (a node not
    /// waited for is not counted).
    #[serde(default)]
    pub failed: u64,
}

/// How a run went, beside the answers.
pub(crate) struct RunFacts {
    pub elapsed: std::time::Duration,
    pub interrupted: bool,
    /// With `--block pinned`, when a node gave its head: where the votes were read.
    pub pins: Option<PinFacts>,
    /// Per node, how it was asked.
    pub vias: Vec<Option<Via>>,
}

/// Where a `--block pinned` run read the votes.
#[derive(Debug)]
pub(crate) struct PinFacts {
    /// The head the pin's lag is counted from: the highest that more than
    /// the spare weight of nodes reported (liars cannot raise it).
    pub head: u64,
    /// The blocks read at, in the order read (each lower than the one before).
    pub blocks: Vec<u64>,
    /// Per transaction, the index in `blocks` of the block its answers come from.
    pub read_at: Vec<u8>,
}

impl PinFacts {
    /// The lowest block any transaction's answers come from.
    fn lowest(&self) -> Option<u64> {
        let index = self.read_at.iter().max().copied().unwrap_or(0);
        self.blocks.get(usize::from(index)).copied()
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct Report {
    contract: Address,
    function: String,
    block: String,
    pins: Option<PinFacts>,
    /// The lowest block read at, with `--block pinned`.
    pinned_block: Option<u64>,
    chain_id: Option<u64>,
    threshold: ThresholdReport,
    total_weight: u128,
    elapsed_ms: f64,
    interrupted: bool,
    summary: Summary,
    uint_votes: bool,
    /// Transactions on which a quorum formed.
    quorums: u64,
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
            pins,
            vias,
        } = run;
        debug_assert!(pins.as_ref().is_none_or(|p| p.read_at.len() == config.txs.len()));
        let pinned_block = pins.as_ref().and_then(PinFacts::lowest);
        debug_assert_eq!(cells.len(), config.txs.len() * config.nodes.len());
        let node_count = config.nodes.len();
        let mut dissent = crate::dissent::Counts::new(node_count);
        for (tally, row) in tallies.iter().zip(cells.chunks(node_count.max(1))) {
            let answers = row.iter().map(|cell| {
                let (status, vote) = &statuses.list[cell.status as usize];
                answer_of(status, *vote)
            });
            dissent.add(tally.yes(), tally.no(), tally.threshold(), answers);
        }
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
            pins,
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
            quorums: dissent.quorums,
            nodes: config
                .nodes
                .iter()
                .zip(vias.into_iter().chain(std::iter::repeat(None)))
                .zip(dissent.nodes)
                .map(|((node, via), counts)| NodeInfo {
                    node: node.index + 1,
                    name: node.label(),
                    url: node.url.redacted().to_string(),
                    weight: node.weight,
                    from: node.from,
                    via,
                    dissent: counts.dissent,
                    failed: counts.failed,
                })
                .collect(),
            statuses: statuses.list,
            hashes: config.txs.clone(),
            tallies,
            cells,
        }
    }

    /// The exit status: success when all are confirmed, rejected when some
    /// are rejected and none inconclusive, inconclusive when some are.
    pub fn exit_code(&self) -> crate::ExitStatus {
        crate::ExitStatus::of_verdicts(self.summary.rejected, self.summary.inconclusive)
    }

    /// With `--block pinned`: the block the votes were read at — when
    /// transactions were read at different blocks, the lowest (each
    /// transaction's [`TxView::pinned_block`] says which). `None` without a
    /// pin, or when no node gave its head.
    pub fn pinned_block(&self) -> Option<u64> {
        self.pinned_block
    }

    /// With `--block pinned`: the head the pin's lag is counted from — the
    /// highest that more than total weight − threshold of nodes reported,
    /// so that nodes lying about their head cannot raise it.
    pub fn pinned_head(&self) -> Option<u64> {
        self.pins.as_ref().map(|p| p.head)
    }

    /// With `--block pinned`: how many blocks [`pinned_block`](Self::pinned_block)
    /// is below [`pinned_head`](Self::pinned_head) (0 when not below it).
    pub fn pinned_lag(&self) -> Option<u64> {
        Some(self.pinned_head()?.saturating_sub(self.pinned_block?))
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

    /// Transactions on which a quorum formed (yes- or no-weight reached the
    /// threshold): what each node's [`NodeInfo::dissent`] is out of.
    pub fn quorums(&self) -> u64 {
        self.quorums
    }

    /// The block read, as given (`latest`, a number, `pinned`, …).
    pub fn block(&self) -> &str {
        &self.block
    }

    /// The expected chain (`--chain-id`), if any.
    pub fn chain_id(&self) -> Option<u64> {
        self.chain_id
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

    /// The verdict for `tx_hash`, if it was checked. Use this to look up
    /// the hashes you passed: the report lists each hash once.
    pub fn get(&self, tx_hash: &B256) -> Option<TxView<'_>> {
        self.hashes
            .iter()
            .position(|h| h == tx_hash)
            .map(|index| self.tx(index))
    }

    /// Transaction `index` of the checked list: the hashes in the order
    /// first given, each once (a hash given twice is asked and listed once,
    /// so an index into the caller's own slice may not match; see
    /// [`get`](Self::get)). Panics when `index >= len()`.
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
            pinned_lag: self.pinned_lag(),
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

/// What a node's answer was, as far as dissent goes: a valid vote (a zero
/// weight is a no, as in the tally), nothing known (not waited for), or a
/// failure.
pub(crate) fn answer_of(status: &NodeStatus, vote: Option<VoteValue>) -> crate::dissent::Answer {
    use crate::dissent::{Answer, Side};
    match (status, vote) {
        (NodeStatus::Skipped | NodeStatus::Interrupted, _) => Answer::NotWaitedFor,
        (NodeStatus::Ok { .. }, Some(vote)) => Answer::Valid(if vote.is_no() { Side::No } else { Side::Yes }),
        _ => Answer::Failed,
    }
}

mod stream;
mod view;

pub(crate) use view::ReasonCache;
pub use view::TxView;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::{BlockSpec, CheckParts, Limits, nodes_from_urls},
        threshold::Threshold,
    };
    use std::time::Duration;

    fn config(txs: usize) -> CheckConfig {
        let nodes = nodes_from_urls(&["http://a:1".into(), "http://b:2".into(), "http://c:3".into()]).unwrap();
        CheckConfig::new(CheckParts {
            txs: (0..txs).map(|i| B256::repeat_byte(i as u8)).collect(),
            threshold: Threshold::Absolute(2),
            limits: Limits {
                timeout: Duration::from_secs(1),
                deadline: Duration::from_secs(2),
                retries: 0,
                batch_size: 10,
                max_response_bytes: 1 << 20,
            },
            ..CheckParts::new(nodes, Address::ZERO)
        })
        .unwrap()
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
                pins: None,
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
        assert_eq!(report.exit_code(), crate::ExitStatus::Inconclusive);
        assert_eq!(std::mem::size_of::<Cell>(), 12);
    }

    #[test]
    fn pinned_blocks_per_transaction_serialise_as_the_document() {
        let mut cfg = config(3);
        cfg.block = BlockSpec::Pinned;
        let mut statuses = Statuses::default();
        let yes = VoteValue::Bool(true);
        let ok = Cell::of(
            Answer {
                status: NodeStatus::Ok { vote: yes.into() },
                vote: Some(yes),
                latency: Some(Duration::from_millis(3)),
                attempts: 1,
            },
            &mut statuses,
        );
        assert_eq!(statuses.vote(&ok), Some(yes));
        let mut tally = Tally::new(2, 3, false);
        for _ in 0..3 {
            tally.record_vote(1, yes);
        }
        // Read at 105, then again at 103 and 101: tx 1 at 101, the others at 105.
        let pins = PinFacts {
            head: 106,
            blocks: vec![105, 103, 101],
            read_at: vec![0, 2, 0],
        };
        let run = RunFacts {
            elapsed: Duration::from_millis(20),
            interrupted: false,
            pins: Some(pins),
            vias: vec![None; 3],
        };
        let report = Report::build(&cfg, statuses, vec![ok; 9], vec![tally; 3], run);
        assert_eq!((report.pinned_block(), report.pinned_lag()), (Some(101), Some(5)));
        assert_eq!(report.pinned_head(), Some(106));
        let per_tx: Vec<_> = report.txs().map(|t| t.pinned_block()).collect();
        assert_eq!(per_tx, [Some(105), Some(101), Some(105)]);
        let streamed = serde_json::to_value(&report).unwrap();
        assert_eq!(streamed, serde_json::to_value(report.to_document()).unwrap());
        assert_eq!(
            (&streamed["pinned_block"], &streamed["pinned_lag"]),
            (&101.into(), &5.into())
        );
        assert_eq!(streamed["txs"][1]["pinned_block"], 101);
        let back: CheckReport = serde_json::from_value(streamed).unwrap();
        assert_eq!(back, report.to_document());
        assert_eq!(back.txs[2].pinned_block, Some(105));

        // Without a pin: no per-transaction block, nulls at the top.
        let unpinned = serde_json::to_value(Report::build(
            &config(0),
            Statuses::default(),
            vec![],
            vec![],
            RunFacts {
                elapsed: Duration::ZERO,
                interrupted: false,
                pins: None,
                vias: vec![],
            },
        ))
        .unwrap();
        assert_eq!(unpinned["pinned_lag"], serde_json::Value::Null);
    }
}
