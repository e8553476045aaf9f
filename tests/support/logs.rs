//! Providers' `eth_getLogs` limits and log lies, played by the proxy in
//! front of a real anvil ([`Fault::Intercept`]): each [`Limit`] refuses too
//! large a range in one provider's own words (and counts its refusals, so a
//! test can bound the requests from what it configured); [`hide`],
//! [`truncate`], [`forge`] and [`misplace`] tamper with the logs anvil returned.

#![allow(dead_code)]

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use alloy::primitives::B256;
use serde_json::{Value, json};

use super::proxy::{Fault, Intercept};

/// How a provider limits `eth_getLogs`.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// "query exceeds max block range N" (-32602).
    MaxBlockRange(u64),
    /// "eth_getLogs range is too large, max is Nk blocks" (-32603); N a multiple of 1,000.
    MaxIsK(u64),
    /// "ranges over N blocks are not supported on freetier" (35).
    FreeTier(u64),
    /// "eth_getLogs is limited to N block range" (-32602).
    LimitedTo(u64),
    /// "query exceeds max results N, retry with the range A-B" (-32602).
    MaxResultsRetry(usize),
    /// "query returned more than N results" (-32005).
    MoreThanResults(usize),
    /// "Log response size exceeded. … up to a NK block range …" (-32602); N a multiple of 1,000.
    ResponseSize(u64),
    /// "Maximum allowed number of requested blocks is N" (-32000).
    MaxRequestedBlocks(u64),
    /// HTTP 413 for more than N blocks.
    Http413(u64),
    /// HTTP 503 for more than N blocks.
    Http503(u64),
    /// "internal error" (-32603) for more than N blocks: no hint at all.
    Unknown(u64),
}

impl Limit {
    /// The most blocks one request may span, for block-range limits.
    pub fn blocks(self) -> Option<u64> {
        match self {
            Self::MaxBlockRange(n)
            | Self::MaxIsK(n)
            | Self::FreeTier(n)
            | Self::LimitedTo(n)
            | Self::ResponseSize(n)
            | Self::MaxRequestedBlocks(n)
            | Self::Http413(n)
            | Self::Http503(n)
            | Self::Unknown(n) => Some(n),
            Self::MaxResultsRetry(_) | Self::MoreThanResults(_) => None,
        }
    }

    /// Whether the refusal names the accepted range.
    pub fn names_its_range(self) -> bool {
        !matches!(
            self,
            Self::Http413(_) | Self::Http503(_) | Self::Unknown(_) | Self::MoreThanResults(_)
        )
    }

    /// The refusal of a range, in the provider's words.
    fn refusal(self, id: &Value) -> (u16, String) {
        let rpc = |code: i64, message: String| {
            (
                200,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string(),
            )
        };
        match self {
            Self::MaxBlockRange(n) => rpc(-32602, format!("query exceeds max block range {n}")),
            Self::MaxIsK(n) => rpc(
                -32603,
                format!("eth_getLogs range is too large, max is {}k blocks", n / 1000),
            ),
            Self::FreeTier(n) => rpc(35, format!("ranges over {n} blocks are not supported on freetier")),
            Self::LimitedTo(n) => rpc(-32602, format!("eth_getLogs is limited to {n} block range")),
            Self::ResponseSize(n) => rpc(
                -32602,
                format!(
                    "Log response size exceeded. You can make eth_getLogs requests with up to a {}K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response.",
                    n / 1000
                ),
            ),
            Self::MaxRequestedBlocks(n) => rpc(-32000, format!("Maximum allowed number of requested blocks is {n}")),
            Self::Http413(_) => (413, "{\"error\":\"request entity too large\"}".into()),
            Self::Http503(_) => (503, "{\"error\":\"upstream timed out\"}".into()),
            Self::Unknown(_) => rpc(-32603, "internal error".into()),
            Self::MaxResultsRetry(_) | Self::MoreThanResults(_) => {
                unreachable!("results limits refuse after the answer")
            }
        }
    }
}

/// The block range of an `eth_getLogs` request, and its id.
pub fn logs_request(request: &Value) -> Option<(u64, u64, Value)> {
    if request["method"] != "eth_getLogs" {
        return None;
    }
    let filter = &request["params"][0];
    // A tag (or nothing) counts as the widest range: "earliest" is 0, the
    // head tags beyond any limit, as a provider resolves them.
    let block = |v: &Value, tag: u64| match v.as_str() {
        Some(s) if s.starts_with("0x") => u64::from_str_radix(&s[2..], 16).ok(),
        Some("earliest") => Some(0),
        _ => Some(tag),
    };
    Some((
        block(&filter["fromBlock"], 0)?,
        block(&filter["toBlock"], u64::MAX / 2)?,
        request["id"].clone(),
    ))
}

