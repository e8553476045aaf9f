//! Writing a [`ScanReport`]: text (one hash per line, nothing else, so it
//! pipes into `check --tx-file -`), the notes for the person reading stderr
//! (nodes that missed logs, nodes that failed, blocks not covered), JSON,
//! and the Prometheus series a service exports.

use std::io::{self, Write};

use super::{ScanReport, coverage};
use crate::sanitize::bounded;

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ScanFormat {
    /// One transaction hash per line, in order of first appearance.
    Text,
    /// One JSON document.
    Json,
}

/// One hash per line, in order of first appearance.
pub fn text(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    for tx in &report.txs {
        writeln!(out, "{:#x}", tx.tx_hash)?;
    }
    Ok(())
}

/// The JSON document and a newline.
pub fn json(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Lines for stderr: every node that failed or missed logs, and the blocks
/// not covered (or that nothing was scanned). Empty when all went well.
pub fn notes(report: &ScanReport) -> Vec<String> {
    let mut lines = Vec::new();
    for n in &report.nodes {
        let name = bounded(&n.node, 48);
        if n.status != "ok" {
            let why = n
                .error
                .as_deref()
                .map(|e| format!(": {}", bounded(e, 200)))
                .unwrap_or_default();
            let reached = match n.scanned {
                Some(s) => format!(" (answered blocks {}-{})", s.from, s.to),
                None => String::new(),
            };
            lines.push(format!("node {name}: {}{why}{reached}", n.status));
        }
        if n.missing > 0 {
            lines.push(format!(
                "node {name}: missing {} log(s) that other nodes reported in blocks it answered (a node hiding or truncating logs, or others forging them)",
                n.missing
            ));
        }
        if n.reorg {
            lines.push(format!(
                "node {name}: reorg: its remembered block changed, rescanned from block {}",
                report.from_block
            ));
        }
    }
    match report.to_block {
        None => lines.push(format!(
            "not covered: no node told its head block, nothing scanned from block {}",
            report.from_block
        )),
        Some(_) if !report.uncovered.is_empty() => {
            let blocks: coverage::Blocks = report.uncovered.iter().map(|b| b.from..=b.to).collect();
            lines.push(format!(
                "not covered: blocks {} (too few nodes answered them; the next scan starts at block {})",
                coverage::describe(&blocks),
                blocks.first().map(|b| *b.start()).unwrap_or(report.from_block)
            ));
        }
        Some(_) => {}
    }
    lines
}

/// Prometheus series of a scan round, for a service's `/metrics`:
/// `quorum_check_scan_missing_logs{node}`, `quorum_check_scan_head_block`
/// and `quorum_check_scan_complete`.
pub fn prometheus(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "# HELP quorum_check_scan_missing_logs Vote logs other nodes reported in blocks this node answered, that it did not (hiding or truncating)."
    )?;
    writeln!(out, "# TYPE quorum_check_scan_missing_logs gauge")?;
    for n in &report.nodes {
        writeln!(
            out,
            "quorum_check_scan_missing_logs{{node=\"{}\"}} {}",
            label(&n.node),
            n.missing
        )?;
    }
    writeln!(
        out,
        "# HELP quorum_check_scan_head_block The last block the scan asked for."
    )?;
    writeln!(out, "# TYPE quorum_check_scan_head_block gauge")?;
    if let Some(to) = report.to_block {
        writeln!(out, "quorum_check_scan_head_block {to}")?;
    }
    writeln!(
        out,
        "# HELP quorum_check_scan_complete 1 when every block of the round was covered."
    )?;
    writeln!(out, "# TYPE quorum_check_scan_complete gauge")?;
    writeln!(out, "quorum_check_scan_complete {}", u8::from(report.complete))
}

/// A label value escaped as the exposition format wants.
fn label(value: &str) -> String {
    bounded(value, 120)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, B256};

    use super::*;
    use crate::scan::{BlockSpan, ScanNode, ScanTx};

    fn report() -> ScanReport {
        ScanReport {
            schema_version: 1,
            contract: Address::repeat_byte(1),
            event: "event VoteCast(bytes32 indexed txHash, bool approve)".into(),
            from_block: 0,
            to_block: Some(99),
            complete: false,
            uncovered: vec![BlockSpan { from: 50, to: 99 }],
            elapsed_ms: 1.0,
            txs: vec![
                ScanTx {
                    tx_hash: B256::repeat_byte(0xaa),
                    first_block: 3,
                    seen_by: vec!["a".into()],
                },
                ScanTx {
                    tx_hash: B256::repeat_byte(0xbb),
                    first_block: 9,
                    seen_by: vec!["a".into(), "b\"x".into()],
                },
            ],
            nodes: vec![
                ScanNode {
                    node: "a".into(),
                    status: "ok".into(),
                    error: None,
                    requests: 3,
                    logs: 2,
                    missing: 0,
                    range: Some(1000),
                    scanned: Some(BlockSpan { from: 0, to: 99 }),
                    reorg: false,
                },
                ScanNode {
                    node: "b\"x".into(),
                    status: "rpc_error".into(),
                    error: Some("method not found\u{1b}[2J".into()),
                    requests: 12,
                    logs: 1,
                    missing: 1,
                    range: Some(1),
                    scanned: Some(BlockSpan { from: 0, to: 49 }),
                    reorg: false,
                },
            ],
        }
    }

    #[test]
    fn text_is_hashes_only_and_notes_name_what_went_wrong() {
        let mut out = Vec::new();
        text(&report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!("{:#x}\n{:#x}\n", B256::repeat_byte(0xaa), B256::repeat_byte(0xbb))
        );
        let notes = notes(&report());
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].starts_with("node b\"x: rpc_error: method not found") && !notes[0].contains('\u{1b}'),
            "{notes:?}"
        );
        assert!(notes[0].contains("answered blocks 0-49"), "{notes:?}");
        assert!(notes[1].contains("missing 1 log"), "{notes:?}");
        assert!(notes[2].starts_with("not covered: blocks 50-99"), "{notes:?}");
    }

    #[test]
    fn prometheus_series_parse_back() {
        let mut out = Vec::new();
        prometheus(&report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("quorum_check_scan_missing_logs{node=\"b\\\"x\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("quorum_check_scan_head_block 99\n"), "{text}");
        assert!(text.contains("quorum_check_scan_complete 0\n"), "{text}");
    }
}
