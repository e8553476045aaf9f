//! What each node has shown about its limits, remembered for the life of the
//! client (a `Checker`, every round of `watch` and `serve`): how many reads
//! one Multicall3 `aggregate3` may carry, how many entries one JSON-RPC batch
//! may carry, and whether the node has a usable Multicall3 at all. Pure
//! bookkeeping, no I/O: the caller says what happened and when.
//!
//! - **Chunk** (reads per `aggregate3`): starts at
//!   [`CHUNK_START`] (a request body
//!   under ~100 KB), halves on a 413, a timeout or 5xx on a large request, an
//!   oversized answer or a gas-cap error, and below
//!   [`CHUNK_FLOOR`] the node is asked
//!   with plain calls. It doubles when an answer of the current size comes
//!   back fast, up to [`CHUNK_MAX`] and
//!   never past a size that failed (a larger one answered is kept).
//! - **Batch** (entries per request): halves on a refused batch (and no
//!   longer grows past the refused size) or a rate limit without a hint;
//!   grows by one after each batch answered (AIMD).
//! - **No Multicall3**: remembered, so that a node without it is not asked
//!   through `aggregate3` every round.
//!
//! Everything a node has shown is forgotten [`REPROBE`] after it was first
//! learned: a provider that lifts a limit is used fully again.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use tokio::time::Instant;

use crate::check::multicall::{CHUNK_FLOOR, CHUNK_MAX, CHUNK_START};

/// How long what a node has shown is kept before it is probed afresh.
pub const REPROBE: Duration = Duration::from_secs(10 * 60);

/// An answer this fast lets the chunk grow.
pub const FAST: Duration = Duration::from_secs(1);

/// What one node has shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeLimits {
    /// When this was first learned (re-probed [`REPROBE`] later).
    since: Instant,
    /// Reads per `aggregate3` now.
    chunk: usize,
    /// The chunk never grows past this.
    chunk_ceiling: usize,
    /// The largest chunk answered so far.
    chunk_answered: usize,
    /// Entries per request now (`None`: the configured maximum).
    batch: Option<usize>,
    /// The batch never grows past this (a size refused, less one).
    batch_ceiling: Option<usize>,
    /// Why the node's Multicall3 is not used, when it is not.
    no_multicall: Option<String>,
}

impl NodeLimits {
    fn fresh(now: Instant) -> Self {
        Self {
            since: now,
            chunk: CHUNK_START,
            chunk_ceiling: CHUNK_MAX,
            chunk_answered: 0,
            batch: None,
            batch_ceiling: None,
            no_multicall: None,
        }
    }
}

/// What a chunk that failed leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shrunk {
    /// Ask again through Multicall3, this many reads at a time.
    To(usize),
    /// Below the floor: the node is asked with plain calls from now on.
    BelowFloor,
}

/// The limits learned per node (by index), shared by a client's clones.
#[derive(Debug)]
pub struct Learned {
    reprobe: Duration,
    nodes: Mutex<HashMap<usize, NodeLimits>>,
}

impl Default for Learned {
    fn default() -> Self {
        Self::with_reprobe(REPROBE)
    }
}

impl Learned {
    /// Limits forgotten `reprobe` after they were first learned.
    pub fn with_reprobe(reprobe: Duration) -> Self {
        Self {
            reprobe,
            nodes: Mutex::default(),
        }
    }

    /// Runs `f` on `node`'s limits as of `now` (fresh ones when none are
    /// known or they are due for a re-probe).
    fn with<R>(&self, node: usize, now: Instant, f: impl FnOnce(&mut NodeLimits) -> R) -> R {
        // Never held across an await nor while anything can panic.
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let limits = nodes.entry(node).or_insert_with(|| NodeLimits::fresh(now));
        if now.saturating_duration_since(limits.since) >= self.reprobe {
            *limits = NodeLimits::fresh(now);
        }
        f(limits)
    }

    /// Reads per `aggregate3` for `node` now.
    pub fn chunk(&self, node: usize, now: Instant) -> usize {
        self.with(node, now, |l| l.chunk)
    }

    /// A chunk of `size` reads failed for a size reason (413, timeout or 5xx
    /// on a large request, oversized answer, gas cap): halve, from the
    /// smaller of `size` and the current chunk (requests of the old size
    /// failing together halve it once).
    pub fn chunk_failed(&self, node: usize, size: usize, now: Instant) -> Shrunk {
        self.with(node, now, |l| {
            let half = size / 2;
            if half < CHUNK_FLOOR {
                return Shrunk::BelowFloor;
            }
            l.chunk = l.chunk.min(half);
            l.chunk_ceiling = l.chunk_ceiling.min(half.max(l.chunk_answered)).max(l.chunk);
            Shrunk::To(l.chunk)
        })
    }

    /// A chunk of `size` reads was answered after `took`: a fast answer of
    /// the current size doubles the chunk, up to its ceiling.
    pub fn chunk_answered(&self, node: usize, size: usize, took: Duration, now: Instant) {
        self.with(node, now, |l| {
            l.chunk_answered = l.chunk_answered.max(size);
            if took < FAST && size >= l.chunk {
                l.chunk = (l.chunk * 2).min(l.chunk_ceiling).max(l.chunk);
            }
        })
    }

    /// Why `node`'s Multicall3 is not used, when it was found unusable.
    pub fn no_multicall(&self, node: usize, now: Instant) -> Option<String> {
        self.with(node, now, |l| l.no_multicall.clone())
    }

