//! One node's share of a read: which transactions it still has to be asked
//! about, how (Multicall3 while it works for the node, else plain calls),
//! and one turn of asking — claim the next transactions when the node's
//! window lets a request out, ask, settle how it went. A turn always says
//! whose it was, whether or not it found anything left to ask.

use std::ops::Range;

use alloy::primitives::{Address, Bytes};
use tokio::sync::Semaphore;

use super::super::window::Window;
use crate::{
    check::ask::{self, Asked, Carrier, Ctx},
    check::multicall,
    config::{CheckConfig, Node},
    report::Via,
    secrets::Secrets,
};

/// How many transactions one request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BatchSizes {
    /// With plain calls: one `eth_call` per transaction.
    pub plain: usize,
    /// Through Multicall3: a few `aggregate3` calls of [`multicall::CHUNK`] transactions each.
    pub multicall: usize,
}

impl BatchSizes {
    pub(super) fn of(config: &CheckConfig) -> Self {
        // `--batch-size` bounds a request's entries, the `eth_chainId` riding along included.
        let plain = match (config.chain_id, config.limits.batch_size) {
            (Some(_), n) if n > 1 => n - 1,
            (_, n) => n.max(1),
        };
        Self {
            plain,
            multicall: plain.min(multicall::PER_REQUEST) * multicall::CHUNK,
        }
    }
}

/// One node's share of the work: which transactions are still to ask, how
/// (Multicall3 or plain calls), and how many requests it may have out.
pub(super) struct Driver<'a> {
    pub node: &'a Node,
    window: Window,
    /// Bounds the Multicall3 requests in flight (see [`multicall::IN_FLIGHT`]).
    multicall_slots: Semaphore,
    work: std::sync::Mutex<Work>,
}

struct Work {
    /// The first transaction nobody has claimed yet.
    next: usize,
    /// Transactions handed back to be asked again with plain calls.
    again: Vec<Range<usize>>,
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
    /// A driver for `node`, asking through the Multicall3 at `multicall` (if any).
    pub(super) fn new(node: &'a Node, multicall: Option<Address>) -> Self {
        Self {
            node,
            window: Window::new(),
            multicall_slots: Semaphore::new(multicall::IN_FLIGHT),
            work: std::sync::Mutex::new(Work {
                next: 0,
                again: Vec::new(),
                multicall,
                used_multicall: false,
                used_plain: None,
            }),
        }
    }

    /// How many requests the work nobody has claimed yet takes, at `sizes`.
    pub(super) fn requests_left(&self, total: usize, sizes: BatchSizes) -> usize {
        let Ok(w) = self.work.lock() else { return 0 };
        let again: usize = w.again.iter().map(|r| r.len().div_ceil(sizes.plain)).sum();
        let rest = total.saturating_sub(w.next);
        let per_request = if w.multicall.is_some() {
            sizes.multicall
        } else {
            sizes.plain
        };
        again + rest.div_ceil(per_request)
    }

    /// Claims the next transactions to ask, and how.
    fn claim(&self, total: usize, sizes: BatchSizes) -> Option<(Range<usize>, Carrier)> {
        let mut w = self.work.lock().ok()?;
        if let Some(r) = w.again.pop() {
            let end = (r.start + sizes.plain).min(r.end);
            if end < r.end {
                w.again.push(end..r.end);
            }
            return Some((r.start..end, Carrier::Plain));
        }
        if w.next >= total {
            return None;
        }
        let (size, carrier) = match w.multicall {
            Some(at) => (sizes.multicall, Carrier::Multicall(at)),
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
        if let Some(why) = asked.multicall_unusable.take() {
            if w.multicall.take().is_some() {
                tracing::info!(node = %self.node.label(), reason = %why, "Multicall3 not usable: plain calls for the rest of the run");
            }
            w.again.append(&mut asked.plain_again);
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
        let mut asked = ask::ask(ctx, self.node, secrets, calldata, range, carrier).await;
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
