//! Where a command's result goes: stdout, or a file replaced atomically (a
//! temporary file in the same directory, synced, then renamed over the
//! target) so that a collector never reads half a file.

use std::{
    io::{self, BufWriter, Write},
    path::Path,
};

use anyhow::Context;

/// Whether `path` means stdout (`--output -`).
fn is_stdout(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p.as_os_str() == "-")
}

/// The file an `--output` value names: `None` for stdout (no value, or `-`).
pub fn target(path: Option<&Path>) -> Option<&Path> {
    if is_stdout(path) { None } else { path }
}

/// The file `--output` will replace: `path` itself, or the regular file a
/// symlink at `path` points to. Anything else that exists there (a device,
/// a FIFO, a socket, a directory, a link to one of those) is refused: the
/// atomic rename would replace it with a regular file.
fn resolve(path: &Path) -> anyhow::Result<std::path::PathBuf> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(e).with_context(|| format!("--output {shown}")),
        Ok(meta) if meta.is_file() => Ok(path.to_path_buf()),
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::canonicalize(path).with_context(|| format!("--output {shown}: dangling symlink"))?;
            let target_meta = std::fs::metadata(&target).with_context(|| format!("--output {shown}"))?;
            if target_meta.is_file() {
                Ok(target)
            } else {
                anyhow::bail!("--output {shown} is a symlink to something that is not a regular file")
            }
        }
        Ok(meta) if meta.is_dir() => anyhow::bail!("--output {shown} is a directory"),
        Ok(_) => {
            anyhow::bail!("--output {shown} is not a regular file (a device, FIFO or socket): refusing to replace it")
        }
    }
}

/// Checks, before any network request, that `path` can be written: it is
/// a regular file or nothing yet, and its directory exists and accepts new
/// files.
pub fn check_writable(path: Option<&Path>) -> anyhow::Result<()> {
    if is_stdout(path) {
        return Ok(());
    }
    let path = resolve(path.expect("not stdout"))?;
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta =
        std::fs::metadata(dir).with_context(|| format!("--output {shown}: directory {} is missing", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("--output {shown}: {} is not a directory", dir.display());
    }
    // Creating (and removing) a temporary file is the only honest test of
    // write permission (ACLs, read-only mounts, root squash).
    tempfile::Builder::new()
        .prefix(".quorum-check-probe-")
        .tempfile_in(dir)
        .with_context(|| format!("--output {shown}: cannot create files in {}", dir.display()))?;
    Ok(())
}

/// Runs `write` against stdout (no path, or `-`), or against `path`
/// atomically. A closed stdout (`| head`) is not an error.
pub fn emit(path: Option<&Path>, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    let path = if is_stdout(path) { None } else { path };
    match path {
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            match write(&mut out).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(e).context("cannot write to stdout"),
            }
        }
        Some(path) => write_atomically(path, write),
    }
}

/// Writes `bytes` to stdout. A closed stdout (`| head`) is not an error; a
/// full one (`/dev/full`) is.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    emit(None, |w| w.write_all(bytes))
}

fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    let path = resolve(path)?;
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".quorum-check-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Created 0644 less the umask, like any new file; a replaced file's
        // own mode is kept below.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file beside {shown}"))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {shown}"))?;
    }
    if let Ok(old) = std::fs::metadata(&path) {
        let _ = tmp.as_file().set_permissions(old.permissions());
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot sync {shown}"))?;
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {shown}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.prom");
        std::fs::write(&target, "old").unwrap();
        emit(Some(&target), |w| w.write_all(b"new content\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new content\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.prom");
        std::fs::write(&target, "old").unwrap();
        let err = emit(Some(&target), |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writability_is_checked_up_front() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(None).is_ok());
        assert!(check_writable(Some(Path::new("-"))).is_ok());
        assert!(check_writable(Some(&dir.path().join("x.prom"))).is_ok());
        let err = format!(
            "{:#}",
            check_writable(Some(Path::new("/nonexistent-dir/x.prom"))).unwrap_err()
        );
        assert!(err.contains("/nonexistent-dir") && err.contains("missing"), "{err}");
        let err = format!("{:#}", check_writable(Some(dir.path())).unwrap_err());
        assert!(err.contains("is a directory"), "{err}");
        // Nothing is left behind by the probe.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_replaced_and_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A symlink to a regular file: the file is replaced, the link stays.
        let real = dir.path().join("real.prom");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.prom");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        emit(Some(&link), |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o600);
        // Devices and links to them are refused, up front and at write time.
        let null_link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null_link).unwrap();
        for bad in [Path::new("/dev/null"), null_link.as_path()] {
            assert!(check_writable(Some(bad)).is_err(), "{}", bad.display());
            assert!(emit(Some(bad), |w| w.write_all(b"x")).is_err());
        }
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = emit(Some(Path::new("/nonexistent-dir/x.prom")), |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent-dir/x.prom"));
    }
}
