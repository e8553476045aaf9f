//! Validated settings for a check: the nodes (from `--rpc` or a nodes file),
//! the transaction hashes, the vote function and the resolved threshold.
//! Everything a user can get wrong is caught here, before any network call,
//! with an error that names the culprit — and never prints a node's URL.

use std::{collections::HashSet, fmt, path::PathBuf, str::FromStr, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
};

use crate::{
    Error, abi::VoteFunction, node_url::NodeUrl, parse::parse_tx_hash, sanitize::printable, threshold::ThresholdSpec,
};

/// One node to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Position in the configuration (0-based); set by whoever assembles the list.
    pub(crate) index: usize,
    /// A name for reports and logs (else the redacted URL is shown).
    pub name: Option<String>,
    /// The endpoint (printed only as scheme, host and port).
    pub url: NodeUrl,
    /// Its weight in the tally.
    pub weight: u64,
    /// Caller of the `eth_call` (the "node address" model of VoterRegistry).
    pub from: Option<Address>,
    /// Extra HTTP headers (e.g. `Authorization`); their values are secrets.
    pub headers: Headers,
    /// A PEM file of extra CAs to trust for this node.
    pub ca_cert: Option<PathBuf>,
}

impl Node {
    /// A node at `url` with weight 1 and nothing else set; `index` is its
    /// position in the configuration.
    pub fn at(index: usize, url: NodeUrl) -> Self {
        Self {
            index,
            name: None,
            url,
            weight: 1,
            from: None,
            headers: Headers::default(),
            ca_cert: None,
        }
    }
}

/// HTTP headers sent to one node. Values are secrets (bearer tokens, API
/// keys): `Debug` shows the names only, and nothing else prints them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

/// Headers the HTTP client owns; a nodes file may not set them.
const RESERVED_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
];

impl Headers {
    /// Validates names and values (as HTTP allows them). Errors name the header, never its value.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, Error> {
        for (name, value) in &pairs {
            let shown = printable(name);
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(Error::Node(format!("header '{shown}' is not a valid HTTP header name")));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(Error::Node(format!(
                    "header '{shown}' is set by quorum-check itself and cannot be configured"
                )));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(Error::Node(format!(
                    "header '{shown}' has a value that is not valid in HTTP (control characters or non-ASCII)"
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// The name/value pairs, values included: only for the HTTP client.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}: ***")))
            .finish()
    }
}

impl Node {
    /// How the node is shown: its name, or its redacted URL.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.url.redacted().to_string(),
        }
    }
}

/// Which block to read votes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSpec {
    /// A tag or number, passed to every node as is.
    At(BlockNumberOrTag),
    /// One block for all nodes: the highest that nodes holding the
    /// threshold's weight have reached (costs one extra round trip); open
    /// verdicts that nodes behind it could settle are read again one pin
    /// lower, within [`CheckConfig`]'s `max_pin_lag` of the nodes' head.
    Pinned,
}

impl FromStr for BlockSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let tag = match t.as_str() {
            "latest" => BlockNumberOrTag::Latest,
            "safe" => BlockNumberOrTag::Safe,
            "finalized" => BlockNumberOrTag::Finalized,
            "pending" => BlockNumberOrTag::Pending,
            "earliest" => BlockNumberOrTag::Earliest,
            "pinned" => return Ok(Self::Pinned),
            _ => {
                let n = if let Some(hex) = t.strip_prefix("0x") {
                    u64::from_str_radix(hex, 16).ok()
                } else if t.bytes().all(|b| b.is_ascii_digit()) {
                    t.parse().ok()
                } else {
                    None
                };
                let n = n.ok_or_else(|| {
                    format!(
                        "invalid block '{}': expected latest, safe, finalized, pending, earliest, pinned or a block number",
                        printable(s)
                    )
                })?;
                BlockNumberOrTag::Number(n)
            }
        };
        Ok(Self::At(tag))
    }
}

impl fmt::Display for BlockSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At(BlockNumberOrTag::Number(n)) => write!(f, "{n}"),
            Self::At(other) => write!(f, "{other}"),
            Self::Pinned => f.write_str("pinned"),
        }
    }
}

/// Everything a check needs, validated: built by [`CheckerBuilder`](crate::CheckerBuilder)
/// or the command line, never field by field (the threshold, the total
/// weight and the nodes must agree).
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The nodes, in configuration order (`index` = position).
    pub(crate) nodes: Vec<Node>,
    /// The voting contract.
    pub(crate) contract: Address,
    /// The vote function.
    pub(crate) function: VoteFunction,
    /// The transaction hashes, without duplicates.
    pub(crate) txs: Vec<B256>,
    /// The threshold as given.
    pub(crate) threshold_spec: ThresholdSpec,
    /// Absolute yes-weight needed.
    pub(crate) threshold: u128,
    /// Sum of the nodes' weights.
    pub(crate) total_weight: u128,
    /// The block to read at.
    pub(crate) block: BlockSpec,
    /// With `--block pinned`: nodes more than this many blocks behind the
    /// nodes' head are `lagging`, never a reason to read further back.
    pub(crate) max_pin_lag: u64,
    /// The expected chain; nodes on another are `wrong_chain`.
    pub(crate) chain_id: Option<u64>,
    /// Time, retry and size bounds.
    pub(crate) limits: Limits,
    /// Whether (and where) to read votes through Multicall3.
    pub(crate) multicall: crate::check::multicall::Multicall,
    /// Wait for every node even once every verdict is settled.
    pub(crate) wait_all: bool,
}

