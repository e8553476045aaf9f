//! `quorum-check check`: validate the configuration, ask every node, render
//! the report, exit with the verdict's code.

use std::path::Path;

use crate::{
    ExitStatus,
    check::fanout,
    check::rpc::RpcClient,
    cli::dissent_log::{self, DissentLog},
    cli::output,
    cli::{CheckArgs, Format},
    config::{CheckConfig, NodeSource},
    render,
    report::Report,
};

/// Runs a check; returns the exit code (0, 1 or 3).
pub async fn run(args: &CheckArgs, prefer: Option<NodeSource>, color: bool) -> anyhow::Result<ExitStatus> {
    // --deadline counts from here: reading a million hashes is part of the run.
    let clock_start = tokio::time::Instant::now();
    let config = CheckConfig::from_args(args, prefer)?;
    let out = output::target(args.output.as_deref());
    output::check_writable(out)?;
    let log = args.dissent_log.as_deref().map(dissent_log::open).transpose()?;
    if config.txs.is_empty() {
        // The report (zero counts) is still written: a stale --output file
        // must not fire an alert when nothing is pending.
        crate::cli::eprint_line("quorum-check: no transactions to check");
    }
    let options = render::Options {
        quiet: args.quiet,
        color,
        timestamp: 0.0,
        metrics_per_tx: args.metrics_per_tx,
    };
    run_config_from(&config, args.format, &options, out, log.as_ref(), clock_start).await
}

/// Runs an already validated check and writes the report; `color` colours
/// the verdict lines of text written to stdout.
pub async fn run_config(
    config: &CheckConfig,
    format: Format,
    color: bool,
    out: Option<&Path>,
) -> anyhow::Result<ExitStatus> {
    let options = render::Options {
        color,
        ..Default::default()
    };
    run_config_from(config, format, &options, out, None, tokio::time::Instant::now()).await
}

async fn run_config_from(
    config: &CheckConfig,
    format: Format,
    options: &render::Options,
    out: Option<&Path>,
    log: Option<&DissentLog>,
    clock_start: tokio::time::Instant,
) -> anyhow::Result<ExitStatus> {
    tracing::info!(nodes = config.nodes.len(), txs = config.txs.len(), threshold = %config.threshold, "checking");
    let client = client_for(config)?;
    let started = std::time::Instant::now();
    let report = fanout::run_from(config, &client, super::shutdown_signal(), clock_start).await;
    tracing::debug!(elapsed = ?started.elapsed(), "fan-out done, report built");
    write_report(&report, format, options, out)?;
    tracing::debug!(elapsed = ?started.elapsed(), "report written");
    if let Some(log) = log {
        record_disputes(log, &report);
    }
    Ok(report.exit_code())
}

/// Appends `report`'s disputes to the dissent log; a failure to write is
/// said on stderr (the verdict and its exit code stand).
pub fn record_disputes(log: &DissentLog, report: &Report) {
    match log.record(report) {
        Ok(n) if n > 0 => tracing::debug!(lines = n, "dissent log appended"),
        Ok(_) => {}
        Err(e) => tracing::warn!("{e:#}"),
    }
}

/// The HTTP client a check needs.
pub fn client_for(config: &CheckConfig) -> anyhow::Result<RpcClient> {
    Ok(
        RpcClient::for_nodes(&config.nodes, config.limits.retries, config.limits.max_response_bytes)?
            .with_max_batch(config.limits.batch_size),
    )
}

/// Renders `report` to stdout or, atomically, to `out`, stamped with now.
pub fn write_report(
    report: &Report,
    format: Format,
    options: &render::Options,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let options = render::Options {
        timestamp: unix_now(),
        // Files never get colour.
        color: options.color && out.is_none(),
        ..*options
    };
    output::emit(out, |w| render::render(report, format, &options, w))
}

/// Now, in Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
