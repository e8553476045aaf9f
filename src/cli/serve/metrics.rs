//! `serve`'s own metrics, appended to the last round's on `/metrics`:
//! upstream JSON-RPC calls (what the providers bill), how `/v1/check`
//! requests were answered, the connections — open, the cap, and those
//! `serve` closed itself, by reason —, re-reads of the hash file, and the
//! version running. Written with the renderer's metric header writers.

use std::io::{self, Write};

use super::{
    Reloads,
    checks::{Checks, Source},
    connections::{Closed, Registry},
};
use crate::{
    cli::dissent_log::Seen,
    dissent::Mark,
    render::{prometheus_counter as counter, prometheus_gauge as gauge},
    report::Report,
};

/// `quorum_check_node_dissent_total`: per node, the (transaction, node)
/// pairs where the node dissented from a quorum, each counted the first
/// time only — a dispute that lasts many rounds counts once. The pairs
/// counted are remembered in a bounded set.
#[derive(Debug)]
pub struct DissentTotals {
    seen: Seen,
    totals: Vec<u64>,
    names: Vec<String>,
}

impl DissentTotals {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self {
            seen: Seen::new(crate::cli::dissent_log::MAX_REMEMBERED),
            totals: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Counts the first dissents of a round.
    pub fn record(&mut self, report: &Report) {
        let nodes = report.nodes();
        if self.totals.len() < nodes.len() {
            self.totals.resize(nodes.len(), 0);
        }
        self.names = nodes.iter().map(|n| n.name.clone()).collect();
        for tx in report.txs() {
            for node in 0..tx.node_count() {
                if tx.mark(node) == Some(Mark::Dissent) && self.seen.insert((tx.tx_hash(), node)) {
                    self.totals[node] += 1;
                }
            }
        }
    }

    /// Writes the counter, one sample per node.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        counter(
            out,
            "quorum_check_node_dissent_total",
            "(Transaction, node) pairs where the node's valid answer went against a quorum, counted when first seen, not once per round.",
        )?;
        for (name, total) in self.names.iter().zip(&self.totals) {
            writeln!(
                out,
                "quorum_check_node_dissent_total{{node=\"{}\"}} {total}",
                crate::render::prometheus_escape(name)
            )?;
        }
        Ok(())
    }
}

impl Default for DissentTotals {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes the metrics; `upstream_calls` is the HTTP client's count.
pub fn render(
    upstream_calls: u64,
    checks: &Checks,
    registry: &Registry,
    reloads: &Reloads,
    out: &mut dyn Write,
) -> io::Result<()> {
    gauge(
        out,
        "quorum_check_build_info",
        "The quorum-check version serving these metrics (always 1).",
    )?;
    writeln!(
        out,
        "quorum_check_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )?;
    counter(
        out,
        "quorum_check_serve_tx_file_reload_errors_total",
        "Re-reads of a changed --tx-file that failed; the last good hash list was kept.",
    )?;
    writeln!(
        out,
        "quorum_check_serve_tx_file_reload_errors_total {}",
        reloads.errors.load(std::sync::atomic::Ordering::Relaxed)
    )?;
    gauge(
        out,
        "quorum_check_serve_tx_file_last_reload_timestamp_seconds",
        "When --tx-file was last read successfully (Unix time; 0: never, or no --tx-file).",
    )?;
    let last_good = reloads.last_good.lock().map(|t| *t).unwrap_or(0.0);
    writeln!(
        out,
        "quorum_check_serve_tx_file_last_reload_timestamp_seconds {last_good:.3}"
    )?;
    counter(
        out,
        "quorum_check_serve_upstream_calls_total",
        "JSON-RPC calls sent to the nodes by background rounds and /v1/check (a batch counts each call, a retry again).",
    )?;
    writeln!(out, "quorum_check_serve_upstream_calls_total {upstream_calls}")?;
    counter(
        out,
        "quorum_check_serve_checks_total",
        "/v1/check requests answered, by source: a fan-out of their own, one shared with an identical check in flight, or a recent identical answer.",
    )?;
    for source in Source::ALL {
        writeln!(
            out,
            "quorum_check_serve_checks_total{{source=\"{}\"}} {}",
            source.name(),
            checks.answered(source)
        )?;
    }
    counter(
        out,
        "quorum_check_serve_checks_refused_total",
        "/v1/check requests refused with 429: --max-concurrent-checks were running.",
    )?;
    writeln!(out, "quorum_check_serve_checks_refused_total {}", checks.refused())?;
    gauge(out, "quorum_check_serve_connections", "HTTP connections open now.")?;
    writeln!(out, "quorum_check_serve_connections {}", registry.open())?;
    gauge(
        out,
        "quorum_check_serve_max_connections",
        "HTTP connections allowed at once (--max-connections).",
    )?;
    writeln!(out, "quorum_check_serve_max_connections {}", registry.max())?;
    counter(
        out,
        "quorum_check_serve_connections_closed_total",
        "HTTP connections closed by serve, by reason: evicted at the cap, idle, no request head in time, head too large.",
    )?;
    for reason in Closed::ALL {
        writeln!(
            out,
            "quorum_check_serve_connections_closed_total{{reason=\"{}\"}} {}",
            reason.name(),
            registry.closed(reason)
        )?;
    }
    Ok(())
}