fn block_of(log: &Value) -> u64 {
    log["blockNumber"]
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// What a limiting proxy saw: its refusals, and the ranges it let through.
#[derive(Debug, Default)]
pub struct Counts {
    refusals: AtomicUsize,
    accepted: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl Counts {
    /// Ranges refused.
    pub fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    /// Ranges answered, in the order asked.
    pub fn accepted(&self) -> Vec<(u64, u64)> {
        self.accepted.lock().expect("accepted").clone()
    }

    /// The bound the issue sets on requests: ⌈blocks / accepted range⌉ +
    /// bisection steps + 2, with the accepted range the smallest one this
    /// proxy answered other than the last (the tail of the scan may be
    /// shorter), all counted here.
    pub fn request_bound(&self, blocks: u64) -> usize {
        let accepted = self.accepted();
        let lens: Vec<u64> = accepted.iter().map(|(f, t)| t - f + 1).collect();
        let steady = lens[..lens.len().saturating_sub(1)]
            .iter()
            .copied()
            .min()
            .unwrap_or(blocks)
            .max(1);
        blocks.div_ceil(steady) as usize + self.refusals() + 2
    }

    fn accept(&self, from: u64, to: u64) {
        self.accepted.lock().expect("accepted").push((from, to));
    }
}

/// A proxy fault enforcing `limit`, and what it saw.
pub fn limited(limit: Limit) -> (Fault, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let seen = counts.clone();
    let fault = Fault::Intercept(Arc::new(move |request: &Value| {
        let Some((from, to, id)) = logs_request(request) else {
            return Intercept::Pass;
        };
        let len = to.saturating_sub(from) + 1;
        match limit {
            Limit::MaxResultsRetry(max) | Limit::MoreThanResults(max) => {
                let seen = seen.clone();
                Intercept::Rewrite(Box::new(move |answer: &mut Value| {
                    let logs = answer["result"].as_array().cloned().unwrap_or_default();
                    if logs.len() <= max {
                        seen.accept(from, to);
                        return;
                    }
                    seen.refusals.fetch_add(1, Ordering::SeqCst);
                    let (code, message) = match limit {
                        Limit::MaxResultsRetry(_) => {
                            // The largest range from `from` holding at most `max` logs.
                            let end = block_of(&logs[max]).saturating_sub(1).max(from);
                            (
                                -32602,
                                format!("query exceeds max results {max}, retry with the range {from}-{end}"),
                            )
                        }
                        _ => (-32005, format!("query returned more than {max} results")),
                    };
                    *answer = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
                }))
            }
            _ if limit.blocks().is_some_and(|max| len > max) => {
                seen.refusals.fetch_add(1, Ordering::SeqCst);
                let (status, body) = limit.refusal(&id);
                Intercept::Reply { status, body }
            }
            _ => {
                seen.accept(from, to);
                Intercept::Pass
            }
        }
    }));
    (fault, counts)
}

/// Applies `f` to the logs of every `eth_getLogs` answer; `f` also gets the
/// range asked.
fn on_logs(f: impl Fn(&mut Vec<Value>, u64, u64) + Send + Sync + 'static) -> Fault {
    let f = Arc::new(f);
    Fault::Intercept(Arc::new(move |request: &Value| {
        let Some((from, to, _)) = logs_request(request) else {
            return Intercept::Pass;
        };
        let f = f.clone();
        Intercept::Rewrite(Box::new(move |answer: &mut Value| {
            if let Some(logs) = answer["result"].as_array_mut() {
                f(logs, from, to);
            }
        }))
    }))
}

fn topic_hash(log: &Value, topic: usize) -> Option<B256> {
    log["topics"][topic].as_str()?.parse().ok()
}

/// A node that hides every log of `hash` (hash in topic `topic`).
pub fn hide(hash: B256, topic: usize) -> Fault {
    on_logs(move |logs, _, _| logs.retain(|l| topic_hash(l, topic) != Some(hash)))
}

/// A node that answers with at most `keep` logs, whatever the range held.
pub fn truncate(keep: usize) -> Fault {
    on_logs(move |logs, _, _| logs.truncate(keep))
}

/// A node that adds a vote log for `hash` to the first answer holding a log
/// (a copy of that log, with the hash swapped in at topic 1).
pub fn forge(hash: B256) -> Fault {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    on_logs(move |logs, _, _| {
        if let Some(first) = logs.first().cloned()
            && !done.swap(true, Ordering::SeqCst)
        {
            let mut forged = first;
            forged["topics"][1] = json!(format!("{hash:#x}"));
            forged["logIndex"] = json!("0x3e8");
            logs.push(forged);
        }
    })
}

/// A node whose logs claim a block outside the range asked: malformed.
pub fn misplace() -> Fault {
    on_logs(move |logs, _, to| {
        for log in logs.iter_mut() {
            log["blockNumber"] = json!(format!("{:#x}", to + 1_000));
        }
    })
}
