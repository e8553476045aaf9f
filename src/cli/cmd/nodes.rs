//! `quorum-check nodes`: the health of every configured node, and whether
//! the healthy ones can reach the threshold at all (exit 1 when they cannot).

use crate::{
    ExitStatus,
    check::rpc::RpcClient,
    cli::output,
    cli::resolve_nodes,
    cli::{HealthFormat, NodesArgs},
    config::{NodeSource, Weights, default_deadline},
    health::{self, HealthCheck},
    render,
};

/// Checks the nodes: success when the healthy weight reaches the threshold, else rejected.
pub async fn run(args: &NodesArgs, prefer: Option<NodeSource>) -> anyhow::Result<ExitStatus> {
    let endpoints = &args.endpoints;
    let nodes = resolve_nodes(endpoints, prefer)?;
    let threshold = Weights::resolve(&nodes, args.threshold, false)?.threshold;
    // Reading the ABI (a FIFO, a slow disk) is bounded as check bounds it.
    let read_wait = default_deadline(endpoints.timeout);
    let function = crate::abi::VoteFunction::resolve_within(args.abi.as_deref(), &args.function, read_wait)?;
    let client = RpcClient::for_nodes(&nodes, endpoints.retries, endpoints.max_response_bytes)?;
    let spec = HealthCheck {
        nodes: &nodes,
        chain_id: endpoints.chain_id,
        contract: args.contract,
        function: &function,
        threshold,
        timeout: endpoints.timeout,
        max_lag: args.max_lag,
        max_head_age: args.max_head_age,
    };
    // Interrupted, it still reports what it heard (the rest `interrupted`).
    let report = health::check_until(&spec, &client, super::shutdown_signal()).await;
    output::emit(None, |out| match args.format {
        HealthFormat::Text => render::health_text(&report, out),
        HealthFormat::Json => serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
        HealthFormat::Prometheus => render::health_prometheus(&report, super::check::unix_now(), out),
    })?;
    // Interrupted, the nodes not heard from are unhealthy: 0 or 1 still.
    Ok(if report.quorum_reachable {
        ExitStatus::Success
    } else {
        ExitStatus::Rejected
    })
}
