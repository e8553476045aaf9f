//! Man pages: `quorum-check(1)` and one `quorum-check-SUBCOMMAND(1)` per
//! subcommand, each with clap_mangen's NAME, SYNOPSIS, DESCRIPTION and
//! OPTIONS, followed by EXIT STATUS, ENVIRONMENT and FILES written here —
//! and writing them into a directory without following what is planted
//! there.

use std::{io::Write, path::Path};

use clap::CommandFactory;

use crate::{ExitStatus, cli::Cli};

/// Every page as (file name, roff text): the root first.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = vec![page(&root, None)?];
    for sub in root.get_subcommands() {
        pages.push(page(sub, Some(sub.get_name()))?);
    }
    Ok(pages)
}

/// Writes `pages` into `dir` (created if missing). Each page goes to a new
/// temporary file in `dir` (created exclusively: a link planted under its
/// name is never followed), then is renamed over its target, which must be
/// absent or a regular file: a symlink, FIFO, socket, device or directory
/// there is refused before anything is written, so nothing outside `dir` is
/// overwritten and nothing blocks on a FIFO.
pub fn write_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    for (name, _) in pages {
        refuse_non_regular(&dir.join(name))?;
    }
    for (name, text) in pages {
        let path = dir.join(name);
        let shown = path.display();
        let mut builder = tempfile::Builder::new();
        builder.prefix(".quorum-check-man-").suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // 0644 less the umask, as a file written by any other tool.
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let mut tmp = builder
            .tempfile_in(dir)
            .map_err(|e| anyhow::anyhow!("cannot create a temporary file beside {shown}: {e}"))?;
        tmp.write_all(text)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| anyhow::anyhow!("cannot write {shown}: {e}"))?;
        // Checked again just before the rename, which replaces the directory
        // entry itself: a link planted in between is replaced, not followed.
        refuse_non_regular(&path)?;
        tmp.persist(&path)
            .map_err(|e| anyhow::anyhow!("cannot write {shown}: {}", e.error))?;
    }
    Ok(())
}

/// Refuses `path` when something other than a regular file is there.
fn refuse_non_regular(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot write {shown}: {e}")),
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => {
            anyhow::bail!("refusing to write {shown}: it is a symlink (remove it first)")
        }
        Ok(meta) if meta.is_dir() => anyhow::bail!("refusing to write {shown}: it is a directory"),
        Ok(_) => anyhow::bail!("refusing to write {shown}: it is not a regular file (a FIFO, socket or device)"),
    }
}

fn page(cmd: &clap::Command, sub: Option<&str>) -> std::io::Result<(String, Vec<u8>)> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    if sub.is_none() {
        man.render_subcommands_section(&mut out)?;
    }
    exit_status(&mut out, sub)?;
    environment(&mut out, cmd)?;
    files(&mut out, sub)?;
    see_also(&mut out, cmd, sub)?;
    Ok((man.get_filename(), out))
}

/// Escapes text for roff: backslashes, and a leading dot or quote.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

fn item(out: &mut Vec<u8>, tag: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff(tag), roff(text))
}

/// What each exit status means for `sub` (the root page: `check`'s), in
/// the order the page lists them.
fn exit_statuses(sub: Option<&str>) -> &'static [(ExitStatus, &'static str)] {
    use ExitStatus::{GaveUp, Inconclusive, Rejected, Success, Usage};
    match sub {
        Some("nodes") => &[
            (Success, "the healthy nodes hold the threshold's weight"),
            (
                Rejected,
                "they do not: the quorum cannot be reached (when interrupted, the nodes not heard from count as unhealthy)",
            ),
            (Usage, "usage, configuration or input error (one line on stderr)"),
        ],
        Some("serve") => &[
            (Success, "stopped by SIGINT or SIGTERM after serving"),
            (
                Usage,
                "usage, configuration or input error, or the address cannot be listened on (one line on stderr)",
            ),
        ],
        Some("devnet") | Some("completions") | Some("man") => &[
            (Success, "success"),
            (Usage, "usage error, or the work failed (one line on stderr)"),
        ],
        Some("watch") => &[
            (Success, "every transaction confirmed"),
            (
                GaveUp,
                "gave up waiting: --deadline passed before every transaction was confirmed",
            ),
            (
                Rejected,
                "interrupted with some transaction rejected, none inconclusive",
            ),
            (Inconclusive, "interrupted with some transaction inconclusive"),
            (Usage, "usage, configuration or input error, before any network call"),
        ],
        Some("scan") => &[
            (Success, "every block of the range was covered by enough nodes"),
            (
                Inconclusive,
                "part of the range could not be covered: stderr (and the JSON) name the blocks; or interrupted",
            ),
            (
                Usage,
                "usage, configuration, input or state file error (another contract, event or chain), before any log request",
            ),
        ],
        Some("demo") => &[
            (Success, "both verdicts came out as expected"),
            (Inconclusive, "a verdict did not"),
            (Usage, "the fleet could not be started"),
        ],
        _ => &[
            (Success, "every transaction confirmed"),
            (Rejected, "some transaction rejected, none inconclusive"),
            (Inconclusive, "some transaction inconclusive (nodes failed)"),
            (Usage, "usage, configuration or input error, before any network call"),
        ],
    }
}