    /// `node`'s Multicall3 is not usable, for `why`.
    pub fn set_no_multicall(&self, node: usize, why: &str, now: Instant) {
        self.with(node, now, |l| {
            l.no_multicall.get_or_insert_with(|| why.to_string());
        })
    }

    /// Entries per request for `node` now, at most `max`.
    pub fn batch(&self, node: usize, max: usize, now: Instant) -> usize {
        self.with(node, now, |l| l.batch.unwrap_or(max).min(max).max(1))
    }

    /// A batch of `size` entries was refused as too large: halve, and never
    /// grow back to `size` (until re-probed). Returns the new size.
    pub fn batch_refused(&self, node: usize, size: usize, max: usize, now: Instant) -> usize {
        self.with(node, now, |l| {
            let ceiling = size.saturating_sub(1).max(1);
            l.batch_ceiling = Some(l.batch_ceiling.map_or(ceiling, |c| c.min(ceiling)));
            let to = (size / 2).max(1);
            l.batch = Some(l.batch.unwrap_or(max).min(to));
            to
        })
    }

    /// A batch of `size` entries was rate-limited without a hint: halve
    /// (the multiplicative decrease). Returns the new size.
    pub fn batch_rate_limited(&self, node: usize, size: usize, max: usize, now: Instant) -> usize {
        self.with(node, now, |l| {
            let to = (size / 2).max(1);
            l.batch = Some(l.batch.unwrap_or(max).min(to));
            to
        })
    }

    /// A batch was answered: one entry more next time (the additive
    /// increase), up to the ceiling and `max`.
    pub fn batch_answered(&self, node: usize, max: usize, now: Instant) {
        self.with(node, now, |l| {
            if let Some(batch) = l.batch {
                let ceiling = l.batch_ceiling.unwrap_or(max).min(max);
                l.batch = Some((batch + 1).min(ceiling).max(batch.min(ceiling)));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        // A fixed origin: the bookkeeping only compares instants.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(secs)
    }

    #[test]
    fn the_chunk_halves_down_to_the_floor_then_gives_up() {
        let l = Learned::default();
        assert_eq!(l.chunk(0, at(0)), CHUNK_START);
        let mut size = CHUNK_START;
        let mut steps = Vec::new();
        while let Shrunk::To(next) = l.chunk_failed(0, size, at(1)) {
            steps.push(next);
            size = next;
        }
        assert_eq!(steps, [100, 50, 25]);
        assert!(size / 2 < CHUNK_FLOOR);
        // Another node is not affected.
        assert_eq!(l.chunk(1, at(1)), CHUNK_START);
    }

    #[test]
    fn requests_failing_together_halve_once() {
        let l = Learned::default();
        assert_eq!(l.chunk_failed(0, 200, at(0)), Shrunk::To(100));
        assert_eq!(l.chunk_failed(0, 200, at(0)), Shrunk::To(100));
        assert_eq!(l.chunk(0, at(0)), 100);
    }

    #[test]
    fn the_chunk_grows_on_fast_answers_but_not_past_a_size_that_failed() {
        let l = Learned::default();
        let fast = Duration::from_millis(10);
        l.chunk_answered(0, 200, fast, at(0));
        assert_eq!(l.chunk(0, at(0)), 400);
        // A slow answer does not grow it.
        l.chunk_answered(0, 400, FAST, at(0));
        assert_eq!(l.chunk(0, at(0)), 400);
        l.chunk_answered(0, 400, fast, at(0));
        assert_eq!(l.chunk(0, at(0)), CHUNK_MAX);
        // 500 hits a gas cap: back to 250, and the 400 that was answered is the ceiling.
        assert_eq!(l.chunk_failed(0, CHUNK_MAX, at(0)), Shrunk::To(250));
        for _ in 0..3 {
            let now = l.chunk(0, at(0));
            l.chunk_answered(0, now, fast, at(0));
        }
        assert_eq!(l.chunk(0, at(0)), 400);
    }

    #[test]
    fn everything_is_probed_afresh_after_the_reprobe_interval() {
        let l = Learned::with_reprobe(Duration::from_secs(600));
        l.chunk_failed(0, 200, at(0));
        l.set_no_multicall(0, "no Multicall3 code", at(0));
        l.batch_refused(0, 100, 100, at(0));
        assert_eq!(l.no_multicall(0, at(599)).as_deref(), Some("no Multicall3 code"));
        assert_eq!((l.chunk(0, at(599)), l.batch(0, 100, at(599))), (100, 50));
        assert_eq!(l.no_multicall(0, at(600)), None);
        assert_eq!((l.chunk(0, at(600)), l.batch(0, 100, at(600))), (CHUNK_START, 100));
    }

    #[test]
    fn the_batch_is_aimd_and_stays_under_a_refused_size() {
        let l = Learned::default();
        assert_eq!(l.batch(0, 100, at(0)), 100);
        assert_eq!(l.batch_refused(0, 100, 100, at(0)), 50);
        for _ in 0..60 {
            l.batch_answered(0, 100, at(0));
        }
        assert_eq!(
            l.batch(0, 100, at(0)),
            99,
            "grows back by one, never to the refused 100"
        );
        // A rate limit without a hint halves it; answers add one each.
        assert_eq!(l.batch_rate_limited(0, 99, 100, at(0)), 49);
        l.batch_answered(0, 100, at(0));
        l.batch_answered(0, 100, at(0));
        assert_eq!(l.batch(0, 100, at(0)), 51);
        // Down to one, never zero.
        for _ in 0..10 {
            let now = l.batch(0, 100, at(0));
            l.batch_rate_limited(0, now, 100, at(0));
        }
        assert_eq!(l.batch(0, 100, at(0)), 1);
    }
}
