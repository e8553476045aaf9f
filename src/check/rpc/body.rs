//! The run-wide budget for response bodies, and reading a body within it and
//! within `--max-response-bytes`.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::Notify;

use super::{NodeFailure, failure::transport_failure};

/// How many `--max-response-bytes` the whole run may hold at once, across
/// every node and every request in flight (192 MiB at the default 16 MiB).
pub const BODY_BUDGET_FACTOR: u64 = 12;

/// The bytes of response bodies held, run-wide: while they are read, and
/// until they are decoded. Nothing is ever taken past the budget. When it is
/// spent, a body that needs more and already holds its fair share (the budget
/// divided among the bodies held) is given up on; one that holds less asks
/// the greediest body still being read, over its share, to give way — also
/// one whose node has stalled and would never ask for more itself. So a few
/// nodes cannot fill the budget with unfinished answers and make the honest
/// ones wait for their timeout, and a flood of endless answers cannot crowd
/// out the others, nor memory.
#[derive(Debug)]
pub(super) struct BodyBudget {
    limit: u64,
    holds: Mutex<Holds>,
    /// Signalled whenever bytes are given back.
    freed: Notify,
}

#[derive(Debug, Default)]
struct Holds {
    used: u64,
    next_id: u64,
    bodies: BTreeMap<u64, Held>,
}

#[derive(Debug)]
struct Held {
    bytes: u64,
    /// Still being read; a body read in full is being decoded and is about
    /// to give its bytes back: it is not asked to give way.
    reading: bool,
    give_way: Arc<GiveWay>,
}

/// A request to a body being read to give up and give its bytes back.
#[derive(Debug, Default)]
struct GiveWay {
    asked: AtomicBool,
    notify: Notify,
}

impl GiveWay {
    fn ask(&self) {
        self.asked.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn is_asked(&self) -> bool {
        self.asked.load(Ordering::Acquire)
    }

    /// Resolves once asked.
    async fn asked(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_asked() {
                return;
            }
            notified.await;
        }
    }
}

impl BodyBudget {
    /// A budget of [`BODY_BUDGET_FACTOR`] × `max_response_bytes`.
    pub(super) fn new(max_response_bytes: u64) -> Self {
        Self::with_limit(max_response_bytes.saturating_mul(BODY_BUDGET_FACTOR))
    }

