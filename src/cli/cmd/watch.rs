//! `quorum-check watch`: re-check every `--interval` until every transaction
//! is confirmed (exit 0) or `--deadline` passes (env `QUORUM_WATCH_DEADLINE`;
//! a last round is timed to end at the deadline): then a last line says
//! `gave up after <elapsed>: N of M confirmed` and the exit code is 4
//! ("gave up waiting"), never the 1 of a real rejection. A transaction not
//! confirmed yet is `pending` — votes can still arrive — and only changes
//! of state are printed (not of the yes-weight: with early settlement it
//! moves with which nodes happened to answer first).
//!
//! With `--discover`, every round first scans the new blocks for vote events
//! (a `scan` [`Scanner`](crate::scan::Scanner) that keeps its cursor and its
//! learning between rounds, and `--state` after each); a hash seen for the
//! first time prints `discovered -> pending: 0x…` and is watched from then
//! on. Only the deadline ends such a watch: exit 0 when every discovered
//! hash is confirmed by then, 4 otherwise.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    ExitStatus,
    check::fanout,
    cli::{Format, WatchArgs},
    config::{CheckConfig, NodeSource, default_deadline},
    render,
    report::Report,
    tally::Verdict,
};

/// How long watch waits when no --deadline is given.
pub const DEFAULT_WATCH_DEADLINE: Duration = Duration::from_secs(600);

/// Watches; returns the exit code.
pub async fn run(args: &WatchArgs, prefer: Option<NodeSource>, color: bool) -> anyhow::Result<ExitStatus> {
    let mut scanner = super::scan::discovery_scanner(args.discover, &args.check, &args.discovery, prefer)?;
    let mut config = if args.discover {
        CheckConfig::from_args_allowing_no_txs(&args.check, prefer)?
    } else {
        CheckConfig::from_args(&args.check, prefer)?
    };
    let out = crate::cli::output::target(args.check.output.as_deref());
    crate::cli::output::check_writable(out)?;
    let log = args
        .check
        .dissent_log
        .as_deref()
        .map(crate::cli::dissent_log::open)
        .transpose()?;
    let mut known: alloy::primitives::map::B256Set = config.txs.iter().copied().collect();
    let started = Instant::now();
    let end = started + args.check.deadline.unwrap_or(DEFAULT_WATCH_DEADLINE);
    let round_budget = default_deadline(config.limits.timeout);
    let client = super::check::client_for(&config)?;
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);

    let mut last: Vec<Option<bool>> = vec![None; config.txs.len()];
    let mut rounds = 0u32;
    let mut gave_up = false;
    // The last round is timed to end at the deadline: votes that arrive
    // between the last regular round and the deadline still count.
    let mut final_round = false;
    let report = loop {
        rounds += 1;
        let round_started = Instant::now();
        // A round does not run past the watch's own deadline, except that
        // the last one always gets a little time to be worth running.
        config.limits.deadline = round_budget
            .min(end.saturating_duration_since(round_started))
            .max(round_budget.min(LAST_ROUND_FLOOR));
        if let Some((scanner, state)) = &mut scanner {
            let found = tokio::select! {
                found = scanner.scan(crate::scan::ToBlock::Latest) => found?,
                () = shutdown.as_mut() => break fanout::run(&config, &client, std::future::ready(())).await,
            };
            for note in crate::scan::render::notes(&found) {
                tracing::warn!("scan: {note}");
            }
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
            for tx in found.txs.iter().filter(|t| known.insert(t.tx_hash)) {
                config.txs.push(tx.tx_hash);
                last.push(Some(false));
                say(
                    &format!("{now} discovered -> pending: {:#x}", tx.tx_hash),
                    args.check.format,
                );
            }
            if let Some(path) = state {
                super::scan::save_state(scanner, path)?;
            }
        }
        let report = fanout::run(&config, &client, shutdown.as_mut()).await;
        print_changes(&report, &mut last, args.check.format);
        if let Some(log) = &log {
            super::check::record_disputes(log, &report);
        }
        // Discovering, new hashes may still come: only the deadline ends the watch.
        let all_confirmed = report.summary().confirmed == report.len();
        if report.interrupted() || (all_confirmed && !args.discover) {
            break report;
        }
        let now = Instant::now();
        if final_round || now >= end {
            gave_up = !all_confirmed;
            break report;
        }
        let took = now - round_started;
        let mut wake = now + args.interval;
        if wake + took >= end {
            // Not time for another regular round: one more, as late as it can
            // start and still end by the deadline.
            final_round = true;
            wake = end.checked_sub(took).unwrap_or(now).max(now);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = shutdown.as_mut() => break report,
        }
    };
    tracing::info!(rounds, elapsed = ?started.elapsed(), "watch finished");
    if args.check.format != Format::Text || out.is_some() {
        let options = render::Options {
            quiet: args.check.quiet,
            color,
            timestamp: 0.0,
            metrics_per_tx: args.check.metrics_per_tx,
        };
        super::check::write_report(&report, args.check.format, &options, out)?;
    }
    if gave_up {
        let line = format!(
            "gave up after {}: {} of {} confirmed",
            elapsed_text(started.elapsed()),
            report.summary().confirmed,
            report.len()
        );
        say(&line, args.check.format);
        return Ok(ExitStatus::GaveUp);
    }
    Ok(report.exit_code())
}

/// The least time the last round gets, even at the deadline itself.
const LAST_ROUND_FLOOR: Duration = Duration::from_secs(1);

/// How long the watch ran, as "12.0s" (tenths under a minute) or "10m 2s".
fn elapsed_text(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(60) {
        format!("{:.1}s", elapsed.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(elapsed.as_secs())).to_string()
    }
}

/// A line for the person watching: stdout in text mode, stderr otherwise
/// (stdout then carries one document at the end).
fn say(line: &str, format: Format) {
    if format == Format::Text {
        // A closed stdout does not stop the watch: the exit code still tells.
        let _ = crate::cli::output::write_stdout(format!("{line}\n").as_bytes());
    } else {
        crate::cli::eprint_line(line);
    }
}

/// Prints one line per transaction whose state changed since the last
/// round (all of them on the first round): confirmed, or pending with its
/// current yes-weight — never "rejected" while votes can still come.
fn print_changes(report: &Report, last: &mut [Option<bool>], format: Format) {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    for (tx, previous) in report.txs().zip(last.iter_mut()) {
        let confirmed = tx.verdict() == Verdict::Confirmed;
        if *previous == Some(confirmed) {
            continue;
        }
        let from = match previous {
            None => "start",
            Some(true) => "confirmed",
            Some(false) => "pending",
        };
        let line = if confirmed {
            format!("{now} {from} -> {}", render::verdict_line(&tx))
        } else {
            format!("{now} {from} -> {}", render::pending_line(&tx))
        };
        say(&line, format);
        *previous = Some(confirmed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_like_a_person_would_say_it() {
        assert_eq!(elapsed_text(Duration::from_millis(12_049)), "12.0s");
        assert_eq!(elapsed_text(Duration::from_millis(940)), "0.9s");
        assert_eq!(elapsed_text(Duration::from_millis(602_700)), "10m 2s");
    }
}
