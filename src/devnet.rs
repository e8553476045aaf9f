//! Local fleets of anvil nodes: start them, deploy the voting contracts, cast
//! votes. Used by `quorum-check devnet` and `demo`, and by the integration
//! tests and benchmarks, so that all of them exercise the same real chains.
//! Every anvil is owned by a [`Fleet`]; dropping the fleet kills them all,
//! also when start-up fails half-way.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::Error;
use alloy::{
    network::TransactionBuilder,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, Bytes, U256, hex},
    providers::{Provider, ProviderBuilder, RootProvider},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};

/// `Result` for the fleet: failures are [`Error::Devnet`], one line each.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "what was being done" to a failure, as one line.
trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::Devnet(format!("{what}: {e}")))
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Devnet(format!("{}: {e}", what())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| Error::Devnet(what.to_string()))
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| Error::Devnet(what()))
    }
}

/// Any failure of the nodes or their client, as a fleet error.
fn fail(e: impl std::fmt::Display) -> Error {
    Error::Devnet(e.to_string())
}

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(Error::Devnet(format!($($arg)*)))
    };
}

sol!(VotingContract, "abi/Voting.json");
sol!(WeightedVotingContract, "abi/WeightedVoting.json");
sol!(VoterRegistryContract, "abi/VoterRegistry.json");

/// The ABI of `Voting`, built in so `demo` works from any directory.
pub const VOTING_ABI: &str = include_str!("../abi/Voting.json");

/// The contracts the fleet can deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// One node's yes/no opinion per deployment.
    Voting,
    /// One node's uint weight per deployment.
    WeightedVoting,
    /// One contract, one vote per caller.
    VoterRegistry,
}

impl Contract {
    fn bytecode(self) -> &'static str {
        match self {
            Self::Voting => include_str!("../contracts/out/Voting.bin"),
            Self::WeightedVoting => include_str!("../contracts/out/WeightedVoting.bin"),
            Self::VoterRegistry => include_str!("../contracts/out/VoterRegistry.bin"),
        }
    }
}

/// How to start one node.
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    /// Listen port; `None` lets the OS choose.
    pub port: Option<u16>,
    /// Chain id; `None` is anvil's default (31337).
    pub chain_id: Option<u64>,
}

/// A running set of anvil nodes, killed on drop.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<AnvilInstance>,
    /// One client per node, without fillers: anvil fills nonce, gas and fees
    /// of `eth_sendTransaction` itself, saving a round trip per field.
    providers: Vec<RootProvider>,
}

/// Empty blocks mined after each vote of [`Fleet::cast_votes`].
pub const BLOCKS_BETWEEN_VOTES: u64 = 3;

/// How long one anvil may take to say it is listening.
const ANVIL_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

impl Fleet {
    /// Starts one anvil per spec, all at once, on 127.0.0.1.
    pub async fn start(anvil: &Path, specs: &[NodeSpec]) -> Result<Self> {
        Self::start_with_args(anvil, specs, &[]).await
    }

    /// Like [`start`](Self::start), with extra anvil arguments for every
    /// node (e.g. `--prune-history`, so that a long chain keeps no old
    /// states on disk).
    pub async fn start_with_args(anvil: &Path, specs: &[NodeSpec], extra: &[&str]) -> Result<Self> {
        let mut tasks = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut builder = Anvil::at(anvil)
                .host("127.0.0.1")
                .args(extra.iter().copied())
                .timeout(ANVIL_STARTUP_TIMEOUT.as_millis() as u64);
            if let Some(port) = spec.port {
                builder = builder.port(port);
            }
            if let Some(chain_id) = spec.chain_id {
                builder = builder.chain_id(chain_id);
            }
            tasks.push(tokio::task::spawn_blocking(move || builder.try_spawn()));
        }
        // Collect every task before failing, so that the nodes that did start
        // are owned (and killed) rather than leaked.
        let mut nodes = Vec::with_capacity(specs.len());
        let mut first_error = None;
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok(Ok(node)) => nodes.push(node),
                Ok(Err(e)) => {
                    first_error
                        .get_or_insert_with(|| Error::Devnet(format!("anvil node {} failed to start: {e}", i + 1)));
                }
                Err(e) => {
                    first_error
                        .get_or_insert_with(|| Error::Devnet(format!("anvil node {} failed to start: {e}", i + 1)));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let providers = nodes
            .iter()
            .map(|n| ProviderBuilder::default().connect_http(n.endpoint_url()))
            .collect();
        let fleet = Self { nodes, providers };
        fleet.install_multicall().await?;
        Ok(fleet)
    }

