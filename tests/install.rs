//! Installed as `cargo install` leaves it: the binary alone, copied to a
//! directory outside the repository and run from another, against a real
//! anvil fleet — no ABI file, no `node_modules`, no `.env` of the project's.

mod support;

use std::process::Command;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_alone_works_from_any_directory() {
    let (fleet, contract) = voting_fleet(3, &[(tx(1), 2), (tx(2), 1)]).await;
    let root = tempfile::tempdir().unwrap();
    let bin_dir = root.path().join("bin");
    let work = root.path().join("work");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let bin = bin_dir.join("quorum-check");
    std::fs::copy(env!("CARGO_BIN_EXE_quorum-check"), &bin).unwrap();
    let run = |args: Vec<String>| {
        let bin = bin.clone();
        let work = work.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(&bin)
                .args(&args)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .current_dir(&work)
                .output()
                .unwrap()
        })
    };
    let check = |h| {
        let mut args = vec!["check".to_string(), "--contract".into(), format!("{contract:#x}")];
        for url in fleet.urls() {
            args.extend(["--rpc".into(), url]);
        }
        args.extend([
            "--tx".into(),
            hex(h),
            "--threshold".into(),
            "2".into(),
            "--chain-id".into(),
            "31337".into(),
            "--wait-all".into(),
        ]);
        args
    };
    let out = run(check(tx(1))).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Transaction confirmed") && text.contains("(yes 2 of 3, threshold 2)"),
        "{text}"
    );
    let out = run(check(tx(2))).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Transaction rejected"));

    // The rest of a new user's first minutes.
    for args in [
        vec!["--version"],
        vec!["completions", "bash"],
        vec!["man", "--dir", "man1"],
    ] {
        let out = run(args.iter().map(|s| s.to_string()).collect()).await.unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(work.join("man1/quorum-check-check.1").is_file());
}
