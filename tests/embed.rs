//! examples/embed.rs — a service-style loop on the library (one checker,
//! many checks, its own runtime) — run against a real anvil fleet.

mod support;

#[path = "../examples/embed.rs"]
#[allow(dead_code)]
mod embed;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_example_checks_until_confirmed() {
    let h = tx(90);
    let (fleet, contract) = voting_fleet(3, &[(h, 1)]).await;
    let mut args = vec![format!("{contract:#x}"), hex(h)];
    args.extend(fleet.urls());
    // One approval of three: 2/3 is not met, so every round is a check that does not confirm.
    let waiting = {
        let args = args.clone();
        tokio::task::spawn_blocking(move || embed::run(&args, 3, Duration::from_millis(100)).unwrap())
    };
    assert!(!waiting.await.unwrap(), "one vote of three does not confirm 2/3");
    // A second node approves while the service loops: it confirms.
    let looping = {
        let args = args.clone();
        tokio::task::spawn_blocking(move || embed::run(&args, 50, Duration::from_millis(100)).unwrap())
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet.cast_vote(1, contract, h, true).await.unwrap();
    assert!(looping.await.unwrap());
    // Bad input is an error, not a panic.
    let bad = vec!["0x12".to_string(), hex(h), fleet.url(0)];
    let err = tokio::task::spawn_blocking(move || embed::run(&bad, 1, Duration::ZERO).map_err(|e| e.to_string()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.contains("invalid"), "{err}");
}
