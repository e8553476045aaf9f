//! `--dissent-log FILE`: an append-only audit log of disputes. One JSON line
//! per (transaction, node) where the node disagreed with the quorum or gave
//! no valid answer ([`crate::dissent`]):
//!
//! ```json
//! {"time":"2026-12-01T03:10:00Z","tx_hash":"0x…","node":"node-3","status":"ok","vote":false,"verdict":"confirmed","block":"latest","chain_id":null}
//! ```
//!
//! - `time` (RFC 3339 UTC), `tx_hash`, `node` (its name or redacted URL,
//!   never a key), `status` and `vote` (the node's answer; `vote` null
//!   without a valid one), `verdict`, `block` (the block read: a number when
//!   pinned or numbered, else the tag), `chain_id` (`--chain-id`, or null);
//!   then, when the status has one, `detail` (the node's text, scrubbed of
//!   its secrets like every other output). A status `ok` is a dissent (a
//!   valid vote against the quorum); any other status is a failure.
//! - The file is opened with `O_APPEND | O_CREAT`, never truncated or
//!   replaced, and only when it is a regular file (or a symlink to one).
//! - Each line is at most [`MAX_LINE`] bytes (the detail, then the node
//!   name, cut to fit) and is written with one `write(2)`: processes
//!   appending to the same file never interleave within a line.
//! - A (transaction, node, answer) is logged once per process: `watch` and
//!   `serve` rounds that see the same dispute again do not repeat it. What
//!   was logged is remembered in a bounded set ([`Seen`]); past
//!   [`MAX_REMEMBERED`] the oldest are forgotten (and might be logged again).