/// Bounds on the work done per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A node's whole budget, retries included.
    pub(crate) timeout: Duration,
    /// The run's budget.
    pub(crate) deadline: Duration,
    /// Retries of transient failures.
    pub(crate) retries: u32,
    /// Entries per JSON-RPC request, `eth_chainId` included.
    pub(crate) batch_size: usize,
    /// Largest accepted answer, decoded.
    pub(crate) max_response_bytes: u64,
}

/// `--max-pin-lag` when none is given: how far behind the nodes' head a
/// pinned read may go (64 blocks: about 13 minutes on Ethereum mainnet).
pub const DEFAULT_MAX_PIN_LAG: u64 = 64;

/// A run's budget when none is given: a node's whole budget plus a second
/// to write the report.
pub(crate) fn default_deadline(timeout: Duration) -> Duration {
    timeout.saturating_add(Duration::from_secs(1))
}

/// The nodes' total weight and the yes-weight `spec` needs of it (a relative
/// threshold cannot be used with uint votes).
pub(crate) fn weights(
    nodes: &[Node],
    function: &VoteFunction,
    spec: ThresholdSpec,
) -> Result<(u128, u128), crate::threshold::ThresholdError> {
    let total: u128 = nodes.iter().map(|n| u128::from(n.weight)).sum();
    let uint_votes = matches!(function.kind(), crate::abi::VoteKind::Uint(_));
    Ok((total, spec.resolve(total, uint_votes)?))
}

/// `hashes` without repeats, in first-seen order.
pub(crate) fn unique_hashes(hashes: impl IntoIterator<Item = B256>) -> Vec<B256> {
    let hashes = hashes.into_iter();
    let mut seen = alloy::primitives::map::B256Set::default();
    seen.reserve(hashes.size_hint().0);
    hashes.filter(|h| seen.insert(*h)).collect()
}

/// Where the node list came from when both `--rpc` and `--nodes` are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSource {
    /// A list of URLs (`--rpc`, `QUORUM_RPC_URLS`): errors say "RPC URL #n".
    Rpc,
    /// A nodes file (or the library builder): errors say "node #n (name)".
    NodesFile,
}

/// The same endpoint twice would count one node's vote twice: a usage error
/// naming both entries. Distinct endpoints that would print the same get a
/// fingerprint each, so every label tells its node apart.
pub fn check_distinct(nodes: &mut [Node], source: NodeSource) -> Result<(), Error> {
    let which = |n: &Node| match (source, &n.name) {
        (NodeSource::Rpc, _) => format!("RPC URL #{}", n.index + 1),
        (NodeSource::NodesFile, Some(name)) => format!("node #{} ({})", n.index + 1, printable(name)),
        (NodeSource::NodesFile, None) => format!("node #{}", n.index + 1),
    };
    let mut seen: std::collections::HashMap<(String, Option<Address>), usize> = std::collections::HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if let Some(&first) = seen.get(&(node.url.identity(), node.from)) {
            return Err(Error::DuplicateNode(format!(
                "{} and {} are the same node ({}): list each node once, or its vote counts twice",
                which(&nodes[first]),
                which(node),
                node.url.redacted()
            )));
        }
        seen.insert((node.url.identity(), node.from), i);
    }
    // Endpoints per printed form (the same endpoint with another `from` is
    // told apart by its `from`, not by a fingerprint).
    let mut by_label: std::collections::HashMap<String, HashSet<String>> = std::collections::HashMap::new();
    for node in nodes.iter() {
        by_label
            .entry(node.url.redacted().to_string())
            .or_default()
            .insert(node.url.identity());
    }
    for node in nodes.iter_mut() {
        if by_label[node.url.redacted()].len() > 1 {
            node.url.disambiguate();
        }
    }
    Ok(())
}

/// Nodes from a list of URLs (`--rpc`, `QUORUM_RPC_URLS`), weight 1 each.
/// Empty entries (`a,,b`) are skipped; errors number entries as the user
/// wrote them, empty ones included.
pub fn nodes_from_urls(urls: &[String]) -> Result<Vec<Node>, Error> {
    let mut nodes = Vec::with_capacity(urls.len());
    for (position, raw) in urls.iter().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let url =
            NodeUrl::parse(raw).map_err(|e| Error::Node(format!("RPC URL #{} is unusable: {e}", position + 1)))?;
        nodes.push(Node::at(nodes.len(), url));
    }
    if nodes.is_empty() {
        return Err(Error::Node("no nodes configured: the RPC URL list is empty".into()));
    }
    Ok(nodes)
}

/// Reads hashes from a file (`-` is stdin): one per line, blank lines and `#`
/// comments ignored.
pub fn load_tx_file(path: &std::path::Path) -> Result<Vec<B256>, Error> {
    load_tx_file_within(path, crate::input::DEFAULT_READ_WAIT)
}

