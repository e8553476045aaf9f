//! The union of every node's vote logs: a hash reported by any node is a
//! candidate (a node that hides a log cannot suppress a vote; a forged hash
//! is only a transaction without a quorum). Per hash it keeps where it first
//! appeared and which nodes reported it — memory grows with the number of
//! distinct hashes, never with the number of logs. It also counts, per node,
//! the hashes it did not report in blocks it answered (`missing`).

use alloy::primitives::{B256, map::B256Map};

use super::coverage::Blocks;

/// One hash: where it first appeared and who reported it.
#[derive(Debug, Clone)]
struct Entry {
    /// (block, log index) of its earliest log, by any node.
    first: (u64, u64),
    /// Bit `i` set: node `i` reported it.
    seen_by: Box<[u64]>,
}

/// A hash of the union, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block of its first log.
    pub first_block: u64,
    /// The log index of its first log in that block.
    pub first_log_index: u64,
    /// The nodes (by position) that reported it.
    pub seen_by: Vec<usize>,
}

/// The union of all nodes' logs of one scan.
#[derive(Debug, Clone)]
pub struct Union {
    nodes: usize,
    hashes: B256Map<Entry>,
}

impl Union {
    /// An empty union for `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            hashes: B256Map::default(),
        }
    }

    /// Node `node` reported `hash` in `block` at `log_index`; `true` when no
    /// node had reported the hash before.
    pub fn record(&mut self, node: usize, hash: B256, block: u64, log_index: u64) -> bool {
        let words = self.nodes.div_ceil(64).max(1);
        let mut new = false;
        let entry = self.hashes.entry(hash).or_insert_with(|| {
            new = true;
            Entry {
                first: (block, log_index),
                seen_by: vec![0; words].into_boxed_slice(),
            }
        });
        entry.first = entry.first.min((block, log_index));
        if let Some(word) = entry.seen_by.get_mut(node / 64) {
            *word |= 1 << (node % 64);
        }
        new
    }

    /// Distinct hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no node reported anything.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Hashes of the union that `node` did not report although it answered
    /// the block where they first appeared.
    pub fn missing(&self, node: usize, answered: &Blocks) -> u64 {
        self.hashes
            .values()
            .filter(|e| !seen(e, node) && answered.iter().any(|b| b.contains(&e.first.0)))
            .count() as u64
    }

    /// Every hash, in order of first appearance (block, then log index).
    pub fn in_order(&self) -> Vec<Found> {
        let mut found: Vec<Found> = self
            .hashes
            .iter()
            .map(|(hash, e)| Found {
                tx_hash: *hash,
                first_block: e.first.0,
                first_log_index: e.first.1,
                seen_by: (0..self.nodes).filter(|&n| seen(e, n)).collect(),
            })
            .collect();
        found.sort_unstable_by_key(|f| (f.first_block, f.first_log_index, f.tx_hash));
        found
    }
}

fn seen(entry: &Entry, node: usize) -> bool {
    entry
        .seen_by
        .get(node / 64)
        .is_some_and(|w| w & (1 << (node % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> B256 {
        B256::repeat_byte(i)
    }

    #[test]
    fn a_hash_seen_by_any_node_is_in_the_union_once_in_order() {
        let mut u = Union::new(3);
        assert!(u.record(0, h(2), 20, 0));
        assert!(u.record(1, h(1), 10, 5));
        // Voted on twice: once in the union, at its first appearance.
        assert!(!u.record(2, h(2), 15, 1));
        assert!(!u.record(0, h(2), 30, 0));
        let found = u.in_order();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].tx_hash, found[0].first_block, &found[0].seen_by),
            (h(1), 10, &vec![1])
        );
        assert_eq!(
            (found[1].tx_hash, found[1].first_block, &found[1].seen_by),
            (h(2), 15, &vec![0, 2])
        );
    }

    #[test]
    fn missing_counts_hashes_in_answered_blocks_only() {
        let mut u = Union::new(3);
        u.record(0, h(1), 10, 0);
        u.record(1, h(1), 10, 0);
        u.record(0, h(2), 50, 0);
        u.record(1, h(2), 50, 0);
        // Node 2 answered 0..=40 only and hid h(1): one missing; h(2) is
        // outside what it answered.
        assert_eq!(u.missing(2, &vec![0..=40]), 1);
        assert_eq!(u.missing(2, &vec![0..=60]), 2);
        assert_eq!(u.missing(0, &vec![0..=60]), 0);
        assert_eq!(u.missing(2, &vec![]), 0);
    }

    #[test]
    fn more_than_64_nodes_have_their_own_bits() {
        let mut u = Union::new(130);
        u.record(129, h(9), 1, 0);
        u.record(64, h(9), 1, 0);
        assert_eq!(u.in_order()[0].seen_by, vec![64, 129]);
        assert_eq!(u.missing(0, &vec![0..=5]), 1);
        assert_eq!(u.missing(129, &vec![0..=5]), 0);
    }
}
