//! Command-line flags and their environment fallbacks. Values are parsed into
//! typed settings here where clap can name the culprit; RPC URLs stay strings
//! until [`crate::config`] parses them, because clap would echo a bad value —
//! and a URL holds an API key.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{config::BlockSpec, threshold::ThresholdSpec};

/// Has a quorum of independent Ethereum nodes voted for this transaction?
#[derive(Debug, Parser)]
#[command(name = "quorum-check", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log line format on stderr.
    #[arg(
        long = "log-format",
        value_enum,
        env = "QUORUM_LOG_FORMAT",
        hide_env_values = true,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto", global = true)]
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
    Watch(Box<WatchArgs>),
    /// Health of each node: chain id, head block and age, client version, latency, contract code.
    Nodes(Box<NodesArgs>),
    /// Keep checking in the background and serve /metrics, /v1/check, /healthz and /readyz over HTTP.
    Serve(Box<ServeArgs>),
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

pub use crate::render::Format;

/// Where the nodes are and how to talk to them: shared by check, watch and nodes.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// JSON-RPC endpoint of a node (repeatable; env: comma-separated list).
    #[arg(
        long = "rpc",
        value_name = "URL",
        visible_alias = "rpc-url",
        env = "QUORUM_RPC_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub rpc: Vec<String>,

    // The help text shows `[[node]]` as written: not a doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// TOML file of [[node]] entries (url, name, weight, from, headers, ca_cert; ${VAR} expands).
    #[arg(long, value_name = "FILE", env = "QUORUM_NODES", hide_env_values = true)]
    pub nodes: Option<PathBuf>,

    /// Expected chain id; a node on another chain is reported and not counted.
    #[arg(
        long = "chain-id",
        value_name = "ID",
        env = "QUORUM_CHAIN_ID",
        hide_env_values = true
    )]
    pub chain_id: Option<u64>,

    /// Time budget of each node, retries included (e.g. 500ms, 3s).
    #[arg(long, value_name = "DURATION", env = "QUORUM_TIMEOUT", hide_env_values = true, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Retries per node for transient failures (connection errors, 429, 5xx, rate limits).
    #[arg(
        long,
        value_name = "N",
        env = "QUORUM_RETRIES",
        hide_env_values = true,
        default_value_t = 2
    )]
    pub retries: u32,

    /// PEM file of extra certificate authorities to trust (also SSL_CERT_FILE / SSL_CERT_DIR).
    #[arg(
        long = "ca-cert",
        value_name = "FILE",
        env = "QUORUM_CA_CERT",
        hide_env_values = true
    )]
    pub ca_cert: Option<PathBuf>,

    /// A node answer larger than this is cut off and reported as bad_response.
    #[arg(long = "max-response-bytes", value_name = "BYTES", env = "QUORUM_MAX_RESPONSE_BYTES", hide_env_values = true,
          default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_response_bytes: u64,
}

