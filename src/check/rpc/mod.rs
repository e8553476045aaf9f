//! JSON-RPC over HTTP for the fan-out: one batch request per call, bounded in
//! time (a node's whole budget, retries included) and in size (the body is cut
//! off while reading), with retries for transient failures only, and strict
//! matching of the answers to the calls. Request and response types are
//! alloy's; the HTTP client is reqwest, which alloy itself uses, driven here
//! directly because alloy's transport neither bounds a body nor exposes the
//! HTTP status and `Retry-After` that retry decisions need.

use std::time::Duration;

use alloy::rpc::json_rpc::{ErrorPayload, Id, Request};
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::config::Node;
pub use crate::sanitize::{clean, node_text};

mod body;
mod decode;
mod failure;
pub mod learned;
mod offload;

pub use body::BODY_BUDGET_FACTOR;
use body::{BodyBudget, read_bounded};
pub use decode::{decode_batch, decode_single};
pub use failure::{NodeFailure, backoff_hint, is_out_of_gas, is_transient_entry, parse_retry_after, tls_failure};
use failure::{is_batch_refusal, is_rate_limit_entry, is_rate_limited, transport_failure};
use learned::Learned;
pub(crate) use offload::{OFF_LOOP_BYTES, off_loop};

/// One call in a batch.
#[derive(Debug, Clone)]
pub struct Call {
    /// The JSON-RPC method, e.g. `eth_call`.
    pub method: &'static str,
    /// Its parameters (a JSON array).
    pub params: serde_json::Value,
}

/// A call's answer: its `result`, or the node's JSON-RPC error for it.
pub type CallResult = Result<Box<RawValue>, ErrorPayload>;

/// The outcome of [`RpcClient::batch`].
#[derive(Debug)]
pub struct BatchOutcome {
    /// One result per call, in call order.
    pub results: Result<Vec<CallResult>, NodeFailure>,
    /// HTTP requests made (1 + retries).
    pub attempts: u32,
    /// Whether the node said "slow down" (HTTP 429, or a rate-limit code for
    /// the request or an entry) on the way: the caller should send less at once.
    pub rate_limited: bool,
    /// The last answer's bytes, still counted in the run's body budget
    /// until the caller has read the results (or drops this).
    pub(crate) held: AnswersHeld,
    /// A batch was rate-limited without a hint: send fewer calls at once.
    pub(crate) shrink: bool,
}

/// Bytes of answers still counted in the run's body budget; given back when
/// dropped. Their decoded results take about as much memory as the bodies
/// did, so the budget keeps counting them until they are read.
#[derive(Default)]
pub(crate) struct AnswersHeld(Vec<body::BodyHold>);

impl AnswersHeld {
    fn add(&mut self, more: AnswersHeld) {
        self.0.extend(more.0);
    }
}

impl std::fmt::Debug for AnswersHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnswersHeld({} bodies)", self.0.len())
    }
}

