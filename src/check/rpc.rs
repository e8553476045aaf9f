//! JSON-RPC over HTTP for the fan-out: one batch request per call, bounded in
//! time (a node's whole budget, retries included) and in size (the body is cut
//! off while reading), with retries for transient failures only, and strict
//! matching of the answers to the calls. Request and response types are
//! alloy's; the HTTP client is reqwest, which alloy itself uses, driven here
//! directly because alloy's transport neither bounds a body nor exposes the
//! HTTP status and `Retry-After` that retry decisions need.

use std::time::Duration;

use alloy::rpc::json_rpc::{ErrorPayload, Id, Request, Response, ResponsePacket, ResponsePayload};
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::config::Node;
pub use crate::sanitize::clean;

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

/// Why a node gave no usable answer to a whole batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeFailure {
    /// No answer within the node's budget.
    #[error("timed out")]
    Timeout,
    /// The connection failed or broke (why, without the URL).
    #[error("{0}")]
    Connect(String),
    /// A non-success HTTP status.
    #[error("HTTP status {0}")]
    Http(u16),
    /// TLS failed (a plain-English reason).
    #[error("{0}")]
    Tls(String),
    /// A 3xx status: redirects are never followed.
    #[error("redirect to another URL not followed")]
    Redirect(u16),
    /// One JSON-RPC error for the whole batch.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// The error code.
        code: i64,
        /// The node's message (cleaned).
        message: String,
    },
    /// An answer that is not a JSON-RPC answer to the batch.
    #[error("{0}")]
    BadResponse(String),
}

impl NodeFailure {
    /// Whether trying again may help.
    fn is_transient(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Http(status) => *status == 429 || (500..600).contains(status),
            Self::Rpc { code, .. } => is_rate_limit(*code),
            Self::Timeout | Self::BadResponse(_) | Self::Tls(_) | Self::Redirect(_) => false,
        }
    }
}

/// JSON-RPC error codes that providers use for "slow down".
fn is_rate_limit(code: i64) -> bool {
    matches!(code, -32005 | 429)
}

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
}

/// Whether one entry's error is worth asking again, alone: a rate limit, or
/// a provider's "try again" (-32603 with a rate-limit or timeout text).
pub fn is_transient_entry(e: &ErrorPayload) -> bool {
    let text = e.message.to_ascii_lowercase();
    is_rate_limit(e.code)
        || (e.code == -32603 && (text.contains("rate limit") || text.contains("timeout") || text.contains("timed out")))
}

/// First backoff step; doubles per retry, with jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Longest wait between two attempts, `Retry-After` included.
const BACKOFF_CAP: Duration = Duration::from_secs(5);

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
    /// Per node (by index), a smaller size the node was found to accept.
    batch_limits: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<usize, usize>>>,
    /// Bytes of answers held at once by the whole run.
    budget: std::sync::Arc<BodyBudget>,
}

/// How many `--max-response-bytes` the whole run may hold at once, across
/// every node and every request in flight (192 MiB at the default 16 MiB).
pub const BODY_BUDGET_FACTOR: u64 = 12;

/// The bytes of response bodies being read, run-wide. A body that needs more
/// when the budget is spent waits for others to finish — unless it already
/// holds more than its fair share (the budget divided among the bodies being
/// read), in which case it is the one given up on: a flood of endless
/// answers cannot crowd out the honest ones, nor memory.
#[derive(Debug)]
struct BodyBudget {
    limit: u64,
    used: std::sync::atomic::AtomicU64,
    readers: std::sync::atomic::AtomicU64,
    freed: tokio::sync::Notify,
}

