//! `quorum-check serve`: check in the background every `--interval` (the
//! hash list from `--tx`/`--tx-file`, the file re-read when it changes) and
//! serve the results over HTTP ([`crate::cli::serve`]). At start: the token
//! vetted, the open-file limit raised and the connection cap sized below it.
//! Stops on SIGTERM/Ctrl-C: no new connections, in-flight requests get until
//! their check's deadline plus a second.
//!
//! With `--discover`, every round first scans the new blocks for vote events
//! (one [`Scanner`](crate::scan::Scanner) kept across rounds, `--state`
//! written after each scan) and checks the hashes found with the listed
//! ones; `/metrics` and `/v1/pending` say where they stand
//! ([`crate::cli::serve::discovery`]).

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use tokio::{sync::Semaphore, time::Instant};

/// `serve`'s default port (`--listen 127.0.0.1:9464`). Kept since 0.1.0:
/// every Prometheus exporter port from 9100 to 9999 is allocated, and moving
/// would break the scrape configurations already written for it; 9464 is
/// also the OpenTelemetry Prometheus exporter's default, which the error
/// for a busy port says.
pub const DEFAULT_PORT: u16 = 9464;

use crate::{
    ExitStatus,
    check::fanout,
    cli::ServeArgs,
    cli::serve::{
        Shared, app,
        auth::Token,
        checks::Checks,
        connections::Registry,
        discovery::Discovered,
        fdlimit,
        host::HostPolicy,
        listener::{self, Server},
    },
    config::{CheckConfig, NodeSource, load_tx_file},
    render,
};

