//! `scan`: find the transactions to check from the contract's vote events,
//! read from every node. A [`Scanner`] keeps its cursor and what it learned
//! of each node (the log range it accepts, the last block it scanned and
//! that block's hash) from one [`Scanner::scan`] round to the next, so that
//! `watch --discover` — and a service — can call it round after round.
//!
//! A round: survey every node (chain id, the block at `--to-block`, the
//! remembered block's hash: a mismatch is a reorg and moves the start back
//! `--reorg-depth` blocks), fix the last block to scan (the highest that
//! enough weight has reached to cover it), scan every node at once range by
//! range ([`planner`] learns each provider's limit from its refusals, in
//! its own words: [`hint`]), take the [`union`] of what they reported, and
//! advance the cursor only through blocks that enough weight answered
//! ([`coverage`]). [`state`] is the file between runs; [`render`] the output.

pub mod coverage;
pub mod event;
pub mod hint;
mod node;
pub mod planner;
pub mod render;
mod report;
pub mod state;
mod to_block;
pub mod union;

use std::{sync::Mutex, time::Duration};

use alloy::{eips::BlockNumberOrTag, primitives::Address};

pub use event::VoteEvent;
pub use report::{BlockSpan, SCAN_SCHEMA_VERSION, ScanNode, ScanReport, ScanTx};
pub use state::ScanState;
pub use to_block::{ToBlock, parse_block_number};

use crate::{Error, check::rpc::RpcClient, config::Node, threshold::Threshold};
use node::{Ask, BlockHead, Survey};
use planner::RangePlanner;
use state::{NodeState, fingerprint};

/// The default `--log-range`: blocks per `eth_getLogs` to start with.
pub const DEFAULT_LOG_RANGE: u64 = 2_000;
/// The default `--reorg-depth`.
pub const DEFAULT_REORG_DEPTH: u64 = 64;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// The nodes (their `index` is their position).
    pub nodes: Vec<Node>,
    /// The voting contract.
    pub contract: Address,
    /// The vote event and its hash field.
    pub event: VoteEvent,
    /// The threshold: a block is covered when more than `total − threshold` weight answered it.
    pub threshold: Threshold,
    /// The expected chain (`--chain-id`).
    pub chain_id: Option<u64>,
    /// Blocks per `eth_getLogs` to start with, and the most ever asked.
    pub log_range: u64,
    /// How far back to rescan after a reorg.
    pub reorg_depth: u64,
    /// One request's budget, retries included.
    pub timeout: Duration,
    /// Retries of a request that failed for a reason other than its size.
    pub retries: u32,
}

/// Scans round after round, keeping its cursor and each node's learning.
#[derive(Debug)]
pub struct Scanner {
    settings: ScanSettings,
    client: RpcClient,
    total_weight: u128,
    threshold: u128,
    /// Where the next round starts.
    next_block: u64,
    /// The chain of the state file, or of the first round.
    chain_id: Option<u64>,
    planners: Vec<RangePlanner>,
    /// Per node: the last block it scanned and that block's hash.
    last: Vec<Option<(u64, alloy::primitives::B256)>>,
    /// How errors name the state file.
    state_name: String,
}

impl Scanner {
    /// A scanner resuming from `state` (named `state_name` in errors), or
    /// starting at `from_block`. Refuses, before any request, a state of
    /// another contract, event or `--chain-id`, and a start it cannot know.
    pub fn new(
        settings: ScanSettings,
        client: RpcClient,
        state: Option<ScanState>,
        state_name: &str,
        from_block: Option<u64>,
    ) -> Result<Self, Error> {
        let total_weight = crate::config::total_weight(&settings.nodes);
        let threshold = settings
            .threshold
            .resolve(total_weight, false)
            .map_err(|e| Error::Threshold(e.to_string()))?;
        if let Some(s) = &state {
            s.check_belongs(
                state_name,
                settings.contract,
                &settings.event.canonical(),
                settings.chain_id,
            )
            .map_err(Error::Input)?;
        }
        let next_block = match (&state, from_block) {
            (Some(s), _) => s.next_block,
            (None, Some(from)) => from,
            (None, None) => {
                return Err(Error::Input(
                    "--from-block is required: there is no --state file holding where to resume".into(),
                ));
            }
        };
        let remembered = |node: &Node| state.as_ref().and_then(|s| s.node(&fingerprint(node)).cloned());
        let planners = settings
            .nodes
            .iter()
            .map(|n| RangePlanner::new(settings.log_range, remembered(n).map(|s| (s.range, s.range_grows))))
            .collect();
        let last = settings
            .nodes
            .iter()
            .map(|n| remembered(n).map(|s| (s.last_block, s.last_hash)))
            .collect();
        Ok(Self {
            chain_id: settings.chain_id.or(state.as_ref().map(|s| s.chain_id)),
            total_weight,
            threshold,
            next_block,
            planners,
            last,
            state_name: state_name.to_string(),
            client: client.with_retries(settings.retries),
            settings,
        })
    }

