//! Validated settings for a check: the nodes (from `--rpc` or a nodes file),
//! the transaction hashes, the vote function and the resolved threshold.
//! Everything a user can get wrong is caught here, before any network call,
//! with an error that names the culprit — and never prints a node's URL.

use std::{
    collections::HashSet,
    fmt,
    io::Read,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
};
use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{
    abi::{VoteFunction, VoteKind},
    cli::{CheckArgs, EndpointArgs, parse_address, parse_tx_hash},
    node_url::NodeUrl,
    sanitize::printable,
    threshold::ThresholdSpec,
};

/// One node to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Position in the configuration (0-based).
    pub index: usize,
    pub name: Option<String>,
    pub url: NodeUrl,
    pub weight: u64,
    /// Caller of the `eth_call` (the "node address" model of VoterRegistry).
    pub from: Option<Address>,
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
    /// threshold's weight have reached (costs one extra round trip).
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

/// Everything `check` needs, validated.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub nodes: Vec<Node>,
    pub contract: Address,
    pub function: VoteFunction,
    pub txs: Vec<B256>,
    pub threshold_spec: ThresholdSpec,
    /// Absolute yes-weight needed.
    pub threshold: u128,
    pub total_weight: u128,
    pub block: BlockSpec,
    pub chain_id: Option<u64>,
    pub limits: Limits,
    pub wait_all: bool,
}

/// Bounds on the work done per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A node's whole budget, retries included.
    pub timeout: Duration,
    /// The run's budget.
    pub deadline: Duration,
    pub retries: u32,
    pub batch_size: usize,
    pub max_response_bytes: u64,
}

/// Where the node list came from when both `--rpc` and `--nodes` are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSource {
    Rpc,
    NodesFile,
}

impl CheckConfig {
    /// Validates `args`. `prefer` says which node source wins when both are
    /// set (the one given on the command line beats one from the environment).
    pub fn from_args(args: &CheckArgs, prefer: Option<NodeSource>) -> anyhow::Result<Self> {
        let nodes = resolve_nodes(&args.endpoints, prefer)?;
        let endpoints = &args.endpoints;

        let function = VoteFunction::load(&args.abi, &args.function)?;
        let mut txs = args.tx.clone();
        if let Some(path) = &args.tx_file {
            txs.extend(load_tx_file(path)?);
        }
        let mut seen = HashSet::new();
        txs.retain(|h| seen.insert(*h));
        if txs.is_empty() {
            bail!("no transaction hash given: pass --tx HASH, set QUORUM_TX, or pass --tx-file PATH");
        }

        let total_weight: u128 = nodes.iter().map(|n| u128::from(n.weight)).sum();
        let uint_votes = matches!(function.kind(), VoteKind::Uint(_));
        let threshold = args.threshold.resolve(total_weight, uint_votes)?;

        let deadline = args.deadline.unwrap_or(endpoints.timeout + Duration::from_secs(1));
        Ok(Self {
            nodes,
            contract: args.contract,
            function,
            txs,
            threshold_spec: args.threshold,
            threshold,
            total_weight,
            block: args.block,
            chain_id: endpoints.chain_id,
            limits: Limits {
                timeout: endpoints.timeout,
                deadline,
                retries: endpoints.retries,
                batch_size: args.batch_size as usize,
                max_response_bytes: endpoints.max_response_bytes,
            },
            wait_all: args.wait_all,
        })
    }
}

/// The configured nodes: from `--rpc` or the nodes file. `prefer` says which
/// source wins when both are set (the one given on the command line beats
/// one from the environment).
pub fn resolve_nodes(args: &EndpointArgs, prefer: Option<NodeSource>) -> anyhow::Result<Vec<Node>> {
    match (&args.nodes, args.rpc.is_empty(), prefer) {
        (Some(path), true, _) | (Some(path), false, Some(NodeSource::NodesFile)) => load_nodes_file(path),
        (None, false, _) | (Some(_), false, Some(NodeSource::Rpc)) => nodes_from_urls(&args.rpc),
        (Some(_), false, None) => {
            bail!("both --rpc/QUORUM_RPC_URLS and --nodes/QUORUM_NODES are set: use one of them")
        }
        (None, true, _) => {
            bail!("no nodes configured: pass --rpc URL (repeatable), set QUORUM_RPC_URLS, or pass --nodes FILE")
        }
    }
}

