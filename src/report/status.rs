//! What one node answered for one transaction: a [`NodeStatus`] (its JSON
//! `status` tag, a one-line detail, and the node's text scrubbed of its
//! secrets) and the vote it carries.

use serde::{Deserialize, Serialize};

use crate::{abi::VoteValue, secrets::Secrets};

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

    /// The status with every text in it that came from the node scrubbed of
    /// `secrets` and cut to its display length (see [`Secrets::scrub`]).
    pub(crate) fn scrubbed(self, secrets: &Secrets) -> Self {
        match self {
            Self::ConnectError { message } => Self::ConnectError {
                message: secrets.scrub(&message),
            },
            Self::HttpError { http_status, reason } => Self::HttpError {
                http_status,
                reason: reason.map(|r| secrets.scrub(&r)),
            },
            Self::TlsError { message } => Self::TlsError {
                message: secrets.scrub(&message),
            },
            Self::RpcError { code, message } => Self::RpcError {
                code,
                message: secrets.scrub(&message),
            },
            Self::Reverted { reason } => Self::Reverted {
                reason: secrets.scrub(&reason),
            },
            Self::BadResponse { reason } => Self::BadResponse {
                reason: secrets.scrub(&reason),
            },
            Self::Ok { .. }
            | Self::Timeout
            | Self::NoContract
            | Self::NoFunction
            | Self::WrongChain { .. }
            | Self::Skipped
            | Self::Interrupted
            | Self::Lagging { .. } => self,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Node, node_url::NodeUrl};

    fn node(url: &str) -> Node {
        Node::at(0, NodeUrl::parse(url).unwrap())
    }

    #[test]
    fn statuses_are_scrubbed_and_cut_even_without_secrets() {
        let s = Secrets::of(&node("https://eth.example.io/v3/abcdef0123456789"));
        let status = NodeStatus::RpcError {
            code: -32000,
            message: "invalid project id abcdef0123456789".into(),
        }
        .scrubbed(&s);
        assert_eq!(
            status,
            NodeStatus::RpcError {
                code: -32000,
                message: "invalid project id ***".into()
            }
        );
        let plain = Secrets::of(&node("http://127.0.0.1:8545"));
        assert_eq!(plain, Secrets::default());
        assert!(!format!("{s:?}").contains("abcdef"));
        let long = NodeStatus::Reverted {
            reason: "r".repeat(5000),
        }
        .scrubbed(&plain);
        match long {
            NodeStatus::Reverted { reason } => assert_eq!(reason, format!("{}…", "r".repeat(200))),
            other => panic!("{other:?}"),
        }
    }
}
