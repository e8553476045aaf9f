//! `/v1/check`'s answers, shared: identical checks in flight ride on one
//! fan-out, and a finished answer is reused for the same hashes for
//! `--cache-ttl` (0: not reused) — one client asking the same thing in a
//! loop costs the providers one fan-out per TTL, not one per request.
//! Keyed by the request's hashes in order (the document lists them in that
//! order); the fan-out runs in a task of its own, so it finishes (and is
//! cached) even when the client that started it goes away. Answers cached
//! are bounded in total bytes.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy::primitives::B256;
use axum::body::Bytes;
use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use tokio::{sync::OwnedSemaphorePermit, time::Instant};

/// Bytes of answers kept for reuse, at most.
const MAX_CACHED_BYTES: usize = 32 * 1024 * 1024;

/// A finished check: the JSON document, or why there is none.
pub type Answer = Result<Bytes, String>;

/// Where an answer came from, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A fan-out of its own.
    Fanout,
    /// The fan-out of an identical check in flight.
    Shared,
    /// A finished identical check, younger than `--cache-ttl`.
    Cached,
}

impl Source {
    /// Every source, in the order `/metrics` lists them.
    pub const ALL: [Self; 3] = [Self::Fanout, Self::Shared, Self::Cached];

    /// The `source` label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fanout => "fanout",
            Self::Shared => "shared",
            Self::Cached => "cached",
        }
    }
}

/// What [`Checks::answer`] found for a list of hashes.
pub enum Lookup {
    /// Reuse this.
    Ready(Answer),
    /// Wait for this.
    Pending(Shared<BoxFuture<'static, Answer>>, Source),
    /// No slot for another check: 429.
    Busy,
}

type Key = Arc<[B256]>;

#[derive(Default)]
struct State {
    in_flight: HashMap<Key, Shared<BoxFuture<'static, Answer>>>,
    done: HashMap<Key, (Bytes, Instant)>,
    done_bytes: usize,
}

/// In-flight checks and recent answers.
pub struct Checks {
    ttl: Duration,
    state: Mutex<State>,
    answered: [AtomicU64; Source::ALL.len()],
    refused: AtomicU64,
}

impl Checks {
    /// Answers reused for `ttl` (zero: never).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Mutex::new(State::default()),
            answered: Default::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// Requests answered from `source` so far.
    pub fn answered(&self, source: Source) -> u64 {
        self.answered[source as usize].load(Ordering::Relaxed)
    }

    /// Requests refused for want of a slot (429) so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The answer for `hashes`: a recent one, the one in flight, or a new
    /// check — started by `start` with a slot from `slot` (`None`: busy).
    pub fn answer<F>(
        self: &Arc<Self>,
        hashes: Vec<B256>,
        slot: impl FnOnce() -> Option<OwnedSemaphorePermit>,
        start: impl FnOnce(Vec<B256>) -> F,
    ) -> Lookup
    where
        F: std::future::Future<Output = Answer> + Send + 'static,
    {
        let key: Key = hashes.clone().into();
        let Ok(mut state) = self.state.lock() else {
            return Lookup::Ready(Err("internal error: the check cache is unusable".into()));
        };
        if let Some((body, at)) = state.done.get(&key)
            && at.elapsed() < self.ttl
        {
            self.note(Source::Cached);
            return Lookup::Ready(Ok(body.clone()));
        }
        if let Some(pending) = state.in_flight.get(&key) {
            self.note(Source::Shared);
            return Lookup::Pending(pending.clone(), Source::Shared);
        }
        let Some(slot) = slot() else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Lookup::Busy;
        };
        let guard = InFlight {
            checks: self.clone(),
            key: key.clone(),
        };
        let check = start(hashes);
        let task = tokio::spawn(async move {
            let answer = check.await;
            guard.finish(&answer);
            drop(slot);
            answer
        });
        let pending = async move {
            task.await
                .unwrap_or_else(|_| Err("internal error: the check did not finish".into()))
        }
        .boxed()
        .shared();
        state.in_flight.insert(key, pending.clone());
        self.note(Source::Fanout);
        Lookup::Pending(pending, Source::Fanout)
    }

