//! How many requests one node gets at once: additive increase, multiplicative
//! decrease (AIMD) on rate limits.

use tokio::sync::Semaphore;

/// Batches in flight to one node at a time, at most.
pub(crate) const BATCHES_IN_FLIGHT_PER_NODE: usize = 4;

/// How many batches one node gets at once: up to
/// [`BATCHES_IN_FLIGHT_PER_NODE`], down to 1 as soon as it rate-limits,
/// then one more per batch answered without a rate limit (AIMD).
pub(super) struct Window {
    pub(super) permits: Semaphore,
    size: std::sync::atomic::AtomicUsize,
    /// Permits to retire as in-flight batches finish.
    deficit: std::sync::atomic::AtomicUsize,
    /// Counts the shrinks: a batch sent before the last one does not grow
    /// the window when it comes back fine.
    epoch: std::sync::atomic::AtomicUsize,
}

impl Window {
    pub(super) fn new() -> Self {
        Self {
            permits: Semaphore::new(BATCHES_IN_FLIGHT_PER_NODE),
            size: BATCHES_IN_FLIGHT_PER_NODE.into(),
            deficit: 0.into(),
            epoch: 0.into(),
        }
    }

    /// The epoch to pass to [`after_batch`](Self::after_batch) for a batch sent now.
    pub(super) fn epoch(&self) -> usize {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Adjusts the window after a batch sent in `sent_in` (an epoch);
    /// returns whether that batch's permit must be retired (not given back).
    pub(super) fn after_batch(&self, rate_limited: bool, sent_in: usize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let size = self.size.load(SeqCst);
        if rate_limited {
            if size > 1 {
                self.size.store(1, SeqCst);
                self.deficit.fetch_add(size - 1, SeqCst);
                self.epoch.fetch_add(1, SeqCst);
            }
        } else if size < BATCHES_IN_FLIGHT_PER_NODE && sent_in == self.epoch() {
            self.size.store(size + 1, SeqCst);
            if self.deficit.load(SeqCst) > 0 {
                self.deficit.fetch_sub(1, SeqCst);
            } else {
                self.permits.add_permits(1);
            }
        }
        self.deficit.fetch_update(SeqCst, SeqCst, |d| d.checked_sub(1)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shrinks_to_one_on_a_rate_limit_and_grows_back() {
        let w = Window::new();
        assert_eq!(w.permits.available_permits(), 4);
        // Four batches in flight; the first comes back rate-limited.
        let held: Vec<_> = (0..4).map(|_| w.permits.try_acquire().unwrap()).collect();
        let sent_in = w.epoch();
        let mut retire = Vec::new();
        for (i, permit) in held.into_iter().enumerate() {
            // The three sent alongside it come back fine: no growth for them.
            if w.after_batch(i == 0, sent_in) {
                permit.forget();
                retire.push(i);
            }
        }
        // Three permits retired: one batch at a time now.
        assert_eq!(retire.len(), 3);
        assert_eq!(w.permits.available_permits(), 1);
        // Each clean answer adds one back, up to four.
        for expected in [2, 3, 4, 4] {
            let p = w.permits.try_acquire().unwrap();
            assert!(!w.after_batch(false, w.epoch()));
            drop(p);
            assert_eq!(w.permits.available_permits(), expected);
        }
    }
}
