//! From flags to a validated [`CheckConfig`]: the command line's node
//! sources (`--rpc`, `--nodes`, and which wins), the hash list (`--tx`,
//! `--tx-file`), the vote function and the threshold — every check made
//! before any request, each failure one line naming the culprit.

use std::time::Duration;

use anyhow::bail;

use super::{CheckArgs, EndpointArgs};
use crate::{
    abi::VoteFunction,
    config::{
        CheckConfig, CheckParts, Limits, Node, NodeSource, check_distinct, default_deadline, load_tx_file_within,
        nodes_from_urls, unique_hashes,
    },
};

impl CheckConfig {
    /// Validates `args`. `prefer` says which node source wins when both are
    /// set (the one given on the command line beats one from the environment).
    pub fn from_args(args: &CheckArgs, prefer: Option<NodeSource>) -> anyhow::Result<Self> {
        Self::build(args, prefer, true)
    }

    /// Like [`from_args`](Self::from_args), also without any hash (`serve`
    /// answers for hashes given per request).
    pub fn from_args_allowing_no_txs(args: &CheckArgs, prefer: Option<NodeSource>) -> anyhow::Result<Self> {
        Self::build(args, prefer, false)
    }

    fn build(args: &CheckArgs, prefer: Option<NodeSource>, need_txs: bool) -> anyhow::Result<Self> {
        let endpoints = &args.endpoints;
        let deadline = args.deadline.unwrap_or(default_deadline(endpoints.timeout));
        // Reading inputs (a FIFO, stdin) is bounded by the run's deadline too.
        let read_wait = deadline;
        let nodes = resolve_nodes_within(endpoints, prefer, read_wait)?;

        let function = VoteFunction::resolve_within(args.abi.as_deref(), &args.function, read_wait)?;
        let mut txs = args.tx.clone();
        if let Some(path) = &args.tx_file {
            txs.extend(load_tx_file_within(path, read_wait)?);
        }
        let txs = unique_hashes(txs);
        // An empty (or comment-only) --tx-file is "nothing pending", not an error.
        if txs.is_empty() && need_txs && args.tx_file.is_none() {
            bail!("no transaction hash given: pass --tx HASH, set QUORUM_TX, or pass --tx-file PATH");
        }

        Self::new(CheckParts {
            function,
            txs,
            threshold: args.threshold,
            block: args.block,
            max_pin_lag: args.max_pin_lag,
            chain_id: endpoints.chain_id,
            limits: Limits {
                timeout: endpoints.timeout,
                deadline,
                retries: endpoints.retries,
                batch_size: args.batch_size as usize,
                max_response_bytes: endpoints.max_response_bytes,
            },
            multicall: args.multicall,
            wait_all: args.wait_all || (args.monitoring() && !args.no_wait_all),
            ..CheckParts::new(nodes, args.contract)
        })
        .map_err(|e| anyhow::anyhow!(e.message(args.threshold_defaulted)))
    }
}

/// The configured nodes: from `--rpc` or the nodes file. `prefer` says which
/// source wins when both are set (the one given on the command line beats
/// one from the environment).
pub fn resolve_nodes(args: &EndpointArgs, prefer: Option<NodeSource>) -> anyhow::Result<Vec<Node>> {
    resolve_nodes_within(args, prefer, default_deadline(args.timeout))
}

/// Like [`resolve_nodes`]; reading the nodes file gives up after `wait`.
pub fn resolve_nodes_within(
    args: &EndpointArgs,
    prefer: Option<NodeSource>,
    wait: Duration,
) -> anyhow::Result<Vec<Node>> {
    let (mut nodes, source) = match (&args.nodes, args.rpc.iter().all(|u| u.trim().is_empty()), prefer) {
        (Some(path), true, _) | (Some(path), false, Some(NodeSource::NodesFile)) => (
            crate::nodes_file::load_nodes_file_within(path, wait)?,
            NodeSource::NodesFile,
        ),
        (None, false, _) | (Some(_), false, Some(NodeSource::Rpc)) => (nodes_from_urls(&args.rpc)?, NodeSource::Rpc),
        (Some(_), false, None) => {
            bail!("both --rpc/QUORUM_RPC_URLS and --nodes/QUORUM_NODES are set: use one of them")
        }
        (None, true, _) => {
            bail!("no nodes configured: pass --rpc URL (repeatable), set QUORUM_RPC_URLS, or pass --nodes FILE")
        }
    };
    if let Some(ca) = &args.ca_cert {
        for node in nodes.iter_mut().filter(|n| n.ca_cert.is_none()) {
            node.ca_cert = Some(ca.clone());
        }
    }
    check_distinct(&mut nodes, source)?;
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{
        cli::{Cli, Command},
        config::{CheckConfig, CheckParts, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT_TEXT, nodes_from_urls},
    };

    #[test]
    fn the_flags_defaults_are_the_libraries_defaults() {
        assert_eq!(crate::parse::parse_duration(DEFAULT_TIMEOUT_TEXT), Ok(DEFAULT_TIMEOUT));
        let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        let hash = "0x1111111111111111111111111111111111111111111111111111111111111111";
        let cli = Cli::try_parse_from([
            "quorum-check",
            "check",
            "--rpc",
            "http://127.0.0.1:1",
            "--contract",
            contract,
            "--tx",
            hash,
        ])
        .unwrap();
        let Command::Check(args) = &cli.command else {
            panic!("not check: {:?}", cli.command)
        };
        let from_flags = CheckConfig::from_args(args, None).unwrap();
        let nodes = nodes_from_urls(&["http://127.0.0.1:1".into()]).unwrap();
        let from_library = CheckConfig::new(CheckParts {
            txs: vec![hash.parse().unwrap()],
            ..CheckParts::new(nodes, contract.parse().unwrap())
        })
        .unwrap();
        assert_eq!(format!("{from_flags:?}"), format!("{from_library:?}"));
        // Independently of the constants: what the README promises.
        assert_eq!(from_flags.limits.timeout, std::time::Duration::from_secs(10));
        assert_eq!(from_flags.limits.deadline, std::time::Duration::from_secs(11));
        assert_eq!(from_flags.limits.retries, 2);
        assert_eq!(from_flags.limits.batch_size, 100);
        assert_eq!(from_flags.limits.max_response_bytes, 16 << 20);
        assert_eq!(from_flags.threshold_spec.to_string(), "majority");
        assert_eq!(from_flags.block.to_string(), "latest");
        assert_eq!(from_flags.multicall.to_string(), "auto");
        assert_eq!(from_flags.max_pin_lag, 64);
    }
}
