//! One node's share of a read: which transactions it still has to be asked
//! about, how (Multicall3 while it works for the node, else plain calls),
//! and one turn of asking — claim the next transactions when the node's
//! window lets a request out, ask, settle how it went. A turn always says
//! whose it was, whether or not it found anything left to ask.

use std::ops::Range;

use alloy::primitives::{Address, Bytes};
use tokio::{sync::Semaphore, time::Instant};

use super::super::window::Window;
use crate::{
    check::ask::{self, Asked, Carrier, Ctx},
    check::{multicall, rpc::learned::Learned},
    config::{CheckConfig, Node},
    report::Via,
    secrets::Secrets,
};

/// How many transactions one request carries with plain calls (through
/// Multicall3: the node's learned chunk, see [`Learned`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BatchSizes {
    /// With plain calls: one `eth_call` per transaction.
    pub plain: usize,
}

impl BatchSizes {
    pub(super) fn of(config: &CheckConfig) -> Self {
        // `--batch-size` bounds a request's entries, the `eth_chainId` riding along included.
        let plain = match (config.chain_id, config.limits.batch_size) {
            (Some(_), n) if n > 1 => n - 1,
            (_, n) => n.max(1),
        };
        Self { plain }
    }
}

/// One node's share of the work: which transactions are still to ask, how
/// (Multicall3 or plain calls), and how many requests it may have out.
pub(super) struct Driver<'a> {
    pub node: &'a Node,
    /// What the client has learned about every node's limits.
    learned: &'a Learned,
    window: Window,
    /// Bounds the Multicall3 requests in flight (see [`multicall::IN_FLIGHT`]).
    multicall_slots: Semaphore,
    /// The contract's code on this node, fetched at most once per run.
    code: ask::CodeCache,
    work: std::sync::Mutex<Work>,
}

struct Work {
    /// The first transaction nobody has claimed yet.
    next: usize,
    /// Transactions handed back to be asked again with plain calls.
    again: Vec<Range<usize>>,
    /// Transactions handed back to be asked again through Multicall3.
    multicall_again: Vec<Range<usize>>,
    /// Transient `aggregate3` failures still to be asked again (`--retries`).
    transient_left: u32,
    /// The Multicall3-compatible contract to use, while it works for this node.
    multicall: Option<Address>,
    /// Some answers came through Multicall3 / through plain calls.
    used_multicall: bool,
    used_plain: Option<Via>,
}

/// What one turn of a driver came to.
pub(super) struct Turn {
    /// Whose turn it was (the node's index).
    pub node: usize,
    /// The answers of the request sent; `None` when nothing was left to ask.
    pub asked: Option<Asked>,
}

impl<'a> Driver<'a> {
    /// A driver for `node`, asking through the Multicall3 at `multicall` (if
    /// any) unless the node has shown it has none; `retries` transient
    /// `aggregate3` failures are asked again.
    pub(super) fn new(node: &'a Node, multicall: Option<Address>, learned: &'a Learned, retries: u32) -> Self {
        let multicall = multicall.filter(|_| learned.no_multicall(node.index, Instant::now()).is_none());
        Self {
            node,
            learned,
            window: Window::new(),
            multicall_slots: Semaphore::new(multicall::IN_FLIGHT),
            code: ask::CodeCache::new(),
            work: std::sync::Mutex::new(Work {
                next: 0,
                again: Vec::new(),
                multicall_again: Vec::new(),
                transient_left: retries,
                multicall,
                used_multicall: false,
                used_plain: None,
            }),
        }
    }

    /// Reads per `aggregate3` for this node now.
    fn chunk(&self) -> usize {
        self.learned.chunk(self.node.index, Instant::now())
    }

    /// How many requests the work nobody has claimed yet takes, at `sizes`.
    pub(super) fn requests_left(&self, total: usize, sizes: BatchSizes) -> usize {
        let chunk = self.chunk();
        let Ok(w) = self.work.lock() else { return 0 };
        let again: usize = w.again.iter().map(|r| r.len().div_ceil(sizes.plain)).sum();
        let multicall_again: usize = w.multicall_again.iter().map(|r| r.len().div_ceil(chunk)).sum();
        let rest = total.saturating_sub(w.next);
        let per_request = if w.multicall.is_some() { chunk } else { sizes.plain };
        again + multicall_again + rest.div_ceil(per_request)
    }

