//! `quorum-check check`: validate the configuration, ask every node, render
//! the report, exit with the verdict's code.

use std::io::Write;

use crate::{
    cli::{CheckArgs, Format},
    config::{CheckConfig, NodeSource},
    fanout, render,
    rpc::RpcClient,
};

/// Runs a check; returns the exit code (0, 1 or 3).
pub async fn run(args: &CheckArgs, prefer: Option<NodeSource>) -> anyhow::Result<u8> {
    let config = CheckConfig::from_args(args, prefer)?;
    run_config(&config, args.format, args.quiet).await
}

/// Runs an already validated check and prints it to stdout.
pub async fn run_config(config: &CheckConfig, format: Format, quiet: bool) -> anyhow::Result<u8> {
    tracing::info!(
        nodes = config.nodes.len(),
        txs = config.txs.len(),
        threshold = %config.threshold,
        "checking"
    );
    let client = RpcClient::new(config.limits.retries, config.limits.max_response_bytes)?;
    let report = fanout::run(config, &client, super::shutdown_signal()).await;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = render::render(&report, format, quiet, &mut out).and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(anyhow::anyhow!("cannot write the report: {e}")),
    }
    Ok(report.exit_code())
}
