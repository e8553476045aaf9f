//! The run-wide budget for response bodies being read, and reading a body
//! within it and within `--max-response-bytes`.

use super::{NodeFailure, failure::transport_failure};

/// How many `--max-response-bytes` the whole run may hold at once, across
/// every node and every request in flight (192 MiB at the default 16 MiB).
pub const BODY_BUDGET_FACTOR: u64 = 12;

/// The bytes of response bodies being read, run-wide. A body that needs more
/// when the budget is spent waits for others to finish — unless it already
/// holds more than its fair share (the budget divided among the bodies being
/// read), in which case it is the one given up on: a flood of endless
/// answers cannot crowd out the honest ones, nor memory.
#[derive(Debug)]
pub(super) struct BodyBudget {
    limit: u64,
    used: std::sync::atomic::AtomicU64,
    readers: std::sync::atomic::AtomicU64,
    freed: tokio::sync::Notify,
}

impl BodyBudget {
    /// A budget of `factor` × `max_response_bytes`.
    pub(super) fn new(max_response_bytes: u64) -> Self {
        Self {
            limit: max_response_bytes.saturating_mul(BODY_BUDGET_FACTOR),
            used: 0.into(),
            readers: 0.into(),
            freed: tokio::sync::Notify::new(),
        }
    }

    fn try_take(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + n <= self.limit).then_some(used + n)
            })
            .is_ok()
    }
}

/// One body's share of the budget, given back when dropped.
pub(super) struct BodyHold<'a> {
    budget: &'a BodyBudget,
    held: u64,
}

impl<'a> BodyHold<'a> {
    fn new(budget: &'a BodyBudget) -> Self {
        budget.readers.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self { budget, held: 0 }
    }

    /// Takes `n` more bytes, waiting for others while this body holds no
    /// more than its fair share; `false` when this body must give up.
    async fn take(&mut self, n: u64) -> bool {
        use std::sync::atomic::Ordering;
        loop {
            let freed = self.budget.freed.notified();
            if self.budget.try_take(n) {
                self.held += n;
                return true;
            }
            let readers = self.budget.readers.load(Ordering::Acquire).max(1);
            if self.held > 0 && self.held >= self.budget.limit / readers {
                return false;
            }
            freed.await;
        }
    }
}

impl Drop for BodyHold<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
        self.budget.readers.fetch_sub(1, Ordering::AcqRel);
        self.budget.freed.notify_waiters();
    }
}

/// Reads a body, giving up as soon as it grows past `limit`, or past its
/// share of the run's `budget` when that is spent. The chunks are kept as
/// they came and joined once at the end, so an endless answer holds no more
/// than `limit` bytes (no doubling buffer).
pub(super) async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
    budget: &BodyBudget,
) -> Result<Vec<u8>, NodeFailure> {
    let too_large = || NodeFailure::BadResponse(format!("response too large (over {limit} bytes)"));
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut hold = BodyHold::new(budget);
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_failure(&e, false))? {
        if hold.held + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        if !hold.take(chunk.len() as u64).await {
            return Err(NodeFailure::BadResponse(format!(
                "response too large: over its share while other answers were read (the run holds at most {} bytes of answers at once)",
                budget.limit
            )));
        }
        chunks.push(chunk);
    }
    Ok(chunks.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_body_budget_gives_up_on_the_greediest_reader() {
        let budget = BodyBudget {
            limit: 100,
            used: 0.into(),
            readers: 0.into(),
            freed: tokio::sync::Notify::new(),
        };
        let mut greedy = BodyHold::new(&budget);
        let mut modest = BodyHold::new(&budget);
        assert!(greedy.take(90).await);
        assert!(modest.take(10).await);
        // The budget is spent: the greedy reader holds more than half, it gives up.
        assert!(!greedy.take(10).await);
        drop(greedy);
        // Its bytes are back: the modest one goes on.
        assert!(modest.take(50).await);
        drop(modest);
        assert_eq!(budget.used.load(std::sync::atomic::Ordering::Acquire), 0);
        assert_eq!(budget.readers.load(std::sync::atomic::Ordering::Acquire), 0);
    }
}
