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

/// What the run asked, in the words of a diagnosis: the contract, the vote
/// function and the expected chain.
pub(crate) struct Asked<'a> {
    pub contract: Address,
    pub function: &'a str,
    pub chain_id: Option<u64>,
}

/// Why an inconclusive verdict is one: the statuses of the nodes without a
/// valid answer, counted — or, when no node gave a valid answer and every
/// node that answered at all reports the same configuration failure, that
/// cause (see [`configuration_diagnosis`]).
pub(crate) fn inconclusive_reason<'a>(
    unanswered: impl Iterator<Item = &'a NodeStatus> + Clone,
    nobody_voted: bool,
    tally: &Tally,
    asked: &Asked<'_>,
) -> String {
    if nobody_voted && let Some(diagnosis) = configuration_diagnosis(unanswered.clone(), asked) {
        return diagnosis;
    }
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

/// The cause, when every node that answered reports one and the same
/// configuration failure: nothing at the contract address, another chain,
/// no such function. Nodes that did not answer (timeouts, connection, HTTP
/// and TLS errors, skipped, interrupted, lagging) neither make nor break a
/// diagnosis; any other answer (a revert, an RPC error, a bad response)
/// means the configuration is not the whole story, and there is none.
pub(crate) fn configuration_diagnosis<'a>(
    statuses: impl Iterator<Item = &'a NodeStatus>,
    asked: &Asked<'_>,
) -> Option<String> {
    #[derive(PartialEq)]
    enum Kind {
        NoContract,
        NoFunction,
        WrongChain,
    }
    let mut kind = None;
    let mut chains: Vec<u64> = Vec::new();
    for status in statuses {
        let this = match status {
            NodeStatus::NoContract => Kind::NoContract,
            NodeStatus::NoFunction => Kind::NoFunction,
            NodeStatus::WrongChain { chain_id } => {
                if !chains.contains(chain_id) {
                    chains.push(*chain_id);
                }
                Kind::WrongChain
            }
            NodeStatus::Timeout
            | NodeStatus::ConnectError { .. }
            | NodeStatus::HttpError { .. }
            | NodeStatus::TlsError { .. }
            | NodeStatus::Skipped
            | NodeStatus::Interrupted
            | NodeStatus::Lagging { .. } => continue,
            _ => return None,
        };
        match &kind {
            None => kind = Some(this),
            Some(seen) if *seen == this => {}
            Some(_) => return None,
        }
    }
    Some(match kind? {
        Kind::NoContract => format!(
            "no node has code at {} (check --contract and --chain-id)",
            asked.contract.to_checksum(None)
        ),
        Kind::NoFunction => format!("no node's contract has {} (check --function and --abi)", asked.function),
        Kind::WrongChain => {
            let expected = asked.chain_id.map(|c| format!(", not {c}")).unwrap_or_default();
            chains.sort_unstable();
            if let [chain] = chains.as_slice() {
                format!("every node is on chain {chain}{expected} (check --chain-id and the node URLs)")
            } else {
                let list: Vec<String> = chains.iter().map(u64::to_string).collect();
                format!(
                    "no node is on the expected chain{} (they are on chains {}; check --chain-id and the node URLs)",
                    asked.chain_id.map(|c| format!(" {c}")).unwrap_or_default(),
                    list.join(", ")
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Asked<'static> {
        Asked {
            contract: Address::repeat_byte(0x11),
            function: "vote(bytes32)",
            chain_id: Some(1),
        }
    }

    fn diagnose(statuses: &[NodeStatus]) -> Option<String> {
        configuration_diagnosis(statuses.iter(), &asked())
    }

    #[test]
    fn one_configuration_failure_everywhere_is_named() {
        let no_code = diagnose(&[NodeStatus::NoContract, NodeStatus::NoContract, NodeStatus::Timeout]).unwrap();
        assert_eq!(
            no_code,
            "no node has code at 0x1111111111111111111111111111111111111111 (check --contract and --chain-id)"
        );
        let no_function = diagnose(&[NodeStatus::NoFunction, NodeStatus::Skipped]).unwrap();
        assert!(
            no_function.starts_with("no node's contract has vote(bytes32)"),
            "{no_function}"
        );
        let chain = diagnose(&[
            NodeStatus::WrongChain { chain_id: 31337 },
            NodeStatus::WrongChain { chain_id: 31337 },
        ])
        .unwrap();
        assert!(chain.starts_with("every node is on chain 31337, not 1 "), "{chain}");
        let chains = diagnose(&[
            NodeStatus::WrongChain { chain_id: 31337 },
            NodeStatus::WrongChain { chain_id: 5 },
        ])
        .unwrap();
        assert!(
            chains.starts_with("no node is on the expected chain 1 (they are on chains 5, 31337;"),
            "{chains}"
        );
    }

    #[test]
    fn mixed_or_other_answers_are_not_diagnosed() {
        assert_eq!(diagnose(&[NodeStatus::NoContract, NodeStatus::NoFunction]), None);
        let reverted = NodeStatus::Reverted { reason: "x".into() };
        assert_eq!(diagnose(&[NodeStatus::NoContract, reverted]), None);
        // Nobody answered at all: that is not a configuration diagnosis.
        assert_eq!(diagnose(&[NodeStatus::Timeout, NodeStatus::Timeout]), None);
        assert_eq!(diagnose(&[]), None);
    }

    #[test]
    fn a_valid_vote_keeps_the_counting_reason() {
        let tally = Tally::new(2, 3, false);
        let statuses = [NodeStatus::NoContract];
        let counted = inconclusive_reason(statuses.iter(), false, &tally, &asked());
        assert!(counted.contains("could still reach it"), "{counted}");
        let named = inconclusive_reason(statuses.iter(), true, &tally, &asked());
        assert!(named.starts_with("no node has code"), "{named}");
    }
}