    /// Puts a Multicall3-compatible contract (`contracts/Aggregator.sol`) at
    /// Multicall3's canonical address on every node, as on public chains, so
    /// that checks against the fleet take quorum-check's default path. The
    /// runtime code is what its creation code returns in an `eth_call`: no
    /// transaction, so no nonce moves and contract addresses stay as usual.
    async fn install_multicall(&self) -> Result<()> {
        let Some(first) = self.providers.first() else {
            return Ok(());
        };
        let creation = hex::decode(include_str!("../contracts/out/Aggregator.bin").trim())
            .context("contracts/out/Aggregator.bin is not hex")?;
        let runtime = first
            .call(TransactionRequest::default().with_deploy_code(Bytes::from(creation)))
            .await
            .context("computing the Multicall3-compatible contract's code")?;
        futures::future::try_join_all(
            (0..self.len()).map(|i| self.set_code(i, crate::check::multicall::CANONICAL, &runtime)),
        )
        .await
        .context("installing the Multicall3-compatible contract")?;
        Ok(())
    }

    /// Removes the Multicall3-compatible contract from node `i`, as on a
    /// chain where Multicall3 is not deployed.
    pub async fn remove_multicall(&self, i: usize) -> Result<()> {
        self.set_code(i, crate::check::multicall::CANONICAL, &[]).await
    }

    /// Starts `n` default nodes.
    pub async fn start_n(anvil: &Path, n: usize) -> Result<Self> {
        Self::start(anvil, &vec![NodeSpec::default(); n]).await
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the fleet has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// RPC URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].port())
    }

