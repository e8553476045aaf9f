//! The Prometheus text exposition format (version 0.0.4), for node_exporter's
//! textfile collector: per transaction the verdict and the tally, per node
//! whether it answered, its latency and status, and the run's duration and
//! time. Node labels are names or redacted hosts, never URLs with keys.

use std::{
    collections::BTreeMap,
    io::{self, Write},
};

use crate::{
    report::{NodeStatus, Report, TxView},
    tally::Verdict,
};

const VERDICTS: [(Verdict, &str); 3] = [
    (Verdict::Confirmed, "confirmed"),
    (Verdict::Rejected, "rejected"),
    (Verdict::Inconclusive, "inconclusive"),
];

/// Writes `report` as Prometheus metrics; `timestamp` is the run's end in Unix seconds.
pub fn render(report: &Report, timestamp: f64, out: &mut dyn Write) -> io::Result<()> {
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

    // Per node: its most frequent status over the transactions (they agree
    // unless a node failed some calls of a batch and not others).
    let nodes = report.nodes();
    let label = |i: usize| format!("node=\"{}\",url=\"{}\"", escape(&nodes[i].name), escape(&nodes[i].url));
    let status_of = |i: usize| -> &'static str {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for tx in report.txs() {
            *counts.entry(tx.status(i).name()).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(s, _)| s)
            .unwrap_or("skipped")
    };
    gauge(
        out,
        "quorum_check_node_up",
        "1 when the node gave a valid answer in this run.",
    )?;
    for i in 0..nodes.len() {
        let up = report.txs().any(|t| matches!(t.status(i), NodeStatus::Ok { .. }));
        writeln!(out, "quorum_check_node_up{{{}}} {}", label(i), u8::from(up))?;
    }
    gauge(
        out,
        "quorum_check_node_latency_seconds",
        "Time from the start of the run to the node's answer.",
    )?;
    for i in 0..nodes.len() {
        if let Some(ms) = report.txs().filter_map(|t| t.latency_ms(i)).reduce(f64::max) {
            writeln!(out, "quorum_check_node_latency_seconds{{{}}} {}", label(i), ms / 1000.0)?;
        }
    }
    gauge(out, "quorum_check_node_status", "1 for the node's status in this run.")?;
    for i in 0..nodes.len() {
        writeln!(
            out,
            "quorum_check_node_status{{{},status=\"{}\"}} 1",
            label(i),
            status_of(i)
        )?;
    }
    gauge(out, "quorum_check_node_weight", "The node's configured weight.")?;
    for (i, node) in nodes.iter().enumerate() {
        writeln!(out, "quorum_check_node_weight{{{}}} {}", label(i), node.weight)?;
    }

    gauge(out, "quorum_check_run_duration_seconds", "Wall time of the fan-out.")?;
    writeln!(
        out,
        "quorum_check_run_duration_seconds {}",
        report.elapsed_ms() / 1000.0
    )?;
    gauge(
        out,
        "quorum_check_run_timestamp_seconds",
        "When the run ended, in Unix seconds.",
    )?;
    writeln!(out, "quorum_check_run_timestamp_seconds {timestamp:.3}")?;
    gauge(out, "quorum_check_run_interrupted", "1 when the run was interrupted.")?;
    writeln!(out, "quorum_check_run_interrupted {}", u8::from(report.interrupted()))?;
    Ok(())
}

fn gauge(out: &mut dyn Write, name: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} gauge")
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
