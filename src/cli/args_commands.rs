//! Flags of the subcommands beyond `check`: `watch`, `serve`, `nodes`,
//! `devnet`, `demo`, `scan`.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256};
use clap::{Args, ValueEnum};

use super::{
    args::{CheckArgs, EndpointArgs},
    serve::host::AllowedHost,
};
use crate::{
    parse::{parse_address, parse_duration, parse_tx_hash},
    render::Format,
    threshold::Threshold,
};

/// Flags of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Every `check` flag.
    #[command(flatten, next_help_heading = "Check options")]
    pub check: CheckArgs,

    /// Time between two rounds.
    #[arg(long, value_name = "DURATION", env = "QUORUM_INTERVAL", hide_env_values = true, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Also find the hashes to watch in the contract's vote events (see `scan`), new blocks
    /// every round; needs --from-block or --state.
    #[arg(long)]
    pub discover: bool,

    /// With --discover: the events and where to resume.
    #[command(flatten, next_help_heading = "Discovery (with --discover)")]
    pub discovery: DiscoverArgs,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Every `check` flag.
    #[command(flatten, next_help_heading = "Check options")]
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

    /// File holding a bearer token (printable ASCII, at least 16 characters; keep the file
    /// unreadable by others): /metrics and /v1/check must send `Authorization: Bearer <token>`.
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

    /// HTTP connections open at once; at the cap, the one silent longest is closed to admit a
    /// new one [default: the open-file limit less what the checks and rounds need, at most 4096].
    #[arg(long = "max-connections", value_name = "N", env = "QUORUM_MAX_CONNECTIONS", hide_env_values = true,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,

    /// How long a /v1/check answer is reused for the same hashes (0: not reused). Identical
    /// checks in flight always share one fan-out.
    #[arg(long = "cache-ttl", value_name = "DURATION", env = "QUORUM_CACHE_TTL", hide_env_values = true,
          default_value = "1s", value_parser = parse_cache_ttl)]
    pub cache_ttl: Duration,

    // The help text shows `[::1]` as written: not a doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// A name clients may use in the Host header besides localhost, 127.0.0.1, [::1] and the
    /// --listen address, e.g. monitor.example or monitor.example:9464 (repeatable; env:
    /// comma-separated). Other names get 421 (DNS rebinding).
    #[arg(
        long = "allowed-host",
        value_name = "HOST[:PORT]",
        env = "QUORUM_ALLOWED_HOSTS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub allowed_host: Vec<AllowedHost>,

    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        env = "QUORUM_TLS_CERT",
        hide_env_values = true,
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (keep it unreadable by others).
    #[arg(
        long = "tls-key",
        value_name = "FILE",
        env = "QUORUM_TLS_KEY",
        hide_env_values = true,
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Also find the hashes to check in the contract's vote events (see `scan`), new blocks
    /// every round; GET /v1/pending lists those not confirmed yet. Needs --from-block or --state.
    #[arg(long)]
    pub discover: bool,

    /// With --discover: the events and where to resume.
    #[command(flatten, next_help_heading = "Discovery (with --discover)")]
    pub discovery: DiscoverArgs,
}

/// `--cache-ttl`: a duration, or 0 for none.
fn parse_cache_ttl(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "0" | "0s" | "0ms" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
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
    #[command(flatten, next_help_heading = "Nodes")]
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

    /// A node whose head block is older than this is unhealthy, and so is one whose head is
    /// dated in the future by more than this (a wrong clock or a forged head). Off by default:
    /// local chains mine only on demand. Use on live networks, e.g. 2m.
    #[arg(long = "max-head-age", value_name = "DURATION", env = "QUORUM_MAX_HEAD_AGE", hide_env_values = true,
          value_parser = parse_duration)]
    pub max_head_age: Option<Duration>,

    /// Weight the healthy nodes must hold (N, majority, all, P% or A/B); below it, exit 1.
    #[arg(
        long,
        value_name = "THRESHOLD",
        env = "QUORUM_THRESHOLD",
        hide_env_values = true,
        default_value_t = crate::config::DEFAULT_THRESHOLD
    )]
    pub threshold: Threshold,

    /// Output format.
    #[arg(
        long,
        value_enum,
        env = "QUORUM_FORMAT",
        hide_env_values = true,
        default_value = "text"
    )]
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

/// Where vote events are read from, shared by `scan` and `watch --discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The vote event's signature; indexed parameters are topics.
    #[arg(long, value_name = "SIGNATURE", default_value = crate::scan::event::DEFAULT_EVENT)]
    pub event: String,

    /// The event parameter that holds the transaction hash [default: the first bytes32 parameter].
    #[arg(long = "event-field", value_name = "NAME")]
    pub event_field: Option<String>,

    /// First block to scan; required unless --state already holds where to resume.
    #[arg(long = "from-block", value_name = "N", value_parser = parse_block_number)]
    pub from_block: Option<u64>,

    /// JSON file that keeps where the last scan stopped (per node: last block, its hash, the log
    /// range it accepts); the next scan asks only for new blocks. Written atomically.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Blocks per eth_getLogs to start with; a node that refuses gets smaller ranges (its limit
    /// is learned, and kept in --state).
    #[arg(long = "log-range", value_name = "N", default_value_t = crate::scan::DEFAULT_LOG_RANGE,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub log_range: u64,

    /// When a node's remembered block hash changed (a reorg), rescan from this many blocks earlier.
    #[arg(long = "reorg-depth", value_name = "BLOCKS", env = "QUORUM_REORG_DEPTH", hide_env_values = true,
          default_value_t = crate::scan::DEFAULT_REORG_DEPTH)]
    pub reorg_depth: u64,
}

/// `--from-block`: a block number, decimal or 0x hex.
fn parse_block_number(s: &str) -> Result<u64, String> {
    crate::scan::parse_block_number(s).ok_or_else(|| {
        format!(
            "invalid block '{}': expected a block number",
            crate::sanitize::printable(s)
        )
    })
}

/// Flags of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Where the nodes are.
    #[command(flatten, next_help_heading = "Nodes")]
    pub endpoints: EndpointArgs,

    /// Address of the voting contract.
    #[arg(long, value_name = "ADDRESS", env = "QUORUM_CONTRACT", hide_env_values = true, value_parser = parse_address)]
    pub contract: Address,

    /// The events and where to resume.
    #[command(flatten)]
    pub discover: DiscoverArgs,

    /// Last block to scan: latest, safe, finalized or a number.
    #[arg(long = "to-block", value_name = "BLOCK", default_value = "latest")]
    pub to_block: crate::scan::ToBlock,

    /// As for check: a block counts as covered when nodes holding more than total weight minus
    /// this answered it.
    #[arg(
        long,
        value_name = "THRESHOLD",
        env = "QUORUM_THRESHOLD",
        hide_env_values = true,
        default_value_t = crate::config::DEFAULT_THRESHOLD
    )]
    pub threshold: Threshold,

    /// Output format: text (one hash per line, for `check --tx-file -`) or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::scan::render::ScanFormat,

    /// Write the output to FILE atomically (a temporary file renamed into place); '-' is stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
