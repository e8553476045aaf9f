//! The Prometheus text exposition format (version 0.0.4), for node_exporter's
//! textfile collector and `quorum-check serve`'s `/metrics`.
//!
//! Low cardinality by default: counts of verdicts, and per node whether it
//! was heard, whether it is up, its latency and its status as a full state
//! set (one sample per possible status). A node that was not waited for
//! (`skipped`, `interrupted`) has `heard 0` and **no** `up` sample: its
//! health is unknown for this run, never "down". Per-transaction series come
//! only with `--metrics-per-tx`. Node labels are names or redacted hosts; the
//! redacted URL is in `quorum_check_node_info` only.

use std::io::{self, Write};

use crate::{
    report::{NodeStatus, Report, TxView},
    tally::Verdict,
};

const VERDICTS: [(Verdict, &str); 3] = [
    (Verdict::Confirmed, "confirmed"),
    (Verdict::Rejected, "rejected"),
    (Verdict::Inconclusive, "inconclusive"),
];

/// Every status a node can have, for the state set: [`NodeStatus::NAMES`].
pub const STATUSES: [&str; NodeStatus::NAMES.len()] = NodeStatus::NAMES;

/// Writes `report` as Prometheus metrics; `timestamp` is the run's end in
/// Unix seconds; `per_tx` adds the per-transaction series.
pub fn render(report: &Report, timestamp: f64, per_tx: bool, out: &mut dyn Write) -> io::Result<()> {
    gauge(out, "quorum_check_txs", "Transactions checked, by verdict.")?;
    for (verdict, name) in VERDICTS {
        let n = report.txs().filter(|t| t.verdict() == verdict).count();
        writeln!(out, "quorum_check_txs{{verdict=\"{name}\"}} {n}")?;
    }
    let first = (!report.is_empty()).then(|| report.tx(0));
    gauge(out, "quorum_check_threshold_weight", "Yes-weight needed to confirm.")?;
    writeln!(
        out,
        "quorum_check_threshold_weight {}",
        first.map(|t| t.threshold()).unwrap_or(0)
    )?;
    gauge(out, "quorum_check_total_weight", "Sum of the nodes' weights.")?;
    writeln!(
        out,
        "quorum_check_total_weight {}",
        crate::tally::sum_weights(report.nodes().iter().map(|n| n.weight))
    )?;

    let nodes = report.nodes();
    let label = |i: usize| format!("node=\"{}\"", escape(&nodes[i].name));
    // A node's status over the run: the most frequent one over the
    // transactions (they agree unless some calls of a node failed and not others).
    let statuses: Vec<&'static str> = (0..nodes.len()).map(|i| node_status(report, i)).collect();
    let heard = |i: usize| !matches!(statuses[i], "skipped" | "interrupted");
    let up: Vec<bool> = (0..nodes.len())
        .map(|i| report.txs().any(|t| matches!(t.status(i), NodeStatus::Ok { .. })))
        .collect();

    gauge(
        out,
        "quorum_check_healthy_weight",
        "Weight of the nodes up in this run (compare with quorum_check_threshold_weight).",
    )?;
    let healthy = crate::tally::sum_weights((0..nodes.len()).filter(|&i| up[i]).map(|i| nodes[i].weight));
    writeln!(out, "quorum_check_healthy_weight {healthy}")?;

    gauge(
        out,
        "quorum_check_node_info",
        "Always 1; the node's redacted URL (scheme, host, port), weight and how it was asked.",
    )?;
    for (i, node) in nodes.iter().enumerate() {
        let via = node.via.map(|v| v.name()).unwrap_or("none");
        writeln!(
            out,
            "quorum_check_node_info{{{},url=\"{}\",weight=\"{}\",via=\"{via}\"}} 1",
            label(i),
            escape(&node.url),
            node.weight
        )?;
    }
    gauge(out, "quorum_check_node_weight", "The node's configured weight.")?;
    for (i, node) in nodes.iter().enumerate() {
        writeln!(out, "quorum_check_node_weight{{{}}} {}", label(i), node.weight)?;
    }
    gauge(
        out,
        "quorum_check_node_heard",
        "1 when this run learned the node's health; 0 when it was not waited for (see --no-wait-all).",
    )?;
    for i in 0..nodes.len() {
        writeln!(out, "quorum_check_node_heard{{{}}} {}", label(i), u8::from(heard(i)))?;
    }
    gauge(
        out,
        "quorum_check_node_up",
        "1 when the node gave a valid answer in this run; absent when it was not heard.",
    )?;
    for i in (0..nodes.len()).filter(|&i| heard(i)) {
        writeln!(out, "quorum_check_node_up{{{}}} {}", label(i), u8::from(up[i]))?;
    }
    gauge(
        out,
        "quorum_check_node_latency_seconds",
        "Time from the start of the run to the node's last answer.",
    )?;
    for i in 0..nodes.len() {
        if let Some(ms) = report.txs().filter_map(|t| t.latency_ms(i)).reduce(f64::max) {
            writeln!(out, "quorum_check_node_latency_seconds{{{}}} {}", label(i), seconds(ms))?;
        }
    }
    gauge(
        out,
        "quorum_check_node_status",
        "The node's status in this run: 1 for its status, 0 for every other.",
    )?;
    for (i, current) in statuses.iter().enumerate() {
        for status in STATUSES {
            writeln!(
                out,
                "quorum_check_node_status{{{},status=\"{status}\"}} {}",
                label(i),
                u8::from(status == *current)
            )?;
        }
    }
    gauge(
        out,
        "quorum_check_node_dissent",
        "Transactions of this run on which a quorum formed while the node's valid answer was on the other side.",
    )?;
    for (i, node) in nodes.iter().enumerate() {
        writeln!(out, "quorum_check_node_dissent{{{}}} {}", label(i), node.dissent)?;
    }
    gauge(
        out,
        "quorum_check_node_failed",
        "Transactions of this run for which the node gave no valid answer (nodes not waited for are not counted).",
    )?;
    for (i, node) in nodes.iter().enumerate() {
        writeln!(out, "quorum_check_node_failed{{{}}} {}", label(i), node.failed)?;
    }

    gauge(out, "quorum_check_run_duration_seconds", "Wall time of the fan-out.")?;
    writeln!(
        out,
        "quorum_check_run_duration_seconds {}",
        seconds(report.elapsed_ms())
    )?;
    gauge(
        out,
        "quorum_check_run_timestamp_seconds",
        "When the run ended, in Unix seconds.",
    )?;
    writeln!(out, "quorum_check_run_timestamp_seconds {timestamp:.3}")?;
    gauge(out, "quorum_check_run_interrupted", "1 when the run was interrupted.")?;
    writeln!(out, "quorum_check_run_interrupted {}", u8::from(report.interrupted()))?;
    if let Some(lag) = report.pinned_lag() {
        gauge(
            out,
            "quorum_check_pinned_lag_blocks",
            "With --block pinned: blocks between the nodes' head and the block the votes were read at.",
        )?;
        writeln!(out, "quorum_check_pinned_lag_blocks {lag}")?;
    }
    if per_tx {
        per_transaction(report, out)?;
    }
    Ok(())
}

