//! `serve`'s own metrics, appended to the last round's on `/metrics`:
//! upstream JSON-RPC calls (what the providers bill), how `/v1/check`
//! requests were answered, and the connections — open, the cap, and those
//! `serve` closed itself, by reason. Written with the renderer's metric
//! header writers.

use std::io::{self, Write};

use super::{
    checks::{Checks, Source},
    connections::{Closed, Registry},
};
use crate::render::{prometheus_counter as counter, prometheus_gauge as gauge};

/// Writes the metrics; `upstream_calls` is the HTTP client's count.
pub fn render(upstream_calls: u64, checks: &Checks, registry: &Registry, out: &mut dyn Write) -> io::Result<()> {
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
