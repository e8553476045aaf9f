//! The library's front door: build a [`Checker`] once — nodes, contract,
//! vote function, threshold, limits — and run as many checks as needed in
//! your own runtime. [`CheckerBuilder::build`] validates everything the
//! command line validates, with the same messages, so a checker that exists
//! is a valid one: there are no public fields that must agree.
//!
//! ```no_run
//! use quorum_check::{Checker, Node, Threshold, VoteFunction};
//!
//! # async fn example() -> Result<(), quorum_check::Error> {
//! let checker = Checker::builder()
//!     .node(Node::new("https://eth.example/v2/KEY")?.weight(2))
//!     .node(Node::new("http://127.0.0.1:8545")?.name("local"))
//!     .contract("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap())
//!     .function(VoteFunction::parse("vote(bytes32)(bool)")?)
//!     .threshold(Threshold::parse("2/3")?)
//!     .build()?;
//! let report = checker.check(&["0x1111111111111111111111111111111111111111111111111111111111111111".parse().unwrap()]).await?;
//! for tx in report.txs() {
//!     println!("{:#x}: {:?} (yes {} of {})", tx.tx_hash(), tx.verdict(), tx.yes(), tx.total_weight());
//! }
//! # Ok(()) }
//! ```

use std::{future::Future, path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256};

use crate::{
    abi::VoteFunction,
    check::{fanout, rpc::RpcClient},
    config::{
        BlockSpec, CheckConfig, CheckParts, DEFAULT_BATCH_SIZE, DEFAULT_BLOCK, DEFAULT_MAX_PIN_LAG,
        DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MULTICALL, DEFAULT_RETRIES, DEFAULT_THRESHOLD, DEFAULT_TIMEOUT, Headers,
        Limits, MAX_BATCH_SIZE, MIN_MAX_RESPONSE_BYTES, Multicall, Node, NodeSource, check_distinct, default_deadline,
        unique_hashes,
    },
    error::Error,
    node_url::NodeUrl,
    report::Report,
    threshold::Threshold,
};

impl Node {
    /// A node at `url` (http or https; a key in the path or query stays
    /// secret: it is never printed), weight 1.
    pub fn new(url: &str) -> Result<Self, Error> {
        let url = NodeUrl::parse(url).map_err(|e| Error::node(None, format!("node URL: {e}")))?;
        Ok(Self::at(0, url))
    }

    /// Its weight in the tally (default 1; 0 is refused by [`CheckerBuilder::build`]).
    pub fn weight(mut self, weight: u64) -> Self {
        self.weight = weight;
        self
    }

    /// The caller of its `eth_call` (for contracts that answer per caller).
    pub fn from(mut self, from: Address) -> Self {
        self.from = Some(from);
        self
    }

    /// A name for reports and logs (instead of the redacted URL).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Extra HTTP headers (e.g. `Authorization`); their values are secrets.
    pub fn headers(mut self, pairs: Vec<(String, String)>) -> Result<Self, Error> {
        self.headers = Headers::new(pairs)?;
        Ok(self)
    }

    /// A PEM file of extra certificate authorities to trust for this node.
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }
}

impl VoteFunction {
    /// A vote function from a signature — `vote(bytes32)(bool)`,
    /// `weight(bytes32)(uint96)`, `function vote(bytes32 h) view returns (bool)` —
    /// or the built-in `vote`; checked for the shape a vote needs.
    pub fn parse(signature: &str) -> Result<Self, Error> {
        Ok(Self::resolve(None, signature)?)
    }
}

impl Threshold {
    /// Parses a threshold as the command line does.
    pub fn parse(text: &str) -> Result<Self, Error> {
        text.parse()
            .map_err(|e: crate::threshold::ThresholdError| Error::Threshold(e.to_string()))
    }
}

/// Builds a [`Checker`]; see [`Checker::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CheckerBuilder {
    nodes: Vec<Node>,
    contract: Option<Address>,
    function: Option<VoteFunction>,
    threshold: Threshold,
    /// Whether [`threshold`](Self::threshold) was called (else the default applies).
    threshold_set: bool,
    block: BlockSpec,
    max_pin_lag: u64,
    chain_id: Option<u64>,
    timeout: Duration,
    deadline: Option<Duration>,
    retries: u32,
    batch_size: usize,
    max_response_bytes: u64,
    multicall: Multicall,
    wait_all: bool,
}