/// The per-transaction series of `--metrics-per-tx`.
fn per_transaction(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    gauge(
        out,
        "quorum_check_tx_verdict",
        "1 for the transaction's verdict, 0 for the others.",
    )?;
    for tx in report.txs() {
        let hash = format!("{:#x}", tx.tx_hash());
        for (verdict, name) in VERDICTS {
            let value = u8::from(tx.verdict() == verdict);
            writeln!(
                out,
                "quorum_check_tx_verdict{{tx=\"{hash}\",verdict=\"{name}\"}} {value}"
            )?;
        }
    }
    for (metric, help, pick) in [
        (
            "quorum_check_tx_yes_weight",
            "Sum of the contributions to yes.",
            (|t| t.yes()) as fn(&TxView<'_>) -> u128,
        ),
        (
            "quorum_check_tx_no_weight",
            "Weight of the nodes that answered no.",
            |t| t.no(),
        ),
        (
            "quorum_check_tx_undecided_weight",
            "Weight of the nodes without a valid answer.",
            |t| t.undecided(),
        ),
        (
            "quorum_check_tx_threshold_weight",
            "Yes-weight needed to confirm.",
            |t| t.threshold(),
        ),
    ] {
        gauge(out, metric, help)?;
        for tx in report.txs() {
            writeln!(out, "{metric}{{tx=\"{:#x}\"}} {}", tx.tx_hash(), pick(&tx))?;
        }
    }
    Ok(())
}

/// The node's most frequent status over the transactions.
fn node_status(report: &Report, node: usize) -> &'static str {
    let mut counts = [0usize; STATUSES.len()];
    for tx in report.txs() {
        let name = tx.status(node).name();
        if let Some(k) = STATUSES.iter().position(|s| *s == name) {
            counts[k] += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
        .filter(|(_, n)| **n > 0)
        .map(|(k, _)| STATUSES[k])
        .unwrap_or("skipped")
}

/// Milliseconds as seconds, rounded to the millisecond.
fn seconds(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

/// The `# HELP` and `# TYPE … gauge` lines of a metric.
pub(crate) fn gauge(out: &mut dyn Write, name: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} gauge")
}

/// The `# HELP` and `# TYPE … counter` lines of a metric (`serve`'s own totals).
#[cfg(feature = "cli")]
pub(crate) fn counter(out: &mut dyn Write, name: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} counter")
}

/// Escapes a label value: backslash, double quote and newline.
pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