    /// Claims the next transactions to ask, and how.
    fn claim(&self, total: usize, sizes: BatchSizes) -> Option<(Range<usize>, Carrier)> {
        let chunk = self.chunk();
        let mut w = self.work.lock().ok()?;
        let take = |queue: &mut Vec<Range<usize>>, size: usize| {
            let r = queue.pop()?;
            let end = (r.start + size).min(r.end);
            if end < r.end {
                queue.push(end..r.end);
            }
            Some(r.start..end)
        };
        if let Some(r) = take(&mut w.again, sizes.plain) {
            return Some((r, Carrier::Plain));
        }
        if let Some(at) = w.multicall
            && let Some(r) = take(&mut w.multicall_again, chunk)
        {
            return Some((r, Carrier::Multicall(at)));
        }
        if w.next >= total {
            return None;
        }
        let (size, carrier) = match w.multicall {
            Some(at) => (chunk, Carrier::Multicall(at)),
            None => (sizes.plain, Carrier::Plain),
        };
        let range = w.next..(w.next + size).min(total);
        w.next = range.end;
        Some((range, carrier))
    }

    /// Settles how a request went: a Multicall3 that did not answer usably
    /// is not used again for this node, and its transactions go back in the
    /// queue, to be claimed for plain calls.
    fn settle(&self, asked: &mut Asked) {
        let Ok(mut w) = self.work.lock() else { return };
        if let Some(why) = asked.multicall_unusable.take()
            && w.multicall.take().is_some()
        {
            tracing::info!(node = %self.node.label(), reason = %why, "Multicall3 not usable: plain calls for the rest of the run");
        }
        for range in std::mem::take(&mut asked.transient_again) {
            if w.transient_left > 0 {
                w.transient_left -= 1;
                asked.multicall_again.push(range);
            } else {
                asked.plain_again.push(range);
            }
        }
        w.again.append(&mut asked.plain_again);
        if w.multicall.is_some() {
            w.multicall_again.append(&mut asked.multicall_again);
        } else {
            // Multicall3 is out for this node: whatever was waiting for it goes plain.
            let waiting = std::mem::take(&mut w.multicall_again);
            w.again.extend(waiting);
            w.again.append(&mut asked.multicall_again);
        }
        match asked.via {
            Via::Multicall if !asked.answered.is_empty() => w.used_multicall = true,
            Via::Multicall => {}
            plain => {
                w.used_plain = Some(match w.used_plain {
                    Some(Via::Batch) => Via::Batch,
                    _ => plain,
                })
            }
        }
    }

    /// How the node was asked, as the report says it.
    pub(super) fn via(&self) -> Option<Via> {
        let w = self.work.lock().ok()?;
        match (w.used_multicall, w.multicall.is_some(), w.used_plain) {
            (true, true, _) => Some(Via::Multicall),
            (_, _, Some(plain)) => Some(plain),
            (true, false, None) => Some(Via::Multicall),
            (false, _, None) => None,
        }
    }

    /// One turn: when the node's window lets a request out, claims the next
    /// transactions, asks about them and settles how it went.
    pub(super) async fn turn(&self, ctx: Ctx<'_>, secrets: &Secrets, calldata: &[Bytes], sizes: BatchSizes) -> Turn {
        let node = self.node.index;
        let permit = self.window.permits.acquire().await;
        let sent_in = self.window.epoch();
        let Some((range, carrier)) = self.claim(calldata.len(), sizes) else {
            return Turn { node, asked: None };
        };
        let _slot = match carrier {
            Carrier::Multicall(_) => self.multicall_slots.acquire().await.ok(),
            Carrier::Plain => None,
        };
        // While this turn waited for its slot, the node's Multicall3 may
        // have been found unusable: its transactions go to plain calls.
        if matches!(carrier, Carrier::Multicall(_))
            && let Ok(mut w) = self.work.lock()
            && w.multicall.is_none()
        {
            w.again.push(range);
            return Turn { node, asked: None };
        }
        let mut asked = ask::ask(ctx, self.node, secrets, calldata, range, carrier, &self.code).await;
        self.settle(&mut asked);
        if self.window.after_batch(asked.rate_limited, sent_in)
            && let Ok(permit) = permit
        {
            permit.forget();
        }
        Turn {
            node,
            asked: Some(asked),
        }
    }
}
