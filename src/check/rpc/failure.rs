//! Why a node gave no usable answer, and what that means: retry (transient),
//! send smaller batches (a refusal), slow down (a rate limit), or report.

use std::time::Duration;

use alloy::rpc::json_rpc::ErrorPayload;

use super::node_text;
use crate::report::NodeStatus;

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
    pub(super) fn is_transient(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Http(status) => *status == 429 || (500..600).contains(status),
            Self::Rpc { code, .. } => is_rate_limit(*code),
            Self::Timeout | Self::BadResponse(_) | Self::Tls(_) | Self::Redirect(_) => false,
        }
    }

    /// An HTML page or other text where JSON was expected: a proxy's error
    /// page, worth one more try.
    pub(super) fn is_unexpected_markup(&self) -> bool {
        matches!(self, Self::BadResponse(m) if m.starts_with(ANSWERED_HTML) || m.starts_with(ANSWERED_TEXT))
    }
}

/// How a bad response that is an HTML page starts.
pub(super) const ANSWERED_HTML: &str = "answered HTML, not JSON";
/// How a bad response that is other text starts.
pub(super) const ANSWERED_TEXT: &str = "answered text, not JSON";

/// A failure of the whole batch is every asked transaction's status
/// (unscrubbed: the caller masks the node's secrets).
impl From<NodeFailure> for NodeStatus {
    fn from(failure: NodeFailure) -> Self {
        match failure {
            NodeFailure::Timeout => Self::Timeout,
            NodeFailure::Connect(message) => Self::ConnectError { message },
            NodeFailure::Http(http_status) => Self::HttpError {
                http_status,
                reason: None,
            },
            NodeFailure::Redirect(http_status) => Self::HttpError {
                http_status,
                reason: Some(NodeFailure::Redirect(http_status).to_string()),
            },
            NodeFailure::Tls(message) => Self::TlsError { message },
            NodeFailure::Rpc { code, message } => Self::RpcError { code, message },
            NodeFailure::BadResponse(reason) => Self::BadResponse { reason },
        }
    }
}

/// JSON-RPC error codes that providers use for "slow down".
pub(super) fn is_rate_limit(code: i64) -> bool {
    matches!(code, -32005 | 429)
}

/// Whether a node's words say "slow down" (Alchemy's compute units, the
/// many "rate limit" texts), whatever the code.
fn says_rate_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("rate limit") || m.contains("compute units") || m.contains("too many requests")
}

/// Whether one entry's error is a rate limit.
pub(super) fn is_rate_limit_entry(e: &ErrorPayload) -> bool {
    is_rate_limit(e.code) || says_rate_limit(&e.message)
}

/// Whether a failure of a whole request is a rate limit.
pub(super) fn is_rate_limited(failure: &NodeFailure) -> bool {
    match failure {
        NodeFailure::Http(429) => true,
        NodeFailure::Rpc { code, message } => is_rate_limit(*code) || says_rate_limit(message),
        _ => false,
    }
}

/// Whether one entry's error is worth asking again, alone: a rate limit, or
/// a provider's "try again" — -32603 (internal error), a -32000 "header not
/// found" (a load-balanced node behind the others), a timeout text.
pub fn is_transient_entry(e: &ErrorPayload) -> bool {
    let text = e.message.to_ascii_lowercase();
    is_rate_limit_entry(e)
        || e.code == -32603
        || (e.code == -32000
            && (text.contains("header not found") || text.contains("timeout") || text.contains("timed out")))
}

/// Whether an `eth_call` error says it ran out of gas, in the words of each
/// node program: anvil's `EVM error OutOfGas`, geth's `out of gas`,
/// Infura's `gas required exceeds allowance`, and the gas caps that nodes
/// put on `eth_call`.
pub fn is_out_of_gas(e: &ErrorPayload) -> bool {
    let m = e.message.to_ascii_lowercase();
    m.contains("outofgas")
        || m.contains("out of gas")
        || m.contains("gas required exceeds")
        || m.contains("exceeds allowance")
        || m.contains("gas cap")
        || m.contains("exceeds block gas limit")
        || m.contains("gas limit reached")
}

/// The wait a provider asks for in an error's `data`: Infura's
/// `data.rate.backoff_seconds`, or a `backoff_seconds` / `retry_after`
/// beside it. Bounded to a day.
pub fn backoff_hint(e: &ErrorPayload) -> Option<Duration> {
    let data: serde_json::Value = serde_json::from_str(e.data.as_ref()?.get()).ok()?;
    hint_in(&data)
}

fn hint_in(data: &serde_json::Value) -> Option<Duration> {
    let seconds = [
        &data["rate"]["backoff_seconds"],
        &data["backoff_seconds"],
        &data["retry_after"],
    ]
    .into_iter()
    .find_map(serde_json::Value::as_f64)?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// The JSON-RPC error object of an error body (a lone object, or the first
/// of an array).
fn error_object(body: &[u8]) -> Option<serde_json::Value> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = match v {
        serde_json::Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    match first.get("error") {
        Some(e) if e.is_object() => Some(e.clone()),
        _ => None,
    }
}

/// The wait an error body asks for (see [`backoff_hint`]).
pub(super) fn body_backoff_hint(body: &[u8]) -> Option<Duration> {
    hint_in(&error_object(body)?["data"])
}

/// The code and message of an error body that says "slow down".
pub(super) fn body_rate_limit(body: &[u8]) -> Option<(i64, String)> {
    let e = error_object(body)?;
    let code = e["code"].as_i64()?;
    let message = e["message"].as_str().unwrap_or_default();
    (is_rate_limit(code) || says_rate_limit(message)).then(|| (code, node_text(message)))
}

/// Whether a failure says "not as a batch" or "not so many at once": a
/// single error object for the whole array (other than a rate limit), HTTP
/// 400 or 413, or a message about the batch's size.
pub(super) fn is_batch_refusal(failure: &NodeFailure) -> bool {
    match failure {
        NodeFailure::Http(400 | 413) => true,
        failure if is_rate_limited(failure) => false,
        NodeFailure::Rpc { .. } => true,
        NodeFailure::BadResponse(reason) => {
            let r = reason.to_ascii_lowercase();
            r.contains("batch") && (r.contains("large") || r.contains("limit") || r.contains("exceed"))
        }
        _ => false,
    }
}

/// Classifies a transport error without its URL; `https` says which scheme
/// the node's URL has, to tell TLS mistakes apart.
pub(super) fn transport_failure(e: &reqwest::Error, https: bool) -> NodeFailure {
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
        Some(innermost) => node_text(innermost),
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
                node_text(chain.rsplit(": ").next().unwrap_or(""))
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