use std::{
    collections::{HashSet, VecDeque},
    hash::{DefaultHasher, Hash, Hasher},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::Context;
use serde::Serialize;

use crate::{
    report::{NodeStatus, Report, TxView, VoteJson},
    tally::Verdict,
};

/// The longest line written, newline included.
pub const MAX_LINE: usize = 4096;

/// Entries a [`Seen`] set remembers by default (8 bytes each, twice).
pub const MAX_REMEMBERED: usize = 1 << 18;

/// A bounded set of keys seen: the oldest are forgotten first.
#[derive(Debug)]
pub struct Seen {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    cap: usize,
}

impl Seen {
    /// An empty set remembering at most `cap` keys (at least 1).
    pub fn new(cap: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Adds the key of `value`; true when it was not there yet.
    pub fn insert(&mut self, value: impl Hash) -> bool {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        let key = hasher.finish();
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// An open dissent log.
#[derive(Debug)]
pub struct DissentLog {
    file: std::fs::File,
    path: PathBuf,
    seen: Mutex<Seen>,
}

/// Opens `path` for appending (created when missing), before any network
/// request: anything but a regular file, or a symlink to one, is refused.
pub fn open(path: &Path) -> anyhow::Result<DissentLog> {
    let shown = path.display();
    // Unlike --output, '-' is not stdout here: stdout carries the report,
    // and a file named '-' is rarely what was meant.
    if path == Path::new("-") {
        anyhow::bail!("--dissent-log -: the audit log must be a file path (stdout carries the report)");
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--dissent-log {shown}")),
        Ok(meta) if meta.is_file() => {}
        Ok(meta) if meta.is_dir() => anyhow::bail!("--dissent-log {shown} is a directory"),
        Ok(_) => anyhow::bail!(
            "--dissent-log {shown} is not a regular file (a device, FIFO or socket): refusing to append to it"
        ),
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let file = options.open(path).with_context(|| format!("--dissent-log {shown}"))?;
    // Whatever was there between the look and the open must be a regular file too.
    let meta = file.metadata().with_context(|| format!("--dissent-log {shown}"))?;
    if !meta.is_file() {
        anyhow::bail!("--dissent-log {shown} is not a regular file: refusing to append to it");
    }
    Ok(DissentLog {
        file,
        path: path.to_path_buf(),
        seen: Mutex::new(Seen::new(MAX_REMEMBERED)),
    })
}

/// One line of the log.
#[derive(Serialize)]
struct Line<'a> {
    time: &'a str,
    tx_hash: String,
    node: String,
    status: &'static str,
    vote: Option<VoteJson>,
    verdict: Verdict,
    block: Block<'a>,
    chain_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// The block read: a number when known, else the tag.
#[derive(Serialize)]
#[serde(untagged)]
enum Block<'a> {
    Number(u64),
    Tag(&'a str),
}

impl DissentLog {
    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a line for every dispute of `report` not logged before by
    /// this process; returns how many were written. A write that fails is
    /// an error (lines already written stay).
    pub fn record(&self, report: &Report) -> anyhow::Result<usize> {
        let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let mut written = 0;
        for tx in report.txs() {
            for node in 0..tx.node_count() {
                if tx.mark(node).is_none() {
                    continue;
                }
                let status = tx.status(node);
                let vote = tx.vote(node).map(|v| v.to_string());
                let fresh = match self.seen.lock() {
                    Ok(mut seen) => seen.insert((tx.tx_hash(), node, status.name(), vote)),
                    Err(_) => true,
                };
                if !fresh {
                    continue;
                }
                let line = line(report, &tx, node, &time);
                self.append(&line)?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Writes `line` with one `write(2)`: O_APPEND makes it land whole at
    /// the end whatever other writers do.
    fn append(&self, line: &[u8]) -> anyhow::Result<()> {
        let n = (&self.file)
            .write(line)
            .with_context(|| format!("cannot append to --dissent-log {}", self.path.display()))?;
        if n != line.len() {
            anyhow::bail!(
                "--dissent-log {}: short write ({n} of {} bytes; disk full?)",
                self.path.display(),
                line.len()
            );
        }
        Ok(())
    }
}

/// The JSON line (newline included, at most [`MAX_LINE`] bytes) for node
/// `node`'s answer on `tx`.
fn line(report: &Report, tx: &TxView<'_>, node: usize, time: &str) -> Vec<u8> {
    let status = tx.status(node);
    let block = match tx.pinned_block().or_else(|| report.block().parse().ok()) {
        Some(n) => Block::Number(n),
        None => Block::Tag(report.block()),
    };
    let mut entry = Line {
        time,
        tx_hash: format!("{:#x}", tx.tx_hash()),
        node: report.nodes()[node].name.clone(),
        status: status.name(),
        vote: match status {
            NodeStatus::Ok { vote } => Some(vote.clone()),
            _ => None,
        },
        verdict: tx.verdict(),
        block,
        chain_id: report.chain_id(),
        detail: status.detail(),
    };
    loop {
        let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
        bytes.push(b'\n');
        if bytes.len() <= MAX_LINE {
            return bytes;
        }
        // Too long: cut the node's text first, then the name (escaping may
        // make a character several bytes: cut by what is over, and again).
        let over = bytes.len() - MAX_LINE;
        if let Some(detail) = entry.detail.as_mut().filter(|d| !d.is_empty()) {
            cut(detail, over);
        } else if entry.node.chars().count() > 1 {
            cut(&mut entry.node, over);
        } else {
            entry.detail = None;
            entry.vote = None;
        }
    }
}

/// Shortens `s` by at least `over` bytes (or to nothing) on a character
/// boundary, marking the cut with "…".
fn cut(s: &mut String, over: usize) {
    let keep = s.len().saturating_sub(over + '…'.len_utf8());
    let mut at = keep;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.truncate(at);
    if at > 0 {
        s.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_forgets_the_oldest_past_its_cap() {
        let mut seen = Seen::new(2);
        assert!(seen.insert(1));
        assert!(!seen.insert(1));
        assert!(seen.insert(2));
        assert!(seen.insert(3));
        assert_eq!(seen.len(), 2);
        assert!(seen.insert(1), "1 was forgotten");
        assert!(!seen.insert(3));
    }

    #[test]
    fn cut_keeps_characters_whole() {
        let mut s = "ééééé".to_string();
        cut(&mut s, 3);
        assert!(s.len() <= "ééééé".len() - 3 + '…'.len_utf8(), "{s}");
        assert!(s.ends_with('…') && s.starts_with('é'), "{s}");
        let mut short = "ab".to_string();
        cut(&mut short, 10);
        assert_eq!(short, "");
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        std::fs::write(&path, "old\n").unwrap();
        let log = open(&path).unwrap();
        log.append(b"new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "old\nnew\n",
            "appended, not replaced"
        );
        for bad in [Path::new("/dev/null"), dir.path()] {
            let err = format!("{:#}", open(bad).unwrap_err());
            assert!(
                err.starts_with("--dissent-log ") && err.contains(&bad.display().to_string()),
                "{err}"
            );
        }
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(open(&link).is_ok(), "a symlink to a regular file is fine");
        assert!(open(Path::new("/nonexistent-dir/d.log")).is_err());
    }
}