impl BodyBudget {
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
struct BodyHold<'a> {
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

impl RpcClient {
    /// A client for `nodes`; `retries` is per batch, `max_response_bytes`
    /// bounds each body. TLS roots are loaded only when a node is https; a
    /// node's `ca_cert` is added to the platform's roots for that node.
    /// Redirects are never followed and no `Referer` is sent: a node that
    /// redirects could take the key in its URL, or answer for another node.
    pub fn for_nodes(nodes: &[Node], retries: u32, max_response_bytes: u64) -> anyhow::Result<Self> {
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
            batch_limits: Default::default(),
            budget: std::sync::Arc::new(BodyBudget {
                limit: max_response_bytes.saturating_mul(BODY_BUDGET_FACTOR),
                used: 0.into(),
                readers: 0.into(),
                freed: tokio::sync::Notify::new(),
            }),
        })
    }

    fn client_of(&self, node: &Node) -> &reqwest::Client {
        node.ca_cert
            .as_ref()
            .and_then(|p| self.with_ca.get(p))
            .unwrap_or(&self.http)
    }

    /// Bounds every request to `max` calls (`--batch-size`); a node that
    /// refuses batches or caps their size gets smaller ones, down to single
    /// requests, and keeps the size that worked for the rest of the run.
    pub fn with_max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }

    /// The most calls one request to `node` may carry now.
    /// The most entries `node` has taken in one request so far this run.
    pub(crate) fn batch_limit(&self, node: &Node) -> usize {
        self.batch_limits
            .lock()
            .ok()
            .and_then(|m| m.get(&node.index).copied())
            .unwrap_or(self.max_batch)
    }

    fn lower_batch_limit(&self, node: &Node, to: usize) {
        if let Ok(mut m) = self.batch_limits.lock() {
            let limit = m.entry(node.index).or_insert(self.max_batch);
            if to < *limit {
                tracing::info!(node = %node.label(), batch = to, "node refused a batch: sending smaller ones");
                *limit = to;
            }
        }
    }

    /// Sends `calls` to `node` — as one JSON-RPC batch, or as several of the
    /// size the node accepts (a single call goes as a plain request, not a
    /// one-element array) — retrying transient failures with backoff, all
    /// before `deadline`. One result per call, in call order.
    pub async fn batch(&self, node: &Node, calls: &[Call], deadline: Instant) -> BatchOutcome {
        let mut results = Vec::with_capacity(calls.len());
        let mut attempts = 0;
        let mut rate_limited = false;
        let mut done = 0;
        while done < calls.len() {
            let n = self.batch_limit(node).min(calls.len() - done);
            let outcome = self.send(node, &calls[done..done + n], deadline).await;
            attempts += outcome.attempts;
            rate_limited |= outcome.rate_limited;
            match outcome.results {
                Ok(mut r) => {
                    let (more, limited) = self.retry_entries(node, &calls[done..done + n], &mut r, deadline).await;
                    attempts += more;
                    rate_limited |= limited;
                    results.extend(r);
                    done += n;
                }
                Err(failure) if n > 1 && is_batch_refusal(&failure) => self.lower_batch_limit(node, n / 2),
                Err(failure) => {
                    return BatchOutcome {
                        results: Err(failure),
                        attempts,
                        rate_limited,
                    };
                }
            }
        }
        BatchOutcome {
            results: Ok(results),
            attempts,
            rate_limited,
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
        deadline: Instant,
    ) -> (u32, bool) {
        let mut attempts = 0;
        let mut limited = false;
        for round in 1..=self.retries + 1 {
            let again: Vec<usize> = (0..results.len())
                .filter(|&i| results[i].as_ref().err().is_some_and(is_transient_entry))
                .collect();
            if again.is_empty() {
                break;
            }
            limited = true;
            let wait = backoff(round);
            if round > self.retries || Instant::now() + wait >= deadline {
                break;
            }
            tracing::debug!(node = %node.url, entries = again.len(), ?wait, "retrying rate-limited entries");
            tokio::time::sleep(wait).await;
            let subset: Vec<Call> = again.iter().map(|&i| calls[i].clone()).collect();
            let outcome = self.send(node, &subset, deadline).await;
            attempts += outcome.attempts;
            limited |= outcome.rate_limited;
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

    /// One request (a batch, or a plain request for one call), with retries.
    async fn send(&self, node: &Node, calls: &[Call], deadline: Instant) -> BatchOutcome {
        let url = &node.url;
        let body = match encode_request(calls) {
            Ok(body) => body,
            Err(e) => {
                return BatchOutcome {
                    results: Err(NodeFailure::BadResponse(e)),
                    attempts: 0,
                    rate_limited: false,
                };
            }
        };
        let mut attempts = 0;
        let mut rate_limited = false;
        loop {
            attempts += 1;
            let attempt = tokio::time::timeout_at(deadline, self.attempt(node, body.clone(), calls.len()));
            let (failure, retry_after) = match attempt.await {
                Err(_) => {
                    return BatchOutcome {
                        results: Err(NodeFailure::Timeout),
                        attempts,
                        rate_limited,
                    };
                }
                // Entries refused one by one (rate limits) are retried by
                // `batch`, for those entries only.
                Ok(Ok(results)) => {
                    return BatchOutcome {
                        results: Ok(results),
                        attempts,
                        rate_limited,
                    };
                }
                Ok(Err((failure, retry_after))) => (failure, retry_after),
            };
            rate_limited |= matches!(failure, NodeFailure::Http(429))
                || matches!(&failure, NodeFailure::Rpc { code, .. } if is_rate_limit(*code));
            if !failure.is_transient() || attempts > self.retries {
                return BatchOutcome {
                    results: Err(failure),
                    attempts,
                    rate_limited,
                };
            }
            let wait = retry_after
                .map(|d| d.min(BACKOFF_CAP))
                .unwrap_or_else(|| backoff(attempts));
            if Instant::now() + wait >= deadline {
                return BatchOutcome {
                    results: Err(failure),
                    attempts,
                    rate_limited,
                };
            }
            tracing::debug!(
                node = %url,
                attempt = attempts,
                ?wait,
                error = %crate::secrets::Secrets::of(node).scrub(&failure.to_string()),
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP round trip. On failure, also any `Retry-After` the node sent.
    async fn attempt(
        &self,
        node: &Node,
        body: Vec<u8>,
        expected: usize,
    ) -> Result<Vec<CallResult>, (NodeFailure, Option<Duration>)> {
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
        let response = request
            .body(body)
            .send()
            .await
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
            return Err((NodeFailure::Http(status.as_u16()), retry_after));
        }
        let body = read_bounded(response, self.max_response_bytes, &self.budget)
            .await
            .map_err(|f| (f, None))?;
        if expected == 1 {
            decode_single(&body).map_err(|f| (f, None))
        } else {
            decode_batch(&body, expected).map_err(|f| (f, None))
        }
    }
}

fn build_client(tls: bool, extra_roots: Option<Vec<reqwest::Certificate>>) -> anyhow::Result<reqwest::Client> {
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
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {}", clean(&e.without_url().to_string())))
}

/// The certificates of a PEM file (one CA or a bundle).
fn load_ca(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let shown = path.display();
    let pem = crate::input::read_bytes(
        &crate::input::Source::File(path.to_path_buf()),
        "CA certificate file",
        crate::input::MAX_CA_BYTES,
        crate::input::DEFAULT_READ_WAIT,
    )?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| anyhow::anyhow!("CA certificate file {shown} is not PEM"))?;
    if certs.is_empty() {
        anyhow::bail!("CA certificate file {shown} holds no certificate");
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

/// Whether a failure says "not as a batch" or "not so many at once": a
/// single error object for the whole array (other than a rate limit), HTTP
/// 400 or 413, or a message about the batch's size.
fn is_batch_refusal(failure: &NodeFailure) -> bool {
    match failure {
        NodeFailure::Http(400 | 413) => true,
        NodeFailure::Rpc { code, .. } if is_rate_limit(*code) => false,
        NodeFailure::Rpc { .. } => true,
        NodeFailure::BadResponse(reason) => {
            let r = reason.to_ascii_lowercase();
            r.contains("batch") && (r.contains("large") || r.contains("limit") || r.contains("exceed"))
        }
        _ => false,
    }
}

/// Reads a body, giving up as soon as it grows past `limit`, or past its
/// share of the run's `budget` when that is spent. The chunks are kept as
/// they came and joined once at the end, so an endless answer holds no more
/// than `limit` bytes (no doubling buffer).
async fn read_bounded(
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

/// The answer to a plain (un-batched) request: one result, or the node's
/// error for that call. A one-element array is accepted too.
pub fn decode_single(body: &[u8]) -> Result<Vec<CallResult>, NodeFailure> {
    let packet: ResponsePacket = serde_json::from_slice(body).map_err(|e| {
        let what = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            "not a JSON-RPC response"
        } else {
            "not JSON"
        };
        NodeFailure::BadResponse(format!("{what} ({})", clean(&e.to_string())))
    })?;
    let response = match packet {
        ResponsePacket::Single(r) => r,
        ResponsePacket::Batch(mut v) if v.len() == 1 => v.remove(0),
        ResponsePacket::Batch(v) => {
            return Err(NodeFailure::BadResponse(format!("{} answers to one call", v.len())));
        }
    };
    match (&response.id, response.payload) {
        (Id::Number(0), ResponsePayload::Success(result)) => Ok(vec![Ok(result)]),
        (Id::Number(0) | Id::None, ResponsePayload::Failure(e)) => Ok(vec![Err(e)]),
        (other, _) => Err(NodeFailure::BadResponse(format!(
            "answer with unexpected id {}",
            clean(&other.to_string())
        ))),
    }
}

/// Matches a batch answer to the `expected` calls (ids `0..expected`).
/// Answers may come in any order (JSON-RPC 2.0 allows it); a missing,
/// duplicated or unknown id makes the whole answer a bad response.
pub fn decode_batch(body: &[u8], expected: usize) -> Result<Vec<CallResult>, NodeFailure> {
    let bad = |m: String| NodeFailure::BadResponse(m);
    let packet: ResponsePacket = serde_json::from_slice(body).map_err(|e| {
        let what = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            "not a JSON-RPC response"
        } else {
            "not JSON"
        };
        bad(format!("{what} ({})", clean(&e.to_string())))
    })?;
    let responses = match packet {
        ResponsePacket::Batch(responses) => responses,
        // A single object to a batch: the node refused the batch as a whole.
        ResponsePacket::Single(Response {
            payload: ResponsePayload::Failure(e),
            ..
        }) => {
            return Err(NodeFailure::Rpc {
                code: e.code,
                message: clean(&e.message),
            });
        }
        ResponsePacket::Single(_) => {
            return Err(bad("a single result where a batch was expected".into()));
        }
    };
    let mut slots: Vec<Option<CallResult>> = (0..expected).map(|_| None).collect();
    for response in responses {
        let index = match response.id {
            Id::Number(n) if (n as usize) < expected && n <= usize::MAX as u64 => n as usize,
            other => {
                return Err(bad(format!("answer with unexpected id {}", clean(&other.to_string()))));
            }
        };
        if slots[index].is_some() {
            return Err(bad(format!("two answers with id {index}")));
        }
        slots[index] = Some(match response.payload {
            ResponsePayload::Success(result) => Ok(result),
            ResponsePayload::Failure(e) => Err(e),
        });
    }
    let missing = slots.iter().filter(|s| s.is_none()).count();
    if missing > 0 {
        return Err(bad(format!("batch answer is missing {missing} of {expected} calls")));
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Classifies a transport error without its URL; `https` says which scheme
/// the node's URL has, to tell TLS mistakes apart.
fn transport_failure(e: &reqwest::Error, https: bool) -> NodeFailure {
    if e.is_timeout() {
        return NodeFailure::Timeout;
    }
    // Walk to the innermost cause: hyper and std describe it best
    // ("Connection refused", "connection closed before message completed").
    // The causes only: the top-level reqwest error quotes the URL, key included.
    let mut chain = Vec::new();
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
        chain.push(cause.to_string());
    }
    if let Some(tls) = tls_failure(&chain.join(": "), https) {
        return NodeFailure::Tls(tls);
    }
    let detail = match chain.last() {
        Some(innermost) => clean(innermost),
        None => "no detail".to_string(),
    };
    let what = if e.is_connect() {
        "connection failed"
    } else {
        "connection error"
    };
    NodeFailure::Connect(format!("{what}: {detail}"))
}

/// A TLS failure in plain English, from the error chain's text (rustls's
/// and hyper's messages); `None` when the failure is not about TLS.
pub fn tls_failure(chain: &str, https: bool) -> Option<String> {
    let has = |needle: &str| chain.contains(needle);
    if https {
        if has("InvalidContentType") || has("corrupt message") || has("InvalidMessage") {
            return Some("the server answered in plain HTTP, not TLS: use http:// for this node".into());
        }
        if has("UnknownIssuer") || has("unknown issuer") {
            return Some("certificate not trusted (unknown issuer); see --ca-cert".into());
        }
        if has("NotValidForName") || has("not valid for name") {
            return Some("certificate is not valid for this host name".into());
        }
        if has("Expired") || has("expired") {
            return Some(
                "certificate expired (or not yet valid); check the node's certificate and this machine's clock".into(),
            );
        }
        if has("invalid peer certificate") || has("certificate") {
            return Some(format!(
                "certificate rejected ({})",
                clean(chain.rsplit(": ").next().unwrap_or(""))
            ));
        }
        if has("HandshakeFailure") || has("AlertReceived") || has("PeerIncompatible") {
            return Some("TLS handshake failed (no common protocol version or cipher?)".into());
        }
    } else if has("invalid HTTP version") || has("invalid HTTP status") || has("HTTP/0.9") {
        return Some("the server did not answer in HTTP: is it a TLS port? use https:// for this node".into());
    }
    None
}

/// `Retry-After` in either form: seconds, or an HTTP date (RFC 9110).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(seconds) = v.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Exponential backoff with jitter for retry number `attempt` (1-based).
fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let step = step.min(BACKOFF_CAP);
    // Between half and the whole step, so that many clients do not retry in lockstep.
    step.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: &CallResult) -> &str {
        r.as_ref().unwrap().get()
    }

    #[test]
    fn matches_answers_by_id_in_any_order() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"result":"0x02"},{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#;
        let results = decode_batch(body, 2).unwrap();
        assert_eq!(ok(&results[0]), "\"0x01\"");
        assert_eq!(ok(&results[1]), "\"0x02\"");
    }

    #[test]
    fn per_call_errors_stay_per_call() {
        let body = br#"[{"jsonrpc":"2.0","id":0,"error":{"code":3,"message":"execution reverted","data":"0x"}},{"jsonrpc":"2.0","id":1,"result":"0x"}]"#;
        let results = decode_batch(body, 2).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err().code, 3);
        assert!(results[1].is_ok());
    }

    #[test]
    fn rejects_missing_duplicate_and_unknown_ids() {
        let cases: [(&[u8], &str); 5] = [
            (br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#, "missing 1 of 2"),
            (
                br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#,
                "two answers",
            ),
            (
                br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":7,"result":"0x01"}]"#,
                "unexpected id 7",
            ),
            (
                br#"[{"jsonrpc":"2.0","id":"0","result":"0x01"},{"jsonrpc":"2.0","id":1,"result":"0x01"}]"#,
                "unexpected id",
            ),
            (br#"{"jsonrpc":"2.0","id":0,"result":"0x01"}"#, "single result"),
        ];
        for (body, expected) in cases {
            let err = decode_batch(body, 2).unwrap_err();
            assert!(
                matches!(&err, NodeFailure::BadResponse(m) if m.contains(expected)),
                "{err}"
            );
        }
    }

    #[test]
    fn garbage_is_a_bad_response() {
        for body in [
            &b"<html>502</html>"[..],
            b"",
            b"{\"a\":1}",
            b"[1,2]",
            b"[{\"id\":0}]",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(decode_batch(body, 1), Err(NodeFailure::BadResponse(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_single_error_object_fails_the_batch() {
        let body = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}"#;
        let err = decode_batch(body, 3).unwrap_err();
        assert_eq!(
            err,
            NodeFailure::Rpc {
                code: -32005,
                message: "rate limited".into()
            }
        );
        assert!(err.is_transient());
    }

    #[test]
    fn transient_classification() {
        assert!(NodeFailure::Http(429).is_transient());
        assert!(NodeFailure::Http(503).is_transient());
        assert!(!NodeFailure::Http(401).is_transient());
        assert!(NodeFailure::Connect("refused".into()).is_transient());
        assert!(!NodeFailure::BadResponse("x".into()).is_transient());
        assert!(
            !NodeFailure::Rpc {
                code: -32601,
                message: "no".into()
            }
            .is_transient()
        );
    }

    #[test]
    fn tls_failures_in_plain_english() {
        let tls = |chain: &str, https| tls_failure(chain, https).unwrap_or_default();
        assert!(tls("client error (Connect): invalid peer certificate: UnknownIssuer", true).contains("see --ca-cert"));
        assert!(tls("received corrupt message of type InvalidContentType", true).contains("use http://"));
        assert!(tls("invalid HTTP version parsed", false).contains("use https://"));
        assert!(tls_failure("Connection refused", true).is_none());
        assert!(tls_failure("Connection refused", false).is_none());
        assert!(!NodeFailure::Tls("x".into()).is_transient());
        assert!(!NodeFailure::Redirect(307).is_transient());
    }

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

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        let soon = std::time::SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(soon)).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn single_requests_and_their_answers() {
        let one = [Call {
            method: "eth_chainId",
            params: serde_json::json!([]),
        }];
        let body = String::from_utf8(encode_request(&one).unwrap()).unwrap();
        assert!(body.starts_with('{'), "{body}");
        let two = [one[0].clone(), one[0].clone()];
        assert!(encode_request(&two).unwrap().starts_with(b"["));
        let ok = decode_single(br#"{"jsonrpc":"2.0","id":0,"result":"0x1"}"#).unwrap();
        assert_eq!(ok[0].as_ref().unwrap().get(), "\"0x1\"");
        let err =
            decode_single(br#"{"jsonrpc":"2.0","id":0,"error":{"code":3,"message":"execution reverted"}}"#).unwrap();
        assert_eq!(err[0].as_ref().unwrap_err().code, 3);
        assert!(decode_single(br#"{"jsonrpc":"2.0","id":5,"result":"0x1"}"#).is_err());
    }

    #[test]
    fn batch_refusals_are_told_from_failures() {
        assert!(is_batch_refusal(&NodeFailure::Http(413)));
        assert!(is_batch_refusal(&NodeFailure::Rpc {
            code: -32600,
            message: "batch requests are not supported".into()
        }));
        assert!(!is_batch_refusal(&NodeFailure::Rpc {
            code: -32005,
            message: "rate limited".into()
        }));
        assert!(!is_batch_refusal(&NodeFailure::Timeout));
        assert!(!is_batch_refusal(&NodeFailure::Http(401)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= BACKOFF_CAP);
            assert!(d >= (BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(10))).min(BACKOFF_CAP) / 2);
        }
    }

    #[test]
    fn clean_bounds_and_flattens() {
        assert_eq!(clean("a\nb"), "a b");
        assert_eq!(clean(&"x".repeat(500)).chars().count(), 201);
    }
}
