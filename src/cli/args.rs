//! Command-line flags and their environment fallbacks. Values are parsed into
//! typed settings here where clap can name the culprit; RPC URLs stay strings
//! until [`crate::config`] parses them, because clap would echo a bad value —
//! and a URL holds an API key.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256};
use clap::Args;

pub use crate::render::Format;
use crate::{
    config::{self, BlockSpec},
    threshold::Threshold,
};

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

    /// Expected chain id (decimal, 0x hex, or a name: mainnet, sepolia, holesky, base, …); a node
    /// on another chain is reported and not counted.
    #[arg(
        long = "chain-id",
        value_name = "ID",
        env = "QUORUM_CHAIN_ID",
        hide_env_values = true,
        value_parser = parse_chain_id
    )]
    pub chain_id: Option<u64>,

    /// Time budget of each node, retries included (e.g. 500ms, 3s).
    #[arg(long, value_name = "DURATION", env = "QUORUM_TIMEOUT", hide_env_values = true, default_value = config::DEFAULT_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub timeout: Duration,

    /// Retries per node for transient failures (connection errors, 429, 5xx, rate limits).
    #[arg(
        long,
        value_name = "N",
        env = "QUORUM_RETRIES",
        hide_env_values = true,
        default_value_t = config::DEFAULT_RETRIES
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
          default_value_t = config::DEFAULT_MAX_RESPONSE_BYTES,
          value_parser = clap::value_parser!(u64).range(config::MIN_MAX_RESPONSE_BYTES..))]
    pub max_response_bytes: u64,
}

/// Flags of `check` (and of `watch` and `serve`, which take them all).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the nodes are.
    #[command(flatten, next_help_heading = "Nodes")]
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
        default_value_t = config::DEFAULT_THRESHOLD
    )]
    pub threshold: Threshold,

    /// Block to read votes at: latest, safe, finalized, pending, earliest, a number, or pinned
    /// (one block for all nodes: the highest that the threshold's weight of nodes has reached,
    /// lower when nodes behind it are needed for a verdict; see --max-pin-lag).
    #[arg(
        long,
        value_name = "BLOCK",
        env = "QUORUM_BLOCK",
        hide_env_values = true,
        default_value_t = config::DEFAULT_BLOCK,
        value_parser = Completing::<BlockSpec>::new(&["latest", "safe", "finalized", "pending", "earliest", "pinned"]),
        hide_possible_values = true
    )]
    pub block: BlockSpec,

    /// With --block pinned: nodes more than N blocks behind the nodes' head are lagging (not
    /// read), never a reason to read every node further back.
    #[arg(long = "max-pin-lag", value_name = "N", env = "QUORUM_MAX_PIN_LAG", hide_env_values = true,
          default_value_t = config::DEFAULT_MAX_PIN_LAG)]
    pub max_pin_lag: u64,

    /// The run ends by then, whatever the nodes do, counted from the start (reading the hash
    /// list included) [default: timeout + 1s].
    #[arg(long, value_name = "DURATION", env = "QUORUM_DEADLINE", hide_env_values = true, value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// Calls per JSON-RPC batch request; longer hash lists are split into several batches.
    #[arg(long = "batch-size", value_name = "N", env = "QUORUM_BATCH_SIZE", hide_env_values = true, default_value_t = config::DEFAULT_BATCH_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(config::MAX_BATCH_SIZE)))]
    pub batch_size: u32,

    /// Read votes through Multicall3's aggregate3, hundreds per eth_call: auto (the canonical
    /// address; nodes without code there get plain calls), off, or a Multicall3-compatible
    /// contract's address. Nodes with a `from` address always get plain calls.
    #[arg(
        long,
        value_name = "auto|off|ADDRESS",
        env = "QUORUM_MULTICALL",
        hide_env_values = true,
        default_value_t = config::DEFAULT_MULTICALL,
        value_parser = Completing::<config::Multicall>::new(&["auto", "off"]),
        hide_possible_values = true
    )]
    pub multicall: config::Multicall,

    /// Wait for every node even after all verdicts are settled (the default with --format
    /// prometheus, --output FILE or --dissent-log FILE: a monitoring run wants every node's
    /// health).
    #[arg(long = "wait-all")]
    pub wait_all: bool,

    /// Stop waiting once every verdict is settled, also with --format prometheus, --output FILE
    /// or --dissent-log FILE (nodes not waited for are reported as not heard, never as down, and
    /// neither dissent nor fail).
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

    /// Whether `--threshold` came from its default (neither flag nor
    /// variable): set after parsing, so errors can say "(the default)".
    #[arg(skip)]
    pub threshold_defaulted: bool,

    /// Append one JSON line per (transaction, node) dispute to FILE: a node that disagreed with
    /// the quorum or gave no valid answer (logged once per process in watch and serve). Such a
    /// run waits for every node unless --no-wait-all.
    #[arg(
        long = "dissent-log",
        value_name = "FILE",
        env = "QUORUM_DISSENT_LOG",
        hide_env_values = true
    )]
    pub dissent_log: Option<PathBuf>,
}

