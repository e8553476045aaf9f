//! The command line: flags and their environment fallbacks (`args`), one
//! module per subcommand ([`cmd`]), and what only a process needs — `.env`
//! ([`dotenv`]), logging set-up ([`logging`]), atomic output files
//! ([`output`]), the append-only dispute log ([`dissent_log`]), man pages ([`man`]), the HTTP side of `serve` ([`serve`]).
//! The library below it never imports from here.

mod args;
mod args_commands;
pub mod cmd;
mod command;
mod config_args;
pub mod dissent_log;
pub mod dotenv;
pub mod env_hint;
pub mod logging;
pub mod man;
pub mod output;
pub mod serve;

pub use args::*;
pub use args_commands::*;
pub use command::*;
pub use config_args::{resolve_nodes, resolve_nodes_within};

use clap::{CommandFactory, FromArgMatches, parser::ValueSource};

use crate::{ExitStatus, config::NodeSource, sanitize};

/// Parses the command line. `Err` carries clap's error (help and version
/// included) for the caller to print.
pub fn parse_cli() -> Result<(Cli, Option<NodeSource>), clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    // A node source given on the command line beats one from the environment.
    let prefer = matches.subcommand().and_then(|(_, m)| {
        let known = |id: &str| m.ids().any(|i| i.as_str() == id);
        if !known("rpc") || !known("nodes") {
            return None;
        }
        let from_cli = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
        match (from_cli("rpc"), from_cli("nodes")) {
            (true, false) => Some(NodeSource::Rpc),
            (false, true) => Some(NodeSource::NodesFile),
            _ => None,
        }
    });
    if let Some(("serve", m)) = matches.subcommand() {
        refuse_unused_by_serve(m)?;
    }
    let mut cli = Cli::from_arg_matches(&matches)?;
    // A hash list on the command line (--tx or --tx-file) replaces QUORUM_TX:
    // clap lets --tx beat the variable, but would add --tx-file's hashes to it.
    let tx_from_env = matches.subcommand().is_some_and(|(_, m)| {
        m.ids().any(|i| i.as_str() == "tx") && m.value_source("tx") == Some(ValueSource::EnvVariable)
    });
    if tx_from_env
        && let Some(args) = cli.command.check_args_mut()
        && args.tx_file.is_some()
    {
        args.tx.clear();
    }
    let threshold_defaulted = matches.subcommand().is_some_and(|(_, m)| {
        m.ids().any(|i| i.as_str() == "threshold") && m.value_source("threshold") == Some(ValueSource::DefaultValue)
    });
    if let Some(args) = cli.command.check_args_mut() {
        args.threshold_defaulted = threshold_defaulted;
    }
    Ok((cli, prefer))
}

/// `check` flags that `serve` has no use for, and why: given on the command
/// line they are refused rather than ignored (from the environment, which
/// `check` shares, they are ignored).
const UNUSED_BY_SERVE: [(&str, &str, &str); 3] = [
    ("format", "--format", "/metrics is Prometheus text, /v1/check JSON"),
    (
        "output",
        "--output",
        "results are served over HTTP, not written to a file",
    ),
    ("quiet", "--quiet", "serve prints nothing but its start and stop lines"),
];

fn refuse_unused_by_serve(m: &clap::ArgMatches) -> Result<(), clap::Error> {
    for (id, flag, why) in UNUSED_BY_SERVE {
        if m.value_source(id) == Some(ValueSource::CommandLine) {
            let mut command = Cli::command();
            return Err(command.find_subcommand_mut("serve").map_or_else(
                || {
                    clap::Error::raw(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("serve does not use {flag}\n"),
                    )
                },
                |serve| {
                    serve.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("serve does not use {flag}: {why}"),
                    )
                },
            ));
        }
    }
    Ok(())
}

