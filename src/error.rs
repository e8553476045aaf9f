//! The library's errors: what [`CheckerBuilder::build`](crate::CheckerBuilder::build)
//! and [`Checker::check`](crate::Checker::check) refuse, each with the same
//! message the command line prints for the same mistake. Messages never
//! contain a node's URL beyond scheme, host and port.

use crate::{abi::AbiError, input::InputError};

/// Why a checker could not be built, or a check not started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A node's URL, weight, name or headers are not valid.
    #[error("{message}")]
    Node {
        /// Which node: its 1-based position among the configured ones
        /// (`--rpc` order, or the nodes file's `[[node]]` order); `None`
        /// for a [`Node`](crate::Node) not added to a builder yet, or when
        /// there is no node at all.
        position: Option<usize>,
        /// What is wrong, naming the node (never its key).
        message: String,
    },
    /// No node was added.
    #[error("no nodes configured: add at least one node")]
    NoNodes,
    /// The same endpoint (with the same `from`) was added twice: its vote would count twice.
    #[error("{message}")]
    DuplicateNode {
        /// The 1-based position of the node's first entry.
        first: usize,
        /// The 1-based position of the entry that repeats it.
        position: usize,
        /// Both entries named, and the endpoint (redacted).
        message: String,
    },
    /// No contract address was given.
    #[error("no contract address given")]
    NoContract,
    /// The vote function cannot be found or has the wrong shape.
    #[error(transparent)]
    Function(#[from] AbiError),
    /// The threshold does not parse, or cannot be met by the nodes' weight.
    #[error("{0}")]
    Threshold(String),
    /// A limit is out of range.
    #[error("{0}")]
    Limit(String),
    /// The HTTP client could not be set up (e.g. a CA file that cannot be read).
    #[error("{0}")]
    Client(String),
    /// No transaction hash to check.
    #[error("no transaction hash given")]
    NoTransactions,
    /// An input (a hash list, a nodes file, an ABI or CA file) cannot be read or parsed.
    #[error("{0}")]
    Input(String),
    /// Starting or driving a local anvil fleet failed.
    #[error("{0}")]
    Devnet(String),
}

impl Error {
    /// A node error with its position (1-based), if known.
    pub(crate) fn node(position: Option<usize>, message: impl Into<String>) -> Self {
        Self::Node {
            position,
            message: message.into(),
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Self::Input(e.to_string())
    }
}
