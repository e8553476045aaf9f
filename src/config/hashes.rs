//! The transaction hashes to check: from a file or stdin (one per line,
//! bounded in size and time), without repeats.

use std::time::Duration;

use alloy::primitives::B256;

use crate::{Error, parse::parse_tx_hash};

/// `hashes` without repeats, in first-seen order.
pub(crate) fn unique_hashes(hashes: impl IntoIterator<Item = B256>) -> Vec<B256> {
    let hashes = hashes.into_iter();
    let mut seen = alloy::primitives::map::B256Set::default();
    seen.reserve(hashes.size_hint().0);
    hashes.filter(|h| seen.insert(*h)).collect()
}

/// Reads hashes from a file (`-` is stdin): one per line, blank lines and `#`
/// comments ignored.
pub fn load_tx_file(path: &std::path::Path) -> Result<Vec<B256>, Error> {
    load_tx_file_within(path, crate::input::DEFAULT_READ_WAIT)
}

/// Like [`load_tx_file`]; the read (of a FIFO, of stdin) gives up after
/// `wait`, and more than [`crate::input::MAX_TX_FILE_BYTES`] is refused.
pub fn load_tx_file_within(path: &std::path::Path, wait: Duration) -> Result<Vec<B256>, Error> {
    use crate::input::{MAX_TX_FILE_BYTES, Source, read_text};
    let (source, shown) = if path.as_os_str() == "-" {
        (Source::Stdin, "stdin".to_string())
    } else {
        (Source::File(path.to_path_buf()), path.display().to_string())
    };
    let text = read_text(&source, "tx file", MAX_TX_FILE_BYTES, wait)?;
    parse_tx_lines(&text, &shown)
}

/// Parses the lines of a tx file; `source` names it in errors. An error
/// gives the line's number and length, never its text: a hash file is
/// where a key pasted by mistake (`INFURA_KEY=…`) would otherwise be quoted.
pub fn parse_tx_lines(text: &str, source: &str) -> Result<Vec<B256>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let hash = parse_tx_hash(content)
            .map_err(|e| Error::Input(format!("invalid transaction hash at line {} of {source}: {e}", i + 1)))?;
        out.push(hash);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_lines_skip_comments_and_name_bad_lines() {
        let good = format!("# hashes\n\n0x{} # first\n{}\n", "11".repeat(32), "22".repeat(32));
        let hashes = parse_tx_lines(&good, "t.txt").unwrap();
        assert_eq!(hashes, vec![B256::repeat_byte(0x11), B256::repeat_byte(0x22)]);
        let err = parse_tx_lines("0x1234\n", "t.txt").unwrap_err().to_string();
        assert!(
            err.contains("line 1 of t.txt") && err.contains("got 4 characters"),
            "{err}"
        );
        let err = parse_tx_lines(&format!("{}\nINFURA_KEY=SeCrEt0123456789\n", "11".repeat(32)), "t.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2 of t.txt") && err.contains("got 27 characters"),
            "{err}"
        );
        assert!(!err.contains("INFURA") && !err.contains("SeCrEt"), "{err}");
    }
}