/// Flags of `check` (and of `watch` and `serve`, which take them all).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the nodes are.
    #[command(flatten)]
    pub endpoints: EndpointArgs,

    /// Address of the voting contract.
    #[arg(long, value_name = "ADDRESS", env = "QUORUM_CONTRACT", hide_env_values = true, value_parser = parse_address)]
    pub contract: Address,

    /// ABI of the voting contract: a JSON ABI array or a Foundry/Hardhat artifact
    /// [default: built in, with vote(bytes32) returns (bool)].
    #[arg(long, value_name = "PATH", env = "QUORUM_ABI", hide_env_values = true)]
    pub abi: Option<PathBuf>,

    /// The vote function: a name (vote), a signature to find in the ABI (vote(bytes32)), or a
    /// complete one that needs no ABI: vote(bytes32)(bool), weight(bytes32)(uint96),
    /// "function vote(bytes32 txHash) view returns (bool)".
    #[arg(
        long,
        value_name = "NAME_OR_SIGNATURE",
        env = "QUORUM_FUNCTION",
        hide_env_values = true,
        default_value = "vote"
    )]
    pub function: String,

    /// Transaction hash to check (repeatable; env: comma-separated list).
    #[arg(long = "tx", value_name = "HASH", env = "QUORUM_TX", hide_env_values = true, value_delimiter = ',', value_parser = parse_tx_hash)]
    pub tx: Vec<B256>,

    /// File with one transaction hash per line ('-' reads stdin; blank lines and # comments ignored).
    #[arg(long = "tx-file", value_name = "PATH")]
    pub tx_file: Option<PathBuf>,

    /// Yes-weight needed: N, majority, all, P% or A/B (shares round up).
    #[arg(
        long,
        value_name = "THRESHOLD",
        env = "QUORUM_THRESHOLD",
        hide_env_values = true,
        default_value = "majority"
    )]
    pub threshold: ThresholdSpec,

    /// Block to read votes at: latest, safe, finalized, pending, earliest, a number, or pinned
    /// (one block for all nodes: the highest that the threshold's weight of nodes has reached).
    #[arg(
        long,
        value_name = "BLOCK",
        env = "QUORUM_BLOCK",
        hide_env_values = true,
        default_value = "latest"
    )]
    pub block: BlockSpec,

    /// The run ends by then, whatever the nodes do, counted from the start (reading the hash
    /// list included) [default: timeout + 1s]. With watch: when watching gives up [default: 10m].
    #[arg(long, value_name = "DURATION", env = "QUORUM_DEADLINE", hide_env_values = true, value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// Calls per JSON-RPC batch request; longer hash lists are split into several batches.
    #[arg(long = "batch-size", value_name = "N", env = "QUORUM_BATCH_SIZE", hide_env_values = true, default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,

    /// Read votes through Multicall3's aggregate3, hundreds per eth_call: auto (the canonical
    /// address; nodes without code there get plain calls), off, or a Multicall3-compatible
    /// contract's address. Nodes with a `from` address always get plain calls.
    #[arg(
        long,
        value_name = "auto|off|ADDRESS",
        env = "QUORUM_MULTICALL",
        hide_env_values = true,
        default_value = "auto"
    )]
    pub multicall: crate::check::multicall::Multicall,

    /// Wait for every node even after all verdicts are settled (the default with --format
    /// prometheus or --output FILE: a monitoring run wants every node's health).
    #[arg(long = "wait-all")]
    pub wait_all: bool,

    /// Stop waiting once every verdict is settled, also with --format prometheus or --output FILE
    /// (nodes not waited for are reported as not heard, never as down).
    #[arg(long = "no-wait-all", conflicts_with = "wait_all")]
    pub no_wait_all: bool,

    /// With --format prometheus, also write per-transaction series: 7 per hash, each labelled
    /// with the hash (cardinality grows and churns with the hash list).
    #[arg(long = "metrics-per-tx")]
    pub metrics_per_tx: bool,

    /// Output format.
    #[arg(
        long,
        value_enum,
        env = "QUORUM_FORMAT",
        hide_env_values = true,
        default_value = "text"
    )]
    pub format: Format,

    /// Write the output to FILE atomically (a temporary file renamed into place); '-' is stdout.
    #[arg(long, value_name = "FILE", env = "QUORUM_OUTPUT", hide_env_values = true)]
    pub output: Option<PathBuf>,

    /// Print only the verdict lines (text format).
    #[arg(short, long)]
    pub quiet: bool,
}

impl CheckArgs {
    /// A monitoring run: Prometheus output, or output written to a file.
    /// Such a run waits for every node unless `--no-wait-all`.
    pub fn monitoring(&self) -> bool {
        self.format == Format::Prometheus || self.output.as_deref().is_some_and(|p| p != std::path::Path::new("-"))
    }
}

/// Flags of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Every `check` flag.
    #[command(flatten)]
    pub check: CheckArgs,

    /// Time between two rounds.
    #[arg(long, value_name = "DURATION", env = "QUORUM_INTERVAL", hide_env_values = true, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Every `check` flag.
    #[command(flatten)]
    pub check: CheckArgs,

    /// Address to listen on. A non-loopback address needs --auth-token-file or
    /// --allow-unauthenticated: every request spends provider quota.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        env = "QUORUM_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:9464"
    )]
    pub listen: std::net::SocketAddr,

    /// Time between two background rounds (the hash list of --tx/--tx-file, the file re-read
    /// when it changes); /readyz fails when the last round is older than twice this.
    #[arg(long, value_name = "DURATION", env = "QUORUM_INTERVAL", hide_env_values = true, default_value = "30s", value_parser = parse_duration)]
    pub interval: Duration,

    /// File holding a bearer token: every request but /healthz must send
    /// `Authorization: Bearer <token>`.
    #[arg(
        long = "auth-token-file",
        value_name = "FILE",
        env = "QUORUM_AUTH_TOKEN_FILE",
        hide_env_values = true
    )]
    pub auth_token_file: Option<PathBuf>,

    /// Allow a non-loopback --listen without a token.
    #[arg(long = "allow-unauthenticated")]
    pub allow_unauthenticated: bool,

    /// Checks of /v1/check running at once; more get HTTP 429.
    #[arg(long = "max-concurrent-checks", value_name = "N", env = "QUORUM_MAX_CONCURRENT_CHECKS", hide_env_values = true,
          default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent_checks: u32,

    /// Hashes per /v1/check request, at most.
    #[arg(long = "max-tx-per-request", value_name = "N", env = "QUORUM_MAX_TX_PER_REQUEST", hide_env_values = true,
          default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_tx_per_request: u32,
}

