//! The command line's top level: global flags and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::{
    args::CheckArgs,
    args_commands::{DemoArgs, DevnetArgs, NodesArgs, ScanArgs, ServeArgs, WatchArgs},
};

/// The help heading of the flags every subcommand takes.
const GLOBAL: &str = "Global options";

/// Has a quorum of independent Ethereum nodes voted for this transaction?
#[derive(Debug, Parser)]
#[command(name = "quorum-check", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,

    /// Log line format on stderr.
    #[arg(
        long = "log-format",
        value_enum,
        env = "QUORUM_LOG_FORMAT",
        hide_env_values = true,
        default_value = "text",
        global = true,
        help_heading = GLOBAL
    )]
    pub log_format: LogFormat,

    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto", global = true, help_heading = GLOBAL)]
    pub color: ColorWhen,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (to anything but empty).
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorWhen {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask every node for its vote on each transaction and report the verdict.
    Check(Box<CheckArgs>),
    /// Start a local fleet of anvil nodes with a Voting contract, for trying things out.
    Devnet(DevnetArgs),
    /// Run the original script's scenario on a local 10-node fleet, then tear it down.
    Demo(DemoArgs),
    /// Re-check every --interval until every transaction is confirmed or --deadline passes.
    // watch's --deadline is when watching gives up, not one check's: its own
    // variable, so a QUORUM_DEADLINE meant for check does not end a watch early.
    #[command(mut_arg("deadline", |a| a
        .env("QUORUM_WATCH_DEADLINE")
        .help("When watching gives up, counted from the start; a last round runs then [default: 10m]")))]
    Watch(Box<WatchArgs>),
    /// Health of each node: chain id, head block and age, client version, latency, contract code.
    Nodes(Box<NodesArgs>),
    /// Keep checking in the background and serve /metrics, /v1/check, /healthz and /readyz over HTTP.
    #[command(mut_arg("deadline", |a| a
        .help("Each check (background round or /v1/check) ends by then, whatever the nodes do [default: timeout + 1s]")))]
    Serve(Box<ServeArgs>),
    /// Find the transactions to check in the contract's vote events, read from every node.
    Scan(Box<ScanArgs>),
    /// Print a shell completion script (bash, zsh, fish, …) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one per command into --dir.
    Man {
        /// Write quorum-check.1 and quorum-check-SUBCOMMAND.1 for every subcommand into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

impl Command {
    /// The check flags of `check`, `watch` and `serve`.
    pub fn check_args_mut(&mut self) -> Option<&mut CheckArgs> {
        match self {
            Self::Check(args) => Some(args),
            Self::Watch(args) => Some(&mut args.check),
            Self::Serve(args) => Some(&mut args.check),
            _ => None,
        }
    }

    /// Whether the command reads the configuration (a broken `.env` stops it);
    /// completions and man pages do not.
    pub fn needs_configuration(&self) -> bool {
        !matches!(self, Self::Completions { .. } | Self::Man { .. })
    }
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
