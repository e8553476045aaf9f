//! `quorum-check serve`'s HTTP side: a long-running exporter and API that a
//! minority of hostile clients can neither knock over nor turn into a
//! provider-quota amplifier.
//!
//! - [`routes`]: `/metrics`, `/v1/check`, `/probe`, `/v1/pending`, `/healthz`, `/readyz`;
//! - [`auth`]: the bearer token (vetted at start, compared in constant time);
//! - [`host`]: which `Host` a request may name (DNS rebinding);
//! - [`checks`]: identical checks share one fan-out; answers are reused for
//!   `--cache-ttl`;
//! - [`listener`]: the accept loop on hyper — header-read timeout, small
//!   heads, graceful shutdown;
//! - [`connections`]: the connection cap, eviction of the longest-silent
//!   connection, the idle timeout;
//! - [`tls`]: `--tls-cert`/`--tls-key`, HTTPS with rustls;
//! - [`fdlimit`]: raising the open-file limit, sizing the cap below it;
//! - [`metrics`]: serve's own metrics;
//! - [`discovery`]: with `--discover`, the hashes found in vote events,
//!   their verdicts for `/metrics` and `/v1/pending`.
//!
//! Responses carry node names and redacted URLs only.

pub mod auth;
pub mod checks;
pub mod connections;
pub mod discovery;
pub mod fdlimit;
pub mod host;
pub mod listener;
pub mod metrics;
pub mod routes;
pub mod tls;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::Semaphore, time::Instant};

pub use routes::app;

use crate::{check::rpc::RpcClient, config::CheckConfig};

/// How re-reading `--tx-file` went, for `/metrics` and `/readyz`.
#[derive(Debug, Default)]
pub struct Reloads {
    /// Reads of a changed file that failed (the last good list kept).
    pub errors: std::sync::atomic::AtomicU64,
    /// When the file was last read successfully (Unix seconds; 0: never).
    pub last_good: Mutex<f64>,
    /// The last read failed: the list served is an older one.
    pub failing: std::sync::atomic::AtomicBool,
}

impl Reloads {
    /// Records a successful read at `now` (Unix seconds).
    pub fn succeeded(&self, now: f64) {
        if let Ok(mut last) = self.last_good.lock() {
            *last = now;
        }
        self.failing.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records a failed read.
    pub fn failed(&self) {
        self.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.failing.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What the handlers share.
pub struct Shared {
    /// The check's configuration; requests replace its hashes.
    pub base: CheckConfig,
    /// The HTTP client, shared by every check.
    pub client: RpcClient,
    /// Background rounds: every this often.
    pub interval: Duration,
    /// Slots for checks of `/v1/check` running at once.
    pub checks: Arc<Semaphore>,
    /// Checks in flight and recent answers.
    pub answers: Arc<checks::Checks>,
    /// `/probe`'s checks in flight and recent answers (Prometheus text).
    pub probes: Arc<checks::Checks>,
    /// Hashes per `/v1/check` request, at most.
    pub max_txs: usize,
    /// The bearer token, when one is required.
    pub token: Option<auth::Token>,
    /// Per-transaction series in `/metrics`.
    pub metrics_per_tx: bool,
    /// The open connections (for `/metrics`).
    pub registry: Arc<connections::Registry>,
    /// The last completed round: its metrics and when it ended.
    pub last: Mutex<Option<(Arc<String>, Instant)>>,
    /// How re-reading `--tx-file` went.
    pub reloads: Reloads,
    /// With `--discover`: `/v1/pending`'s document after the last round
    /// (`None` before the first); without, `/v1/pending` is not served.
    pub pending: Option<Mutex<Option<axum::body::Bytes>>>,
    /// `--dissent-log`: every check's disputes, each logged once.
    pub dissent_log: Option<crate::cli::dissent_log::DissentLog>,
}

impl Shared {
    /// Records a finished background round.
    pub fn finish_round(&self, metrics: String) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Arc::new(metrics), Instant::now()));
        }
    }

    /// Records `/v1/pending`'s document after a round (with `--discover`).
    pub fn finish_pending(&self, document: axum::body::Bytes) {
        if let Some(Ok(mut pending)) = self.pending.as_ref().map(Mutex::lock) {
            *pending = Some(document);
        }
    }
}