/// Like [`load_tx_file`]; the read (of a FIFO, of stdin) gives up after
/// `wait`, and more than [`crate::input::MAX_TX_FILE_BYTES`] is refused.
pub fn load_tx_file_within(path: &std::path::Path, wait: Duration) -> Result<Vec<B256>, Error> {
    use crate::input::{MAX_TX_FILE_BYTES, Source, read_text};
    let (source, shown) = if path.as_os_str() == "-" {
        (Source::Stdin, "stdin".to_string())
    } else {
        (Source::File(path.to_path_buf()), path.display().to_string())
    };
    let text = read_text(&source, "tx file", MAX_TX_FILE_BYTES, wait)?;
    parse_tx_lines(&text, &shown)
}

/// Parses the lines of a tx file; `source` names it in errors. An error
/// gives the line's number and length, never its text: a hash file is
/// where a key pasted by mistake (`INFURA_KEY=…`) would otherwise be quoted.
pub fn parse_tx_lines(text: &str, source: &str) -> Result<Vec<B256>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let hash = parse_tx_hash(content)
            .map_err(|e| Error::Input(format!("invalid transaction hash at line {} of {source}: {e}", i + 1)))?;
        out.push(hash);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes_file::parse_nodes_toml;

    #[test]
    fn nodes_file_with_all_fields() {
        let nodes = parse_nodes_toml(
            r#"
            [[node]]
            name = "alpha"
            url = "https://eth.example.com/v2/SECRETKEY"
            weight = 3
            from = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

            [[node]]
            url = "http://127.0.0.1:8545"
            "#,
        )
        .unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].label(), "alpha");
        assert_eq!(nodes[0].weight, 3);
        assert!(nodes[0].from.is_some());
        assert_eq!(nodes[1].label(), "http://127.0.0.1:8545");
        assert_eq!(nodes[1].weight, 1);
        assert!(!format!("{nodes:?}").contains("SECRETKEY"));
    }

    #[test]
    fn nodes_file_errors_name_the_node_but_not_the_key() {
        let cases = [
            ("", "no [[node]]"),
            ("[[node]]\nname='a'\n", "line"),
            ("[[node]]\nurl='ftp://x/SECRETKEY'\n", "node #1"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nweight=0\n", "weight"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nweight=-1\n", "line 3"),
            ("[[node]]\nurl='http://x/SECRETKEY'\nfrom='0x12'\n", "from"),
            ("[[node]]\nurl='http://x/SECRETKEY'\ncolour='red'\n", "colour"),
            ("[[node]]\nurl='http://x/SECRETKEY' junk\n", "line 2"),
            (
                "[[node]]\nname='a'\nurl='http://x/1'\n[[node]]\nname='a'\nurl='http://y/2'\n",
                "duplicate",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_nodes_toml(text).unwrap_err());
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains("SECRETKEY"), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{text:?}: {err}");
        }
    }

    #[test]
    fn tx_lines_skip_comments_and_name_bad_lines() {
        let good = format!("# hashes\n\n0x{} # first\n{}\n", "11".repeat(32), "22".repeat(32));
        let hashes = parse_tx_lines(&good, "t.txt").unwrap();
        assert_eq!(hashes, vec![B256::repeat_byte(0x11), B256::repeat_byte(0x22)]);
        let err = parse_tx_lines("0x1234\n", "t.txt").unwrap_err().to_string();
        assert!(
            err.contains("line 1 of t.txt") && err.contains("got 4 characters"),
            "{err}"
        );
        let err = parse_tx_lines(&format!("{}\nINFURA_KEY=SeCrEt0123456789\n", "11".repeat(32)), "t.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2 of t.txt") && err.contains("got 27 characters"),
            "{err}"
        );
        assert!(!err.contains("INFURA") && !err.contains("SeCrEt"), "{err}");
    }

    #[test]
    fn url_list_errors_do_not_echo() {
        let err = format!(
            "{:#}",
            nodes_from_urls(&["http://ok:1".into(), "nope SECRETKEY".into()]).unwrap_err()
        );
        assert!(err.contains("#2") && !err.contains("SECRETKEY"), "{err}");
    }

    #[test]
    fn block_specs() {
        let at = |s: &str| s.parse::<BlockSpec>().unwrap();
        assert_eq!(at("latest"), BlockSpec::At(BlockNumberOrTag::Latest));
        assert_eq!(at("Finalized"), BlockSpec::At(BlockNumberOrTag::Finalized));
        assert_eq!(at("1234"), BlockSpec::At(BlockNumberOrTag::Number(1234)));
        assert_eq!(at("0x10"), BlockSpec::At(BlockNumberOrTag::Number(16)));
        assert_eq!(at("pinned"), BlockSpec::Pinned);
        assert_eq!(at("pinned").to_string(), "pinned");
        assert_eq!(at("1234").to_string(), "1234");
        assert!("yesterday".parse::<BlockSpec>().is_err());
        assert!("-1".parse::<BlockSpec>().is_err());
    }
}