impl Default for CheckerBuilder {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            contract: None,
            function: None,
            threshold: DEFAULT_THRESHOLD,
            threshold_set: false,
            block: DEFAULT_BLOCK,
            max_pin_lag: DEFAULT_MAX_PIN_LAG,
            chain_id: None,
            timeout: DEFAULT_TIMEOUT,
            deadline: None,
            retries: DEFAULT_RETRIES,
            batch_size: DEFAULT_BATCH_SIZE as usize,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            multicall: DEFAULT_MULTICALL,
            wait_all: false,
        }
    }
}

impl CheckerBuilder {
    /// Adds a node (they are asked in the order added).
    pub fn node(mut self, node: Node) -> Self {
        self.nodes.push(node);
        self
    }

    /// Adds the nodes of a nodes file (`[[node]]` entries, `${NAME}` from the
    /// environment), as `quorum-check --nodes FILE` reads it.
    pub fn nodes_file(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        self.nodes.extend(crate::nodes_file::load_nodes_file(path.as_ref())?);
        Ok(self)
    }

    /// The voting contract (required).
    pub fn contract(mut self, contract: Address) -> Self {
        self.contract = Some(contract);
        self
    }

    /// The vote function (default: the built-in `vote(bytes32) returns (bool)`).
    pub fn function(mut self, function: VoteFunction) -> Self {
        self.function = Some(function);
        self
    }

    /// The threshold (default: a majority of the weight).
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = threshold;
        self.threshold_set = true;
        self
    }

    /// The block to read at (default: latest; [`BlockSpec::Pinned`] reads
    /// every node at one block).
    pub fn block(mut self, block: BlockSpec) -> Self {
        self.block = block;
        self
    }

    /// With [`BlockSpec::Pinned`]: nodes more than `blocks` behind the nodes'
    /// head are `lagging` rather than a reason to read further back
    /// (default 64).
    pub fn max_pin_lag(mut self, blocks: u64) -> Self {
        self.max_pin_lag = blocks;
        self
    }

    /// Nodes on another chain are `wrong_chain` and not counted.
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// A node's whole budget, retries included (default 10 s; at most 24 h,
    /// as `--timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A check's whole budget (default: timeout + 1 s; at most 24 h, as `--deadline`).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Retries of transient failures (default 2).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Entries per JSON-RPC request (default 100; 1 to 10,000, as `--batch-size`).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Largest accepted answer, decoded (default 16 MiB).
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Whether and where to use Multicall3 (default: the canonical address).
    pub fn multicall(mut self, multicall: Multicall) -> Self {
        self.multicall = multicall;
        self
    }

    /// Wait for every node even once every verdict is settled (default: no).
    pub fn wait_all(mut self, wait_all: bool) -> Self {
        self.wait_all = wait_all;
        self
    }

    /// Validates everything and sets up the HTTP client.
    pub fn build(self) -> Result<Checker, Error> {
        let mut nodes = self.nodes;
        if nodes.is_empty() {
            return Err(Error::NoNodes);
        }
        let mut names = std::collections::HashSet::new();
        for (index, node) in nodes.iter_mut().enumerate() {
            node.index = index;
            if node.weight == 0 {
                return Err(Error::node(
                    Some(index + 1),
                    format!("node #{}: weight must be at least 1", index + 1),
                ));
            }
            if let Some(name) = &node.name {
                check_name(index, name, &mut names)?;
            }
        }
        check_distinct(&mut nodes, NodeSource::NodesFile)?;
        let contract = self.contract.ok_or(Error::NoContract)?;
        let function = self.function.unwrap_or_else(VoteFunction::builtin);
        check_duration("timeout", self.timeout)?;
        if let Some(deadline) = self.deadline {
            check_duration("deadline", deadline)?;
        }
        if !(1..=MAX_BATCH_SIZE as usize).contains(&self.batch_size) {
            return Err(Error::Limit(format!(
                "batch size must be between 1 and {MAX_BATCH_SIZE}"
            )));
        }
        if self.max_response_bytes < MIN_MAX_RESPONSE_BYTES {
            return Err(Error::Limit(format!(
                "max response bytes must be at least {MIN_MAX_RESPONSE_BYTES}"
            )));
        }
        let config = CheckConfig::new(CheckParts {
            function,
            threshold: self.threshold,
            block: self.block,
            max_pin_lag: self.max_pin_lag,
            chain_id: self.chain_id,
            limits: Limits {
                timeout: self.timeout,
                deadline: self.deadline.unwrap_or(default_deadline(self.timeout)),
                retries: self.retries,
                batch_size: self.batch_size,
                max_response_bytes: self.max_response_bytes,
            },
            multicall: self.multicall,
            wait_all: self.wait_all,
            ..CheckParts::new(nodes, contract)
        })
        .map_err(|e| Error::Threshold(e.message(!self.threshold_set)))?;
        let client = RpcClient::for_nodes(&config.nodes, config.limits.retries, config.limits.max_response_bytes)?
            .with_max_batch(config.limits.batch_size);
        Ok(Checker { config, client })
    }
}

