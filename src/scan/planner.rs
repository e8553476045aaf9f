//! Range learning for one node: how many blocks the next `eth_getLogs` asks
//! for. It starts at `--log-range` (or the size the state file remembers),
//! follows a provider's hint straight to the range it names, halves when a
//! refusal names none, and keeps the accepted size for the rest of the run.
//!
//! Growing back: a fixed limit (a plan's block range, an unexplained
//! failure) is never asked past again in the run. A limit that depends on
//! the data (too many results) is: after [`GROW_AFTER`] clean answers in a
//! row the size doubles, never past the starting size nor past a fixed
//! ceiling — sparse stretches after a dense one do not stay at the dense
//! stretch's pace. Every refusal that growing costs is a bisection step.

use std::ops::RangeInclusive;

use super::hint::Hint;

/// Clean answers in a row before a results-limited size doubles.
pub const GROW_AFTER: u32 = 8;

/// What to do after a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Ask again from the same block with the planner's new size.
    Retry,
    /// A single block was refused: the range fails for this node.
    GiveUp,
}

/// The per-node range planner (pure: no I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePlanner {
    /// The most blocks ever asked for at once this run (the starting size).
    cap: u64,
    /// Blocks to ask for next.
    size: u64,
    /// A fixed limit learned this run: never asked past.
    ceiling: u64,
    /// Whether the current size came from a data-dependent limit.
    density_limited: bool,
    /// Clean answers in a row at the current size.
    clean: u32,
    /// Refusals so far (each is one bisection step).
    refusals: u32,
}

impl RangePlanner {
    /// A planner starting at `start` blocks per request (at least 1), the most
    /// it will ever ask for; `learned` is a size remembered from an earlier
    /// run (`density_limited` when that size came from a results limit, so
    /// it may grow back).
    pub fn new(start: u64, learned: Option<(u64, bool)>) -> Self {
        let cap = start.max(1);
        let (size, density_limited) = match learned {
            Some((size, density)) => (size.clamp(1, cap), density),
            None => (cap, false),
        };
        Self {
            cap,
            size,
            ceiling: cap,
            density_limited,
            clean: 0,
            refusals: 0,
        }
    }

    /// The next range to ask, starting at `from` and ending at most at `to`
    /// (`from <= to`).
    pub fn next(&self, from: u64, to: u64) -> RangeInclusive<u64> {
        let end = from.saturating_add(self.size - 1).min(to);
        from..=end
    }

    /// The size this node is asked with now (what the state file keeps).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the size may grow back (it came from a results limit).
    pub fn density_limited(&self) -> bool {
        self.density_limited
    }

    /// Refusals so far: the bisection steps of the run.
    pub fn refusals(&self) -> u32 {
        self.refusals
    }

    /// The node answered a range of `len` blocks.
    pub fn accepted(&mut self, len: u64) {
        if len < self.size {
            // The tail of the scan: says nothing about the size.
            return;
        }
        self.clean = self.clean.saturating_add(1);
        if self.density_limited && self.clean >= GROW_AFTER {
            let grown = self.size.saturating_mul(2).min(self.ceiling).min(self.cap);
            if grown > self.size {
                tracing::debug!(from = self.size, to = grown, "log range grows back");
                self.size = grown;
            }
            self.clean = 0;
        }
    }

