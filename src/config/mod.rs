//! Validated settings for a check: the nodes (from `--rpc` or a nodes file),
//! the transaction hashes, the vote function and the resolved threshold.
//! Everything a user can get wrong is caught here, before any network call,
//! with an error that names the culprit — and never prints a node's URL.

mod block;
mod hashes;
mod multicall;
mod node;

pub use block::BlockSpec;
pub(crate) use hashes::unique_hashes;
pub use hashes::{load_tx_file, load_tx_file_within, parse_tx_lines};
pub use multicall::{CANONICAL, Multicall};
pub use node::{Headers, Node, NodeSource, check_distinct, nodes_from_urls};

use std::time::Duration;

use alloy::primitives::{Address, B256};

use crate::{abi::VoteFunction, threshold::ThresholdSpec};

/// Everything a check needs, validated: built by [`CheckerBuilder`](crate::CheckerBuilder)
/// or the command line, never field by field (the threshold, the total
/// weight and the nodes must agree).
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The nodes, in configuration order (`index` = position).
    pub(crate) nodes: Vec<Node>,
    /// The voting contract.
    pub(crate) contract: Address,
    /// The vote function.
    pub(crate) function: VoteFunction,
    /// The transaction hashes, without duplicates.
    pub(crate) txs: Vec<B256>,
    /// The threshold as given.
    pub(crate) threshold_spec: ThresholdSpec,
    /// Absolute yes-weight needed.
    pub(crate) threshold: u128,
    /// Sum of the nodes' weights.
    pub(crate) total_weight: u128,
    /// The block to read at.
    pub(crate) block: BlockSpec,
    /// With `--block pinned`: nodes more than this many blocks behind the
    /// nodes' head are `lagging`, never a reason to read further back.
    pub(crate) max_pin_lag: u64,
    /// The expected chain; nodes on another are `wrong_chain`.
    pub(crate) chain_id: Option<u64>,
    /// Time, retry and size bounds.
    pub(crate) limits: Limits,
    /// Whether (and where) to read votes through Multicall3.
    pub(crate) multicall: crate::config::Multicall,
    /// Wait for every node even once every verdict is settled.
    pub(crate) wait_all: bool,
}

/// Bounds on the work done per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A node's whole budget, retries included.
    pub(crate) timeout: Duration,
    /// The run's budget.
    pub(crate) deadline: Duration,
    /// Retries of transient failures.
    pub(crate) retries: u32,
    /// Entries per JSON-RPC request, `eth_chainId` included.
    pub(crate) batch_size: usize,
    /// Largest accepted answer, decoded.
    pub(crate) max_response_bytes: u64,
}

/// `--max-pin-lag` when none is given: how far behind the nodes' head a
/// pinned read may go (64 blocks: about 13 minutes on Ethereum mainnet).
pub const DEFAULT_MAX_PIN_LAG: u64 = 64;

/// A run's budget when none is given: a node's whole budget plus a second
/// to write the report.
pub(crate) fn default_deadline(timeout: Duration) -> Duration {
    timeout.saturating_add(Duration::from_secs(1))
}

/// The nodes' total weight and the yes-weight `spec` needs of it (a relative
/// threshold cannot be used with uint votes).
pub(crate) fn weights(
    nodes: &[Node],
    function: &VoteFunction,
    spec: ThresholdSpec,
) -> Result<(u128, u128), crate::threshold::ThresholdError> {
    let total: u128 = nodes.iter().map(|n| u128::from(n.weight)).sum();
    let uint_votes = matches!(function.kind(), crate::abi::VoteKind::Uint(_));
    Ok((total, spec.resolve(total, uint_votes)?))
}

impl CheckConfig {
    /// Whether the votes are uint weights (else bools).
    pub(crate) fn uint_votes(&self) -> bool {
        matches!(self.function.kind(), crate::abi::VoteKind::Uint(_))
    }

    /// An empty tally against this configuration's threshold and weights.
    pub(crate) fn new_tally(&self) -> crate::tally::Tally {
        crate::tally::Tally::new(self.threshold, self.total_weight, self.uint_votes())
    }

    /// The same check of other transactions.
    pub(crate) fn with_txs(&self, txs: Vec<B256>) -> Self {
        Self { txs, ..self.clone() }
    }
}