/// The longest timeout or deadline, as the command line's durations: it
/// keeps every `Instant + Duration` of a check far from overflowing.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A timeout or deadline as the command line accepts it: more than zero, at most 24 h.
fn check_duration(what: &str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        return Err(Error::Limit(format!("{what} must be greater than zero")));
    }
    if value > MAX_DURATION {
        return Err(Error::Limit(format!("{what} must be at most 24h")));
    }
    Ok(())
}

/// A node's name as a nodes file accepts it: not blank, nothing that can
/// forge or hide a line, not another node's.
fn check_name(index: usize, name: &str, seen: &mut std::collections::HashSet<String>) -> Result<(), Error> {
    let which = format!("node #{}", index + 1);
    if name.trim().is_empty() {
        return Err(Error::node(Some(index + 1), format!("{which}: name is empty")));
    }
    if name.chars().any(crate::sanitize::is_unsafe_char) {
        return Err(Error::node(
            Some(index + 1),
            format!("{which}: name holds control or invisible formatting characters (newline, ESC, bidi override…)"),
        ));
    }
    if !seen.insert(name.to_string()) {
        return Err(Error::node(Some(index + 1), format!("{which}: duplicate name")));
    }
    Ok(())
}

/// A validated check, ready to run many times (it keeps its HTTP connections
/// and what it learned about each node, such as a refused batch size).
#[derive(Debug, Clone)]
pub struct Checker {
    config: CheckConfig,
    client: RpcClient,
}

impl Checker {
    /// Starts building a checker.
    pub fn builder() -> CheckerBuilder {
        CheckerBuilder::default()
    }

    /// The threshold's yes-weight, resolved against the nodes' weights.
    pub fn threshold_weight(&self) -> u128 {
        self.config.threshold
    }

    /// The sum of the nodes' weights.
    pub fn total_weight(&self) -> u128 {
        self.config.total_weight
    }

    /// Checks `hashes` on every node at once. A hash given twice is asked
    /// once and reported once: the report's [`Report::tx`] indexes the list
    /// without duplicates, in the order first given; look a hash up with
    /// [`Report::get`].
    pub async fn check(&self, hashes: &[B256]) -> Result<Report, Error> {
        self.check_with_cancel(hashes, std::future::pending()).await
    }

