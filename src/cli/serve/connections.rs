//! The connections `serve` holds and what each has done: bytes received,
//! when it last sent a byte, when it last made progress either way, whether
//! a request of it is being answered. At most `--max-connections` are open;
//! at the cap, the one that has been silent longest (fewest bytes on a tie)
//! is closed to admit the newcomer — never one whose request is being
//! answered —, so that 1,100 idle sockets cannot shut out a `/healthz`
//! probe. A connection is also closed after [`IDLE_TIMEOUT`] without
//! progress while no request of it is being answered (a client that stops
//! reading its answer).

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

/// A connection without a byte in either direction for this long, while
/// none of its requests is being answered, is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the accept loop waits for an evicted connection to let go of
/// its descriptor before dropping the newcomer instead.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// Why `serve` closed a connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Closed at the cap to admit a new connection.
    Evicted,
    /// No progress for [`IDLE_TIMEOUT`].
    Idle,
    /// No complete request head within the header-read timeout (a slow or
    /// silent client; also an idle keep-alive connection).
    HeaderTimeout,
    /// A request head larger than the limit (answered 431).
    HeaderTooLarge,
}

impl Closed {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Self; 4] = [Self::Evicted, Self::Idle, Self::HeaderTimeout, Self::HeaderTooLarge];

    /// The `reason` label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Evicted => "evicted",
            Self::Idle => "idle",
            Self::HeaderTimeout => "header_timeout",
            Self::HeaderTooLarge => "header_too_large",
        }
    }
}

/// What one connection has done; times are milliseconds since the registry's epoch.
#[derive(Debug)]
pub struct Activity {
    id: u64,
    epoch: Instant,
    received: AtomicU64,
    last_received_ms: AtomicU64,
    last_progress_ms: AtomicU64,
    busy: AtomicUsize,
    evicted: Notify,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn on_received(&self, n: usize) {
        let now = self.now_ms();
        self.received.fetch_add(n as u64, Ordering::Relaxed);
        self.last_received_ms.store(now, Ordering::Relaxed);
        self.last_progress_ms.store(now, Ordering::Relaxed);
    }

    fn on_sent(&self) {
        self.last_progress_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Marks a request of this connection as being answered until the guard drops.
    pub fn busy(self: &Arc<Self>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.clone())
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }

    /// Resolves when the registry closed this connection to admit another.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    /// Resolves once the connection has made no progress for [`IDLE_TIMEOUT`]
    /// while none of its requests was being answered.
    pub async fn idle(&self) {
        loop {
            let last = self.epoch + Duration::from_millis(self.last_progress_ms.load(Ordering::Relaxed));
            let due = last + IDLE_TIMEOUT;
            let now = Instant::now();
            if now < due {
                tokio::time::sleep_until(due).await;
            } else if self.is_busy() {
                tokio::time::sleep(IDLE_TIMEOUT).await;
            } else {
                return;
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            busy: self.is_busy(),
            last_received_ms: self.last_received_ms.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }
}

/// A request being answered; dropping it ends that.
pub struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What eviction looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    busy: bool,
    last_received_ms: u64,
    received: u64,
}

/// The connection to close at the cap: not busy, silent the longest, then
/// the fewest bytes sent, then the oldest.
fn pick_victim(candidates: impl Iterator<Item = (u64, Snapshot)>) -> Option<u64> {
    candidates
        .filter(|(_, s)| !s.busy)
        .min_by_key(|(id, s)| (s.last_received_ms, s.received, *id))
        .map(|(id, _)| id)
}

/// The open connections, their slots and the totals `/metrics` shows.
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    max: usize,
    slots: Arc<Semaphore>,
    conns: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
    closed: [AtomicU64; Closed::ALL.len()],
}

/// A registered connection: its record, and its slot (released when dropped,
/// after the socket is closed).
pub struct Admitted {
    /// What the connection does.
    pub activity: Arc<Activity>,
    /// Its place under the cap.
    pub slot: OwnedSemaphorePermit,
}

impl Registry {
    /// Room for `max` connections (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            epoch: Instant::now(),
            max,
            slots: Arc::new(Semaphore::new(max)),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            closed: Default::default(),
        }
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections open now (an evicted one counts until its socket is closed).
    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    /// Connections `serve` closed itself, by reason.
    pub fn closed(&self, reason: Closed) -> u64 {
        self.closed[reason as usize].load(Ordering::Relaxed)
    }

    /// Counts a connection closed for `reason`.
    pub fn count(&self, reason: Closed) {
        self.closed[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A slot for a new connection: a free one, or the one an evicted
    /// connection gives back. `None` when every connection is busy
    /// answering (the newcomer is then dropped).
    pub async fn admit(&self) -> Option<Admitted> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !self.evict_one() {
                    return None;
                }
                tokio::time::timeout(EVICTION_WAIT, self.slots.clone().acquire_owned())
                    .await
                    .ok()?
                    .ok()?
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let activity = Arc::new(Activity {
            id,
            epoch: self.epoch,
            received: AtomicU64::new(0),
            last_received_ms: AtomicU64::new(now),
            last_progress_ms: AtomicU64::new(now),
            busy: AtomicUsize::new(0),
            evicted: Notify::new(),
        });
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, activity.clone());
        }
        Some(Admitted { activity, slot })
    }

    /// Closes the connection that has been silent longest; false when all are busy.
    pub fn evict_one(&self) -> bool {
        let Ok(mut conns) = self.conns.lock() else {
            return false;
        };
        let victim = pick_victim(conns.iter().map(|(id, a)| (*id, a.snapshot())));
        let Some(activity) = victim.and_then(|id| conns.remove(&id)) else {
            return false;
        };
        drop(conns);
        self.count(Closed::Evicted);
        activity.evicted.notify_one();
        true
    }

    /// Forgets a connection that has ended.
    pub fn forget(&self, activity: &Activity) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&activity.id);
        }
    }
}

/// A socket that records its traffic in an [`Activity`].
pub struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Counted<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.activity.on_received(n);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_sent();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_sent();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(busy: bool, last_received_ms: u64, received: u64) -> Snapshot {
        Snapshot {
            busy,
            last_received_ms,
            received,
        }
    }

    #[test]
    fn the_victim_is_the_longest_silent_never_a_busy_one() {
        let conns = [
            (1, snap(false, 500, 10)),
            (2, snap(true, 0, 0)),
            (3, snap(false, 100, 900)),
            (4, snap(false, 100, 20)),
        ];
        // 2 is silent longest but being answered; 3 and 4 went silent at the
        // same time, 4 sent less.
        assert_eq!(pick_victim(conns.into_iter()), Some(4));
        assert_eq!(pick_victim([(7, snap(true, 0, 0))].into_iter()), None);
        assert_eq!(pick_victim(std::iter::empty()), None);
    }

    #[tokio::test]
    async fn a_full_registry_evicts_to_admit_and_counts_it() {
        let registry = Registry::new(2);
        let a = registry.admit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let b = registry.admit().await.unwrap();
        b.activity.on_received(100);
        assert_eq!(registry.open(), 2);
        // Full: the newcomer waits for the victim (a: silent since it was
        // admitted) to give its slot back.
        let victim = tokio::spawn(async move {
            a.activity.evicted().await;
            drop(a.slot);
        });
        let c = registry.admit().await.expect("admitted after an eviction");
        victim.await.unwrap();
        assert_eq!(registry.closed(Closed::Evicted), 1);
        assert_eq!(registry.open(), 2);
        // Everyone busy: nobody to evict, the newcomer is refused.
        let _busy = (b.activity.busy(), c.activity.busy());
        assert!(registry.admit().await.is_none());
    }
}
