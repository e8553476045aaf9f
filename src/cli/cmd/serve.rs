//! `quorum-check serve`: check in the background every `--interval` (the
//! hash list from `--tx`/`--tx-file`, the file re-read when it changes) and
//! serve the results over HTTP ([`crate::cli::serve`]). At start: the token
//! vetted, the open-file limit raised and the connection cap sized below it.
//! Stops on SIGTERM/Ctrl-C: no new connections, in-flight requests get until
//! their check's deadline plus a second.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    ExitStatus,
    check::fanout,
    cli::ServeArgs,
    cli::serve::{
        Shared, app,
        auth::Token,
        checks::Checks,
        connections::Registry,
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
    let mut base = CheckConfig::from_args_allowing_no_txs(&args.check, prefer)?;
    // A monitoring round wants every node's health (unless --no-wait-all).
    base.wait_all = !args.check.no_wait_all;
    let client = super::check::client_for(&base)?;
    let max_connections = max_connections(args, base.nodes.len());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("listening address")?;
    crate::cli::eprint_line(&format!("quorum-check: listening on http://{local}"));

    let registry = Arc::new(Registry::new(max_connections));
    let shared = Arc::new(Shared {
        base,
        client,
        interval: args.interval,
        checks: Arc::new(Semaphore::new(args.max_concurrent_checks as usize)),
        answers: Arc::new(Checks::new(args.cache_ttl)),
        max_txs: args.max_tx_per_request as usize,
        token,
        metrics_per_tx: args.check.metrics_per_tx,
        registry: registry.clone(),
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
    let server = Arc::new(Server {
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