    fn with_limit(limit: u64) -> Self {
        Self {
            limit,
            holds: Mutex::default(),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Holds> {
        // The lock is never held across an await nor while anything can
        // panic; a poisoned one still holds consistent numbers.
        self.holds.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a body got no more bytes.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// It holds its share already, and the budget is spent.
    OverShare,
    /// Another body asked it to give way.
    AskedToGiveWay,
}

/// One body's share of the budget, given back when dropped.
pub(super) struct BodyHold {
    budget: Arc<BodyBudget>,
    id: u64,
    held: u64,
    give_way: Arc<GiveWay>,
}

impl BodyHold {
    fn new(budget: &Arc<BodyBudget>) -> Self {
        let give_way = Arc::new(GiveWay::default());
        let mut holds = budget.lock();
        let id = holds.next_id;
        holds.next_id += 1;
        holds.bodies.insert(
            id,
            Held {
                bytes: 0,
                reading: true,
                give_way: give_way.clone(),
            },
        );
        drop(holds);
        Self {
            budget: budget.clone(),
            id,
            held: 0,
            give_way,
        }
    }

    /// Takes `n` more bytes, waiting while this body holds less than its
    /// fair share (and asking the greediest body over its share to give way).
    async fn take(&mut self, n: u64) -> Result<(), Refused> {
        loop {
            let freed = self.budget.freed.notified();
            {
                let mut holds = self.budget.lock();
                if self.give_way.is_asked() {
                    return Err(Refused::AskedToGiveWay);
                }
                if let Some(used) = holds.used.checked_add(n).filter(|&u| u <= self.budget.limit) {
                    holds.used = used;
                    if let Some(me) = holds.bodies.get_mut(&self.id) {
                        me.bytes += n;
                    }
                    self.held += n;
                    return Ok(());
                }
                let share = self.budget.limit / holds.bodies.len().max(1) as u64;
                if self.held > 0 && self.held >= share {
                    return Err(Refused::OverShare);
                }
                // One body at a time is asked; the next only once it is gone.
                let pending = holds.bodies.values().any(|h| h.give_way.is_asked());
                if !pending
                    && let Some(greediest) = holds
                        .bodies
                        .iter()
                        .filter(|(id, h)| **id != self.id && h.reading && h.bytes > share)
                        .max_by_key(|(_, h)| h.bytes)
                        .map(|(_, h)| h.give_way.clone())
                {
                    greediest.ask();
                }
            }
            // Shares shrink as bodies come: this one may be asked while it waits.
            tokio::select! {
                () = freed => {}
                () = self.give_way.asked() => {}
            }
        }
    }

    /// The body is read in full: it is not asked to give way any more.
    fn done_reading(&self) {
        if let Some(me) = self.budget.lock().bodies.get_mut(&self.id) {
            me.reading = false;
        }
    }
}

impl Drop for BodyHold {
    fn drop(&mut self) {
        let mut holds = self.budget.lock();
        holds.used = holds.used.saturating_sub(self.held);
        holds.bodies.remove(&self.id);
        drop(holds);
        self.budget.freed.notify_waiters();
    }
}

/// A body read in full, still counted in the run's budget until dropped.
pub(super) struct Body {
    chunks: Vec<alloy::primitives::bytes::Bytes>,
    len: usize,
    hold: BodyHold,
}

impl Body {
    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Its bytes in one piece, each chunk let go once copied; and its hold
    /// on the budget.
    pub(super) fn into_parts(self) -> (Vec<u8>, BodyHold) {
        let mut bytes = Vec::with_capacity(self.len);
        for chunk in self.chunks {
            bytes.extend_from_slice(&chunk);
        }
        (bytes, self.hold)
    }
}

/// Reads a body, giving up as soon as it grows past `limit`, past its share
/// of the run's `budget` when that is spent, or when another body asks it to
/// give way. The chunks are kept as they came (no doubling buffer), so an
/// endless answer holds no more than `limit` bytes.
pub(super) async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
    budget: &Arc<BodyBudget>,
) -> Result<Body, NodeFailure> {
    let too_large = || NodeFailure::BadResponse(format!("response too large (over {limit} bytes)"));
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut hold = BodyHold::new(budget);
    let gave_way = |held: u64| {
        NodeFailure::BadResponse(format!(
            "answer given up unfinished after {held} bytes: it held more than its share while other answers waited (the run holds at most {} bytes of answers at once)",
            budget.limit
        ))
    };
    let mut chunks = Vec::new();
    loop {
        let give_way = hold.give_way.clone();
        let next = tokio::select! {
            biased;
            () = give_way.asked() => return Err(gave_way(hold.held)),
            next = response.chunk() => next.map_err(|e| transport_failure(&e, false))?,
        };
        let Some(chunk) = next else { break };
        if hold.held + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        match hold.take(chunk.len() as u64).await {
            Ok(()) => {}
            Err(Refused::AskedToGiveWay) => return Err(gave_way(hold.held)),
            Err(Refused::OverShare) => {
                return Err(NodeFailure::BadResponse(format!(
                    "response too large: over its share while other answers were read (the run holds at most {} bytes of answers at once)",
                    budget.limit
                )));
            }
        }
        chunks.push(chunk);
        // A compressed answer inflates without waiting on the socket: let
        // the other tasks (and the run's deadline) have their turn.
        tokio::task::consume_budget().await;
    }
    hold.done_reading();
    let len = hold.held as usize;
    Ok(Body { chunks, len, hold })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(budget: &BodyBudget) -> (u64, usize) {
        let holds = budget.lock();
        (holds.used, holds.bodies.len())
    }

    #[tokio::test]
    async fn the_body_budget_gives_up_on_the_greediest_reader() {
        let budget = Arc::new(BodyBudget::with_limit(100));
        let mut greedy = BodyHold::new(&budget);
        let mut modest = BodyHold::new(&budget);
        assert_eq!(greedy.take(90).await, Ok(()));
        assert_eq!(modest.take(10).await, Ok(()));
        // The budget is spent: the greedy reader holds more than half, it gives up.
        assert_eq!(greedy.take(10).await, Err(Refused::OverShare));
        drop(greedy);
        // Its bytes are back: the modest one goes on.
        assert_eq!(modest.take(50).await, Ok(()));
        drop(modest);
        assert_eq!(used(&budget), (0, 0));
    }

    /// A holder that never asks for more (its node stalled) is asked to give
    /// way by one under its share, and the waiting body gets its bytes.
    #[tokio::test]
    async fn a_stalled_holder_over_its_share_gives_way() {
        let budget = Arc::new(BodyBudget::with_limit(100));
        let mut stalled = [BodyHold::new(&budget), BodyHold::new(&budget)];
        assert_eq!(stalled[0].take(60).await, Ok(()));
        assert_eq!(stalled[1].take(39).await, Ok(()));
        let mut honest = BodyHold::new(&budget);
        // Shares are 33 bytes: both stalled holders are over theirs; the greediest is asked.
        let waiting = tokio::spawn(async move {
            let taken = honest.take(20).await;
            (taken, honest)
        });
        let first = stalled[0].give_way.clone();
        tokio::time::timeout(std::time::Duration::from_secs(5), first.asked())
            .await
            .expect("the greediest holder is asked to give way");
        assert!(!stalled[1].give_way.is_asked(), "one at a time");
        let [greediest, other] = stalled;
        drop(greediest);
        let (taken, honest) = waiting.await.unwrap();
        assert_eq!(taken, Ok(()));
        assert_eq!(used(&budget), (59, 2));
        // A holder that was asked gets nothing more.
        drop(other);
        drop(honest);
        assert_eq!(used(&budget), (0, 0));
    }

    /// A body read in full (being decoded) is not asked: it frees its bytes soon.
    #[tokio::test]
    async fn a_body_being_decoded_is_not_asked_to_give_way() {
        let budget = Arc::new(BodyBudget::with_limit(100));
        let mut decoded = BodyHold::new(&budget);
        assert_eq!(decoded.take(100).await, Ok(()));
        decoded.done_reading();
        let mut next = BodyHold::new(&budget);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), next.take(1)).await;
        assert!(waited.is_err(), "waits for the decoded body");
        assert!(!decoded.give_way.is_asked());
        drop(decoded);
        assert_eq!(next.take(1).await, Ok(()));
    }
}
