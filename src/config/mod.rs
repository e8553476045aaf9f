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

use crate::{abi::VoteFunction, threshold::Threshold};

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
    pub(crate) threshold_spec: Threshold,
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
    pub(crate) multicall: Multicall,
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

/// `--timeout` when none is given: a node's whole budget, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// [`DEFAULT_TIMEOUT`] as the command line writes it (clap's default is
/// text; a test keeps the two equal).
pub const DEFAULT_TIMEOUT_TEXT: &str = "10s";

/// `--retries` when none is given: retries of transient failures per node.
pub const DEFAULT_RETRIES: u32 = 2;

/// `--batch-size` when none is given: entries per JSON-RPC request.
pub const DEFAULT_BATCH_SIZE: u32 = 100;

/// The most entries in one JSON-RPC request (`--batch-size`'s upper bound).
pub const MAX_BATCH_SIZE: u32 = 10_000;

/// `--max-response-bytes` when none is given: the largest accepted answer, decoded.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The smallest `--max-response-bytes` accepted.
pub const MIN_MAX_RESPONSE_BYTES: u64 = 1024;

/// `--threshold` when none is given: a majority of the weight.
pub const DEFAULT_THRESHOLD: Threshold = Threshold::Majority;

/// `--block` when none is given: the latest block of each node.
pub const DEFAULT_BLOCK: BlockSpec = BlockSpec::At(alloy::eips::BlockNumberOrTag::Latest);

/// `--multicall` when none is given: Multicall3 at its canonical address.
pub const DEFAULT_MULTICALL: Multicall = Multicall::Auto;

/// A run's budget when none is given: a node's whole budget plus a second
/// to write the report.
pub(crate) fn default_deadline(timeout: Duration) -> Duration {
    timeout.saturating_add(Duration::from_secs(1))
}

impl Default for Limits {
    /// Every bound at its default (the deadline: [`DEFAULT_TIMEOUT`] + 1 s).
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            deadline: default_deadline(DEFAULT_TIMEOUT),
            retries: DEFAULT_RETRIES,
            batch_size: DEFAULT_BATCH_SIZE as usize,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// The weights a tally counts against: the nodes' total, and the yes-weight
/// the threshold needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weights {
    /// Sum of the nodes' weights.
    pub total: u128,
    /// Yes-weight needed to confirm.
    pub threshold: u128,
}

impl Weights {
    /// `spec` resolved against the weights of `nodes` (a relative threshold
    /// cannot be used with uint votes).
    pub(crate) fn resolve(
        nodes: &[Node],
        spec: Threshold,
        uint_votes: bool,
    ) -> Result<Self, crate::threshold::ThresholdError> {
        let total = total_weight(nodes);
        Ok(Self {
            total,
            threshold: spec.resolve(total, uint_votes)?,
        })
    }
}

/// The sum of the nodes' weights: the one place it is computed.
pub(crate) fn total_weight(nodes: &[Node]) -> u128 {
    crate::tally::sum_weights(nodes.iter().map(|n| n.weight))
}

/// What a check is asked, before the threshold is resolved against the
/// nodes' weights: the parts [`CheckConfig::new`] builds from. [`CheckParts::new`]
/// sets every part that has a default to it.
#[derive(Debug, Clone)]
pub(crate) struct CheckParts {
    pub nodes: Vec<Node>,
    pub contract: Address,
    pub function: VoteFunction,
    pub txs: Vec<B256>,
    pub threshold: Threshold,
    pub block: BlockSpec,
    pub max_pin_lag: u64,
    pub chain_id: Option<u64>,
    pub limits: Limits,
    pub multicall: Multicall,
    pub wait_all: bool,
}

impl CheckParts {
    /// A check of `contract` on `nodes`; everything else at its default.
    pub(crate) fn new(nodes: Vec<Node>, contract: Address) -> Self {
        Self {
            nodes,
            contract,
            function: VoteFunction::builtin(),
            txs: Vec::new(),
            threshold: DEFAULT_THRESHOLD,
            block: DEFAULT_BLOCK,
            max_pin_lag: DEFAULT_MAX_PIN_LAG,
            chain_id: None,
            limits: Limits::default(),
            multicall: DEFAULT_MULTICALL,
            wait_all: false,
        }
    }
}

impl CheckConfig {
    /// The one constructor: the threshold resolved against the nodes'
    /// weights, so that the two always agree.
    pub(crate) fn new(parts: CheckParts) -> Result<Self, crate::threshold::ThresholdError> {
        let uint_votes = matches!(parts.function.kind(), crate::abi::VoteKind::Uint(_));
        let weights = Weights::resolve(&parts.nodes, parts.threshold, uint_votes)?;
        Ok(Self {
            nodes: parts.nodes,
            contract: parts.contract,
            function: parts.function,
            txs: parts.txs,
            threshold_spec: parts.threshold,
            threshold: weights.threshold,
            total_weight: weights.total,
            block: parts.block,
            max_pin_lag: parts.max_pin_lag,
            chain_id: parts.chain_id,
            limits: parts.limits,
            multicall: parts.multicall,
            wait_all: parts.wait_all,
        })
    }

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
