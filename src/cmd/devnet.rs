//! `quorum-check devnet`: a local fleet that stays up until Ctrl-C/SIGTERM.

use alloy::primitives::B256;
use anyhow::bail;

use crate::{
    cli::DevnetArgs,
    devnet::{Contract, Fleet, NodeSpec, find_anvil},
};

/// The hash voted on when none is given.
pub const DEFAULT_TX: B256 = B256::repeat_byte(0x11);

/// Starts the fleet, prints how to check it, waits for a stop signal.
pub async fn run(args: &DevnetArgs) -> anyhow::Result<u8> {
    let n = args.nodes as usize;
    let approve = args.approve as usize;
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

    eprintln!("starting {n} anvil nodes…");
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
            eprintln!("stopped during start-up");
            return Ok(0);
        }
    };

    let urls = fleet.urls().join(",");
    let tx_list = txs.iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>().join(",");
    println!(
        "# {n} anvil nodes up; {approve} approve and {} reject each transaction.",
        n - approve
    );
    println!(
        "# Paste into .env (or export), then run: quorum-check check --threshold {}",
        approve.max(1)
    );
    println!("QUORUM_RPC_URLS={urls}");
    println!("QUORUM_CONTRACT={contract:#x}");
    println!("QUORUM_TX={tx_list}");
    println!("QUORUM_CHAIN_ID=31337");
    println!();
    println!("# Or in one line:");
    println!(
        "quorum-check check --rpc {} --contract {contract:#x} --tx {} --threshold {}",
        fleet.urls().join(" --rpc "),
        txs.iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>().join(" --tx "),
        approve.max(1),
    );
    eprintln!("fleet is up; Ctrl-C or SIGTERM stops it");
    shutdown.await;
    drop(fleet);
    eprintln!("stopped all {n} anvil nodes");
    Ok(0)
}