impl CheckArgs {
    /// A monitoring run: Prometheus output, output written to a file, or a
    /// dissent log. Such a run waits for every node unless `--no-wait-all`.
    pub fn monitoring(&self) -> bool {
        self.format == Format::Prometheus
            || self.output.as_deref().is_some_and(|p| p != std::path::Path::new("-"))
            || self.dissent_log.is_some()
    }
}

pub use crate::parse::{parse_address, parse_duration, parse_tx_hash};

/// A value parser for a type read with `FromStr` that also names the words
/// it knows, for shell completion (`--block` tags, `--multicall auto|off`),
/// while accepting what else the type parses (numbers, addresses).
#[derive(Clone)]
pub struct Completing<T> {
    words: &'static [&'static str],
    parsed: std::marker::PhantomData<fn() -> T>,
}

impl<T> Completing<T> {
    /// Completes `words`.
    pub fn new(words: &'static [&'static str]) -> Self {
        Self {
            words,
            parsed: std::marker::PhantomData,
        }
    }
}

impl<T> clap::builder::TypedValueParser for Completing<T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        clap::builder::StringValueParser::new()
            .try_map(|s| s.parse::<T>())
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.words.iter().map(|w| clap::builder::PossibleValue::new(*w)),
        ))
    }
}

/// `--chain-id`: decimal, `0x` hex, or a chain's name as cast and alloy know it
/// (`mainnet`, `sepolia`, `holesky`, `base`, `arbitrum`, …).
pub fn parse_chain_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    let number = match hex {
        Some(digits) => u64::from_str_radix(digits, 16).ok(),
        None => t.parse::<u64>().ok(),
    };
    if let Some(id) = number {
        return Ok(id);
    }
    if hex.is_none()
        && !t.starts_with(|c: char| c.is_ascii_digit())
        && let Ok(chain) = t.to_ascii_lowercase().parse::<alloy_chains::NamedChain>()
    {
        return Ok(chain as u64);
    }
    Err("expected a chain id: a number (31337), 0x hex (0x7a69) or a chain name (mainnet, sepolia, …)".into())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::cli::Cli;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn chain_ids_in_every_form_users_type() {
        use super::parse_chain_id;
        assert_eq!(parse_chain_id("31337"), Ok(31337));
        assert_eq!(parse_chain_id("0x7a69"), Ok(31337));
        assert_eq!(parse_chain_id("0X7A69"), Ok(31337));
        assert_eq!(parse_chain_id("mainnet"), Ok(1));
        assert_eq!(parse_chain_id("Sepolia"), Ok(11155111));
        for bad in ["", "0x", "0xzz", "-1", "moonshot-chain", "18446744073709551616"] {
            let err = parse_chain_id(bad).unwrap_err();
            assert!(err.starts_with("expected a chain id"), "{bad}: {err}");
        }
    }
}