/// First backoff step; doubles per retry, with jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Longest wait between two attempts, `Retry-After` included.
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// The least wait after a rate limit that came without a hint.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// Sends batches to nodes.
#[derive(Debug, Clone)]
pub struct RpcClient {
    /// The client of nodes without a CA file of their own.
    http: reqwest::Client,
    /// Clients of nodes that trust extra CAs, by CA file.
    with_ca: std::collections::HashMap<std::path::PathBuf, reqwest::Client>,
    retries: u32,
    max_response_bytes: u64,
    /// The most calls in one request (`--batch-size`).
    max_batch: usize,
    /// What each node has shown about its limits (batch and chunk sizes,
    /// Multicall3), for the life of this client and its clones.
    learned: std::sync::Arc<Learned>,
    /// Bytes of answers held at once by the whole run.
    budget: std::sync::Arc<BodyBudget>,
    /// JSON-RPC calls sent so far by this client and its clones (a batch
    /// counts each call, a retry counts again): what providers bill.
    calls_sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RpcClient {
    /// A client for `nodes`; `retries` is per batch, `max_response_bytes`
    /// bounds each body. TLS roots are loaded only when a node is https; a
    /// node's `ca_cert` is added to the platform's roots for that node.
    /// Redirects are never followed and no `Referer` is sent: a node that
    /// redirects could take the key in its URL, or answer for another node.
    pub fn for_nodes(nodes: &[Node], retries: u32, max_response_bytes: u64) -> Result<Self, crate::Error> {
        let tls = nodes.iter().any(|n| n.url.is_https() && n.ca_cert.is_none());
        let http = build_client(tls, None)?;
        let mut with_ca = std::collections::HashMap::new();
        for path in nodes.iter().filter_map(|n| n.ca_cert.as_ref()) {
            if !with_ca.contains_key(path) {
                let certs = load_ca(path)?;
                with_ca.insert(path.clone(), build_client(true, Some(certs))?);
            }
        }
        Ok(Self {
            http,
            with_ca,
            retries,
            max_response_bytes,
            max_batch: usize::MAX,
            learned: Default::default(),
            budget: std::sync::Arc::new(BodyBudget::new(max_response_bytes)),
            calls_sent: Default::default(),
        })
    }

    fn client_of(&self, node: &Node) -> &reqwest::Client {
        node.ca_cert
            .as_ref()
            .and_then(|p| self.with_ca.get(p))
            .unwrap_or(&self.http)
    }

    /// JSON-RPC calls sent so far by this client and its clones, every
    /// attempt counted (a batch counts each call it carries).
    pub fn calls_sent(&self) -> u64 {
        self.calls_sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bounds every request to `max` calls (`--batch-size`); a node that
    /// refuses batches or caps their size gets smaller ones, down to single
    /// requests, and keeps the size that worked for the rest of the run.
    pub fn with_max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }

    /// The same client — connections, learned batch sizes, the run's body
    /// budget — retrying transient failures `retries` times (`scan` retries
    /// its log requests itself: a 5xx on a large range means "smaller").
    pub fn with_retries(&self, retries: u32) -> Self {
        let mut client = self.clone();
        client.retries = retries;
        client
    }

    /// The limits learned per node, shared by this client's clones.
    pub(crate) fn learned(&self) -> &Learned {
        &self.learned
    }

    /// The most calls one request to `node` may carry now: `--batch-size`,
    /// or less when the node refused or rate-limited larger batches.
    pub(crate) fn batch_limit(&self, node: &Node) -> usize {
        self.learned.batch(node.index, self.max_batch, Instant::now())
    }

    /// Sends `calls` to `node` — as one JSON-RPC batch, or as several of the
    /// size the node accepts (a single call goes as a plain request, not a
    /// one-element array) — retrying transient failures with backoff, all
    /// before `deadline`. One result per call, in call order.
    pub async fn batch(&self, node: &Node, calls: &[Call], deadline: Instant) -> BatchOutcome {
        self.batch_with(node, calls, deadline, None).await
    }

    /// Like [`batch`](Self::batch), for a large request that may be made
    /// smaller (a Multicall3 `aggregate3` above its floor): each attempt
    /// gives up after `attempt`, and a 413 or 5xx is returned at once rather
    /// than retried — the caller asks again with a smaller request.
    pub(crate) async fn batch_large(
        &self,
        node: &Node,
        calls: &[Call],
        deadline: Instant,
        attempt: Duration,
    ) -> BatchOutcome {
        self.batch_with(node, calls, deadline, Some(attempt)).await
    }

    async fn batch_with(
        &self,
        node: &Node,
        calls: &[Call],
        deadline: Instant,
        large: Option<Duration>,
    ) -> BatchOutcome {
        let mut results = Vec::with_capacity(calls.len());
        let mut attempts = 0;
        let mut rate_limited = false;
        let mut held = AnswersHeld::default();
        let mut done = 0;
        while done < calls.len() {
            // Answers are counted until read, but never while the node is
            // asked anything more: a node could otherwise hold budget it is
            // not reading by being slow to answer the next request.
            held = AnswersHeld::default();
            let n = self.batch_limit(node).min(calls.len() - done);
            let outcome = self.send(node, &calls[done..done + n], deadline, large).await;
            let shrink = outcome.shrink;
            attempts += outcome.attempts;
            rate_limited |= outcome.rate_limited;
            held.add(outcome.held);
            match outcome.results {
                Ok(mut r) => {
                    let (more, limited) = self
                        .retry_entries(node, &calls[done..done + n], &mut r, &mut held, deadline)
                        .await;
                    attempts += more;
                    rate_limited |= limited;
                    if n > 1 && !limited {
                        self.learned.batch_answered(node.index, self.max_batch, Instant::now());
                    }
                    results.extend(r);
                    done += n;
                }
                // A large request's 413 is about its size, not the batch's.
                Err(NodeFailure::Http(413)) if large.is_some() => {
                    return BatchOutcome {
                        results: Err(NodeFailure::Http(413)),
                        attempts,
                        rate_limited,
                        held: AnswersHeld::default(),
                        shrink: false,
                    };
                }
                Err(failure) if n > 1 && is_batch_refusal(&failure) => {
                    let to = self
                        .learned
                        .batch_refused(node.index, n, self.max_batch, Instant::now());
                    tracing::info!(node = %node.label(), batch = to, "node refused a batch: sending smaller ones");
                }
                // A rate limit without a hint on a batch: send fewer calls at
                // once (a compute-unit budget counts every call), after the wait.
                Err(_) if n > 1 && shrink => {
                    let to = self
                        .learned
                        .batch_rate_limited(node.index, n, self.max_batch, Instant::now());
                    tracing::info!(node = %node.label(), batch = to, "node rate-limited a batch: sending smaller ones");
                }
                Err(failure) => {
                    return BatchOutcome {
                        results: Err(failure),
                        attempts,
                        rate_limited,
                        held: AnswersHeld::default(),
                        shrink: false,
                    };
                }
            }
        }
        BatchOutcome {
            results: Ok(results),
            attempts,
            rate_limited,
            held,
            shrink: false,
        }
    }

    /// Asks again, alone, for the entries of `results` that the node refused
    /// one by one for now (rate limits): the answers already in are kept.
    /// Returns the requests made and whether the node rate-limited.
    async fn retry_entries(
        &self,
        node: &Node,
        calls: &[Call],
        results: &mut [CallResult],
        held: &mut AnswersHeld,
        deadline: Instant,
    ) -> (u32, bool) {
        let mut attempts = 0;
        let mut limited = false;
        // Rate-limited entries are asked again until the node's budget is
        // spent; other transient ones `retries` times.
        let mut round = 0;
        loop {
            let again: Vec<usize> = (0..results.len())
                .filter(|&i| results[i].as_ref().err().is_some_and(is_transient_entry))
                .collect();
            if again.is_empty() {
                break;
            }
            round += 1;
            let errors = || again.iter().filter_map(|&i| results[i].as_ref().err());
            let rate = errors().any(is_rate_limit_entry);
            limited |= rate;
            let hint = errors().filter_map(backoff_hint).max();
            let wait = match (hint, rate) {
                (Some(hint), _) => hint,
                (None, true) => backoff(round).max(RATE_LIMIT_WAIT),
                (None, false) => backoff(round),
            };
            if (!rate && round > self.retries) || Instant::now() + wait >= deadline {
                break;
            }
            tracing::debug!(node = %node.url, entries = again.len(), ?wait, "retrying entries");
            // Nothing stays counted while waiting on the node (see `batch`).
            *held = AnswersHeld::default();
            tokio::time::sleep(wait).await;
            let subset: Vec<Call> = again.iter().map(|&i| calls[i].clone()).collect();
            let outcome = self.send(node, &subset, deadline, None).await;
            attempts += outcome.attempts;
            limited |= outcome.rate_limited;
            held.add(outcome.held);
            match outcome.results {
                Ok(answers) => {
                    for (i, answer) in again.into_iter().zip(answers) {
                        results[i] = answer;
                    }
                }
                Err(_) => break,
            }
        }
        (attempts, limited)
    }

    /// One request (a batch, or a plain request for one call), with retries:
    /// a rate limit is waited out (its hint, else at least a second) until
    /// the node's budget is spent; other transient failures are retried
    /// `retries` times (an HTML or text answer once). `large`: the request
    /// may be made smaller instead (see [`batch_large`](Self::batch_large)).
    async fn send(&self, node: &Node, calls: &[Call], deadline: Instant, large: Option<Duration>) -> BatchOutcome {
        let url = &node.url;
        let failed = |results, attempts, rate_limited, shrink| BatchOutcome {
            results: Err(results),
            attempts,
            rate_limited,
            held: AnswersHeld::default(),
            shrink,
        };
        let body = match encode_request(calls) {
            Ok(body) => body,
            Err(e) => return failed(NodeFailure::BadResponse(e), 0, false, false),
        };
        let mut attempts = 0;
        let mut retried = 0;
        let mut rate_limited = false;
        loop {
            attempts += 1;
            // A large request that may be made smaller gives up early when the
            // node does not even start answering; a body under way is read.
            let head_by = large.map_or(deadline, |d| (Instant::now() + d).min(deadline));
            let attempt = tokio::time::timeout_at(deadline, self.attempt(node, body.clone(), calls.len(), head_by));
            let (failure, hint) = match attempt.await {
                Err(_) => return failed(NodeFailure::Timeout, attempts, rate_limited, false),
                // Entries refused one by one (rate limits) are retried by
                // `batch`, for those entries only.
                Ok(Ok((results, held))) => {
                    return BatchOutcome {
                        results: Ok(results),
                        attempts,
                        rate_limited,
                        held,
                        shrink: false,
                    };
                }
                Ok(Err((failure, hint))) => (failure, hint),
            };
            let limit = is_rate_limited(&failure);
            rate_limited |= limit;
            let html_once = failure.is_unexpected_markup() && attempts == 1;
            let size_failure = large.is_some() && matches!(failure, NodeFailure::Http(413 | 500..=599));
            if size_failure || !(limit || html_once || failure.is_transient()) {
                return failed(failure, attempts, rate_limited, false);
            }
            if !limit {
                retried += 1;
                if retried > self.retries && !html_once {
                    return failed(failure, attempts, rate_limited, false);
                }
            }
            let wait = match (hint, limit) {
                (Some(hint), _) => hint,
                (None, true) => backoff(attempts).max(RATE_LIMIT_WAIT),
                (None, false) => backoff(attempts),
            };
            if Instant::now() + wait >= deadline {
                return failed(failure, attempts, rate_limited, false);
            }
            // A batch rate-limited without a hint goes back to be split.
            let shrink = limit && hint.is_none() && calls.len() > 1;
            tracing::debug!(
                node = %url,
                attempt = attempts,
                ?wait,
                error = %crate::secrets::Secrets::of(node).scrub(&failure.to_string()),
                "retrying"
            );
            tokio::time::sleep(wait).await;
            if shrink {
                return failed(failure, attempts, rate_limited, true);
            }
        }
    }

    /// One HTTP round trip, its answer's head due by `head_by`. On failure,
    /// also how long the node asked to wait (`Retry-After`, or a hint in the body).
    async fn attempt(
        &self,
        node: &Node,
        body: Vec<u8>,
        expected: usize,
        head_by: Instant,
    ) -> Result<(Vec<CallResult>, AnswersHeld), (NodeFailure, Option<Duration>)> {
        let mut request = self
            .client_of(node)
            .post(node.url.expose().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in node.headers.pairs() {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| (NodeFailure::BadResponse("invalid header value".into()), None))?;
            value.set_sensitive(true);
            request = request.header(name.as_str(), value);
        }
        self.calls_sent
            .fetch_add(expected as u64, std::sync::atomic::Ordering::Relaxed);
        let response = tokio::time::timeout_at(head_by, request.body(body).send())
            .await
            .map_err(|_| (NodeFailure::Timeout, None))?
            .map_err(|e| (transport_failure(&e, node.url.is_https()), None))?;
        let status = response.status();
        if status.is_redirection() {
            return Err((NodeFailure::Redirect(status.as_u16()), None));
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            // The body may say why, and how long to wait (Infura's
            // `data.rate.backoff_seconds`, Alchemy's `{"code":429}`):
            // read a little of it, never more.
            let head = read_head(response, ERROR_BODY_BYTES).await;
            let hint = retry_after.or_else(|| failure::body_backoff_hint(&head));
            let failure = match failure::body_rate_limit(&head) {
                Some((code, message)) if status.as_u16() != 429 => NodeFailure::Rpc { code, message },
                _ => NodeFailure::Http(status.as_u16()),
            };
            return Err((failure, hint));
        }
        let body = read_bounded(response, self.max_response_bytes, &self.budget)
            .await
            .map_err(|f| (f, None))?;
        let body_len = body.len();
        let decode = move || {
            let (bytes, hold) = body.into_parts();
            let decoded = if expected == 1 {
                decode_single(&bytes)
            } else {
                decode_batch(&bytes, expected)
            };
            // The results take about the body's size: the hold keeps counting them.
            decoded.map(|results| (results, AnswersHeld(vec![hold]))).map_err(|f| {
                let hint = matches!(f, NodeFailure::Rpc { .. })
                    .then(|| failure::body_backoff_hint(&bytes))
                    .flatten();
                (f, hint)
            })
        };
        if body_len <= OFF_LOOP_BYTES {
            decode()
        } else {
            off_loop(body_len, decode)
                .await
                .unwrap_or_else(|| Err((NodeFailure::BadResponse("the answer could not be read".into()), None)))
        }
    }
}

/// How much of an error answer's body is read for its reason and hint.
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// Up to `limit` bytes of `response`'s body (less when it breaks off).
async fn read_head(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut head = Vec::new();
    let read = async {
        while head.len() < limit {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(limit - head.len())]),
                _ => break,
            }
        }
    };
    // An error page that trickles is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(1), read).await;
    head
}