    /// The first block the next round will ask for.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// What the state file should hold now (`None` before the chain is known).
    pub fn state(&self) -> Option<ScanState> {
        let chain_id = self.chain_id?;
        let nodes = self
            .settings
            .nodes
            .iter()
            .zip(&self.planners)
            .zip(&self.last)
            .filter_map(|((node, planner), last)| {
                let (last_block, last_hash) = (*last)?;
                Some(NodeState {
                    fingerprint: fingerprint(node),
                    last_block,
                    last_hash,
                    range: planner.size(),
                    range_grows: planner.density_limited(),
                })
            })
            .collect();
        Some(ScanState {
            schema_version: state::STATE_SCHEMA_VERSION,
            contract: self.settings.contract,
            event: self.settings.event.canonical(),
            chain_id,
            next_block: self.next_block,
            nodes,
        })
    }

    /// One round: from the cursor to `to`. A state of another chain than the
    /// nodes serve is an error (nothing is scanned); everything a node does
    /// is data in the report.
    pub async fn scan(&mut self, to: ToBlock) -> Result<ScanReport, Error> {
        let started = tokio::time::Instant::now();
        let logs_client = self.client.with_retries(0);
        let ask = Ask {
            client: &self.client,
            logs_client: &logs_client,
            contract: self.settings.contract,
            event: &self.settings.event,
            timeout: self.settings.timeout,
            retries: self.settings.retries,
        };
        let nodes = &self.settings.nodes;
        let tag = match to {
            ToBlock::Latest | ToBlock::Number(_) => BlockNumberOrTag::Latest,
            ToBlock::Safe => BlockNumberOrTag::Safe,
            ToBlock::Finalized => BlockNumberOrTag::Finalized,
        };
        let surveys = futures::future::join_all(
            nodes
                .iter()
                .zip(&self.last)
                .map(|(node, last)| node::survey(&ask, node, tag, last.map(|l| l.0))),
        )
        .await;
        let mut report = report::Builder::new(nodes, &self.settings.event, self.settings.contract);
        let chain = self.pick_chain(&surveys)?;
        let mut live: Vec<Option<BlockHead>> = vec![None; nodes.len()];
        let mut start = self.next_block;
        for (i, (survey, requests)) in surveys.iter().enumerate() {
            report.requests(i, *requests);
            match survey {
                Err(status) => report.failed(i, status.clone()),
                Ok(s) if Some(s.chain_id) != chain => {
                    report.failed(i, crate::report::NodeStatus::WrongChain { chain_id: s.chain_id })
                }
                Ok(s) => {
                    live[i] = Some(s.head);
                    if let (Some((block, hash)), Some(now)) = (self.last[i], s.remembered)
                        && now != Some(hash)
                    {
                        let from = block.saturating_sub(self.settings.reorg_depth);
                        tracing::warn!(node = %nodes[i].label(), block, rescan_from = from, "reorg: the remembered block's hash changed");
                        report.reorg(i);
                        start = start.min(from);
                    }
                }
            }
        }
        self.chain_id = self.chain_id.or(chain);
        let needed = coverage::needed_weight(self.total_weight, self.threshold);
        let end = match to {
            ToBlock::Number(n) => Some(n),
            _ => reachable(&live, nodes, needed),
        };
        let Some(end) = end else {
            return Ok(report.build(start, None, Vec::new(), started.elapsed()));
        };
        let union = Mutex::new(union::Union::new(nodes.len()));
        let scans = futures::future::join_all(self.planners.iter_mut().enumerate().map(|(i, planner)| {
            let (ask, union, node) = (&ask, &union, &nodes[i]);
            let head = live[i];
            async move {
                let head = head?;
                let node_end = end.min(head.number.to::<u64>());
                if start > node_end {
                    return None;
                }
                let scanned = node::scan_logs(ask, node, i, planner, start..=node_end, union).await;
                // The last block's hash, for the next round's reorg check.
                let last = match scanned.answered.as_ref().map(|a| *a.end()) {
                    Some(b) if b == head.number.to::<u64>() => Some((b, Some(head.hash), 0)),
                    Some(b) => {
                        let (hash, requests) = node::block_hash(ask, node, b).await;
                        Some((b, hash, requests))
                    }
                    None => None,
                };
                Some((scanned, last))
            }
        }))
        .await;
        let union = union.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut answered = Vec::with_capacity(nodes.len());
        for (i, scan) in scans.into_iter().enumerate() {
            let Some((scanned, last)) = scan else {
                answered.push((nodes[i].weight, Vec::new()));
                continue;
            };
            let blocks: coverage::Blocks = scanned.answered.clone().into_iter().collect();
            report.scanned(i, &scanned, union.missing(i, &blocks), self.planners[i].size());
            if let Some((block, hash, requests)) = last {
                report.requests(i, requests);
                if let Some(hash) = hash {
                    self.last[i] = Some((block, hash));
                }
            }
            answered.push((nodes[i].weight, blocks));
        }
        let range = start..=end;
        let gaps = coverage::uncovered(range.clone(), &answered, needed);
        if start <= end {
            self.next_block = coverage::next_block(&range, &gaps);
        }
        report.txs(&union);
        Ok(report.build(start, Some(end), gaps, started.elapsed()))
    }

