//! `quorum-check scan`: validate everything (the event, the state file and
//! where it is written, the output file, the block range) before any
//! request, run one [`Scanner`] round, print the hashes — stdout stays
//! pipe-safe: notes about nodes and uncovered blocks go to stderr —, save
//! the state, exit 0 (all covered) or 3 (not all). `watch --discover` opens
//! its scanner through [`open_scanner`] and saves through [`save_state`].

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};

use crate::{
    ExitStatus,
    check::rpc::RpcClient,
    cli::{DiscoverArgs, EndpointArgs, ScanArgs, one_line, output, resolve_nodes},
    config::NodeSource,
    input,
    scan::{ScanSettings, ScanState, Scanner, ToBlock, VoteEvent, render},
    threshold::Threshold,
};

/// Runs a scan; returns the exit code (0 or 3).
pub async fn run(args: &ScanArgs, prefer: Option<NodeSource>) -> anyhow::Result<ExitStatus> {
    let out = output::target(args.output.as_deref());
    output::check_writable(out)?;
    let (mut scanner, state_path) =
        open_scanner(&args.endpoints, prefer, args.contract, &args.discover, args.threshold)?;
    if let ToBlock::Number(to) = args.to_block
        && state_path.is_none()
        && to < scanner.next_block()
    {
        bail!(
            "--to-block {to} is before --from-block {}: nothing to scan",
            scanner.next_block()
        );
    }
    let report = tokio::select! {
        report = scanner.scan(args.to_block) => report?,
        () = super::shutdown_signal() => {
            crate::cli::eprint_line("quorum-check: interrupted: nothing printed, the state file is unchanged");
            return Ok(ExitStatus::Inconclusive);
        }
    };
    for line in render::notes(&report) {
        crate::cli::eprint_line(&format!("quorum-check: {line}"));
    }
    output::emit(out, |w| match args.format {
        render::ScanFormat::Text => render::text(&report, w),
        render::ScanFormat::Json => render::json(&report, w),
    })?;
    if let Some(path) = &state_path {
        save_state(&scanner, path)?;
    }
    Ok(report.exit_code())
}

/// The scanner of `watch --discover` and `serve --discover`: `None`
/// without `--discover`, whose event flags (`--from-block`, `--state`) are
/// then refused.
pub fn discovery_scanner(
    discover: bool,
    check: &crate::cli::CheckArgs,
    discovery: &DiscoverArgs,
    prefer: Option<NodeSource>,
) -> anyhow::Result<Option<(Scanner, Option<PathBuf>)>> {
    if !discover {
        if discovery.from_block.is_some() || discovery.state.is_some() {
            bail!("--from-block and --state find hashes in vote events: add --discover");
        }
        return Ok(None);
    }
    open_scanner(&check.endpoints, prefer, check.contract, discovery, check.threshold).map(Some)
}

/// A scanner for these flags, and the state file to save to: the nodes,
/// the event, the state file read and checked (it must belong to this
/// contract, event and `--chain-id`; its path must be writable) — all
/// before any request.
pub fn open_scanner(
    endpoints: &EndpointArgs,
    prefer: Option<NodeSource>,
    contract: alloy::primitives::Address,
    discover: &DiscoverArgs,
    threshold: Threshold,
) -> anyhow::Result<(Scanner, Option<PathBuf>)> {
    let nodes = resolve_nodes(endpoints, prefer)?;
    let event = VoteEvent::parse(&discover.event, discover.event_field.as_deref()).map_err(|e| anyhow!(e))?;
    let state = match &discover.state {
        Some(path) => {
            check_state_path(path)?;
            read_state(path)?
        }
        None => None,
    };
    let shown = discover
        .state
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let client = RpcClient::for_nodes(&nodes, endpoints.retries, endpoints.max_response_bytes)?;
    let settings = ScanSettings {
        nodes,
        contract,
        event,
        threshold,
        chain_id: endpoints.chain_id,
        log_range: discover.log_range,
        reorg_depth: discover.reorg_depth,
        timeout: endpoints.timeout,
        retries: endpoints.retries,
    };
    let scanner = Scanner::new(settings, client, state, &shown, discover.from_block)?;
    Ok((scanner, discover.state.clone()))
}

/// Writes the scanner's state to `path` atomically (nothing when the
/// chain is not known yet: no node answered).
pub fn save_state(scanner: &Scanner, path: &Path) -> anyhow::Result<()> {
    let Some(state) = scanner.state() else {
        return Ok(());
    };
    output::emit(Some(path), |w| w.write_all(&state.to_json()))
        .map_err(|e| anyhow!(one_line(&e).replace("--output ", "--state ")))
}

/// The state file as found: `None` when it does not exist yet.
fn read_state(path: &Path) -> anyhow::Result<Option<ScanState>> {
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let text = input::read_file(
        path,
        "state file",
        crate::scan::state::MAX_STATE_BYTES,
        input::DEFAULT_READ_WAIT,
    )
    .map_err(|e| anyhow!("state file {shown} is not a quorum-check scan state ({e})"))?;
    Ok(Some(ScanState::parse(&text, &shown).map_err(|e| anyhow!(e))?))
}

/// The same safety as `--output`: only a regular file (or a symlink to one)
/// is replaced, in a directory that accepts new files.
fn check_state_path(path: &Path) -> anyhow::Result<()> {
    output::check_writable(Some(path)).map_err(|e| anyhow!(one_line(&e).replace("--output ", "--state ")))
}
