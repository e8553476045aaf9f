//! Where large answers are decoded and read: on one worker thread beside the
//! async runtime, not on the task that runs the fan-out. The command line
//! runs the whole fan-out on one thread; a node's answer of megabytes takes
//! tens of milliseconds to decode, and while it did, no other node's answer
//! was taken and the run's deadline could not fire.
//!
//! One thread, smallest job first: a hostile node's huge answers never hold
//! up an honest node's small ones (an answer waits at most for the one job
//! under way), large answers are decoded one at a time (decoding briefly
//! needs about twice an answer's size), and the allocator keeps one more
//! arena, not one per blocking-pool thread (measured: 411 MiB peak with
//! tokio's blocking pool against 233 MiB with one worker, BENCHMARKS.md).
//! A job whose caller has gone (the deadline fired) is dropped unrun.

use std::{
    cmp::Ordering,
    collections::BinaryHeap,
    sync::{Arc, Condvar, Mutex, OnceLock},
};

/// Answers (in bytes of JSON) up to this size are decoded and read where
/// they arrive: that costs well under a millisecond in a release build
/// (BENCHMARKS.md), less than a trip to the worker and back.
pub(crate) const OFF_LOOP_BYTES: usize = 64 * 1024;

type Job = Box<dyn FnOnce() + Send>;

struct Queued {
    size: usize,
    seq: u64,
    job: Job,
}

// The heap pops its greatest element: the smallest job, then the oldest.
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other.size.cmp(&self.size).then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

#[derive(Default)]
struct Queue {
    jobs: Mutex<(BinaryHeap<Queued>, u64)>,
    ready: Condvar,
}

impl Queue {
    fn push(&self, size: usize, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let seq = jobs.1;
        jobs.1 += 1;
        jobs.0.push(Queued { size, seq, job });
        drop(jobs);
        self.ready.notify_one();
    }

    fn serve(&self) {
        loop {
            let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let next = loop {
                match jobs.0.pop() {
                    Some(next) => break next,
                    None => jobs = self.ready.wait(jobs).unwrap_or_else(|p| p.into_inner()),
                }
            };
            drop(jobs);
            // Jobs do not panic; should one, the worker lives on for the others.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(next.job));
        }
    }
}

/// The worker's queue, its thread started on first use; `None` when no
/// thread can be started (then the work is done in place).
fn worker() -> Option<&'static Arc<Queue>> {
    static WORKER: OnceLock<Option<Arc<Queue>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let queue = Arc::new(Queue::default());
            let serving = queue.clone();
            std::thread::Builder::new()
                .name("quorum-check-decode".into())
                .spawn(move || serving.serve())
                .ok()
                .map(|_| queue)
        })
        .as_ref()
}

/// Runs `work` — reading an answer of `size` bytes — on the worker thread
/// and waits for it; `None` only if the job was lost (it never is: jobs do
/// not panic). Dropping the returned future drops a job not yet begun.
pub(crate) async fn off_loop<T: Send + 'static>(size: usize, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let Some(queue) = worker() else {
        return Some(work());
    };
    let (done, result) = tokio::sync::oneshot::channel();
    queue.push(
        size,
        Box::new(move || {
            if !done.is_closed() {
                let _ = done.send(work());
            }
        }),
    );
    result.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn smaller_jobs_go_first_and_abandoned_ones_are_dropped() {
        let order = Arc::new(Mutex::new(Vec::new()));
        // Hold the worker with a job, then queue a big, an abandoned and a small one.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn(off_loop(0, move || {
            let _ = held.recv();
        }));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let log = |name: &'static str| {
            let order = order.clone();
            move || order.lock().unwrap().push(name)
        };
        let big = tokio::spawn(off_loop(10_000_000, log("big")));
        let abandoned = tokio::spawn(off_loop(5, log("abandoned")));
        let small = tokio::spawn(off_loop(1_000, log("small")));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        abandoned.abort();
        let _ = abandoned.await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        small.await.unwrap().unwrap();
        big.await.unwrap().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["small", "big"]);
    }
}
