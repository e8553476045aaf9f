//! `serve --discover`: the hashes found in the contract's vote events, kept
//! across background rounds. After each round it says, for `/metrics`, how
//! many discovered hashes stand at each verdict
//! (`quorum_check_discovered_txs{verdict}`) and how far the scan has read
//! (`quorum_check_scan_head_block`), and, for `GET /v1/pending`, which
//! discovered hashes are not confirmed yet.

use std::io::{self, Write};

use alloy::primitives::{B256, map::B256Map};
use serde::Serialize;

use crate::{render::prometheus_gauge as gauge, report::Report, scan::ScanReport, tally::Verdict};

/// Every discovered hash, in the order first seen, with where it was seen.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Hash → index into `order`.
    index: B256Map<usize>,
    order: Vec<Found>,
    /// The last block the scan read up to (all nodes' union), if any.
    head: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Found {
    hash: B256,
    first_block: u64,
    /// The verdict of the last round that checked it.
    verdict: Option<Verdict>,
}

/// One discovered hash not confirmed yet, as `/v1/pending` lists it.
#[derive(Debug, Serialize)]
pub struct PendingTx {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block of the first vote event naming it.
    pub first_block: u64,
    /// The last round's verdict; `null` before its first check.
    pub verdict: Option<Verdict>,
}

/// `/v1/pending`'s document.
#[derive(Debug, Serialize)]
pub struct Pending {
    /// Hashes discovered so far.
    pub discovered: usize,
    /// The last block scanned; `null` before the first scan read one.
    pub scan_head_block: Option<u64>,
    /// Discovered hashes not confirmed in the last round, in the order found.
    pub pending: Vec<PendingTx>,
}

impl Discovered {
    /// Takes in a scan: new hashes are added (in the order found); returns
    /// how many were new.
    pub fn add(&mut self, scan: &ScanReport) -> usize {
        if scan.to_block.is_some() {
            self.head = scan.to_block.max(self.head);
        }
        let before = self.order.len();
        for tx in &scan.txs {
            if self.index.contains_key(&tx.tx_hash) {
                continue;
            }
            self.index.insert(tx.tx_hash, self.order.len());
            self.order.push(Found {
                hash: tx.tx_hash,
                first_block: tx.first_block,
                verdict: None,
            });
        }
        self.order.len() - before
    }

    /// The discovered hashes, in the order found.
    pub fn hashes(&self) -> impl Iterator<Item = B256> + '_ {
        self.order.iter().map(|f| f.hash)
    }

    /// Records a round's verdicts for the discovered hashes it checked.
    pub fn record(&mut self, report: &Report) {
        for tx in report.txs() {
            if let Some(&i) = self.index.get(&tx.tx_hash()) {
                self.order[i].verdict = Some(tx.verdict());
            }
        }
    }

    /// The discovered hashes not confirmed yet.
    pub fn pending(&self) -> Pending {
        Pending {
            discovered: self.order.len(),
            scan_head_block: self.head,
            pending: self
                .order
                .iter()
                .filter(|f| f.verdict != Some(Verdict::Confirmed))
                .map(|f| PendingTx {
                    tx_hash: f.hash,
                    first_block: f.first_block,
                    verdict: f.verdict,
                })
                .collect(),
        }
    }

    /// Writes `quorum_check_discovered_txs{verdict}` (a hash not checked yet
    /// counts as `unchecked`) and `quorum_check_scan_head_block`.
    pub fn write_metrics(&self, out: &mut dyn Write) -> io::Result<()> {
        gauge(
            out,
            "quorum_check_discovered_txs",
            "Hashes found in the contract's vote events (serve --discover), by the verdict of the last round that checked them.",
        )?;
        let count = |v: Option<Verdict>| self.order.iter().filter(|f| f.verdict == v).count();
        for (label, verdict) in [
            ("confirmed", Some(Verdict::Confirmed)),
            ("rejected", Some(Verdict::Rejected)),
            ("inconclusive", Some(Verdict::Inconclusive)),
            ("unchecked", None),
        ] {
            writeln!(
                out,
                "quorum_check_discovered_txs{{verdict=\"{label}\"}} {}",
                count(verdict)
            )?;
        }
        if let Some(head) = self.head {
            gauge(
                out,
                "quorum_check_scan_head_block",
                "The last block the vote-event scan has read (serve --discover).",
            )?;
            writeln!(out, "quorum_check_scan_head_block {head}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanTx;

    fn scan(to: Option<u64>, found: &[(u8, u64)]) -> ScanReport {
        let json = serde_json::json!({
            "schema_version": 1,
            "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "event": "Voted(bytes32)",
            "from_block": 0,
            "to_block": to,
            "complete": true,
            "uncovered": [],
            "elapsed_ms": 1.0,
            "txs": [],
            "nodes": [],
        });
        let mut report: ScanReport = serde_json::from_value(json).expect("a scan report");
        report.txs = found
            .iter()
            .map(|&(byte, block)| ScanTx {
                tx_hash: B256::repeat_byte(byte),
                first_block: block,
                seen_by: vec!["node-1".into()],
            })
            .collect();
        report
    }

    #[test]
    fn hashes_are_kept_once_in_the_order_found_and_the_head_only_rises() {
        let mut d = Discovered::default();
        assert_eq!(d.add(&scan(Some(10), &[(1, 3), (2, 7)])), 2);
        assert_eq!(d.add(&scan(Some(9), &[(2, 8), (3, 9)])), 1);
        assert_eq!(d.add(&scan(None, &[])), 0);
        let hashes: Vec<B256> = d.hashes().collect();
        assert_eq!(hashes, [1u8, 2, 3].map(B256::repeat_byte));
        let pending = d.pending();
        assert_eq!(pending.discovered, 3);
        assert_eq!(pending.scan_head_block, Some(10));
        // The block first seen is kept, not a later sighting's.
        assert_eq!(pending.pending[1].first_block, 7);
        assert!(pending.pending.iter().all(|p| p.verdict.is_none()));
    }

    #[test]
    fn metrics_count_unchecked_hashes_and_name_the_head() {
        let mut d = Discovered::default();
        let mut out = Vec::new();
        d.write_metrics(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("quorum_check_discovered_txs{verdict=\"unchecked\"} 0"));
        assert!(
            !text.contains("quorum_check_scan_head_block"),
            "no head before a scan read one"
        );
        d.add(&scan(Some(42), &[(1, 3), (2, 7)]));
        let mut out = Vec::new();
        d.write_metrics(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("quorum_check_discovered_txs{verdict=\"unchecked\"} 2"));
        assert!(text.contains("quorum_check_discovered_txs{verdict=\"confirmed\"} 0"));
        assert!(text.contains("quorum_check_scan_head_block 42\n"));
    }
}
