//! The library example of the README ("As a library"), compiled by `cargo
//! test` so the README's code cannot drift from the API: tests/readme.rs
//! checks that the README shows this file's code, line for line, from
//! `// Cargo.toml:` to the end.

// Cargo.toml: quorum-check = { …, default-features = false },
// tokio = { version = "1", features = ["rt-multi-thread", "macros"] }, serde_json = "1".
use quorum_check::{Address, B256, Checker, Node, Threshold, Verdict, VoteFunction};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let contract: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse()?;
    let voter: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse()?;
    let hashes: Vec<B256> = vec!["0x1111111111111111111111111111111111111111111111111111111111111111".parse()?];

    let checker = Checker::builder()
        .node(Node::new("https://eth.example/v2/KEY")?.weight(2))
        .node(Node::new("http://10.0.0.7:8545")?.name("own").from(voter))
        .contract(contract)
        .function(VoteFunction::parse("vote(bytes32)(bool)")?)
        .threshold(Threshold::parse("2/3")?)
        .timeout(std::time::Duration::from_secs(5))
        .build()?; // validates as the CLI does, with the same messages
    let report = checker.check(&hashes).await?; // or check_with_cancel(&hashes, shutdown)

    for tx in report.txs() {
        println!("{:#x}: {} (yes {})", tx.tx_hash(), tx.verdict().phrase(), tx.yes());
    }
    // Each hash is checked and listed once; look one up by its hash.
    let confirmed = report
        .get(&hashes[0])
        .is_some_and(|tx| tx.verdict() == Verdict::Confirmed);
    println!("first hash confirmed: {confirmed}");
    println!("{}", serde_json::to_string(&report)?); // the `check --format json` document
    Ok(())
}
