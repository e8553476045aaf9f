//! quorum-check: ask every configured Ethereum node at once whether it voted
//! for a transaction, sum the votes against a threshold, report the verdict
//! — as a command-line tool, or as a library inside your own service.
//!
//! # As a library
//!
//! Build a [`Checker`] once; check as often as needed, on your runtime. The
//! builder validates what the command line validates ([`Error`] says what is
//! wrong); a check returns a [`Report`]: per transaction the [`Verdict`] and
//! every node's answer ([`NodeStatus`]), serialisable as the JSON document
//! `check --format json` prints. Build with `default-features = false` to
//! leave out the command line (clap) and anvil launching.
//!
//! ```
//! use std::time::Duration;
//! use quorum_check::{Checker, Node, NodeStatus, Threshold, Verdict, VoteFunction};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), quorum_check::Error> {
//!     let checker = Checker::builder()
//!         // Nothing listens on port 9 here: the node is down.
//!         .node(Node::new("http://127.0.0.1:9")?.name("down"))
//!         .contract("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap())
//!         .function(VoteFunction::parse("vote(bytes32)(bool)")?)
//!         .threshold(Threshold::parse("1")?)
//!         .timeout(Duration::from_secs(2))
//!         .retries(0)
//!         .build()?;
//!     let hash = "0x1111111111111111111111111111111111111111111111111111111111111111".parse().unwrap();
//!     let report = checker.check(&[hash]).await?;
//!     let tx = report.tx(0);
//!     // No vote could be read: neither confirmed nor rejected.
//!     assert_eq!(tx.verdict(), Verdict::Inconclusive);
//!     assert!(matches!(tx.status(0), NodeStatus::ConnectError { .. }));
//!     // The same document as `check --format json`.
//!     let json = serde_json::to_value(&report).unwrap();
//!     assert_eq!(json["txs"][0]["nodes"][0]["status"], "connect_error");
//!     Ok(())
//! }
//! ```
//!
//! `examples/embed.rs` is a service-style loop (one checker, many checks).
//!
//! # Layout
//!
//! [`checker`] (the API) → [`config`] (validated settings) → [`check`] (the
//! engine: `fanout` asks all nodes at once over [`rpc`], through
//! [`multicall`] where it can) → [`tally`] (pure arithmetic) → [`report`]
//! (data) → [`render`] (text / JSON / Prometheus). The command line lives in
//! `cli` (feature `cli`) and only maps flags onto the same configuration;
//! `devnet` (feature `devnet`) runs local anvil fleets.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;
pub mod check;
pub mod checker;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod dissent;
pub mod error;
mod exit;
pub mod health;
mod input;
pub mod node_url;
pub mod nodes_file;
pub mod parse;
pub mod render;
pub mod report;
mod sanitize;
pub mod scan;
mod secrets;
pub mod tally;
pub mod threshold;

pub use abi::VoteFunction;
/// The alloy types the API's signatures use (an address, a 32-byte hash),
/// so that a user need not depend on alloy to name them.
pub use alloy::primitives::{Address, B256};
pub use check::{multicall, rpc};
pub use checker::{Checker, CheckerBuilder};
pub use config::{BlockSpec, Multicall, Node};
pub use error::Error;
pub use exit::ExitStatus;
pub use report::{CheckReport, NodeStatus, Report};
pub use tally::Verdict;
pub use threshold::Threshold;