    /// The chain of this scan: `--chain-id`, the state's, or the one most
    /// weight answered for. A state whose chain no node serves is an error.
    fn pick_chain(&self, surveys: &[(Result<Survey, crate::report::NodeStatus>, u32)]) -> Result<Option<u64>, Error> {
        let mut weights: std::collections::BTreeMap<u64, u128> = std::collections::BTreeMap::new();
        for (node, (survey, _)) in self.settings.nodes.iter().zip(surveys) {
            if let Ok(s) = survey {
                *weights.entry(s.chain_id).or_default() += u128::from(node.weight);
            }
        }
        let most = weights.iter().max_by_key(|(_, w)| **w).map(|(c, _)| *c);
        match (self.chain_id, most) {
            (Some(expected), Some(seen)) if self.settings.chain_id.is_none() && !weights.contains_key(&expected) => {
                Err(Error::Input(if self.state_name.is_empty() {
                    format!("the scan began on chain {expected}, but the nodes now serve chain {seen}")
                } else {
                    format!(
                        "state file {} belongs to chain {expected}, but the nodes serve chain {seen}: use another --state file",
                        self.state_name
                    )
                }))
            }
            (Some(expected), _) => Ok(Some(expected)),
            (None, most) => Ok(most),
        }
    }
}

/// The highest block that nodes holding `needed` weight have all reached
/// (the lowest head seen when too little weight answered); `None` when no
/// node told its head.
fn reachable(heads: &[Option<BlockHead>], nodes: &[Node], needed: u128) -> Option<u64> {
    let mut known: Vec<(u64, u64)> = heads
        .iter()
        .zip(nodes)
        .filter_map(|(h, n)| h.map(|h| (h.number.to::<u64>(), n.weight)))
        .collect();
    known.sort_unstable_by_key(|k| std::cmp::Reverse(k.0));
    let mut weight = 0u128;
    for (head, w) in &known {
        weight += u128::from(*w);
        if weight >= needed {
            return Some(*head);
        }
    }
    known.last().map(|k| k.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_what_enough_weight_has_reached() {
        let node = |w: u64| {
            let mut n = Node::at(0, crate::node_url::NodeUrl::parse("http://127.0.0.1:1").unwrap());
            n.weight = w;
            n
        };
        let head = |n: u64| {
            Some(BlockHead {
                number: alloy::primitives::U64::from(n),
                hash: Default::default(),
            })
        };
        let nodes = vec![node(1), node(1), node(2), node(1)];
        let heads = vec![head(100), head(90), head(80), None];
        // Needs 2: node 1 and 2 reached 90.
        assert_eq!(reachable(&heads, &nodes, 2), Some(90));
        assert_eq!(reachable(&heads, &nodes, 4), Some(80));
        // More than answered: the lowest head seen.
        assert_eq!(reachable(&heads, &nodes, 9), Some(80));
        assert_eq!(reachable(&[None, None, None, None], &nodes, 1), None);
    }
}
