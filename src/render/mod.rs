//! Renderers: one per output format, each a pure function from a
//! [`Report`] to bytes on a writer.

mod health;
mod json;
mod prometheus;
mod text;

use std::io::{self, Write};

pub use health::{prometheus as health_prometheus, render as health_text};
pub use json::render as json;
pub use prometheus::render as prometheus;
/// Metric header writers, for `serve`'s own metrics.
#[cfg(feature = "cli")]
pub(crate) use prometheus::{counter as prometheus_counter, escape as prometheus_escape, gauge as prometheus_gauge};
pub use text::{dissent_lines, pending_line, render as text, verdict_line};

use crate::report::Report;

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Verdict lines and a table per transaction.
    Text,
    /// One JSON document (schema version 1).
    Json,
    /// Prometheus text exposition format (node_exporter textfile collector).
    Prometheus,
}

/// How to render a report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Text: only the verdict lines.
    pub quiet: bool,
    /// Text: colour the verdict lines.
    pub color: bool,
    /// Prometheus: the run's end, in Unix seconds.
    pub timestamp: f64,
    /// Prometheus: add the per-transaction series.
    pub metrics_per_tx: bool,
}

/// Writes `report` in `format`.
pub fn render(report: &Report, format: Format, options: &Options, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text(report, options.quiet, options.color, out),
        Format::Json => json(report, out),
        Format::Prometheus => prometheus(report, options.timestamp, options.metrics_per_tx, out),
    }
}

/// Width of a NODE column: the longest name, between 4 and 48 characters.
/// Writes a table row without the spaces a padded last column leaves at
/// its end, then a newline.
fn write_row(out: &mut dyn std::io::Write, row: &str) -> std::io::Result<()> {
    writeln!(out, "{}", row.trim_end())
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(4).clamp(4, 48)
}
