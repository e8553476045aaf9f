//! Reading input files with bounds: every file a user points the tool at
//! (tx file, stdin, ABI, nodes file, CA file) has a size cap, and a read
//! that does not finish — a FIFO with no writer, a terminal on stdin — gives
//! up by a deadline instead of hanging the run.

use std::{
    io::Read,
    path::{Path, PathBuf},
    time::Duration,
};

/// Largest tx file (or stdin list) accepted: about a million hashes.
pub const MAX_TX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest ABI file or artifact accepted.
pub const MAX_ABI_BYTES: u64 = 16 * 1024 * 1024;
/// Largest nodes file accepted.
pub const MAX_NODES_FILE_BYTES: u64 = 1024 * 1024;
/// Largest CA certificate file accepted.
pub const MAX_CA_BYTES: u64 = 1024 * 1024;
/// How long a read may take when no deadline is configured.
pub const DEFAULT_READ_WAIT: Duration = Duration::from_secs(10);

/// Why an input could not be read: one line that names the input (never
/// its content). [`crate::Error::Input`] carries it to library callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(String);

/// Where to read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file (or FIFO, or /dev/fd/N from process substitution).
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// Reads `source` whole, at most `cap` bytes, giving up after `wait`.
/// `what` names the input in errors ("tx file", "ABI file", …).
pub fn read_bytes(source: &Source, what: &str, cap: u64, wait: Duration) -> Result<Vec<u8>, InputError> {
    let shown = source.shown(what);
    let kind = match source {
        Source::File(p) => std::fs::metadata(p).ok().map(|m| (m.is_dir(), m.is_file())),
        Source::Stdin => None,
    };
    if let Some((true, _)) = kind {
        return Err(InputError(format!("cannot read {shown}: it is a directory")));
    }
    let bytes = if let Some((_, true)) = kind {
        // A regular file cannot block: read it here, bounded by size only.
        read_capped(source, cap)
    } else {
        // A FIFO, a device or stdin can (opening a FIFO waits for a writer):
        // read off-thread, bounded by `wait`. A thread still blocked at the
        // deadline is left behind; the process ends without waiting for it.
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = source.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_capped(&owned, cap));
        });
        rx.recv_timeout(wait).map_err(|_| {
            InputError(format!(
                "gave up reading {shown} after {} (nothing more came: a FIFO or terminal with no writer?)",
                humantime::format_duration(wait)
            ))
        })?
    }
    .map_err(|e| InputError(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(InputError(format!("{shown} is larger than the limit of {cap} bytes")));
    }
    Ok(bytes)
}

/// Up to `cap + 1` bytes of `source` (one more than allowed tells "too large").
fn read_capped(source: &Source, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match source {
        Source::File(p) => std::fs::File::open(p)?.take(cap + 1).read_to_end(&mut bytes)?,
        Source::Stdin => std::io::stdin().lock().take(cap + 1).read_to_end(&mut bytes)?,
    };
    Ok(bytes)
}

impl Source {
    /// How errors name it: "tx file t.txt", "tx file on stdin".
    fn shown(&self, what: &str) -> String {
        match self {
            Self::File(p) => format!("{what} {}", p.display()),
            Self::Stdin => format!("{what} on stdin"),
        }
    }
}

/// Like [`read_bytes`], as UTF-8 text without a leading byte-order mark.
pub fn read_text(source: &Source, what: &str, cap: u64, wait: Duration) -> Result<String, InputError> {
    let bytes = read_bytes(source, what, cap, wait)?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        InputError(format!("{} is not UTF-8 text (line {line})", source.shown(what)))
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// A file `path` as text (see [`read_text`]).
pub fn read_file(path: &Path, what: &str, cap: u64, wait: Duration) -> Result<String, InputError> {
    read_text(&Source::File(path.to_path_buf()), what, cap, wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_bom_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.txt");
        std::fs::write(&f, "\u{feff}hello\n").unwrap();
        assert_eq!(read_file(&f, "tx file", 100, DEFAULT_READ_WAIT).unwrap(), "hello\n");
        let err = read_file(&f, "tx file", 3, DEFAULT_READ_WAIT).unwrap_err().to_string();
        assert!(
            err.contains("larger than the limit of 3 bytes") && err.contains("t.txt"),
            "{err}"
        );
        let err = read_file(dir.path(), "tx file", 3, DEFAULT_READ_WAIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("directory"), "{err}");
        let err = read_file(&dir.path().join("nope"), "ABI file", 3, DEFAULT_READ_WAIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read ABI file") && err.contains("nope"), "{err}");
        std::fs::write(&f, b"ok\n\xff\n").unwrap();
        let err = read_file(&f, "tx file", 100, DEFAULT_READ_WAIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn an_endless_source_is_cut_at_the_cap() {
        let err = read_file(Path::new("/dev/zero"), "tx file", 1024, DEFAULT_READ_WAIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than the limit"), "{err}");
    }
}
