//! The result of a check as data: per transaction the verdict, the tally and
//! every node's answer. The fan-out fills a compact [`Report`] (one small
//! cell per transaction and node, the distinct statuses stored once, so a
//! million hashes fit in memory); [`crate::render`] reads it through views.
//! Its serde form is the JSON schema (`schema_version` 1, documented in the
//! README), the same as the owned document types below ([`CheckReport`] and
//! its parts), which read such a document back: fields may be added, never
//! renamed.

mod compact;

pub(crate) use compact::{Cell, PinFacts, RunFacts, Statuses};
pub use compact::{NodeInfo, ReasonCache, Report, TxView};

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::{
    abi::VoteValue,
    tally::{Tally, Verdict},
};

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// What one node answered for one transaction. Serialised with a `status`
/// tag, e.g. `{"status": "http_error", "http_status": 429}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeStatus {
    /// A valid vote.
    Ok {
        /// The vote.
        vote: VoteJson,
    },
    /// No answer within the node's time budget.
    Timeout,
    /// The connection failed or broke.
    ConnectError {
        /// Why (never the URL).
        message: String,
    },
    /// The node answered with a non-success HTTP status (a redirect included:
    /// redirects are never followed).
    HttpError {
        /// The status code.
        http_status: u16,
        /// Why, when more is known than the status (e.g. "redirect to another URL not followed").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The TLS connection failed: untrusted or wrong certificate, or the
    /// wrong scheme for the port. Not retried.
    TlsError {
        /// Why, in plain English.
        message: String,
    },
    /// The node answered with a JSON-RPC error.
    RpcError {
        /// The error code.
        code: i64,
        /// The node's message (cleaned, keys masked).
        message: String,
    },
    /// The call reverted.
    Reverted {
        /// The decoded reason: `Error("…")`, a panic, a custom error of the ABI, or the node's message.
        reason: String,
    },
    /// Nothing is deployed at the contract address on this node.
    NoContract,
    /// The contract exists but answered the call with no data: it has no such function.
    NoFunction,
    /// An answer that is not a valid vote.
    BadResponse {
        /// What is wrong with it.
        reason: String,
    },
    /// The node serves another chain than `--chain-id`.
    WrongChain {
        /// The chain the node serves.
        chain_id: u64,
    },
    /// Not waited for: every verdict was settled before this node answered.
    Skipped,
    /// The run was interrupted (Ctrl-C, SIGTERM) before this node answered.
    Interrupted,
    /// With `--block pinned`: the node's head is behind the block the
    /// transaction was read at (a node more than `--max-pin-lag` behind the
    /// nodes' head always is: it never pulls that block down).
    Lagging {
        /// The node's head block.
        head: u64,
        /// Blocks behind the pinned block.
        lag: u64,
    },
}

impl NodeStatus {
    /// The `status` tag, as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ok { .. } => "ok",
            Self::Timeout => "timeout",
            Self::ConnectError { .. } => "connect_error",
            Self::HttpError { .. } => "http_error",
            Self::TlsError { .. } => "tls_error",
            Self::RpcError { .. } => "rpc_error",
            Self::Reverted { .. } => "reverted",
            Self::NoContract => "no_contract",
            Self::NoFunction => "no_function",
            Self::BadResponse { .. } => "bad_response",
            Self::WrongChain { .. } => "wrong_chain",
            Self::Skipped => "skipped",
            Self::Interrupted => "interrupted",
            Self::Lagging { .. } => "lagging",
        }
    }

    /// A one-line explanation for anything but `ok`.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Ok { .. } | Self::Skipped | Self::Interrupted | Self::Timeout => None,
            Self::ConnectError { message } => Some(message.clone()),
            Self::HttpError {
                http_status,
                reason: None,
            } => Some(format!("HTTP {http_status}")),
            Self::HttpError {
                http_status,
                reason: Some(reason),
            } => Some(format!("HTTP {http_status}: {reason}")),
            Self::TlsError { message } => Some(message.clone()),
            Self::RpcError { code, message } => Some(format!("{code}: {message}")),
            Self::Reverted { reason } => Some(reason.clone()),
            Self::NoContract => Some("no code at the contract address".into()),
            Self::NoFunction => Some("contract has code but returned no data for the function".into()),
            Self::BadResponse { reason } => Some(reason.clone()),
            Self::WrongChain { chain_id } => Some(format!("chain id {chain_id}")),
            Self::Lagging { head, lag } => Some(format!("head {head}, {lag} blocks behind the pinned block")),
        }
    }
}

/// A vote as it appears in JSON: `true`/`false`, or a uint as a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VoteJson {
    /// A yes or no.
    Bool(bool),
    /// A weight, in decimal.
    Uint(String),
}

impl From<VoteValue> for VoteJson {
    fn from(v: VoteValue) -> Self {
        match v {
            VoteValue::Bool(b) => Self::Bool(b),
            VoteValue::Uint(u) => Self::Uint(u.to_string()),
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
    pub yes: u128,
    /// Weight of the nodes that answered no.
    pub no: u128,
    /// Weight of the nodes without a valid answer.
    pub undecided: u128,
    /// Yes-weight needed to confirm.
    pub threshold: u128,
    /// Sum of the nodes' weights.
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
    /// The exit code: 0 all confirmed, 1 some rejected and none inconclusive,
    /// 3 some inconclusive.
    pub fn exit_code(&self) -> u8 {
        if self.summary.inconclusive > 0 {
            3
        } else if self.summary.rejected > 0 {
            1
        } else {
            0
        }
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
