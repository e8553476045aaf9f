//! `quorum-check watch`: re-check every `--interval` until every transaction
//! is confirmed (exit 0) or `--deadline` passes (exit as `check` would on the
//! last round). Only changes of verdict are printed; a rejection is not final
//! while votes can still change, so it keeps waiting.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    cli::{Format, WatchArgs},
    config::{CheckConfig, NodeSource},
    fanout, render,
    report::Report,
    tally::Verdict,
};

/// How long watch waits when no --deadline is given.
pub const DEFAULT_WATCH_DEADLINE: Duration = Duration::from_secs(600);

/// Watches; returns the exit code.
pub async fn run(args: &WatchArgs, prefer: Option<NodeSource>, color: bool) -> anyhow::Result<u8> {
    let mut config = CheckConfig::from_args(&args.check, prefer)?;
    let out = crate::output::target(args.check.output.as_deref());
    crate::output::check_writable(out)?;
    let started = Instant::now();
    let end = started + args.check.deadline.unwrap_or(DEFAULT_WATCH_DEADLINE);
    let round_budget = config.limits.timeout + Duration::from_secs(1);
    let client = super::check::client_for(&config)?;
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);

    let mut last: Vec<Option<Verdict>> = vec![None; config.txs.len()];
    let mut rounds = 0u32;
    let report = loop {
        rounds += 1;
        // A round never runs past the watch's own deadline.
        config.limits.deadline = round_budget
            .min(end.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        let report = fanout::run(&config, &client, shutdown.as_mut()).await;
        print_changes(&report, &mut last, args.check.format);
        if report.interrupted() || report.summary().confirmed == report.len() {
            break report;
        }
        let next = Instant::now() + args.interval;
        if next >= end {
            break report;
        }
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = shutdown.as_mut() => break report,
        }
    };
    tracing::info!(rounds, elapsed = ?started.elapsed(), "watch finished");
    if args.check.format != Format::Text || out.is_some() {
        super::check::write_report(&report, args.check.format, args.check.quiet, color, out)?;
    }
    Ok(report.exit_code())
}

/// Prints one line per transaction whose verdict changed since the last
/// round (all of them on the first round): to stdout in text mode, to
/// stderr otherwise (stdout then carries one document at the end).
fn print_changes(report: &Report, last: &mut [Option<Verdict>], format: Format) {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    for (tx, previous) in report.txs().zip(last.iter_mut()) {
        if *previous == Some(tx.verdict()) {
            continue;
        }
        let from = previous
            .map(|v| format!("{v:?}").to_lowercase())
            .unwrap_or_else(|| "start".into());
        let line = format!("{now} {from} -> {}", render::verdict_line(&tx));
        if format == Format::Text {
            // A closed stdout does not stop the watch: the exit code still tells.
            let _ = crate::output::write_stdout(format!("{line}\n").as_bytes());
        } else {
            crate::eprint_line(&line);
        }
        *previous = Some(tx.verdict());
    }
}