    /// Like [`check`](Self::check); when `cancel` resolves first, the check
    /// ends with what it knows (nodes not heard from are `interrupted`).
    pub async fn check_with_cancel(&self, hashes: &[B256], cancel: impl Future<Output = ()>) -> Result<Report, Error> {
        let txs = unique_hashes(hashes.iter().copied());
        if txs.is_empty() {
            return Err(Error::NoTransactions);
        }
        let mut config = self.config.clone();
        config.txs = txs;
        Ok(fanout::run(&config, &self.client, cancel).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Address {
        Address::repeat_byte(0x11)
    }

    #[test]
    fn build_validates_like_the_command_line() {
        assert!(matches!(
            Checker::builder().contract(contract()).build(),
            Err(Error::NoNodes)
        ));
        let node = || Node::new("http://127.0.0.1:8545").unwrap();
        assert!(matches!(
            Checker::builder().node(node()).build(),
            Err(Error::NoContract)
        ));
        let twice = Checker::builder()
            .node(node())
            .node(node())
            .contract(contract())
            .build();
        assert!(
            matches!(&twice, Err(Error::DuplicateNode { message, first: 1, position: 2 }) if message.contains("same node")),
            "{twice:?}"
        );
        let too_high = Checker::builder()
            .node(node())
            .contract(contract())
            .threshold(Threshold::parse("5").unwrap())
            .build();
        assert!(matches!(too_high, Err(Error::Threshold(_))));
        assert!(matches!(Threshold::parse("banana"), Err(Error::Threshold(_))));
        assert!(matches!(
            VoteFunction::parse("vote(uint256)(bool)"),
            Err(Error::Function(_))
        ));
        let bad_url = Node::new("localhost:8545").unwrap_err().to_string();
        assert!(bad_url.contains("http://"), "{bad_url}");
        let key = Node::new("https://x/v2/SECRETKEY").unwrap();
        assert!(!format!("{key:?}").contains("SECRETKEY"));
        let ok = Checker::builder()
            .node(node().weight(3))
            .node(Node::new("http://127.0.0.1:8546").unwrap())
            .contract(contract())
            .threshold(Threshold::parse("2/3").unwrap())
            .build()
            .unwrap();
        assert_eq!((ok.threshold_weight(), ok.total_weight()), (3, 4));
        // A nodes file, read as the command line reads it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nodes.toml");
        std::fs::write(&file, "[[node]]\nurl = \"http://127.0.0.1:8547\"\nweight = 5\n").unwrap();
        let from_file = Checker::builder()
            .nodes_file(&file)
            .unwrap()
            .contract(contract())
            .build()
            .unwrap();
        assert_eq!(from_file.total_weight(), 5);
        std::fs::write(&file, "[[node]]\nurl = \"localhost:1\"\n").unwrap();
        let err = Checker::builder().nodes_file(&file).unwrap_err().to_string();
        assert!(err.contains("node #1: invalid url: no scheme"), "{err}");
    }

    #[test]
    fn the_builders_defaults_are_the_one_constructors() {
        let node = || Node::new("http://127.0.0.1:8545").unwrap();
        let built = Checker::builder().node(node()).contract(contract()).build().unwrap();
        let mut nodes = vec![node()];
        check_distinct(&mut nodes, NodeSource::NodesFile).unwrap();
        let assembled = CheckConfig::new(CheckParts::new(nodes, contract())).unwrap();
        assert_eq!(format!("{:?}", built.config), format!("{assembled:?}"));
    }

    #[test]
    fn out_of_range_limits_and_hand_built_values_are_errors_not_panics() {
        let node = |port: u16| Node::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let base = || Checker::builder().node(node(8545)).contract(contract());
        let limit = |b: CheckerBuilder| match b.build() {
            Err(Error::Limit(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(limit(base().timeout(Duration::MAX)).contains("timeout must be at most 24h"));
        assert!(limit(base().timeout(Duration::from_secs(86_401))).contains("at most 24h"));
        assert!(limit(base().deadline(Duration::MAX)).contains("deadline must be at most 24h"));
        assert!(limit(base().deadline(Duration::ZERO)).contains("deadline must be greater than zero"));
        assert!(limit(base().batch_size(10_001)).contains("batch size"));
        assert!(limit(base().batch_size(0)).contains("batch size"));
        assert!(
            base()
                .timeout(Duration::from_secs(86_400))
                .deadline(Duration::from_secs(86_400))
                .build()
                .is_ok()
        );
        // Retries are not bounded: every count is safe (see the retry loop).
        assert!(base().retries(u32::MAX).build().is_ok());
        let threshold = |t: Threshold| match base().node(node(8546)).threshold(t).build() {
            Err(Error::Threshold(m)) => m,
            other => panic!("{other:?}"),
        };
        let share = Threshold::Share {
            num: 1,
            den: 0,
            percent: false,
        };
        assert!(threshold(share).contains("invalid threshold '1/0'"));
        assert!(threshold(Threshold::Absolute(0)).contains("at least 1"));
        let named = |name: &str| base().node(node(8546).name(name)).build().map(|_| ());
        for bad in ["", "  ", "a\nb", "x\u{202e}y"] {
            let err = named(bad).unwrap_err().to_string();
            assert!(err.starts_with("node #2: name"), "{bad:?}: {err}");
        }
        let twice = base().node(node(8546).name("a")).node(node(8547).name("a")).build();
        assert!(
            matches!(&twice, Err(Error::Node { message, position: Some(3) }) if message == "node #3: duplicate name"),
            "{twice:?}"
        );
    }
}
