//! The `.env` file: read from the working directory only — never from a
//! parent directory, where a shared `.env` could set a proxy or a threshold
//! for everyone below it. Variables already in the environment win. A
//! malformed file is named with its line number, never the line's text
//! (it may hold a key), and nothing of it is loaded.

use std::path::Path;

/// The largest `.env` accepted.
pub const MAX_DOTENV_BYTES: u64 = 1024 * 1024;

/// Loads `./.env` if there is one. `Err` is a one-line message.
pub fn load() -> Result<(), String> {
    load_from(Path::new(".env"))
}

/// Loads the `.env` at `path` if it exists (see the module docs).
pub fn load_from(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
        Ok(meta) if !meta.is_file() => return Err(format!("{shown} is not a regular file")),
        Ok(_) => {}
    }
    // Bounded, UTF-8, byte-order mark dropped: as every input file.
    let text = crate::input::read_file(path, "file", MAX_DOTENV_BYTES, crate::input::DEFAULT_READ_WAIT)
        .map_err(|e| e.to_string().replace(['\n', '\r'], " "))?;
    check(&text)
        .map_err(|line| format!("{shown} line {line}: syntax error (the line is not shown: it may hold a key)"))?;
    dotenvy::from_read(text.as_bytes()).map_err(|_| format!("cannot load {shown}"))
}

/// Parses without loading; `Err` is the 1-based line of the first error.
fn check(text: &str) -> Result<(), usize> {
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        if let Err(e) = item {
            return Err(match e {
                // dotenvy gives the offending (logical) line's text: find where it starts.
                dotenvy::Error::LineParse(line, _) => text
                    .find(line.as_str())
                    .map(|at| line_of_offset(text.as_bytes(), at))
                    .unwrap_or(1),
                _ => 1,
            });
        }
    }
    Ok(())
}

fn line_of_offset(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_give_the_line_number_only() {
        assert_eq!(check("A=1\nB=2\n"), Ok(()));
        assert_eq!(check("# c\nA=1\nB 'sk_SECRET\nC=3\n"), Err(3));
        assert_eq!(check("A=\"unclosed sk_SECRET\n"), Err(1));
    }

    #[test]
    fn a_missing_file_is_fine_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_from(&dir.path().join(".env")), Ok(()));
        let bad = dir.path().join(".env");
        std::fs::write(&bad, "OK=1\nQUORUM_RPC_URLS https://x/v2/sk_SECRET\n").unwrap();
        let err = load_from(&bad).unwrap_err();
        assert!(err.contains("line 2") && err.contains(".env"), "{err}");
        assert!(!err.contains("sk_SECRET"), "{err}");
        std::fs::write(&bad, vec![b'A'; (MAX_DOTENV_BYTES + 1) as usize]).unwrap();
        assert!(load_from(&bad).unwrap_err().contains("larger than"));
        let err = load_from(dir.path()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
