//! Renderers: one per output format, each a pure function from a
//! [`CheckReport`] to bytes on a writer.

mod json;
mod text;

use std::io::{self, Write};

pub use json::render as json;
pub use text::render as text;

use crate::{cli::Format, report::CheckReport};

/// Writes `report` in `format`; `quiet` keeps only the verdict lines (text).
pub fn render(
    report: &CheckReport,
    format: Format,
    quiet: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(report, quiet, out),
        Format::Json => json(report, out),
    }
}
