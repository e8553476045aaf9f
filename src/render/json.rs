//! The JSON document: the report's serde form, pretty-printed, one document
//! per run, written as it is serialised (never built whole in memory).

use std::io::{self, Write};

use crate::report::Report;

/// Writes `report` as one JSON document followed by a newline.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