    /// RPC URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.url(i)).collect()
    }

    /// Funded, unlocked accounts of node `i`.
    pub fn accounts(&self, i: usize) -> &[Address] {
        self.nodes[i].addresses()
    }

    /// Stops node `i` (it no longer accepts connections).
    pub fn kill(&mut self, i: usize) {
        let _ = self.nodes[i].child_mut().kill();
        let _ = self.nodes[i].child_mut().wait();
    }

    /// Deploys `contract` from the first account of node `i`; returns its address.
    pub async fn deploy(&self, i: usize, contract: Contract) -> Result<Address> {
        let code = hex::decode(contract.bytecode().trim()).context("contract bytecode is not hex")?;
        let tx = TransactionRequest::default()
            .from(self.accounts(i)[0])
            .with_deploy_code(Bytes::from(code));
        let receipt = self.send(i, tx).await?;
        receipt.context("deployment receipt has no contract address")
    }

    /// Deploys `contract` on every node from the same account and nonce, so it
    /// has the same address everywhere (as a real multi-node setup would).
    pub async fn deploy_all(&self, contract: Contract) -> Result<Address> {
        let addresses = futures::future::try_join_all((0..self.len()).map(|i| self.deploy(i, contract))).await?;
        let first = addresses[0];
        if addresses.iter().any(|a| *a != first) {
            bail!("the contract landed at different addresses on different nodes");
        }
        Ok(first)
    }

    /// `Voting.castVote(tx, approve)` on node `i`.
    pub async fn cast_vote(&self, i: usize, contract: Address, tx: B256, approve: bool) -> Result<()> {
        let data = VotingContract::castVoteCall { txHash: tx, approve }.abi_encode();
        self.call(i, self.accounts(i)[0], contract, data).await
    }

    /// `WeightedVoting.castVote(tx, weight)` on node `i`.
    pub async fn cast_weight(&self, i: usize, contract: Address, tx: B256, weight: U256) -> Result<()> {
        let data = WeightedVotingContract::castVoteCall { txHash: tx, weight }.abi_encode();
        self.call(i, self.accounts(i)[0], contract, data).await
    }

    /// `VoterRegistry.addVoter(voter)` on node `i`, from its admin (first account).
    pub async fn add_voter(&self, i: usize, registry: Address, voter: Address) -> Result<()> {
        let data = VoterRegistryContract::addVoterCall { voter }.abi_encode();
        self.call(i, self.accounts(i)[0], registry, data).await
    }

    /// `VoterRegistry.castVote(tx, approve)` on node `i`, from `voter`.
    pub async fn registry_vote(
        &self,
        i: usize,
        registry: Address,
        voter: Address,
        tx: B256,
        approve: bool,
    ) -> Result<()> {
        let data = VoterRegistryContract::castVoteCall { txHash: tx, approve }.abi_encode();
        self.call(i, voter, registry, data).await
    }

    /// Casts `approvals[i]` on node `i` for every hash in `txs`, each vote
    /// [`BLOCKS_BETWEEN_VOTES`] blocks after the one before, as votes on a
    /// live chain come at different heights (what `scan` reads them from).
    pub async fn cast_votes(&self, contract: Address, txs: &[B256], approvals: &[bool]) -> Result<()> {
        futures::future::try_join_all(approvals.iter().enumerate().map(|(i, approve)| async move {
            for tx in txs {
                self.cast_vote(i, contract, *tx, *approve).await?;
                self.mine(i, BLOCKS_BETWEEN_VOTES).await?;
            }
            Ok::<(), Error>(())
        }))
        .await?;
        Ok(())
    }

    /// Replaces the code at `address` on node `i` (anvil_setCode).
    pub async fn set_code(&self, i: usize, address: Address, code: &[u8]) -> Result<()> {
        self.providers[i]
            .raw_request::<_, serde_json::Value>("anvil_setCode".into(), (address, Bytes::copy_from_slice(code)))
            .await
            .with_context(|| format!("anvil_setCode on node {}", i + 1))?;
        Ok(())
    }

    /// Mines `blocks` empty blocks on node `i`.
    pub async fn mine(&self, i: usize, blocks: u64) -> Result<()> {
        self.providers[i]
            .raw_request::<_, serde_json::Value>("anvil_mine".into(), (U256::from(blocks),))
            .await
            .with_context(|| format!("anvil_mine on node {}", i + 1))?;
        Ok(())
    }

    async fn call(&self, i: usize, from: Address, to: Address, data: Vec<u8>) -> Result<()> {
        let tx = TransactionRequest::default()
            .from(from)
            .to(to)
            .with_input(Bytes::from(data));
        self.send(i, tx).await.map(|_| ())
    }

    /// Sends a transaction through anvil's unlocked account and returns the
    /// created contract's address, if any. Anvil mines it at once.
    async fn send(&self, i: usize, tx: TransactionRequest) -> Result<Option<Address>> {
        let provider = &self.providers[i];
        let pending = provider
            .send_transaction(tx)
            .await
            .with_context(|| format!("sending to node {}", i + 1))?;
        let hash = *pending.tx_hash();
        let receipt = match provider.get_transaction_receipt(hash).await.map_err(fail)? {
            Some(r) => r,
            None => pending.get_receipt().await.map_err(fail)?,
        };
        if !receipt.status() {
            bail!("transaction {hash} reverted on node {}", i + 1);
        }
        Ok(receipt.contract_address)
    }
}

/// Finds anvil: `explicit` (`--anvil` / `ANVIL_BIN`), then `PATH`, then the
/// npm package in `node_modules` of this directory, its parents, or the
/// quorum-check source tree.
pub fn find_anvil(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("anvil not found at {} (from --anvil or ANVIL_BIN)", path.display());
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("anvil");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut roots: Vec<PathBuf> = std::env::current_dir()
        .map(|d| d.ancestors().map(Path::to_path_buf).collect())
        .unwrap_or_default();
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for root in roots {
        let scope = root.join("node_modules").join("@foundry-rs");
        let Ok(entries) = std::fs::read_dir(&scope) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("anvil-"))
            .map(|e| e.path().join("bin").join("anvil"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if let Some(path) = found.into_iter().next() {
            return Ok(path);
        }
    }
    bail!(
        "anvil not found: run `npm ci` in the quorum-check repository (it installs the pinned @foundry-rs/anvil), or pass --anvil PATH, or set ANVIL_BIN"
    )
}
