//! Shared test support: real anvil fleets (through the crate's own `devnet`
//! module), a hermetic way to run the CLI, and typed access to its JSON.

#![allow(dead_code)]

pub mod logs;
pub mod proxy;

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use alloy::primitives::{Address, B256};
use quorum_check::{
    devnet::{Contract, Fleet, find_anvil},
    report::CheckReport,
};

/// The repository root (for ABI files).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn abi(name: &str) -> String {
    repo().join("abi").join(name).display().to_string()
}

pub fn anvil() -> PathBuf {
    find_anvil(None).expect("anvil is installed by `npm ci`")
}

/// `n` fresh anvil nodes.
pub async fn fleet(n: usize) -> Fleet {
    Fleet::start_n(&anvil(), n).await.expect("fleet starts")
}

/// A fleet of `n` nodes with Voting deployed on each; for each `(tx, k)`,
/// the first `k` nodes approve `tx` and the others reject it.
pub async fn voting_fleet(n: usize, votes: &[(B256, usize)]) -> (Fleet, Address) {
    let fleet = fleet(n).await;
    let contract = fleet.deploy_all(Contract::Voting).await.expect("deploy");
    for (tx, k) in votes {
        let approvals: Vec<bool> = (0..n).map(|i| i < *k).collect();
        fleet.cast_votes(contract, &[*tx], &approvals).await.expect("votes");
    }
    (fleet, contract)
}

/// A distinct transaction hash per `i`.
pub fn tx(i: u64) -> B256 {
    alloy::primitives::keccak256(i.to_be_bytes())
}

pub fn hex(h: B256) -> String {
    format!("{h:#x}")
}

/// The CLI with an empty environment, run in an empty temporary directory
/// (so no `.env` of the developer's leaks in).
pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quorum-check"));
        cmd.env_clear().current_dir(self.dir.path());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd
    }

    /// Runs with `args`, blocking.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.run_env(args, &[])
    }

    pub fn run_env<I, S>(&self, args: I, env: &[(&str, &str)]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = std::time::Instant::now();
        let output = cmd.output().expect("run quorum-check");
        Run {
            output,
            elapsed: started.elapsed(),
        }
    }

    /// Runs asynchronously (the test's runtime keeps serving proxies meanwhile).
    pub async fn run_async(&self, args: Vec<String>) -> Run {
        self.run_async_env(args, &[]).await
    }

    /// Like [`run_async`](Self::run_async), with extra environment variables.
    pub async fn run_async_env(&self, args: Vec<String>, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        cmd.args(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let output = cmd.output().expect("run quorum-check");
            Run {
                output,
                elapsed: started.elapsed(),
            }
        })
        .await
        .expect("join")
    }
}

/// A finished CLI run.
pub struct Run {
    pub output: Output,
    pub elapsed: std::time::Duration,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("exited normally")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// The JSON report, typed.
    pub fn report(&self) -> CheckReport {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a report ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    /// Asserts a usage error: exit 2, one `quorum-check: error:` line naming `culprit`, nothing on stdout.
    pub fn assert_usage_error(&self, culprit: &str) {
        let err = self.stderr();
        assert_eq!(self.code(), 2, "exit code; stderr: {err}");
        assert!(self.output.stdout.is_empty(), "stdout: {}", self.stdout());
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("quorum-check: error: "), "{err}");
        assert!(err.contains(culprit), "expected {culprit:?} in: {err}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    }
}

/// `check` arguments for `urls`, a contract and hashes, JSON output.
pub fn check_args(urls: &[String], contract: Address, txs: &[B256], extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "check".to_string(),
        "--format".into(),
        "json".into(),
        "--abi".into(),
        abi("Voting.json"),
    ];
    args.extend(["--contract".into(), format!("{contract:#x}")]);
    for url in urls {
        args.extend(["--rpc".into(), url.clone()]);
    }
    for t in txs {
        args.extend(["--tx".into(), hex(*t)]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Whether this is a CI run (`CI` set, and not to `false` or `0`): a test
/// that cannot run all its checks there fails instead of checking less.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Where skipped checks are recorded for `.ci/run`'s closing summary
/// (libtest and nextest hide a passing test's stderr).
pub fn skip_log() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("skipped-checks.txt")
}

/// The path of the system tool `name` (from Debian package `package`), found
/// on `PATH`. When it is missing: under CI the test fails, naming the tool
/// and its package (`.ci/run` installs them all); elsewhere the test goes on
/// without it, and `unchecked` — what is then not checked — is printed and
/// recorded in [`skip_log`], which `.ci/run` prints at its end.
pub fn require_tool(name: &str, package: &str, unchecked: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    });
    if found.is_some() {
        return found;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let line = format!("{test}: {name} not installed (Debian package {package}): {unchecked} not checked");
    assert!(
        !in_ci(),
        "{line}; CI installs it (`apt-get install {package}`, see .ci/run)"
    );
    eprintln!("SKIPPED CHECK {line}");
    record_skip(&line);
    None
}

/// Appends one line to [`skip_log`] (one `write` call per line: tests in
/// parallel processes do not interleave within a line).
pub fn record_skip(line: &str) {
    use std::io::Write;
    let path = skip_log();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    if let Ok(mut file) = file {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Runtime code that reverts every call with `Error("closed")`: CODECOPY
/// the ABI-encoded error (after this 12-byte prefix) to memory 0, REVERT with it.
pub fn reverting_code() -> Vec<u8> {
    use alloy::sol_types::{Revert, SolError};
    let payload = Revert::from("closed").abi_encode();
    let n = payload.len() as u8;
    let mut code = vec![0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xfd];
    code.extend(payload);
    code
}

/// The head block of the node at `url`, asked directly (not through quorum-check).
pub async fn head(url: &str) -> u64 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    let answer: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("eth_blockNumber")
        .json()
        .await
        .expect("a JSON answer");
    let quantity = answer["result"].as_str().expect("a quantity");
    u64::from_str_radix(quantity.trim_start_matches("0x"), 16).expect("hex")
}

/// A port nothing listens on (bound once by the OS, then released): a
/// request to it is refused at once.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
