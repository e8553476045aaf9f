//! quorum-check: ask every configured Ethereum node at once whether it voted
//! for a transaction, sum the votes against a threshold, report the verdict.
//!
//! The flow of a check: [`cli`] (flags) → [`config`] (validated settings) →
//! [`fanout`] (all nodes at once over [`rpc`]) → [`tally`] (pure arithmetic)
//! → [`report`] (data) → [`render`] (text / JSON). [`devnet`] runs local anvil
//! fleets for the `devnet` and `demo` commands and for the tests.

#![forbid(unsafe_code)]

pub mod abi;
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod health;
pub mod input;
pub mod node_url;
pub mod nodes_file;
pub mod parse;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod secrets;
pub mod tally;
pub mod threshold;

pub use check::{fanout, multicall, rpc};

/// Exit code for usage, configuration and input errors.
pub const EXIT_USAGE: u8 = 2;

/// Prints `quorum-check: error: MESSAGE` on stderr, on one line, escaped and
/// cut to a bounded length; a closed stderr is ignored.
pub fn print_error(message: &str) {
    let message = sanitize::cut_message(&sanitize::escape(message));
    eprint_line(&format!("quorum-check: error: {message}"));
}

/// One line on stderr, never panicking (a closed or full stderr is ignored).
pub fn eprint_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// An error chain on one line: "context: cause: root cause".
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}
