//! `quorum-check devnet`: a local fleet that stays up until Ctrl-C/SIGTERM.

use std::fmt::Write as _;

use alloy::primitives::B256;
use anyhow::bail;

use crate::{
    ExitStatus,
    cli::DevnetArgs,
    devnet::{Contract, Fleet, NodeSpec, find_anvil},
};

/// The hash voted on when none is given.
pub const DEFAULT_TX: B256 = B256::repeat_byte(0x11);

/// Starts the fleet, prints how to check it, waits for a stop signal.
pub async fn run(args: &DevnetArgs) -> anyhow::Result<ExitStatus> {
    let n = args.nodes as usize;
    // By default a majority approves, so the printed check confirms.
    let approve = args.approve.map(|a| a as usize).unwrap_or(n / 2 + 1);
    if approve > n {
        bail!("--approve {approve} is more than --nodes {n}");
    }
    if let Some(base) = args.port
        && (base == 0 || usize::from(base) + n > usize::from(u16::MAX) + 1)
    {
        bail!("--port {base}: {n} consecutive ports from there do not fit in 1..=65535");
    }
    let anvil = find_anvil(args.anvil.anvil.as_deref())?;
    // A taken port would only show as anvil's start-up timing out: say so up front.
    if let Some(base) = args.port {
        for port in (0..n as u16).map(|i| base + i) {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!("port {port} on 127.0.0.1 is in use (--port {base} needs {n} free ports from there)");
            }
        }
    }
    let txs = if args.tx.is_empty() {
        vec![DEFAULT_TX]
    } else {
        args.tx.clone()
    };
    let specs: Vec<NodeSpec> = (0..n)
        .map(|i| NodeSpec {
            port: args.port.map(|p| p + i as u16),
            chain_id: None,
        })
        .collect();

    crate::cli::eprint_line(&format!("starting {n} anvil nodes…"));
    // Listen for a stop before starting anything: a signal during start-up
    // then drops the half-built fleet (killing its nodes) instead of the process.
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    let approvals: Vec<bool> = (0..n).map(|i| i < approve).collect();
    let setup = async {
        let fleet = Fleet::start(&anvil, &specs).await?;
        let contract = fleet.deploy_all(Contract::Voting).await?;
        fleet.cast_votes(contract, &txs, &approvals).await?;
        anyhow::Ok((fleet, contract))
    };
    let (fleet, contract) = tokio::select! {
        ready = setup => ready?,
        () = &mut shutdown => {
            crate::cli::eprint_line("stopped during start-up");
            return Ok(ExitStatus::Success);
        }
    };

    let mut block = String::new();
    let urls = fleet.urls().join(",");
    let tx_list = txs.iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>().join(",");
    let threshold = approve.max(1);
    let _ = writeln!(
        block,
        "# {n} anvil nodes up; {approve} approve and {} reject each transaction.",
        n - approve
    );
    let _ = writeln!(
        block,
        "# Paste into .env (or export) in any directory, then run: quorum-check check"
    );
    let _ = writeln!(block, "QUORUM_RPC_URLS={urls}");
    let _ = writeln!(block, "QUORUM_CONTRACT={contract:#x}");
    let _ = writeln!(block, "QUORUM_TX={tx_list}");
    let _ = writeln!(block, "QUORUM_THRESHOLD={threshold}");
    let _ = writeln!(block, "QUORUM_CHAIN_ID=31337");
    let _ = writeln!(block);
    let _ = writeln!(block, "# Or in one line:");
    let _ = writeln!(
        block,
        "quorum-check check --rpc {} --contract {contract:#x} --tx {} --threshold {threshold} --chain-id 31337",
        fleet.urls().join(" --rpc "),
        txs.iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>().join(" --tx "),
    );
    // A stdout that cannot be written (full disk) ends devnet — and the
    // fleet with it, when it is dropped on the way out.
    crate::cli::output::write_stdout(block.as_bytes())?;
    crate::cli::eprint_line("fleet is up; Ctrl-C or SIGTERM stops it");
    shutdown.await;
    drop(fleet);
    crate::cli::eprint_line(&format!("stopped all {n} anvil nodes"));
    Ok(ExitStatus::Success)
}
