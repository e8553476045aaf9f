//! Output of `quorum-check nodes`: a text table of the nodes' health and a
//! closing line saying whether the healthy weight reaches the threshold, or
//! the same as Prometheus metrics (`quorum_check_health_*`, names apart from
//! `check`'s so both can sit in one textfile directory).

use std::io::{self, Write};

use crate::health::HealthReport;

/// Writes the health table.
pub fn render(report: &HealthReport, out: &mut dyn Write) -> io::Result<()> {
    let width = super::name_width(report.nodes.iter().map(|n| n.name.as_str()));
    super::write_row(
        out,
        &format!(
            "  {:>3}  {:<width$}  {:>6}  {:<9}  {:>8}  {:>10}  {:>5}  {:>8}  {:>9}  {:<8}  CLIENT / PROBLEMS",
            "#", "NODE", "WEIGHT", "HEALTH", "CHAIN", "HEAD", "LAG", "AGE", "LATENCY", "CONTRACT"
        ),
    )?;
    for n in &report.nodes {
        let dash = || "-".to_string();
        let chain = n.chain_id.map(|c| c.to_string()).unwrap_or_else(dash);
        let head = n.head_block.map(|h| h.to_string()).unwrap_or_else(dash);
        let lag = n.head_lag.map(|l| l.to_string()).unwrap_or_else(dash);
        // A head stamped in the future is shown as such, not as a negative age.
        let age = match (n.clock_ahead_s, n.head_age_s) {
            (Some(ahead), _) => format!("+{ahead}s"),
            (None, Some(a)) => format!("{a}s"),
            (None, None) => dash(),
        };
        let code = match (n.contract_has_code, n.vote_answers) {
            (Some(true), Some(true)) => "answers",
            (Some(true), _) => "code",
            (Some(false), _) => "no code",
            (None, _) => "-",
        };
        let mut detail = n.client_version.clone().unwrap_or_default();
        if let Some(failure) = &n.failure {
            detail = failure
                .detail()
                .map(|d| format!("{}: {d}", failure.name()))
                .unwrap_or_else(|| failure.name().into());
        }
        if !n.problems.is_empty() && n.failure.is_none() {
            detail = format!("{detail} [{}]", n.problems.join("; "));
        }
        let name: String = n.name.chars().take(width).collect();
        super::write_row(
            out,
            &format!(
                "  {:>3}  {name:<width$}  {:>6}  {:<9}  {chain:>8}  {head:>10}  {lag:>5}  {age:>8}  {:>6.1} ms  {code:<8}  {}",
                n.node,
                n.weight,
                if n.healthy { "healthy" } else { "unhealthy" },
                n.latency_ms,
                detail.trim()
            ),
        )?;
    }
    let verdict = if report.quorum_reachable {
        "Quorum reachable"
    } else {
        "Quorum unreachable"
    };
    writeln!(
        out,
        "{verdict}: healthy weight {} of {}, threshold {}",
        report.healthy_weight, report.total_weight, report.threshold
    )
}

/// Writes the health report as Prometheus metrics; `timestamp` in Unix seconds.
pub fn prometheus(report: &HealthReport, timestamp: f64, out: &mut dyn Write) -> io::Result<()> {
    use super::prometheus::{escape, gauge};
    gauge(
        out,
        "quorum_check_health_quorum_reachable",
        "1 when the healthy nodes hold the threshold's weight.",
    )?;
    writeln!(
        out,
        "quorum_check_health_quorum_reachable {}",
        u8::from(report.quorum_reachable)
    )?;
    for (name, help, value) in [
        (
            "quorum_check_health_healthy_weight",
            "Weight of the healthy nodes.",
            report.healthy_weight,
        ),
        (
            "quorum_check_health_threshold_weight",
            "Weight the healthy nodes must hold.",
            report.threshold,
        ),
        (
            "quorum_check_health_total_weight",
            "Sum of the nodes' weights.",
            report.total_weight,
        ),
    ] {
        gauge(out, name, help)?;
        writeln!(out, "{name} {value}")?;
    }
    let label = |n: &crate::health::NodeHealth| format!("node=\"{}\"", escape(&n.name));
    gauge(
        out,
        "quorum_check_health_node_info",
        "Always 1; the node's redacted URL, weight and client.",
    )?;
    for n in &report.nodes {
        writeln!(
            out,
            "quorum_check_health_node_info{{{},url=\"{}\",weight=\"{}\",client=\"{}\"}} 1",
            label(n),
            escape(&n.url),
            n.weight,
            escape(n.client_version.as_deref().unwrap_or(""))
        )?;
    }
    gauge(
        out,
        "quorum_check_health_node_healthy",
        "1 when the node passes every rule.",
    )?;
    for n in &report.nodes {
        writeln!(
            out,
            "quorum_check_health_node_healthy{{{}}} {}",
            label(n),
            u8::from(n.healthy)
        )?;
    }
    gauge(
        out,
        "quorum_check_health_node_problems",
        "How many rules the node fails.",
    )?;
    for n in &report.nodes {
        writeln!(
            out,
            "quorum_check_health_node_problems{{{}}} {}",
            label(n),
            n.problems.len()
        )?;
    }
    type Pick = fn(&crate::health::NodeHealth) -> Option<f64>;
    let optional: [(&str, &str, Pick); 6] = [
        ("quorum_check_health_node_chain_id", "The node's chain id.", |n| {
            n.chain_id.map(|v| v as f64)
        }),
        (
            "quorum_check_health_node_head_block",
            "The node's head block number.",
            |n| n.head_block.map(|v| v as f64),
        ),
        (
            "quorum_check_health_node_head_lag_blocks",
            "Blocks behind the highest head on the node's chain.",
            |n| n.head_lag.map(|v| v as f64),
        ),
        (
            "quorum_check_health_node_head_age_seconds",
            "Age of the head block (0 when stamped in the future).",
            |n| n.head_age_s.map(|v| v as f64),
        ),
        (
            "quorum_check_health_node_clock_ahead_seconds",
            "How far the head block's time is ahead of this machine's clock.",
            |n| Some(n.clock_ahead_s.unwrap_or(0) as f64),
        ),
        (
            "quorum_check_health_node_syncing",
            "1 when eth_syncing says the node is syncing.",
            |n| n.syncing.map(|s| f64::from(u8::from(s))),
        ),
    ];
    for (name, help, pick) in optional {
        gauge(out, name, help)?;
        for n in &report.nodes {
            if let Some(v) = pick(n) {
                writeln!(out, "{name}{{{}}} {v}", label(n))?;
            }
        }
    }
    gauge(
        out,
        "quorum_check_health_node_latency_seconds",
        "Time to the node's answer.",
    )?;
    for n in &report.nodes {
        writeln!(
            out,
            "quorum_check_health_node_latency_seconds{{{}}} {:.3}",
            label(n),
            n.latency_ms / 1000.0
        )?;
    }
    gauge(
        out,
        "quorum_check_health_run_timestamp_seconds",
        "When the check ended, in Unix seconds.",
    )?;
    writeln!(out, "quorum_check_health_run_timestamp_seconds {timestamp:.3}")
}