fn exit_status(out: &mut Vec<u8>, sub: Option<&str>) -> std::io::Result<()> {
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (status, meaning) in exit_statuses(sub) {
        item(out, &status.code().to_string(), meaning)?;
    }
    Ok(())
}

fn environment(out: &mut Vec<u8>, cmd: &clap::Command) -> std::io::Result<()> {
    writeln!(out, ".SH ENVIRONMENT")?;
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| a.get_env().is_some()).collect();
    args.sort_by_key(|a| a.get_env().map(|e| e.to_os_string()));
    for arg in args {
        let name = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let flag = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        item(out, &name, &format!("as {flag}: {help}"))?;
    }
    for (name, text) in [
        (
            "RUST_LOG",
            "log filter for this program's own events (e.g. debug); dependencies log warnings only",
        ),
        ("NO_COLOR", "set (non-empty) to turn colour off with --color auto"),
        (
            "SSL_CERT_FILE, SSL_CERT_DIR",
            "extra trusted certificate authorities for https nodes, as well as --ca-cert",
        ),
    ] {
        item(out, name, text)?;
    }
    Ok(())
}

fn files(out: &mut Vec<u8>, sub: Option<&str>) -> std::io::Result<()> {
    writeln!(out, ".SH FILES")?;
    item(
        out,
        ".env",
        "read from the working directory only (never a parent directory) before the flags; variables already set win",
    )?;
    if !matches!(sub, Some("devnet" | "demo" | "completions" | "man")) {
        item(
            out,
            "nodes file (--nodes)",
            "TOML [[node]] entries: url, name, weight, from, headers, ca_cert; ${VAR} takes a value from the environment",
        )?;
    }
    if matches!(sub, None | Some("check" | "watch")) {
        item(
            out,
            "ABI file (--abi)",
            "a JSON ABI array or a Foundry/Hardhat artifact; without it the built-in vote(bytes32) returns (bool)",
        )?;
    }
    Ok(())
}

/// The root page lists every subcommand's page; a subcommand's, the root's.
fn see_also(out: &mut Vec<u8>, cmd: &clap::Command, sub: Option<&str>) -> std::io::Result<()> {
    writeln!(out, ".SH \"SEE ALSO\"")?;
    let pages: Vec<String> = match sub {
        None => cmd
            .get_subcommands()
            .map(|s| format!("\\fBquorum\\-check\\-{}\\fR(1)", roff(s.get_name())))
            .collect(),
        Some(_) => vec!["\\fBquorum\\-check\\fR(1)".into()],
    };
    writeln!(out, "{}", pages.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_command_with_the_extra_sections() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "quorum-check.1",
            "quorum-check-check.1",
            "quorum-check-watch.1",
            "quorum-check-nodes.1",
            "quorum-check-devnet.1",
        ] {
            assert!(names.contains(&expected), "{names:?}");
        }
        for (name, text) in &pages {
            let text = String::from_utf8_lossy(text);
            for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES", ".SH OPTIONS"] {
                assert!(text.contains(section), "{name}: {section}");
            }
        }
        let check =
            String::from_utf8_lossy(&pages.iter().find(|(n, _)| n == "quorum-check-check.1").unwrap().1).into_owned();
        assert!(
            check.contains("QUORUM_THRESHOLD") && check.contains("\\-\\-threshold"),
            "{check}"
        );
    }

    /// The codes a page's EXIT STATUS section lists, in order.
    fn listed_codes(page: &str) -> Vec<String> {
        let text =
            String::from_utf8_lossy(&pages().unwrap().into_iter().find(|(n, _)| n == page).unwrap().1).into_owned();
        let section = text.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
        let section = section.split(".SH ").next().unwrap();
        section
            .split(".TP\n\\fB")
            .skip(1)
            .map(|item| item.split("\\fR").next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn exit_statuses_are_the_ones_each_command_gives() {
        // nodes: 0 or 1, also when interrupted (tests/hostile.rs plays it); 2 before any request.
        assert_eq!(listed_codes("quorum-check-nodes.1"), ["0", "1", "2"]);
        let nodes = String::from_utf8_lossy(
            &pages()
                .unwrap()
                .into_iter()
                .find(|(n, _)| n == "quorum-check-nodes.1")
                .unwrap()
                .1,
        )
        .into_owned();
        assert!(
            nodes.contains("interrupted, the nodes not heard from count as unhealthy"),
            "{nodes}"
        );
        // serve: 0 when stopped, 2 when it cannot start; never check's 1 or 3.
        assert_eq!(listed_codes("quorum-check-serve.1"), ["0", "2"]);
        assert_eq!(listed_codes("quorum-check-check.1"), ["0", "1", "3", "2"]);
        assert_eq!(listed_codes("quorum-check-watch.1"), ["0", "4", "1", "3", "2"]);
        assert_eq!(listed_codes("quorum-check-scan.1"), ["0", "3", "2"]);
    }

    #[test]
    fn the_root_page_sees_every_subcommand() {
        let pages = pages().unwrap();
        let root = String::from_utf8_lossy(&pages[0].1).into_owned();
        let see_also = root.split(".SH \"SEE ALSO\"").nth(1).unwrap();
        for sub in ["check", "watch", "nodes", "scan", "serve", "devnet", "demo"] {
            assert!(
                see_also.contains(&format!("quorum\\-check\\-{sub}\\fR(1)")),
                "{sub}: {see_also}"
            );
        }
    }
}