    fn note(&self, source: Source) {
        self.answered[source as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// A check in flight: its entry leaves the in-flight table when it ends,
/// however it ends (a panic or a runtime shutting down included).
struct InFlight {
    checks: Arc<Checks>,
    key: Key,
}

impl InFlight {
    /// Moves a successful answer to the reusable ones.
    fn finish(&self, answer: &Answer) {
        let (Ok(body), false) = (answer, self.checks.ttl.is_zero()) else {
            return;
        };
        let Ok(mut state) = self.checks.state.lock() else {
            return;
        };
        let ttl = self.checks.ttl;
        let state = &mut *state;
        state.done.retain(|_, (_, at)| at.elapsed() < ttl);
        state.done_bytes = state.done.values().map(|(b, _)| b.len()).sum();
        while state.done_bytes + body.len() > MAX_CACHED_BYTES {
            let oldest = state.done.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some((b, _)) = state.done.remove(&oldest) {
                state.done_bytes -= b.len();
            }
        }
        if state.done_bytes + body.len() <= MAX_CACHED_BYTES {
            state.done_bytes += body.len();
            state.done.insert(self.key.clone(), (body.clone(), Instant::now()));
        }
        state.in_flight.remove(&self.key);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut state) = self.checks.state.lock() {
            state.in_flight.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    fn hashes(n: u8) -> Vec<B256> {
        (0..n).map(B256::repeat_byte).collect()
    }

    #[tokio::test]
    async fn identical_checks_share_then_reuse_until_the_ttl() {
        let checks = Arc::new(Checks::new(Duration::from_millis(200)));
        let slots = Arc::new(Semaphore::new(1));
        let started = Arc::new(AtomicU64::new(0));
        let ask = |checks: &Arc<Checks>| {
            let (slots, started) = (slots.clone(), started.clone());
            checks.answer(
                hashes(2),
                move || slots.try_acquire_owned().ok(),
                move |h| async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(Bytes::from(format!("{} hashes", h.len())))
                },
            )
        };
        let (Lookup::Pending(a, Source::Fanout), Lookup::Pending(b, Source::Shared)) = (ask(&checks), ask(&checks))
        else {
            panic!("the second identical check must share the first");
        };
        assert_eq!(a.await, Ok(Bytes::from("2 hashes")));
        assert_eq!(b.await, Ok(Bytes::from("2 hashes")));
        assert!(matches!(ask(&checks), Lookup::Ready(Ok(_))), "reused within the TTL");
        assert_eq!(started.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Lookup::Pending(c, Source::Fanout) = ask(&checks) else {
            panic!("checked again after the TTL");
        };
        c.await.unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(checks.answered(Source::Fanout), 2);
        assert_eq!(checks.answered(Source::Shared), 1);
        assert_eq!(checks.answered(Source::Cached), 1);
    }

    #[tokio::test]
    async fn without_a_slot_a_new_check_is_refused_and_a_failed_one_is_not_kept() {
        let checks = Arc::new(Checks::new(Duration::from_secs(60)));
        let none = checks.answer(hashes(1), || None, |_| async { Ok(Bytes::new()) });
        assert!(matches!(none, Lookup::Busy));
        assert_eq!(checks.refused(), 1);
        let slots = Arc::new(Semaphore::new(1));
        let failing = checks.answer(
            hashes(1),
            || slots.clone().try_acquire_owned().ok(),
            |_| async { Err("could not write".to_string()) },
        );
        let Lookup::Pending(f, _) = failing else { panic!() };
        assert!(f.await.is_err());
        // The slot came back, and the failure was not cached.
        assert_eq!(slots.available_permits(), 1);
        let again = checks.answer(
            hashes(1),
            || slots.clone().try_acquire_owned().ok(),
            |_| async { Ok(Bytes::from("ok")) },
        );
        assert!(matches!(again, Lookup::Pending(_, Source::Fanout)));
    }
}
