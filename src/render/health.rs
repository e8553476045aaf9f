//! Text output of `quorum-check nodes`: a table of the nodes' health and a
//! closing line saying whether the healthy weight reaches the threshold.

use std::io::{self, Write};

use crate::health::HealthReport;

/// Writes the health table.
pub fn render(report: &HealthReport, out: &mut dyn Write) -> io::Result<()> {
    let width = super::name_width(report.nodes.iter().map(|n| n.name.as_str()));
    writeln!(
        out,
        "  {:>3}  {:<width$}  {:>6}  {:<9}  {:>8}  {:>10}  {:>8}  {:>9}  {:<8}  CLIENT / PROBLEMS",
        "#", "NODE", "WEIGHT", "HEALTH", "CHAIN", "HEAD", "AGE", "LATENCY", "CONTRACT"
    )?;
    for n in &report.nodes {
        let dash = || "-".to_string();
        let chain = n.chain_id.map(|c| c.to_string()).unwrap_or_else(dash);
        let head = n.head_block.map(|h| h.to_string()).unwrap_or_else(dash);
        let age = n.head_age_s.map(|a| format!("{a}s")).unwrap_or_else(dash);
        let code = match n.contract_has_code {
            Some(true) => "code",
            Some(false) => "no code",
            None => "-",
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
        writeln!(
            out,
            "  {:>3}  {name:<width$}  {:>6}  {:<9}  {chain:>8}  {head:>10}  {age:>8}  {:>6.1} ms  {code:<8}  {}",
            n.node,
            n.weight,
            if n.healthy { "healthy" } else { "unhealthy" },
            n.latency_ms,
            detail.trim()
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