/// Nodes from a list of URLs (`--rpc`, `QUORUM_RPC_URLS`), weight 1 each.
pub fn nodes_from_urls(urls: &[String]) -> anyhow::Result<Vec<Node>> {
    urls.iter()
        .filter(|u| !u.trim().is_empty())
        .enumerate()
        .map(|(index, raw)| {
            let url = NodeUrl::parse(raw).with_context(|| format!("RPC URL #{} is unusable", index + 1))?;
            Ok(Node {
                index,
                name: None,
                url,
                weight: 1,
                from: None,
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesFile {
    #[serde(default)]
    node: Vec<NodeEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    url: String,
    name: Option<String>,
    weight: Option<u64>,
    from: Option<String>,
}

/// Parses a nodes file (TOML, `[[node]]` entries).
pub fn load_nodes_file(path: &Path) -> anyhow::Result<Vec<Node>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read nodes file {shown}"))?;
    parse_nodes_toml(&text).with_context(|| format!("nodes file {shown}"))
}

/// Parses the text of a nodes file.
pub fn parse_nodes_toml(text: &str) -> anyhow::Result<Vec<Node>> {
    // toml's own error display quotes the offending source line, which may be a
    // URL with its key: report only the position and the message.
    let file: NodesFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        match line {
            Some(line) => anyhow::anyhow!("invalid TOML at line {line}: {}", crate::rpc::clean(e.message().trim())),
            None => anyhow::anyhow!("invalid TOML: {}", crate::rpc::clean(e.message().trim())),
        }
    })?;
    if file.node.is_empty() {
        bail!("no [[node]] entries");
    }
    let mut names = HashSet::new();
    file.node
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let which = match &entry.name {
                Some(name) => format!("node #{} ({})", index + 1, printable(name)),
                None => format!("node #{}", index + 1),
            };
            let url = NodeUrl::parse(&entry.url).with_context(|| format!("{which}: invalid url"))?;
            let weight = entry.weight.unwrap_or(1);
            if weight == 0 {
                bail!("{which}: weight must be at least 1");
            }
            let from = entry
                .from
                .as_deref()
                .map(parse_address)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{which}: invalid from address: {e}"))?;
            if let Some(name) = &entry.name {
                if name.trim().is_empty() {
                    bail!("{which}: name is empty");
                }
                if !names.insert(name.clone()) {
                    bail!("{which}: duplicate name");
                }
            }
            Ok(Node {
                index,
                name: entry.name,
                url,
                weight,
                from,
            })
        })
        .collect()
}

/// Reads hashes from a file (`-` is stdin): one per line, blank lines and `#`
/// comments ignored.
pub fn load_tx_file(path: &PathBuf) -> anyhow::Result<Vec<B256>> {
    let (text, shown) = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read transaction hashes from stdin")?;
        (s, "stdin".to_string())
    } else {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read tx file {shown}"))?;
        (text, shown)
    };
    parse_tx_lines(&text, &shown)
}

/// Parses the lines of a tx file; `source` names it in errors.
pub fn parse_tx_lines(text: &str, source: &str) -> anyhow::Result<Vec<B256>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let hash = parse_tx_hash(content).map_err(|e| {
            anyhow::anyhow!(
                "invalid transaction hash '{}' at line {} of {source}: {e}",
                printable(content),
                i + 1
            )
        })?;
        out.push(hash);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(err.contains("line 1 of t.txt") && err.contains("0x1234"), "{err}");
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
