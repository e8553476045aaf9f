//! Local fleets of anvil nodes: start them, deploy the voting contracts, cast
//! votes. Used by `quorum-check devnet` and `demo`, and by the integration
//! tests and benchmarks, so that all of them exercise the same real chains.
//! Every anvil is owned by a [`Fleet`]; dropping the fleet kills them all,
//! also when start-up fails half-way. And when this process dies without
//! dropping it (SIGKILL, a panic with `panic = "abort"`), a guard process
//! kills them: the anvils run in the guard's process group, and the guard
//! kills that group as soon as the pipe this process holds to it closes —
//! which the kernel does when this process ends, however it ends.

use std::{
    io::BufRead,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::Duration,
};

use crate::Error;
use alloy::{
    network::TransactionBuilder,
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
    nodes: Vec<AnvilNode>,
    /// One client per node, without fillers: anvil fills nonce, gas and fees
    /// of `eth_sendTransaction` itself, saving a round trip per field.
    providers: Vec<RootProvider>,
    /// Kills the nodes if this process dies without dropping the fleet.
    _guard: Guard,
}

/// Empty blocks mined after each vote of [`Fleet::cast_votes`].
pub const BLOCKS_BETWEEN_VOTES: u64 = 3;

/// How long one anvil may take to say it is listening.
const ANVIL_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// One running anvil.
#[derive(Debug)]
struct AnvilNode {
    child: Child,
    port: u16,
    /// Its funded, unlocked accounts, as it listed them.
    accounts: Vec<Address>,
}

impl AnvilNode {
    /// Starts anvil per `spec` (with `extra` arguments) in process group
    /// `group` (the guard's) and waits until it says it is listening.
    fn spawn(anvil: &Path, spec: &NodeSpec, extra: &[String], group: Option<u32>) -> Result<Self> {
        let mut command = Command::new(anvil);
        command
            .args(["--host", "127.0.0.1", "--port", &spec.port.unwrap_or(0).to_string()])
            .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(chain_id) = spec.chain_id {
            command.args(["--chain-id", &chain_id.to_string()]);
        }
        command.args(extra);
        #[cfg(unix)]
        if let Some(group) = group.and_then(|g| i32::try_from(g).ok()) {
            use std::os::unix::process::CommandExt;
            command.process_group(group);
        }
        #[cfg(not(unix))]
        let _ = group;
        let mut child = command.spawn().context("cannot run anvil")?;
        let Some(stdout) = child.stdout.take() else {
            stop(&mut child);
            bail!("anvil's output cannot be read");
        };
        // Read on a thread of its own, so that a silent anvil cannot hold
        // start-up past its timeout; the thread then keeps draining the
        // output until anvil exits.
        let (lines, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Nobody listens any more once anvil is up: keep draining.
                let _ = lines.send(line);
            }
        });
        let deadline = std::time::Instant::now() + ANVIL_STARTUP_TIMEOUT;
        let mut accounts = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match seen.recv_timeout(left) {
                Ok(line) => line,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    stop(&mut child);
                    bail!("anvil did not start listening within {ANVIL_STARTUP_TIMEOUT:?}");
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    stop(&mut child);
                    bail!("anvil exited before it started listening (is the port in use?)");
                }
            };
            if let Some(address) = line.strip_prefix("Listening on") {
                let port = address.trim().parse::<std::net::SocketAddr>().map(|a| a.port());
                let Ok(port) = port else {
                    stop(&mut child);
                    bail!("anvil listens at an address that is not IP:port");
                };
                return Ok(Self { child, port, accounts });
            }
            // `(0) 0xf39F… (10000.000000000000000000 ETH)`; private keys are
            // listed the same way but are no address.
            if let Some(rest) = line.strip_prefix('(')
                && let Some((_, rest)) = rest.split_once(") ")
                && let Some(Ok(address)) = rest.split_whitespace().next().map(str::parse::<Address>)
            {
                accounts.push(address);
            }
        }
    }
}

/// Kills `child` and reaps it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The guard: `sh` leading a process group of its own, blocked reading a
/// pipe that only this process holds open. When the pipe closes (this
/// process ended, or the fleet was dropped) it kills its whole group — the
/// fleet's anvils, which were started in it, and itself. A group, not a
/// list of process ids: an id can be reused once its anvil is gone, a group
/// id cannot while the guard leads it.
#[derive(Debug)]
struct Guard {
    child: Option<Child>,
    /// The write end of the guard's stdin: closed by the kernel when this
    /// process ends, however it ends.
    _pipe: Option<ChildStdin>,
}

impl Guard {
    /// Starts the guard (on Unix; elsewhere there is none).
    fn start() -> Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            let mut child = Command::new("sh")
                .args(["-c", "read line; kill -9 0"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .context("cannot start the guard process (sh) that stops anvil if quorum-check dies")?;
            let pipe = child.stdin.take();
            Ok(Self {
                child: Some(child),
                _pipe: pipe,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {
            child: None,
            _pipe: None,
        })
    }

    /// The process group the anvils join.
    fn group(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            stop(child);
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            stop(&mut node.child);
        }
        // The guard goes after (its own Drop): the nodes are already gone.
    }
}

impl Fleet {
    /// Starts one anvil per spec, all at once, on 127.0.0.1.
    pub async fn start(anvil: &Path, specs: &[NodeSpec]) -> Result<Self> {
        Self::start_with_args(anvil, specs, &[]).await
    }

    /// Like [`start`](Self::start), with extra anvil arguments for every
    /// node (e.g. `--prune-history`, so that a long chain keeps no old
    /// states on disk).
    pub async fn start_with_args(anvil: &Path, specs: &[NodeSpec], extra: &[&str]) -> Result<Self> {
        let guard = Guard::start()?;
        let group = guard.group();
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let mut tasks = Vec::with_capacity(specs.len());
        for spec in specs {
            let (anvil, spec, extra) = (anvil.to_path_buf(), spec.clone(), extra.clone());
            tasks.push(tokio::task::spawn_blocking(move || {
                AnvilNode::spawn(&anvil, &spec, &extra, group)
            }));
        }
        // Collect every task before failing, so that the nodes that did start
        // are owned (and killed) rather than leaked.
        let mut nodes: Vec<AnvilNode> = Vec::with_capacity(specs.len());
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
        let mut fleet = Self {
            nodes,
            providers: Vec::new(),
            _guard: guard,
        };
        if let Some(e) = first_error {
            return Err(e);
        }
        for i in 0..fleet.len() {
            let url = fleet.url(i).parse().context("anvil's URL")?;
            fleet.providers.push(ProviderBuilder::default().connect_http(url));
        }
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
        futures::future::try_join_all((0..self.len()).map(|i| self.set_code(i, crate::config::CANONICAL, &runtime)))
            .await
            .context("installing the Multicall3-compatible contract")?;
        Ok(())
    }

    /// Removes the Multicall3-compatible contract from node `i`, as on a
    /// chain where Multicall3 is not deployed.
    pub async fn remove_multicall(&self, i: usize) -> Result<()> {
        self.set_code(i, crate::config::CANONICAL, &[]).await
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
        format!("http://127.0.0.1:{}", self.nodes[i].port)
    }

    /// RPC URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.url(i)).collect()
    }

    /// Funded, unlocked accounts of node `i`.
    pub fn accounts(&self, i: usize) -> &[Address] {
        &self.nodes[i].accounts
    }

    /// Stops node `i` (it no longer accepts connections).
    pub fn kill(&mut self, i: usize) {
        stop(&mut self.nodes[i].child);
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
