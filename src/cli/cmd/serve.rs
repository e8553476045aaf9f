//! `quorum-check serve`: check in the background every `--interval` (the
//! hash list from `--tx`/`--tx-file`, the file re-read when it changes) and
//! serve the results over HTTP ([`crate::cli::serve`]). Stops on SIGTERM/Ctrl-C:
//! no new connections, in-flight requests get until their check's deadline
//! plus a second.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    check::fanout,
    cli::ServeArgs,
    cli::serve::{Shared, app},
    config::{CheckConfig, NodeSource, load_tx_file},
    input, render,
};

/// Serves until stopped; returns the exit code (0).
pub async fn run(args: &ServeArgs, prefer: Option<NodeSource>) -> anyhow::Result<u8> {
    let token = auth_token(args)?;
    let mut base = CheckConfig::from_args_allowing_no_txs(&args.check, prefer)?;
    // A monitoring round wants every node's health (unless --no-wait-all).
    base.wait_all = !args.check.no_wait_all;
    let client = super::check::client_for(&base)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("listening address")?;
    crate::eprint_line(&format!("quorum-check: listening on http://{local}"));

    let shared = Arc::new(Shared {
        base,
        client,
        interval: args.interval,
        checks: Semaphore::new(args.max_concurrent_checks as usize),
        max_txs: args.max_tx_per_request as usize,
        token,
        metrics_per_tx: args.check.metrics_per_tx,
        last: std::sync::Mutex::new(None),
    });
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let signal = super::shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        let _ = stop.send(true);
    });

    let rounds = tokio::spawn(background(
        shared.clone(),
        args.check.tx.clone(),
        args.check.tx_file.clone(),
        stopped.clone(),
    ));
    let grace = shared.base.limits.deadline + Duration::from_secs(1);
    let mut on_stop = stopped.clone();
    let server = axum::serve(listener, app(shared)).with_graceful_shutdown(async move {
        let _ = on_stop.wait_for(|s| *s).await;
    });
    tokio::select! {
        result = server => result.context("serving")?,
        () = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("in-flight requests cut after {grace:?}"),
    }
    rounds.abort();
    crate::eprint_line("quorum-check: stopped");
    Ok(0)
}

/// The bearer token from `--auth-token-file`, and the rule that a
/// non-loopback address needs one (or `--allow-unauthenticated`).
fn auth_token(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    let token = match &args.auth_token_file {
        Some(path) => {
            let text = input::read_file(path, "--auth-token-file", 64 * 1024, input::DEFAULT_READ_WAIT)?;
            let token = text.trim().to_string();
            if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
                bail!(
                    "--auth-token-file {}: the token must be one line of printable characters without spaces",
                    path.display()
                );
            }
            Some(token)
        }
        None => None,
    };
    if !is_loopback(args.listen) && token.is_none() && !args.allow_unauthenticated {
        bail!(
            "--listen {} is not a loopback address: serve spends provider quota on every request, so pass --auth-token-file FILE (clients send Authorization: Bearer <token>) or --allow-unauthenticated",
            args.listen
        );
    }
    Ok(token)
}

fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Background rounds until stopped: re-read the hash file when it changed,
/// check, keep the metrics.
async fn background(
    shared: Arc<Shared>,
    fixed: Vec<alloy::primitives::B256>,
    tx_file: Option<std::path::PathBuf>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut config = shared.base.clone();
    let mut seen: Option<(std::time::SystemTime, u64)> = None;
    loop {
        let started = Instant::now();
        if let Some(path) = &tx_file {
            reload(path, &fixed, &mut config, &mut seen);
        }
        let report = fanout::run(&config, &shared.client, async {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
        if *stopped.borrow() {
            return;
        }
        let mut text = Vec::new();
        if render::prometheus(&report, super::check::unix_now(), shared.metrics_per_tx, &mut text).is_ok() {
            shared.finish_round(String::from_utf8_lossy(&text).into_owned());
        }
        tracing::info!(txs = config.txs.len(), elapsed = ?started.elapsed(), "round finished");
        tokio::select! {
            () = tokio::time::sleep_until(started + shared.interval) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// Re-reads the hash file when its modification time or size changed; a
/// file that cannot be read keeps the last good list (and says so).
fn reload(
    path: &Path,
    fixed: &[alloy::primitives::B256],
    config: &mut CheckConfig,
    seen: &mut Option<(std::time::SystemTime, u64)>,
) {
    let stamp = std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())));
    if stamp.is_some() && stamp == *seen {
        return;
    }
    match load_tx_file(path) {
        Ok(hashes) => {
            config.txs = crate::config::unique_hashes(fixed.iter().chain(&hashes).copied());
            *seen = stamp;
            tracing::info!(txs = config.txs.len(), "hash list read");
        }
        Err(e) => tracing::warn!(error = %e, "hash list not re-read; keeping the last one"),
    }
}