fn build_client(tls: bool, extra_roots: Option<Vec<reqwest::Certificate>>) -> Result<reqwest::Client, crate::Error> {
    let mut builder = reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("quorum-check/", env!("CARGO_PKG_VERSION")));
    match extra_roots {
        Some(certs) => builder = builder.tls_certs_merge(certs),
        // No https endpoint: skip loading the platform's root certificates,
        // the largest part of a plain-http run's start-up.
        None if !tls => builder = builder.tls_certs_only(std::iter::empty()),
        None => {}
    }
    builder.build().map_err(|e| {
        crate::Error::Client(format!(
            "cannot set up the HTTP client: {}",
            clean(&e.without_url().to_string())
        ))
    })
}

/// The certificates of a PEM file (one CA or a bundle).
fn load_ca(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, crate::Error> {
    let shown = path.display();
    let pem = crate::input::read_bytes(
        &crate::input::Source::File(path.to_path_buf()),
        "CA certificate file",
        crate::input::MAX_CA_BYTES,
        crate::input::DEFAULT_READ_WAIT,
    )?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| crate::Error::Input(format!("CA certificate file {shown} is not PEM")))?;
    if certs.is_empty() {
        return Err(crate::Error::Input(format!(
            "CA certificate file {shown} holds no certificate"
        )));
    }
    Ok(certs)
}

/// A batch (a JSON array) for several calls; a plain request object for one
/// (some endpoints refuse arrays altogether).
fn encode_request(calls: &[Call]) -> Result<Vec<u8>, String> {
    let requests: Vec<Request<&serde_json::Value>> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| Request::new(c.method, Id::Number(i as u64), &c.params))
        .collect();
    match requests.as_slice() {
        [one] => serde_json::to_vec(one),
        _ => serde_json::to_vec(&requests),
    }
    .map_err(|e| format!("cannot encode request: {e}"))
}

/// Exponential backoff with jitter for retry number `attempt` (1-based).
pub(crate) fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let step = step.min(BACKOFF_CAP);
    // Between half and the whole step, so that many clients do not retry in lockstep.
    step.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests;