/// Output formats of `nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HealthFormat {
    /// A table and a closing line.
    Text,
    /// One JSON document.
    Json,
    /// Prometheus text exposition format (quorum_check_health_* metrics).
    Prometheus,
}

/// Flags of `nodes`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Where the nodes are.
    #[command(flatten)]
    pub endpoints: EndpointArgs,

    /// Also check that this contract has code on every node, and that its vote function answers
    /// a call for the zero hash with a valid vote.
    #[arg(long, value_name = "ADDRESS", env = "QUORUM_CONTRACT", hide_env_values = true, value_parser = parse_address)]
    pub contract: Option<Address>,

    /// ABI JSON file of the vote function checked with --contract [default: the built-in
    /// vote(bytes32) returns (bool)].
    #[arg(long, value_name = "PATH", env = "QUORUM_ABI", hide_env_values = true)]
    pub abi: Option<PathBuf>,

    /// The vote function checked with --contract: a name in --abi, or a signature such as
    /// 'vote(bytes32)(bool)'.
    #[arg(
        long,
        value_name = "NAME|SIGNATURE",
        env = "QUORUM_FUNCTION",
        hide_env_values = true,
        default_value = "vote"
    )]
    pub function: String,

    /// A node whose head is more than this many blocks behind the highest head of the nodes on
    /// its chain is unhealthy.
    #[arg(
        long = "max-lag",
        value_name = "BLOCKS",
        env = "QUORUM_MAX_LAG",
        hide_env_values = true,
        default_value_t = 5
    )]
    pub max_lag: u64,

    /// A node whose head block is older than this is unhealthy (off by default: local chains
    /// mine only on demand). Use on live networks, e.g. 2m.
    #[arg(long = "max-head-age", value_name = "DURATION", env = "QUORUM_MAX_HEAD_AGE", hide_env_values = true,
          value_parser = parse_duration)]
    pub max_head_age: Option<Duration>,

    /// Weight the healthy nodes must hold (N, majority, all, P% or A/B); below it, exit 1.
    #[arg(
        long,
        value_name = "THRESHOLD",
        env = "QUORUM_THRESHOLD",
        hide_env_values = true,
        default_value = "majority"
    )]
    pub threshold: ThresholdSpec,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: HealthFormat,
}

/// Where to find anvil.
#[derive(Debug, Args)]
pub struct AnvilArgs {
    /// Path of the anvil binary (else ANVIL_BIN, PATH, then node_modules).
    #[arg(long, value_name = "PATH", env = "ANVIL_BIN", hide_env_values = true)]
    pub anvil: Option<PathBuf>,
}

/// Flags of `devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// How many anvil nodes to start.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub nodes: u32,

    /// How many of them (the first K) approve; the rest reject [default: a majority of --nodes].
    #[arg(long, value_name = "K")]
    pub approve: Option<u32>,

    /// Transaction hash the nodes vote on (repeatable) [default: a fixed demo hash].
    #[arg(long = "tx", value_name = "HASH", value_parser = parse_tx_hash)]
    pub tx: Vec<B256>,

    /// First port: nodes listen on BASE, BASE+1, … [default: ports chosen by the OS].
    #[arg(long, value_name = "BASE")]
    pub port: Option<u16>,

    /// Where anvil is.
    #[command(flatten)]
    pub anvil: AnvilArgs,
}

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output format of the two checks.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Where anvil is.
    #[command(flatten)]
    pub anvil: AnvilArgs,
}

pub use crate::parse::{parse_address, parse_duration, parse_tx_hash};

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hashes() {
        let h = "0x".to_string() + &"ab".repeat(32);
        assert_eq!(parse_tx_hash(&h).unwrap(), B256::repeat_byte(0xab));
        assert_eq!(parse_tx_hash(&"AB".repeat(32)).unwrap(), B256::repeat_byte(0xab));
        for bad in [
            "",
            "0x",
            "0x1234",
            &"ab".repeat(33),
            &("0x".to_string() + &"zz".repeat(32)),
            "0x 12",
        ] {
            assert!(parse_tx_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        let a = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert!(parse_address(a).is_ok());
        assert!(parse_address(&a.to_lowercase()).is_ok());
        assert!(
            parse_address("0x5FbDB2315678afecb367f032d93F642f64180aA3").is_err(),
            "bad checksum"
        );
        for bad in [
            "",
            "0x12",
            "0xzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            &("0x".to_string() + &"1".repeat(41)),
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        for bad in ["", "0s", "0", "-1s", "fast", "25h", "99999999999999999999"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