    /// The node refused the range `asked` with `hint`.
    pub fn refused(&mut self, asked: &RangeInclusive<u64>, hint: Hint) -> Next {
        let len = asked.end() - asked.start() + 1;
        self.clean = 0;
        if len <= 1 {
            return Next::GiveUp;
        }
        self.refusals = self.refusals.saturating_add(1);
        let halved = (len / 2).max(1);
        let (size, fixed) = match hint {
            Hint::MaxBlocks(max) if max < len => (max, true),
            Hint::Retry { from, to } if from == *asked.start() && to >= from && to - from + 1 < len => {
                (to - from + 1, false)
            }
            Hint::TooManyResults | Hint::Retry { .. } => (halved, false),
            Hint::MaxBlocks(_) | Hint::Unknown => (halved, true),
        };
        if fixed {
            self.ceiling = self.ceiling.min(len - 1).min(size.max(1));
        }
        self.density_limited = !fixed && hint.depends_on_density();
        self.size = size.clamp(1, len - 1);
        Next::Retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays a scan of `blocks` blocks against a provider refusing more than
    /// `limit` blocks with `hint`; returns (requests, refusals).
    fn play(start: u64, blocks: u64, limit: u64, hint: impl Fn(u64) -> Hint) -> (u64, u32) {
        let mut planner = RangePlanner::new(start, None);
        let (mut from, mut requests) = (0u64, 0u64);
        while from < blocks {
            let range = planner.next(from, blocks - 1);
            requests += 1;
            let len = range.end() - range.start() + 1;
            if len > limit {
                assert_eq!(planner.refused(&range, hint(len)), Next::Retry);
            } else {
                planner.accepted(len);
                from = range.end() + 1;
            }
        }
        (requests, planner.refusals())
    }

    #[test]
    fn a_named_limit_is_followed_at_once() {
        // 20,000 blocks, 1,000 per request: one refusal, then 20 requests.
        let (requests, refusals) = play(2_000, 20_000, 1_000, |_| Hint::MaxBlocks(1_000));
        assert_eq!((requests, refusals), (21, 1));
        let (requests, refusals) = play(2_000, 20_000, 1_024, |_| Hint::MaxBlocks(1_024));
        assert_eq!((requests, refusals), (20_000u64.div_ceil(1_024) + 1, 1));
    }

    #[test]
    fn without_a_hint_the_range_halves_and_stays() {
        // 2,000 → 1,000 → 500 → 250 → 125 (≤ 130): four refusals.
        let (requests, refusals) = play(2_000, 20_000, 130, |_| Hint::Unknown);
        assert_eq!(refusals, 4);
        assert_eq!(requests, 20_000u64.div_ceil(125) + 4);
    }

    #[test]
    fn a_suggested_range_is_taken_and_may_grow_back() {
        let mut planner = RangePlanner::new(2_000, None);
        let asked = planner.next(100, 10_000);
        assert_eq!(asked, 100..=2_099);
        planner.refused(&asked, Hint::Retry { from: 100, to: 162 });
        assert_eq!(planner.next(100, 10_000), 100..=162);
        assert!(planner.density_limited());
        for _ in 0..GROW_AFTER {
            planner.accepted(63);
        }
        assert_eq!(planner.size(), 126, "doubles after {GROW_AFTER} clean answers");
        // A suggestion for another start block is no suggestion: halve.
        let mut planner = RangePlanner::new(2_000, None);
        planner.refused(&(0..=1_999), Hint::Retry { from: 5, to: 10 });
        assert_eq!(planner.size(), 1_000);
    }

    #[test]
    fn fixed_limits_never_grow_and_growth_stops_at_the_ceiling() {
        let mut planner = RangePlanner::new(2_000, None);
        planner.refused(&(0..=1_999), Hint::MaxBlocks(1_000));
        for _ in 0..20 {
            planner.accepted(1_000);
        }
        assert_eq!(planner.size(), 1_000);
        // Then a results limit: the size halves, grows back, and stops at
        // the fixed limit of 1,000.
        planner.refused(&(0..=999), Hint::TooManyResults);
        assert_eq!(planner.size(), 500);
        for _ in 0..(GROW_AFTER * 4) {
            planner.accepted(planner.size());
        }
        assert_eq!(planner.size(), 1_000);
    }

    #[test]
    fn a_single_block_refused_gives_up_and_hints_never_raise_the_size() {
        let mut planner = RangePlanner::new(1, None);
        assert_eq!(planner.refused(&(7..=7), Hint::Unknown), Next::GiveUp);
        let mut planner = RangePlanner::new(100, None);
        // A hint at or above what was asked is wrong: halve instead.
        planner.refused(&(0..=99), Hint::MaxBlocks(5_000));
        assert_eq!(planner.size(), 50);
        assert_eq!(planner.next(u64::MAX - 3, u64::MAX), u64::MAX - 3..=u64::MAX);
    }

    #[test]
    fn a_remembered_size_is_where_the_next_run_starts() {
        let planner = RangePlanner::new(2_000, Some((1_000, false)));
        assert_eq!(planner.next(0, 50_000), 0..=999);
        let planner = RangePlanner::new(2_000, Some((0, true)));
        assert_eq!(planner.size(), 1);
        let planner = RangePlanner::new(500, Some((1_000, false)));
        assert_eq!(planner.size(), 500, "never above --log-range");
    }
}
