//! Renderers: one per output format, each a pure function from a
//! [`Report`] to bytes on a writer.

mod health;
mod json;
mod prometheus;
mod text;

use std::io::{self, Write};

pub use health::render as health_text;
pub use json::render as json;
pub use prometheus::render as prometheus;
pub use text::{render as text, verdict_line};

use crate::{cli::Format, report::Report};

/// Writes `report` in `format`; `quiet` keeps only the verdict lines and
/// `color` colours them (text).
/// `timestamp` (Unix seconds) stamps the Prometheus output.
pub fn render(
    report: &Report,
    format: Format,
    quiet: bool,
    color: bool,
    timestamp: f64,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(report, quiet, color, out),
        Format::Json => json(report, out),
        Format::Prometheus => prometheus(report, timestamp, out),
    }
}

/// Width of a NODE column: the longest name, between 4 and 48 characters.
fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(4).clamp(4, 48)
}
