//! The routes and their handlers:
//!
//! - `GET /metrics`: the Prometheus metrics of the last completed
//!   background round (503 until the first one is done), then serve's own;
//! - `GET /v1/check?tx=0x…` (repeatable, or comma-separated): a check of
//!   those hashes, the same JSON document as `check --format json`; at most
//!   `max_txs` hashes, at most `max_checks` fan-outs at once (429 beyond),
//!   identical requests sharing one ([`super::checks`]);
//! - `GET /probe?tx=0x…` (as `/v1/check`): the same check answered in the
//!   Prometheus text format, per-transaction series included, with
//!   `quorum_check_probe_success` (1 when every hash is confirmed) — the
//!   blackbox-exporter pattern: one scrape job, hashes as targets;
//! - `GET /v1/pending` (with `--discover`): the hashes found in vote events
//!   that the last round did not confirm, as JSON
//!   ([`super::discovery::Pending`]); 503 until the first round is done,
//!   404 without `--discover`;
//! - `GET /healthz`: the process is alive; `GET /readyz`: the last round
//!   finished within 2 × the interval — both without the token, and
//!   saying nothing more than `ok`, `ready` (with a note when the hash file
//!   could not be re-read and an older list is checked) or `not ready`.
//!
//! With a token, `/metrics`, `/v1/check`, `/probe` and `/v1/pending` need `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::{Shared, checks::Lookup};
use crate::{check::fanout, render};

/// The routes.
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/check", get(check))
        .route("/v1/pending", get(pending))
        .route("/probe", get(probe))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            plain(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /v1/check?tx=0x…, /probe?tx=0x…, /v1/pending, /healthz, /readyz",
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
    let token = shared.token.as_ref()?;
    if token.admits(headers) {
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

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, &headers) {
        return refusal;
    }
    let last = shared.last.lock().ok().and_then(|l| l.as_ref().map(|(m, _)| m.clone()));
    let Some(round) = last else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no round finished yet");
    };
    let mut text = round.as_bytes().to_vec();
    let own = super::metrics::render(
        shared.client.calls_sent(),
        &shared.answers,
        &shared.registry,
        &shared.reloads,
        &mut text,
    );
    if own.is_err() {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "could not write the metrics");
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn pending(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, &headers) {
        return refusal;
    }
    let Some(pending) = &shared.pending else {
        return json_error(
            StatusCode::NOT_FOUND,
            "serve runs without --discover: no hashes are discovered",
        );
    };
    let document = pending.lock().ok().and_then(|p| p.clone());
    match document {
        Some(body) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => json_error(StatusCode::SERVICE_UNAVAILABLE, "no round finished yet"),
    }
}

/// Ready or not, and nothing else: probes send no token, so the answer must
/// tell an outsider nothing about the rounds.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let finished = shared.last.lock().ok().and_then(|l| l.as_ref().map(|(_, at)| *at));
    let stale_list = shared.reloads.failing.load(std::sync::atomic::Ordering::Relaxed);
    match finished {
        // Still serving, but from an older hash list: say so, without details.
        Some(at) if at.elapsed() <= 2 * shared.interval && stale_list => plain(
            StatusCode::OK,
            "ready, but the hash file could not be re-read: checking the last good list",
        ),
        Some(at) if at.elapsed() <= 2 * shared.interval => plain(StatusCode::OK, "ready"),
        _ => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready"),
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
    answer_check(shared, &headers, query.as_deref(), Answering::Json).await
}

async fn probe(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    answer_check(shared, &headers, query.as_deref(), Answering::Probe).await
}

/// How a check of the request's hashes is answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answering {
    /// `/v1/check`: the JSON document, settled as early as possible.
    Json,
    /// `/probe`: Prometheus text, every node waited for (unless
    /// `--no-wait-all`), as a background round is.
    Probe,
}

async fn answer_check(shared: Arc<Shared>, headers: &HeaderMap, query: Option<&str>, how: Answering) -> Response {
    if let Some(refusal) = refuse_unauthorized(&shared, headers) {
        return refusal;
    }
    let hashes = match hashes_of(query.unwrap_or(""), shared.max_txs) {
        Ok(h) => h,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &crate::sanitize::cut_message(&e)),
    };
    let answers = match how {
        Answering::Json => &shared.answers,
        Answering::Probe => &shared.probes,
    };
    let lookup = answers.answer(
        hashes,
        || shared.checks.clone().try_acquire_owned().ok(),
        |hashes| {
            let shared = shared.clone();
            async move { run_check(&shared, hashes, how).await }
        },
    );
    let answer = match lookup {
        Lookup::Ready(answer) => answer,
        Lookup::Pending(pending, _) => pending.await,
        Lookup::Busy => {
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many checks at once: try again shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    };
    let content_type = match how {
        Answering::Json => "application/json",
        Answering::Probe => "text/plain; version=0.0.4; charset=utf-8",
    };
    match answer {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// One fan-out for `hashes`, rendered as the JSON document or, for
/// `/probe`, as Prometheus text ending with `quorum_check_probe_success`.
async fn run_check(shared: &Shared, hashes: Vec<alloy::primitives::B256>, how: Answering) -> Result<Bytes, String> {
    let mut config = shared.base.clone();
    config.txs = hashes;
    // An API answer wants the verdict; nodes are not waited for once it is
    // settled — unless disputes are logged (--dissent-log). A probe reports
    // node health too, as a round does.
    if how == Answering::Json && shared.dissent_log.is_none() {
        config.wait_all = false;
    }
    let started = std::time::Instant::now();
    let report = fanout::run(&config, &shared.client, std::future::pending()).await;
    if let Some(log) = &shared.dissent_log {
        crate::cli::cmd::check::record_disputes(log, &report);
    }
    let mut body = Vec::new();
    let written = match how {
        Answering::Json => render::json(&report, &mut body),
        Answering::Probe => render::prometheus(&report, crate::cli::cmd::check::unix_now(), true, &mut body)
            .and_then(|()| probe_metrics(&report, started.elapsed(), &mut body)),
    };
    written.map_err(|_| "could not write the report".to_string())?;
    Ok(Bytes::from(body))
}

/// `/probe`'s own lines, after the check's metrics.
fn probe_metrics(report: &crate::report::Report, took: std::time::Duration, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Write;
    let all_confirmed = report.summary().confirmed == report.len();
    render::prometheus_gauge(
        out,
        "quorum_check_probe_success",
        "1 when every transaction probed is confirmed by the quorum, else 0.",
    )?;
    writeln!(out, "quorum_check_probe_success {}", u8::from(all_confirmed))?;
    render::prometheus_gauge(
        out,
        "quorum_check_probe_duration_seconds",
        "How long the probe's check took.",
    )?;
    writeln!(out, "quorum_check_probe_duration_seconds {:.6}", took.as_secs_f64())
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
}
