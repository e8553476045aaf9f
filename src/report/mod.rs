//! The result of a check as data: per transaction the verdict, the tally and
//! every node's answer. The fan-out fills a compact [`Report`] (one small
//! cell per transaction and node, the distinct statuses stored once, so a
//! million hashes fit in memory); [`crate::render`] reads it through views.
//! Its serde form is the JSON schema (`schema_version` 1, documented in the
//! README), the same as the owned document types below ([`CheckReport`] and
//! its parts), which read such a document back: fields may be added, never
//! renamed.

mod compact;
mod status;
pub mod weight;

pub(crate) use compact::ReasonCache;
pub(crate) use compact::{Cell, PinFacts, RunFacts, Statuses};
pub use compact::{NodeInfo, Report, TxView};
pub use status::{NodeStatus, VoteJson};

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::{
    abi::VoteValue,
    tally::{Tally, Verdict},
};

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Which way a node was asked, as the JSON report's `via` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `aggregate3` calls, batched.
    Multicall,
    /// Plain `eth_call`s in JSON-RPC batches.
    Batch,
    /// Plain `eth_call`s, one request each (the node refuses batches, or `--batch-size 1`).
    Single,
}

impl Via {
    /// As in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Multicall => "multicall",
            Self::Batch => "batch",
            Self::Single => "single",
        }
    }
}

/// One node's part in one transaction's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeReport {
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
    /// What it answered (flattened: `status` and that status's fields).
    #[serde(flatten)]
    pub status: NodeStatus,
    /// Weight this answer added to "yes" (as a decimal string: uint votes can be huge).
    pub contribution: String,
    /// Milliseconds from the start of the run to this node's answer.
    pub latency_ms: Option<f64>,
    /// HTTP requests made for this answer (more than 1 when retried).
    pub attempts: u32,
}

/// The verdict for one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TxReport {
    /// The transaction hash.
    pub tx_hash: B256,
    /// Confirmed, rejected or inconclusive.
    pub verdict: Verdict,
    /// Why the verdict is inconclusive; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Sum of the contributions to yes.
    #[serde(with = "weight")]
    pub yes: u128,
    /// Weight of the nodes that answered no.
    #[serde(with = "weight")]
    pub no: u128,
    /// Weight of the nodes without a valid answer.
    #[serde(with = "weight")]
    pub undecided: u128,
    /// Yes-weight needed to confirm.
    #[serde(with = "weight")]
    pub threshold: u128,
    /// Sum of the nodes' weights.
    #[serde(with = "weight")]
    pub total_weight: u128,
    /// With `--block pinned`: the block this transaction's answers were read
    /// at (absent without a pin, or when no node gave its head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_block: Option<u64>,
    /// Every node's answer, in configuration order.
    pub nodes: Vec<NodeReport>,
}

/// How the threshold was given and what it came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThresholdReport {
    /// As given (`7`, `majority`, `2/3`, …).
    pub spec: String,
    /// The yes-weight it resolved to.
    #[serde(with = "weight")]
    pub value: u128,
}

/// Counts of verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Transactions confirmed.
    pub confirmed: usize,
    /// Transactions rejected.
    pub rejected: usize,
    /// Transactions inconclusive.
    pub inconclusive: usize,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The document's shape ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The voting contract.
    pub contract: Address,
    /// The vote function's signature.
    pub function: String,
    /// The block read (`latest`, a number, `pinned`, …).
    pub block: String,
    /// With `--block pinned`: the block the votes were read at — when
    /// transactions were read at different blocks, the lowest (each
    /// transaction's `pinned_block` says which); null without a pin, or when
    /// no node gave its head.
    pub pinned_block: Option<u64>,
    /// With `--block pinned`: how many blocks `pinned_block` is below the
    /// nodes' head (the highest head that more than total weight − threshold
    /// of nodes reported); null when `pinned_block` is.
    #[serde(default)]
    pub pinned_lag: Option<u64>,
    /// The expected chain (`--chain-id`), if any.
    pub chain_id: Option<u64>,
    /// The threshold.
    pub threshold: ThresholdReport,
    /// Sum of the nodes' weights.
    #[serde(with = "weight")]
    pub total_weight: u128,
    /// Number of nodes.
    pub node_count: usize,
    /// Wall time of the fan-out.
    pub elapsed_ms: f64,
    /// The run was stopped by Ctrl-C/SIGTERM (or a cancel).
    pub interrupted: bool,
    /// Counts of verdicts.
    pub summary: Summary,
    /// Every node once, with how it was asked (`via`).
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
    /// Every transaction's verdict.
    pub txs: Vec<TxReport>,
}

impl CheckReport {
    /// The exit status: success when all are confirmed, rejected when some
    /// are rejected and none inconclusive, inconclusive when some are.
    pub fn exit_code(&self) -> crate::ExitStatus {
        crate::ExitStatus::of_verdicts(self.summary.rejected, self.summary.inconclusive)
    }
}

/// One node's answer for one transaction, as the fan-out collected it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: NodeStatus,
    pub vote: Option<VoteValue>,
    pub latency: Option<Duration>,
    pub attempts: u32,
}

impl Answer {
    /// An answer that came from no response at all (skipped, interrupted, …).
    pub fn without_response(status: NodeStatus) -> Self {
        Self {
            status,
            vote: None,
            latency: None,
            attempts: 0,
        }
    }
}

/// Why an inconclusive verdict is one: the statuses of the nodes without a
/// valid answer, counted.
pub(crate) fn inconclusive_reason<'a>(unanswered: impl Iterator<Item = &'a NodeStatus>, tally: &Tally) -> String {
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for status in unanswered {
        *by_status.entry(status.name()).or_default() += 1;
    }
    let count: usize = by_status.values().sum();
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!(
        "{count} node(s) with weight {} gave no valid answer ({}); yes {} is short of threshold {}, but their votes could still reach it",
        tally.undecided(),
        statuses.join(", "),
        tally.yes(),
        tally.threshold()
    )
}
