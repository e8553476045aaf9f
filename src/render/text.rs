//! Human-readable output: per transaction a table of the nodes' answers, then
//! the verdict line ("Transaction confirmed: 0x… (yes 7 of 10, threshold 7)");
//! then who disagreed with the quorum or gave no valid answer; with
//! `--block pinned`, a line when the pin is behind the nodes' head.

use std::io::{self, Write};

use crate::{
    report::{NodeStatus, ReasonCache, Report, TxView, VoteJson},
    tally::Verdict,
};

/// Writes `report` as text; `quiet` prints only the verdict lines.
pub fn render(report: &Report, quiet: bool, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let mut reasons = ReasonCache::default();
    for (i, tx) in report.txs().enumerate() {
        if !quiet {
            if i > 0 {
                writeln!(out)?;
            }
            table(&tx, out)?;
        }
        if color {
            // Green, red, yellow: only the verdict lines, only on request.
            let code = match tx.verdict() {
                Verdict::Confirmed => "32",
                Verdict::Rejected => "31",
                Verdict::Inconclusive => "33",
            };
            write!(out, "\x1b[1;{code}m")?;
            write_verdict_line(&tx, &mut reasons, out)?;
            writeln!(out, "\x1b[0m")?;
        } else {
            write_verdict_line(&tx, &mut reasons, out)?;
            writeln!(out)?;
        }
    }
    if !quiet && report.len() > 1 {
        let s = report.summary();
        writeln!(
            out,
            "\n{} transactions: {} confirmed, {} rejected, {} inconclusive ({:.0} ms)",
            report.len(),
            s.confirmed,
            s.rejected,
            s.inconclusive,
            report.elapsed_ms()
        )?;
    }
    if !quiet {
        let lines = dissent_lines(report);
        if !lines.is_empty() {
            writeln!(out)?;
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    if !quiet && let Some(line) = pin_line(report) {
        writeln!(out, "\n{line}")?;
    }
    if report.interrupted() {
        writeln!(out, "(interrupted: nodes not heard from are marked interrupted)")?;
    }
    Ok(())
}

/// Who disagrees: per node with a non-zero count,
/// `dissent: node-3 disagreed with the quorum on 12 of 40 transactions`
/// (40: the transactions on which a quorum formed), then
/// `failed: node-7 gave no valid answer for 40 transactions`. None when
/// every node agreed and answered.
pub fn dissent_lines(report: &Report) -> Vec<String> {
    let plural = |n: u64| if n == 1 { "transaction" } else { "transactions" };
    let nodes = report.nodes();
    let dissent = nodes.iter().filter(|n| n.dissent > 0).map(|n| {
        format!(
            "dissent: {} disagreed with the quorum on {} of {} {}",
            n.name,
            n.dissent,
            report.quorums(),
            plural(report.quorums())
        )
    });
    let failed = nodes.iter().filter(|n| n.failed > 0).map(|n| {
        format!(
            "failed: {} gave no valid answer for {} {}",
            n.name,
            n.failed,
            plural(n.failed)
        )
    });
    dissent.chain(failed).collect()
}

/// With `--block pinned`, when the pin is behind the nodes' head:
/// `pinned block 100 is 5 blocks behind head 105`, and how many
/// transactions were settled at a higher pin when some were.
pub fn pin_line(report: &Report) -> Option<String> {
    let (block, lag, head) = (report.pinned_block()?, report.pinned_lag()?, report.pinned_head()?);
    if lag == 0 {
        return None;
    }
    let blocks = if lag == 1 { "block" } else { "blocks" };
    let mut line = format!("pinned block {block} is {lag} {blocks} behind head {head}");
    let higher = report.txs().filter(|t| t.pinned_block() != Some(block)).count();
    if higher > 0 {
        line.push_str(&format!(
            " ({higher} of {} transactions were settled at a higher pinned block; --format json gives each one's block)",
            report.len()
        ));
    }
    Some(line)
}

/// "Transaction confirmed: 0x… (yes 7 of 10, threshold 7)".
pub fn verdict_line(tx: &TxView<'_>) -> String {
    let mut line = Vec::new();
    let _ = write_verdict_line(tx, &mut ReasonCache::default(), &mut line);
    String::from_utf8_lossy(&line).into_owned()
}

/// A transaction not confirmed yet, while `watch` waits:
/// `pending (yes 4 of 10, threshold 7): 0x…`, with the reason when nodes failed.
pub fn pending_line(tx: &TxView<'_>) -> String {
    let mut line = format!("pending (yes {}", tx.yes());
    if !tx.uint_votes() {
        line.push_str(&format!(" of {}", tx.total_weight()));
    }
    line.push_str(&format!(", threshold {}): {:#x}", tx.threshold(), tx.tx_hash()));
    if tx.verdict() == Verdict::Inconclusive
        && let Some(reason) = tx.reason()
    {
        line.push_str(&format!(" — {reason}"));
    }
    line
}

/// Writes [`verdict_line`] (without a newline) straight to `out`, reusing
/// reasons already written: no string is built per transaction.
fn write_verdict_line(tx: &TxView<'_>, reasons: &mut ReasonCache, out: &mut dyn Write) -> io::Result<()> {
    // A uint tally has no "of W": a weight is not bounded by the node weight.
    let uint_votes = tx.uint_votes()
        && (0..tx.node_count()).any(|n| {
            matches!(
                tx.status(n),
                NodeStatus::Ok {
                    vote: VoteJson::Uint(_)
                }
            )
        });
    let verdict = tx.verdict();
    write!(out, "{}: {:#x} (yes {}", verdict.phrase(), tx.tx_hash(), tx.yes())?;
    if !uint_votes {
        write!(out, " of {}", tx.total_weight())?;
    }
    // Early settlement: say how many nodes the yes-weight did not wait for,
    // or "yes 6 of 10" reads as if four nodes had said no.
    let not_waited = (0..tx.node_count())
        .filter(|&n| matches!(tx.status(n), NodeStatus::Skipped))
        .count();
    if not_waited > 0 {
        write!(out, " ({not_waited} not waited for)")?;
    }
    write!(out, ", threshold {})", tx.threshold())?;
    if let (Verdict::Inconclusive, Some(reason)) = (verdict, tx.reason_cached(reasons)) {
        write!(out, " — {reason}")?;
    }
    Ok(())
}

fn table(tx: &TxView<'_>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "tx {:#x}", tx.tx_hash())?;
    let nodes: Vec<_> = tx.nodes().collect();
    let name_width = super::name_width(nodes.iter().map(|n| n.name.as_str()));
    let show_from = nodes.iter().any(|n| n.from.is_some());
    let mut row = format!(
        "  {:>3}  {:<name_width$}  {:>6}  {:<13}  {:>6}  {:>9}",
        "#", "NODE", "WEIGHT", "STATUS", "VOTE", "LATENCY"
    );
    if show_from {
        row.push_str(&format!("  {:<42}", "FROM"));
    }
    row.push_str("  DETAIL");
    super::write_row(out, &row)?;
    for n in &nodes {
        let vote = match &n.status {
            NodeStatus::Ok {
                vote: VoteJson::Bool(true),
            } => "yes".to_string(),
            NodeStatus::Ok {
                vote: VoteJson::Bool(false),
            } => "no".to_string(),
            NodeStatus::Ok {
                vote: VoteJson::Uint(v),
            } => v.clone(),
            _ => "-".to_string(),
        };
        let latency = n
            .latency_ms
            .map(|ms| format!("{ms:.1} ms"))
            .unwrap_or_else(|| "-".into());
        let name: String = n.name.chars().take(name_width).collect();
        let mut row = format!(
            "  {:>3}  {name:<name_width$}  {:>6}  {:<13}  {vote:>6}  {latency:>9}",
            n.node,
            n.weight,
            n.status.name()
        );
        if show_from {
            let from = n.from.map(|a| a.to_checksum(None)).unwrap_or_else(|| "-".into());
            row.push_str(&format!("  {from:<42}"));
        }
        let mut detail = n.status.detail().unwrap_or_default();
        if n.attempts > 1 {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(&format!("{} attempts", n.attempts));
        }
        row.push_str(&format!("  {detail}"));
        super::write_row(out, &row)?;
    }
    Ok(())
}
