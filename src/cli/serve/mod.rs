//! `quorum-check serve`'s HTTP side: a long-running exporter and API.
//!
//! - `GET /metrics`: the Prometheus metrics of the last completed background
//!   round (503 until the first one is done);
//! - `GET /v1/check?tx=0x…` (repeatable, or comma-separated): a fresh check
//!   of those hashes, the same JSON document as `check --format json`; at
//!   most `max_txs` hashes, at most `max_checks` checks at once (429 beyond);
//! - `GET /healthz`: the process is alive; `GET /readyz`: the last round
//!   finished within 2 × the interval.
//!
//! With a token, every path but `/healthz` needs `Authorization: Bearer
//! <token>`. Responses carry node names and redacted URLs only.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{sync::Semaphore, time::Instant};

use crate::{check::fanout, check::rpc::RpcClient, config::CheckConfig, render};

/// What the handlers share.
pub struct Shared {
    /// The check's configuration; requests replace its hashes.
    pub base: CheckConfig,
    /// The HTTP client, shared by every check.
    pub client: RpcClient,
    /// Background rounds: every this often.
    pub interval: Duration,
    /// Checks running at once, at most.
    pub checks: Semaphore,
    /// Hashes per `/v1/check` request, at most.
    pub max_txs: usize,
    /// The bearer token, when one is required.
    pub token: Option<String>,
    /// Per-transaction series in `/metrics`.
    pub metrics_per_tx: bool,
    /// The last completed round: its metrics and when it ended.
    pub last: Mutex<Option<(Arc<String>, Instant)>>,
}

impl Shared {
    /// Records a finished background round.
    pub fn finish_round(&self, metrics: String) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Arc::new(metrics), Instant::now()));
        }
    }
}

/// The routes.
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/check", get(check))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            plain(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /v1/check?tx=0x…, /healthz, /readyz",
            )
        })
        .with_state(shared)
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `None` when the request may go on; the refusal otherwise.
fn refuse_unauthorized(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = shared.token.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return None;
    }
    let mut response = plain(
        StatusCode::UNAUTHORIZED,
        "unauthorized: send Authorization: Bearer <token>",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(response)
}

/// Compares without stopping at the first difference (the time taken does
/// not tell how much of a guessed token was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, &headers) {
        return refusal;
    }
    let last = shared.last.lock().ok().and_then(|l| l.as_ref().map(|(m, _)| m.clone()));
    match last {
        Some(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text.as_str().to_owned(),
        )
            .into_response(),
        None => plain(StatusCode::SERVICE_UNAVAILABLE, "no round finished yet"),
    }
}

async fn readyz(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, &headers) {
        return refusal;
    }
    let finished = shared.last.lock().ok().and_then(|l| l.as_ref().map(|(_, at)| *at));
    match finished {
        Some(at) if at.elapsed() <= 2 * shared.interval => plain(StatusCode::OK, "ready"),
        Some(at) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the last round finished {}s ago", at.elapsed().as_secs()),
        ),
        None => plain(StatusCode::SERVICE_UNAVAILABLE, "no round finished yet"),
    }
}

/// The hashes of `tx=` parameters (repeatable, comma-separated values).
fn hashes_of(query: &str, max: usize) -> Result<Vec<alloy::primitives::B256>, String> {
    let mut hashes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "tx" {
            return Err(format!(
                "unknown parameter `{}`: only tx=0x… is accepted",
                crate::sanitize::cut_message(&crate::sanitize::escape(key))
            ));
        }
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        for part in value.split(',') {
            let hash = crate::parse::parse_tx_hash(part)?;
            if seen.insert(hash) {
                hashes.push(hash);
            }
            if hashes.len() > max {
                return Err(format!("at most {max} hashes per request"));
            }
        }
    }
    if hashes.is_empty() {
        return Err("no transaction hash: pass ?tx=0x… (repeatable)".into());
    }
    Ok(hashes)
}

async fn check(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, &headers) {
        return refusal;
    }
    let hashes = match hashes_of(query.as_deref().unwrap_or(""), shared.max_txs) {
        Ok(h) => h,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &crate::sanitize::cut_message(&e)),
    };
    let Ok(_permit) = shared.checks.try_acquire() else {
        let mut response = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many checks at once: try again shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let mut config = shared.base.clone();
    config.txs = hashes;
    // An API answer wants the verdict; nodes are not waited for once it is settled.
    config.wait_all = false;
    let report = fanout::run(&config, &shared.client, std::future::pending()).await;
    let mut body = Vec::new();
    if render::json(&report, &mut body).is_err() {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "could not write the report");
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_come_from_repeated_and_comma_separated_parameters() {
        let a = format!("0x{}", "11".repeat(32));
        let b = format!("0x{}", "22".repeat(32));
        let got = hashes_of(&format!("tx={a}&tx={b}%2C{a}"), 10).unwrap();
        assert_eq!(got.len(), 2);
        assert!(hashes_of("", 10).unwrap_err().contains("no transaction hash"));
        assert!(hashes_of("tx=0x12", 10).is_err());
        assert!(
            hashes_of(&format!("tx={a}&rpc=http://x"), 10)
                .unwrap_err()
                .contains("unknown parameter")
        );
        assert!(hashes_of(&format!("tx={a},{b}"), 1).unwrap_err().contains("at most 1"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secret!", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"Secret", b"secret"));
    }
}