/// Runs a parsed command; returns the process exit code.
pub async fn run(cli: Cli, prefer: Option<NodeSource>) -> anyhow::Result<ExitStatus> {
    use std::io::IsTerminal;
    let color = cli.color.enabled(std::io::stdout().is_terminal());
    if cli.command.needs_configuration() {
        env_hint::warn_unknown();
    }
    match &cli.command {
        Command::Check(args) => cmd::check::run(args, prefer, color).await,
        Command::Devnet(args) => cmd::devnet::run(args).await,
        Command::Demo(args) => cmd::demo::run(args, color).await,
        Command::Watch(args) => cmd::watch::run(args, prefer, color).await,
        Command::Nodes(args) => cmd::nodes::run(args, prefer).await,
        Command::Serve(args) => cmd::serve::run(args, prefer).await,
        Command::Scan(args) => cmd::scan::run(args, prefer).await,
        Command::Completions { shell } => {
            let mut command = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "quorum-check", &mut script);
            let script = cmd::completions::fix(*shell, &script);
            output::write_stdout(&script)?;
            Ok(ExitStatus::Success)
        }
        Command::Man { dir } => {
            let pages = man::pages()?;
            match dir {
                None => output::write_stdout(&pages[0].1)?,
                Some(dir) => {
                    man::write_pages(dir, &pages)?;
                    eprint_line(&format!("wrote {} man pages to {}", pages.len(), dir.display()));
                }
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// Prints `quorum-check: error: MESSAGE` on stderr, on one line, escaped and
/// cut to a bounded length; a closed stderr is ignored.
pub fn print_error(message: &str) {
    let message = sanitize::cut_message(&sanitize::escape(message));
    eprint_line(&format!("quorum-check: error: {message}"));
}

/// One line on stderr, never panicking (a closed or full stderr is ignored).
pub fn eprint_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// An error chain on one line: "context: cause: root cause".
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}

/// Whether a clap "error" is really help or version output (exit 0).
pub fn is_help_or_version(e: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// `message` with every `QUORUM_*` value that looks like a URL or
/// credentials replaced by the variable's name.
fn redact_env(message: &str, env: &[(String, String)]) -> String {
    redact(
        message,
        env.iter()
            .map(|(name, value)| (value.as_str(), format!("<value of {name}, not shown>"))),
    )
}

/// `message` with every command-line argument that looks like a URL or
/// credentials replaced by its position: clap quotes a stray or invalid
/// argument, which may be an endpoint with its key.
fn redact_args(message: &str, args: &[String]) -> String {
    redact(
        message,
        args.iter()
            .enumerate()
            .skip(1)
            .map(|(position, arg)| (arg.as_str(), format!("<argument #{position}, not shown>"))),
    )
}

/// Replaces each URL- or credential-like value (`://`, `@`) found in
/// `message` by its stand-in, longest first so that a value inside another
/// is not half-replaced.
fn redact<'a>(message: &str, values: impl Iterator<Item = (&'a str, String)>) -> String {
    let mut secretish: Vec<(&str, String)> = values
        .filter(|(v, _)| v.len() >= 4 && (v.contains("://") || v.contains('@')))
        .collect();
    secretish.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    let mut out = message.to_string();
    for (value, stand_in) in secretish {
        out = out.replace(value, &stand_in);
    }
    out
}

/// Prints a clap error: help and version as clap renders them (exit 0),
/// anything else as one `quorum-check: error:` line naming the culprit (exit 2).
pub fn cli_error(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if is_help_or_version(&e) {
        let status = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitStatus::Usage
        } else {
            ExitStatus::Success
        };
        let _ = e.print();
        return status.into();
    }
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let message = redact_args(message, &args);
    // A value from the environment (or .env) is quoted the same way.
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| k.starts_with("QUORUM_"))
        .collect();
    let message = redact_env(&message, &env);
    // A misspelt variable may be why a flag is missing.
    env_hint::warn_unknown();
    print_error(&format!("{message} (see --help)"));
    ExitStatus::Usage.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_urls_are_named_by_position() {
        let args: Vec<String> = ["quorum-check", "check", "--rpc", "https://a/v2/K1", "https://b/v2/KEY"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let message = "unexpected argument 'https://b/v2/KEY' found tip: to pass 'https://b/v2/KEY' as a value, use '-- https://b/v2/KEY'";
        let out = redact_args(message, &args);
        assert!(!out.contains("KEY"), "{out}");
        assert!(out.contains("<argument #4, not shown>"), "{out}");
        let env = vec![("QUORUM_CONTRACT".to_string(), "https://x/v2/KEY".to_string())];
        let out = redact_env("invalid value 'https://x/v2/KEY' for '--contract'", &env);
        assert_eq!(
            out,
            "invalid value '<value of QUORUM_CONTRACT, not shown>' for '--contract'"
        );
    }
}
