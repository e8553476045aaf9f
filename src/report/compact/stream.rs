//! The report as its JSON document, streamed: the same bytes as serialising
//! a [`CheckReport`](crate::report::CheckReport), without ever holding more
//! than one node's part in memory.

use alloy::primitives::{Address, B256};
use serde::{Serialize, ser::SerializeSeq};

use super::{NodeInfo, ReasonCache, Report, TxView};
use crate::{
    report::{SCHEMA_VERSION, Summary, ThresholdReport},
    tally::Verdict,
};

/// The JSON document, written as [`CheckReport`](crate::report::CheckReport) would be, without ever
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
            pinned_lag: Option<u64>,
            chain_id: Option<u64>,
            threshold: &'a ThresholdReport,
            #[serde(with = "crate::report::weight")]
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
                        pinned_block: tx.pinned_block(),
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
            #[serde(with = "crate::report::weight")]
            yes: u128,
            #[serde(with = "crate::report::weight")]
            no: u128,
            #[serde(with = "crate::report::weight")]
            undecided: u128,
            #[serde(with = "crate::report::weight")]
            threshold: u128,
            #[serde(with = "crate::report::weight")]
            total_weight: u128,
            #[serde(skip_serializing_if = "Option::is_none")]
            pinned_block: Option<u64>,
            nodes: Nodes<'a>,
        }
        struct Nodes<'a>(TxView<'a>);
        impl Serialize for Nodes<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.node_count()))?;
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
            pinned_lag: self.pinned_lag(),
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
