//! `quorum-check demo`: the original script's scenario on a local fleet — 10
//! nodes, threshold 7; one transaction with 7 approvals (confirmed) and one
//! with 6 (rejected) — then the fleet is torn down.

use alloy::primitives::B256;

use crate::{
    abi::VoteFunction,
    cli::DemoArgs,
    config::{BlockSpec, CheckConfig, Limits, nodes_from_urls},
    devnet::{Contract, Fleet, find_anvil},
    threshold::ThresholdSpec,
};

const NODES: usize = 10;
const THRESHOLD: u128 = 7;

/// Runs the demo; the exit code is 0 when both verdicts came out as expected.
pub async fn run(args: &DemoArgs, color: bool) -> anyhow::Result<u8> {
    let anvil = find_anvil(args.anvil.anvil.as_deref())?;
    crate::eprint_line(&format!("starting {NODES} local anvil nodes…"));
    let fleet = Fleet::start_n(&anvil, NODES).await?;
    let contract = fleet.deploy_all(Contract::Voting).await?;
    let seven = B256::repeat_byte(0x77);
    let six = B256::repeat_byte(0x66);
    let approvals = |k: usize| (0..NODES).map(|i| i < k).collect::<Vec<_>>();
    fleet.cast_votes(contract, &[seven], &approvals(7)).await?;
    fleet.cast_votes(contract, &[six], &approvals(6)).await?;

    let mut worst = 0;
    for (title, tx, expected) in [
        ("7 of 10 nodes approve", seven, 0u8),
        ("6 of 10 nodes approve", six, 1u8),
    ] {
        crate::eprint_line(&format!("\n== {title}, threshold {THRESHOLD} =="));
        let config = CheckConfig {
            nodes: nodes_from_urls(&fleet.urls())?,
            contract,
            function: VoteFunction::builtin(),
            txs: vec![tx],
            threshold_spec: ThresholdSpec::Absolute(THRESHOLD),
            threshold: THRESHOLD,
            total_weight: NODES as u128,
            block: BlockSpec::At(alloy::eips::BlockNumberOrTag::Latest),
            max_pin_lag: crate::config::DEFAULT_MAX_PIN_LAG,
            chain_id: Some(31337),
            limits: Limits {
                timeout: std::time::Duration::from_secs(10),
                deadline: std::time::Duration::from_secs(11),
                retries: 2,
                batch_size: 100,
                max_response_bytes: 16 * 1024 * 1024,
            },
            multicall: crate::config::Multicall::Auto,
            wait_all: true,
        };
        let code = super::check::run_config(&config, args.format, color, None).await?;
        if code != expected {
            worst = worst.max(3);
        }
    }
    drop(fleet);
    crate::eprint_line(&format!("\nstopped the {NODES} anvil nodes"));
    Ok(worst)
}
