//! The JSON document: the report's serde form, pretty-printed, one document per run.

use std::io::{self, Write};

use crate::report::CheckReport;

/// Writes `report` as one JSON document followed by a newline.
pub fn render(report: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
