//! A service embedding quorum-check: one [`Checker`] built at start-up, then
//! many checks from its own loop on its own Tokio runtime — no process per
//! check, no CLI. Run it against a local fleet (`quorum-check devnet`):
//!
//! ```sh
//! cargo run --example embed -- 0x5FbDB2315678afecb367f032d93F642f64180aa3 \
//!   0x1111111111111111111111111111111111111111111111111111111111111111 \
//!   http://127.0.0.1:8545 http://127.0.0.1:8546 http://127.0.0.1:8547
//! ```
//!
//! The fleet on those ports comes from `quorum-check devnet --nodes 3 --port
//! 8545` (in another terminal): its contract is at the address above, and
//! its nodes vote on the hash above by default.
//!
//! Arguments: the contract, one transaction hash, then the node URLs. It
//! checks the hash every second until it is confirmed (exit 0) or 5 rounds
//! have passed (exit 1).

use std::time::Duration;

use quorum_check::{Checker, Node, Threshold, Verdict, VoteFunction};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, 5, Duration::from_secs(1)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("embed: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Checks `args[1]` on the nodes `args[2..]` for contract `args[0]` up to
/// `rounds` times, `every` apart; `Ok(true)` once it is confirmed.
pub fn run(args: &[String], rounds: u32, every: Duration) -> Result<bool, Box<dyn std::error::Error>> {
    let [contract, hash, urls @ ..] = args else {
        return Err("usage: embed CONTRACT TX_HASH NODE_URL...".into());
    };
    // The service's own runtime; the checker lives as long as the service.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut builder = Checker::builder()
            .contract(contract.parse()?)
            .function(VoteFunction::parse("vote(bytes32)(bool)")?)
            .threshold(Threshold::parse("2/3")?)
            .timeout(Duration::from_secs(3));
        for url in urls {
            builder = builder.node(Node::new(url)?);
        }
        let checker = builder.build()?;
        let hash = hash.parse()?;
        for round in 1..=rounds {
            let report = checker.check(&[hash]).await?;
            let tx = report.tx(0);
            println!(
                "round {round}: {:?} (yes {} of {}, threshold {})",
                tx.verdict(),
                tx.yes(),
                tx.total_weight(),
                tx.threshold()
            );
            if tx.verdict() == Verdict::Confirmed {
                return Ok(true);
            }
            tokio::time::sleep(every).await;
        }
        Ok(false)
    })
}