/// Serves until stopped (success; an error before serving is a usage error).
pub async fn run(args: &ServeArgs, prefer: Option<NodeSource>) -> anyhow::Result<ExitStatus> {
    let token = auth_token(args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::cli::serve::tls::acceptor(cert, key).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    if !args.listen.ip().is_loopback() && tls.is_none() && token.is_some() {
        tracing::warn!(
            "--listen {} without --tls-cert/--tls-key: the bearer token travels in clear; serve HTTPS or put a TLS proxy in front",
            args.listen
        );
    }
    let scanner = super::scan::discovery_scanner(args.discover, &args.check, &args.discovery, prefer)?;
    let mut base = CheckConfig::from_args_allowing_no_txs(&args.check, prefer)?;
    let dissent_log = args
        .check
        .dissent_log
        .as_deref()
        .map(crate::cli::dissent_log::open)
        .transpose()?;
    // A monitoring round wants every node's health (unless --no-wait-all).
    base.wait_all = !args.check.no_wait_all;
    let client = super::check::client_for(&base)?;
    let max_connections = max_connections(args, base.nodes.len());
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        // The default port is also the OpenTelemetry Prometheus exporter's:
        // say so, and how to move, rather than only "address in use".
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "cannot listen on {}: the port is in use{}; choose another with --listen ADDR:PORT (QUORUM_LISTEN)",
            args.listen,
            if args.listen.port() == DEFAULT_PORT {
                " (9464 is also the default of OpenTelemetry's Prometheus exporter)"
            } else {
                ""
            }
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", args.listen)),
    };
    let local = listener.local_addr().context("listening address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    crate::cli::eprint_line(&format!("quorum-check: listening on {scheme}://{local}"));

    let registry = Arc::new(Registry::new(max_connections));
    let shared = Arc::new(Shared {
        base,
        client,
        interval: args.interval,
        checks: Arc::new(Semaphore::new(args.max_concurrent_checks as usize)),
        answers: Arc::new(Checks::new(args.cache_ttl)),
        probes: Arc::new(Checks::new(args.cache_ttl)),
        max_txs: args.max_tx_per_request as usize,
        token,
        metrics_per_tx: args.check.metrics_per_tx,
        registry: registry.clone(),
        last: std::sync::Mutex::new(None),
        reloads: Default::default(),
        pending: args.discover.then(|| std::sync::Mutex::new(None)),
        dissent_log,
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
        scanner,
        stopped.clone(),
    ));
    let grace = shared.base.limits.deadline + Duration::from_secs(1);
    let server = Arc::new(Server {
        tls,
        router: app(shared),
        hosts: HostPolicy::new(local, args.allowed_host.clone()),
        registry,
        head_limit: listener::head_limit(args.max_tx_per_request as usize),
    });
    tokio::select! {
        () = listener::run(listener, server, stopped.clone()) => {}
        () = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("in-flight requests cut after {grace:?}"),
    }
    rounds.abort();
    crate::cli::eprint_line("quorum-check: stopped");
    Ok(ExitStatus::Success)
}

/// `--max-connections`, or its default: the open-file limit (raised to the
/// hard limit first) less what the background round and the checks may
/// hold upstream and the process's own files.
fn max_connections(args: &ServeArgs, nodes: usize) -> usize {
    let limit = fdlimit::raise();
    if let Some(fdlimit::FdLimit {
        soft,
        raised_from: Some(from),
    }) = limit
    {
        tracing::info!(from, to = soft, "open-file limit raised");
    }
    let reserve = fdlimit::reserve(
        nodes,
        crate::check::BATCHES_IN_FLIGHT_PER_NODE,
        args.max_concurrent_checks as usize,
    );
    let chosen = match (args.max_connections, limit) {
        (Some(n), Some(limit)) => {
            let n = u64::from(n);
            if n.saturating_add(reserve) > limit.soft {
                tracing::warn!(
                    "--max-connections {n} with an open-file limit of {} leaves fewer than the {reserve} descriptors the checks may need: raise the limit (LimitNOFILE=, ulimit -n) or lower --max-connections",
                    limit.soft
                );
            }
            n
        }
        (Some(n), None) => u64::from(n),
        (None, Some(limit)) => {
            let (n, tight) = fdlimit::default_max_connections(limit.soft, reserve);
            if tight {
                tracing::warn!(
                    "the open-file limit ({}) leaves no room for clients beside the {reserve} descriptors the checks may need: serving at most {n} connections; raise the limit (LimitNOFILE=, ulimit -n)",
                    limit.soft
                );
            }
            n
        }
        (None, None) => fdlimit::DEFAULT_MAX_CONNECTIONS_CAP,
    };
    tracing::info!(max_connections = chosen, reserve, "connection cap");
    usize::try_from(chosen).unwrap_or(usize::MAX)
}

/// The bearer token from `--auth-token-file`, and the rule that a
/// non-loopback address needs one (or `--allow-unauthenticated`).
fn auth_token(args: &ServeArgs) -> anyhow::Result<Option<Token>> {
    let token = match &args.auth_token_file {
        Some(path) => {
            let (token, readable_by_others) = Token::load(path).map_err(anyhow::Error::msg)?;
            if readable_by_others {
                tracing::warn!(
                    "--auth-token-file {}: the file is readable by group or others; chmod 600 it (or use systemd's LoadCredential=)",
                    path.display()
                );
            }
            Some(token)
        }
        None => None,
    };
    if !args.listen.ip().is_loopback() && token.is_none() && !args.allow_unauthenticated {
        bail!(
            "--listen {} is not a loopback address: serve spends provider quota on every request, so pass --auth-token-file FILE (clients send Authorization: Bearer <token>) or --allow-unauthenticated",
            args.listen
        );
    }
    Ok(token)
}

/// Background rounds until stopped: scan for new vote events (with
/// `--discover`), re-read the hash file when it changed, check, keep the
/// metrics.
async fn background(
    shared: Arc<Shared>,
    fixed: Vec<alloy::primitives::B256>,
    tx_file: Option<std::path::PathBuf>,
    mut scanner: Option<(crate::scan::Scanner, Option<std::path::PathBuf>)>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut config = shared.base.clone();
    let mut listed = config.txs.clone();
    let mut discovered = Discovered::default();
    let mut seen: Option<(std::time::SystemTime, u64)> = None;
    let mut dissent = crate::cli::serve::metrics::DissentTotals::new();
    loop {
        let started = Instant::now();
        if let Some(path) = &tx_file {
            match reload(path, &fixed, &mut listed, &mut seen) {
                Some(Ok(())) => shared.reloads.succeeded(super::check::unix_now()),
                Some(Err(())) => shared.reloads.failed(),
                None => {}
            }
        }
        if let Some((scanner, state)) = &mut scanner {
            let found = tokio::select! {
                found = scanner.scan(crate::scan::ToBlock::Latest) => found,
                _ = stopped.wait_for(|s| *s) => return,
            };
            match found {
                Ok(found) => {
                    for note in crate::scan::render::notes(&found) {
                        tracing::warn!("scan: {note}");
                    }
                    let new = discovered.add(&found);
                    if new > 0 {
                        tracing::info!(new, discovered = discovered.hashes().count(), "hashes discovered");
                    }
                    if let Some(path) = state
                        && let Err(e) = super::scan::save_state(scanner, path)
                    {
                        tracing::warn!("{e}");
                    }
                }
                Err(e) => tracing::warn!("scan failed; checking the hashes known so far: {e}"),
            }
        }
        config.txs = crate::config::unique_hashes(listed.iter().copied().chain(discovered.hashes()));
        let report = fanout::run(&config, &shared.client, async {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
        if *stopped.borrow() {
            return;
        }
        if let Some(log) = &shared.dissent_log {
            super::check::record_disputes(log, &report);
        }
        dissent.record(&report);
        let mut text = Vec::new();
        let mut written = render::prometheus(&report, super::check::unix_now(), shared.metrics_per_tx, &mut text)
            .and_then(|()| dissent.write(&mut text));
        if scanner.is_some() {
            discovered.record(&report);
            written = written.and_then(|()| discovered.write_metrics(&mut text));
            match serde_json::to_vec(&discovered.pending()) {
                Ok(mut json) => {
                    json.push(b'\n');
                    shared.finish_pending(json.into());
                }
                Err(e) => tracing::warn!("pending list not written: {e}"),
            }
        }
        if written.is_ok() {
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
/// file that cannot be read keeps the last good list (and says so, every
/// round until it is fixed). `None`: not re-read (unchanged).
fn reload(
    path: &Path,
    fixed: &[alloy::primitives::B256],
    listed: &mut Vec<alloy::primitives::B256>,
    seen: &mut Option<(std::time::SystemTime, u64)>,
) -> Option<Result<(), ()>> {
    let stamp = std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())));
    if stamp.is_some() && stamp == *seen {
        return None;
    }
    match load_tx_file(path) {
        Ok(hashes) => {
            *listed = crate::config::unique_hashes(fixed.iter().chain(&hashes).copied());
            *seen = stamp;
            tracing::info!(txs = listed.len(), "hash list read");
            Some(Ok(()))
        }
        Err(e) => {
            tracing::warn!(error = %e, "hash list not re-read; keeping the last one");
            Some(Err(()))
        }
    }
}
