//! The nodes to ask: each one's endpoint, weight, caller and HTTP headers
//! (whose values are secrets), the list made from `--rpc` URLs, and the rule
//! that no endpoint is listed twice (its vote would count twice).

use std::{collections::HashSet, fmt, path::PathBuf};

use alloy::primitives::Address;

use crate::{Error, node_url::NodeUrl, sanitize::printable};

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
                return Err(Error::node(
                    None,
                    format!("header '{shown}' is not a valid HTTP header name"),
                ));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(Error::node(
                    None,
                    format!("header '{shown}' is set by quorum-check itself and cannot be configured"),
                ));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(Error::node(
                    None,
                    format!("header '{shown}' has a value that is not valid in HTTP (control characters or non-ASCII)"),
                ));
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
            return Err(Error::DuplicateNode {
                first: nodes[first].index + 1,
                position: node.index + 1,
                message: format!(
                    "{} and {} are the same node ({}): list each node once, or its vote counts twice",
                    which(&nodes[first]),
                    which(node),
                    node.url.redacted()
                ),
            });
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
        let url = NodeUrl::parse(raw).map_err(|e| {
            Error::node(
                Some(position + 1),
                format!("RPC URL #{} is unusable: {e}", position + 1),
            )
        })?;
        nodes.push(Node::at(nodes.len(), url));
    }
    if nodes.is_empty() {
        return Err(Error::node(None, "no nodes configured: the RPC URL list is empty"));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_list_errors_do_not_echo() {
        let err = format!(
            "{:#}",
            nodes_from_urls(&["http://ok:1".into(), "nope SECRETKEY".into()]).unwrap_err()
        );
        assert!(err.contains("#2") && !err.contains("SECRETKEY"), "{err}");
    }
}
