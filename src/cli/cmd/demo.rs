//! `quorum-check demo`: the original script's scenario on a local fleet — 10
//! nodes, threshold 7; one transaction with 7 approvals (confirmed) and one
//! with 6 (rejected) — then the fleet is torn down.

use alloy::primitives::B256;

use crate::{
    ExitStatus,
    cli::DemoArgs,
    config::{CheckConfig, CheckParts, nodes_from_urls},
    devnet::{Contract, Fleet, find_anvil},
    threshold::Threshold,
};

const NODES: usize = 10;
const THRESHOLD: u128 = 7;

/// Runs the demo: success when both verdicts came out as expected, else inconclusive.
pub async fn run(args: &DemoArgs, color: bool) -> anyhow::Result<ExitStatus> {
    let anvil = find_anvil(args.anvil.anvil.as_deref())?;
    crate::cli::eprint_line(&format!("starting {NODES} local anvil nodes…"));
    let fleet = Fleet::start_n(&anvil, NODES).await?;
    let contract = fleet.deploy_all(Contract::Voting).await?;
    let seven = B256::repeat_byte(0x77);
    let six = B256::repeat_byte(0x66);
    let approvals = |k: usize| (0..NODES).map(|i| i < k).collect::<Vec<_>>();
    fleet.cast_votes(contract, &[seven], &approvals(7)).await?;
    fleet.cast_votes(contract, &[six], &approvals(6)).await?;

    let mut outcome = ExitStatus::Success;
    for (title, tx, expected) in [
        ("7 of 10 nodes approve", seven, ExitStatus::Success),
        ("6 of 10 nodes approve", six, ExitStatus::Rejected),
    ] {
        crate::cli::eprint_line(&format!("\n== {title}, threshold {THRESHOLD} =="));
        // Every node is waited for: the demo shows each node's vote.
        let config = CheckConfig::new(CheckParts {
            txs: vec![tx],
            threshold: Threshold::Absolute(THRESHOLD),
            chain_id: Some(31337),
            wait_all: true,
            ..CheckParts::new(nodes_from_urls(&fleet.urls())?, contract)
        })?;
        let status = super::check::run_config(&config, args.format, color, None).await?;
        if status != expected {
            outcome = ExitStatus::Inconclusive;
        }
    }
    drop(fleet);
    crate::cli::eprint_line(&format!("\nstopped the {NODES} anvil nodes"));
    Ok(outcome)
}
