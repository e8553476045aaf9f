//! What a scan round found, as data: the hashes (in order of first
//! appearance, with the nodes that reported them), every node's part
//! (status, requests, logs, missing, the range it accepts), and the blocks
//! that could not be covered. Serialised, it is `scan --format json`.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::{coverage::Blocks, event::VoteEvent, node::Scanned, union::Union};
use crate::{config::Node, report::NodeStatus};

/// The JSON document's shape.
pub const SCAN_SCHEMA_VERSION: u32 = 1;

/// Blocks `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpan {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
}

/// A transaction hash found in the vote events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanTx {
    /// The hash.
    pub tx_hash: B256,
    /// The block of its first vote log.
    pub first_block: u64,
    /// The nodes (names) that reported it.
    pub seen_by: Vec<String>,
}

/// One node's part in a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanNode {
    /// Its name, or its redacted URL.
    pub node: String,
    /// `ok`, or why it stopped (`timeout`, `rpc_error`, `bad_response`, `wrong_chain`, …).
    pub status: String,
    /// What went wrong, when something did (scrubbed of the node's secrets).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// HTTP requests made to it.
    pub requests: u32,
    /// Valid vote logs it returned.
    pub logs: u64,
    /// Hashes other nodes reported in blocks it answered, that it did not.
    pub missing: u64,
    /// Blocks per `eth_getLogs` it was last seen to accept.
    pub range: Option<u64>,
    /// The blocks it answered.
    pub scanned: Option<BlockSpan>,
    /// Its remembered block's hash changed: the scan started earlier.
    pub reorg: bool,
}

/// A scan round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanReport {
    /// [`SCAN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The contract.
    pub contract: Address,
    /// The event's full signature.
    pub event: String,
    /// First block asked for.
    pub from_block: u64,
    /// Last block asked for (`None` when no node told its head).
    pub to_block: Option<u64>,
    /// Every block from `from_block` to `to_block` was covered (false when
    /// no node told its head: nothing was scanned).
    pub complete: bool,
    /// The blocks that were not.
    pub uncovered: Vec<BlockSpan>,
    /// Wall time of the round.
    pub elapsed_ms: f64,
    /// The hashes, in order of first appearance.
    pub txs: Vec<ScanTx>,
    /// Every node, in configuration order.
    pub nodes: Vec<ScanNode>,
}

impl ScanReport {
    /// Success when the whole range was covered, inconclusive when part of it was not.
    pub fn exit_code(&self) -> crate::ExitStatus {
        if self.complete {
            crate::ExitStatus::Success
        } else {
            crate::ExitStatus::Inconclusive
        }
    }
}

/// Collects a round's facts, node by node.
pub(super) struct Builder {
    contract: Address,
    event: String,
    names: Vec<String>,
    nodes: Vec<ScanNode>,
    txs: Vec<ScanTx>,
}

impl Builder {
    pub(super) fn new(nodes: &[Node], event: &VoteEvent, contract: Address) -> Self {
        let names: Vec<String> = nodes.iter().map(Node::label).collect();
        Self {
            contract,
            event: event.full_signature(),
            nodes: names
                .iter()
                .map(|name| ScanNode {
                    node: name.clone(),
                    status: "ok".into(),
                    error: None,
                    requests: 0,
                    logs: 0,
                    missing: 0,
                    range: None,
                    scanned: None,
                    reorg: false,
                })
                .collect(),
            names,
            txs: Vec::new(),
        }
    }

    pub(super) fn requests(&mut self, node: usize, n: u32) {
        self.nodes[node].requests = self.nodes[node].requests.saturating_add(n);
    }

    pub(super) fn failed(&mut self, node: usize, status: NodeStatus) {
        let n = &mut self.nodes[node];
        n.status = status.name().into();
        n.error = status.detail().or(match status {
            NodeStatus::WrongChain { chain_id } => Some(format!("serves chain {chain_id}")),
            _ => None,
        });
    }

    pub(super) fn reorg(&mut self, node: usize) {
        self.nodes[node].reorg = true;
    }

    pub(super) fn scanned(&mut self, node: usize, scanned: &Scanned, missing: u64, range: u64) {
        self.requests(node, scanned.requests);
        let n = &mut self.nodes[node];
        n.logs = scanned.logs;
        n.missing = missing;
        n.scanned = scanned.answered.as_ref().map(|a| BlockSpan {
            from: *a.start(),
            to: *a.end(),
        });
        if n.scanned.is_some() {
            n.range = Some(range);
        }
        if let Some(status) = &scanned.failure {
            self.failed(node, status.clone());
        }
    }

    pub(super) fn txs(&mut self, union: &Union) {
        self.txs = union
            .in_order()
            .into_iter()
            .map(|f| ScanTx {
                tx_hash: f.tx_hash,
                first_block: f.first_block,
                seen_by: f.seen_by.iter().map(|&i| self.names[i].clone()).collect(),
            })
            .collect();
    }

    pub(super) fn build(self, from: u64, to: Option<u64>, gaps: Blocks, elapsed: Duration) -> ScanReport {
        let uncovered: Vec<BlockSpan> = gaps
            .iter()
            .map(|g| BlockSpan {
                from: *g.start(),
                to: *g.end(),
            })
            .collect();
        ScanReport {
            schema_version: SCAN_SCHEMA_VERSION,
            contract: self.contract,
            event: self.event,
            from_block: from,
            to_block: to,
            // Without a last block nothing could be scanned.
            complete: to.is_some() && uncovered.is_empty(),
            uncovered,
            elapsed_ms: (elapsed.as_secs_f64() * 1e3 * 10.0).round() / 10.0,
            txs: self.txs,
            nodes: self.nodes,
        }
    }
}
