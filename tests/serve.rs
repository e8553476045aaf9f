//! `quorum-check serve` against real anvil fleets and real HTTP clients: it
//! exports metrics and answers checks like `check`, and it cannot be knocked
//! over — each attack is played: 1,100 idle connections under a 1,024
//! descriptor limit, silent and slow clients, huge headers, a rebinding
//! `Host`, a flood of identical checks (counted at the proxies in front of
//! the nodes), bad token files, and a heavy check while probes come in.

mod support;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use quorum_check::report::CheckReport;
use support::{
    proxy::{Fault, Proxy},
    *,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn prometheus(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("valid exposition format")
}

fn samples<'a>(
    scrape: &'a prometheus_parse::Scrape,
    metric: &'a str,
) -> impl Iterator<Item = &'a prometheus_parse::Sample> + 'a {
    scrape.samples.iter().filter(move |s| s.metric == metric)
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(scrape, metric)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v)
            | prometheus_parse::Value::Counter(v) => v,
            ref other => panic!("{metric}: {other:?}"),
        })
}

/// A running `quorum-check serve`, killed on drop.
struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    /// `127.0.0.1:PORT`
    addr: String,
    /// Every stderr line so far.
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// `serve` arguments: the `check` flags for `urls` and `contract`, listening on a free port.
fn serve_args(urls: &[String], contract: alloy::primitives::Address, extra: &[&str]) -> Vec<String> {
    let mut args = check_args(urls, contract, &[], extra);
    args[0] = "serve".into();
    // serve refuses --format (it serves both JSON and Prometheus).
    if let Some(at) = args.iter().position(|a| a == "--format") {
        args.drain(at..at + 2);
    }
    args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    args
}

/// Starts `serve` with `args` (which begin with "serve"); returns once it
/// says where it listens.
fn serve(cli: &Cli, args: &[String]) -> Serve {
    let mut cmd = cli.command();
    cmd.args(args);
    start(cmd)
}

/// Starts `serve` under a shell that first sets the open-file limit (soft
/// and hard) to `nofile`: serve cannot raise it.
fn serve_with_fd_limit(cli: &Cli, args: &[String], nofile: u32) -> Serve {
    let mut cmd = Command::new("sh");
    cmd.env_clear().current_dir(cli.dir.path());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_quorum-check"))
        .args(args);
    start(cmd)
}

fn start(mut cmd: Command) -> Serve {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let base = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("serve ended before listening: {}", lines.lock().unwrap().join("\n"));
        }
        lines.lock().unwrap().push(line.trim_end().to_string());
        if let Some(base) = line.trim().strip_prefix("quorum-check: listening on ") {
            break base.to_string();
        }
    };
    // Keep draining stderr so the process never blocks on it.
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    let addr = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .unwrap()
        .to_string();
    Serve {
        child,
        base,
        addr,
        stderr: lines,
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url).timeout(Duration::from_secs(20));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// One request written as is on a fresh connection; the whole answer.
async fn raw(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of a raw answer.
fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

async fn ready(s: &Serve) {
    for _ in 0..100 {
        if get(&s.url("/readyz"), None).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("serve not ready within 10 s: {}", s.stderr());
}

/// A token file readable by its owner only.
fn token_file(cli: &Cli, name: &str, token: &str) -> std::path::PathBuf {
    let path = cli.write(name, token);
    set_mode(&path, 0o600);
    path
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Resident memory of a process, in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc (Linux)");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// Raises this test process's soft open-file limit to at least `wanted`.
fn raise_own_fd_limit(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= wanted,
        "this test opens {wanted} sockets; the hard open-file limit is {hard}"
    );
    if soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
}

/// Runs the command line expecting it to stop by itself within 20 s
/// (a serve that starts instead of refusing is killed and reported).
fn run_expecting_exit(cli: &Cli, args: &[String]) -> Run {
    let mut cmd = cli.command();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run quorum-check");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after 20 s instead of refusing: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run {
        output: child.wait_with_output().unwrap(),
        elapsed: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_metrics_and_answers_like_check() {
    let hs: Vec<B256> = (20..24).map(tx).collect();
    let (fleet, contract) = voting_fleet(3, &[(hs[0], 3), (hs[1], 1), (hs[2], 2)]).await;
    // One node behind a path carrying a key: it must never come back in a response.
    let key = "sk_live_SERVE_KEY_42";
    // It is also slow: a check that needs it is still in flight 300 ms later.
    let keyed = Proxy::start(&fleet.url(2), Fault::Delay(Duration::from_millis(800))).await;
    let urls = vec![fleet.url(0), fleet.url(1), format!("{}/v2/{key}", keyed.url)];
    let cli = Cli::new();
    let file = cli.write("pending.txt", &format!("{}\n", hex(hs[0])));
    let mut args = serve_args(&urls, contract, &["--threshold", "2"]);
    args.extend(["--tx-file", &path_str(&file), "--interval", "200ms"].map(String::from));
    let server = serve(&cli, &args);
    ready(&server).await;
    assert_eq!(get(&server.url("/healthz"), None).await, (200, "ok\n".into()));

    let (status, text) = get(&server.url("/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(!text.contains(key));
    let scrape = prometheus(&text);
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]),
        Some(1.0)
    );
    assert_eq!(
        samples(&scrape, "quorum_check_node_up").count(),
        3,
        "every node waited for"
    );

    // /v1/check answers as `check --format json` does.
    let query: String = hs
        .iter()
        .map(|h| format!("tx={}", hex(*h)))
        .collect::<Vec<_>>()
        .join("&");
    let (status, body) = get(&server.url(&format!("/v1/check?{query}")), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(key));
    let api: CheckReport = serde_json::from_str(&body).unwrap();
    let cli_run = cli
        .run_async(check_args(&urls, contract, &hs, &["--threshold", "2"]))
        .await;
    let direct = cli_run.report();
    let outline = |r: &CheckReport| {
        r.txs
            .iter()
            .map(|t| (t.tx_hash, t.verdict, t.yes, t.threshold))
            .collect::<Vec<_>>()
    };
    assert_eq!(outline(&api), outline(&direct));
    assert_eq!(api.schema_version, direct.schema_version);
    assert_eq!(api.nodes.len(), 3);

    // Bad requests: a JSON error naming the problem.
    let (status, body) = get(&server.url("/v1/check?tx=0x12"), None).await;
    assert_eq!(status, 400);
    assert!(body.contains("error"), "{body}");
    assert_eq!(get(&server.url("/v1/check"), None).await.0, 400);
    assert_eq!(get(&server.url("/nothing"), None).await.0, 404);

    // The hash list edited while serving: the next rounds use it.
    std::fs::write(&file, format!("{}\n{}\n", hex(hs[0]), hex(hs[2]))).unwrap();
    let mut confirmed = 0.0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let scrape = prometheus(&get(&server.url("/metrics"), None).await.1);
        confirmed = value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]).unwrap();
        if confirmed == 2.0 {
            break;
        }
    }
    assert_eq!(confirmed, 2.0, "the edited list was not picked up");

    // SIGTERM: a clean stop, exit 0, with a check in flight finishing
    // (hs[1]: one yes, one no — the slow node decides).
    let in_flight = tokio::spawn({
        let url = server.url(&format!("/v1/check?tx={}", hex(hs[1])));
        async move { get(&url, None).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut server = server;
    terminate(server.child.id());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let report: CheckReport = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report.txs[0].nodes[2].status.name(),
        "ok",
        "the slow node's answer came in"
    );
}

fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bounds_concurrent_checks_and_guards_its_address() {
    let h = tx(30);
    let (fleet, contract) = voting_fleet(1, &[(h, 1)]).await;
    let slow = Proxy::start(&fleet.url(0), Fault::Delay(Duration::from_millis(800))).await;
    let cli = Cli::new();
    let token = "s3cret-token-0123456789";
    let token_file = token_file(&cli, "token", &format!("{token}\n"));
    let mut args = serve_args(std::slice::from_ref(&slow.url), contract, &["--threshold", "1"]);
    args.extend(
        [
            "--max-concurrent-checks",
            "1",
            "--auth-token-file",
            &path_str(&token_file),
        ]
        .map(String::from),
    );
    let server = serve(&cli, &args);
    let url = server.url(&format!("/v1/check?tx={}", hex(h)));
    // No token: 401 (but /healthz is open for liveness probes).
    assert_eq!(get(&url, None).await.0, 401);
    assert_eq!(get(&url, Some("wrong")).await.0, 401);
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);
    // Two different checks at once with room for one: one answer, one 429.
    // (Identical ones would share one fan-out: see identical_checks_share_one_fan_out….)
    let other = server.url(&format!("/v1/check?tx={}", hex(tx(31))));
    let client = reqwest::Client::new();
    let send = |url: String| {
        let request = client.get(url).bearer_auth(token);
        async move {
            let response = request.send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (a, b) = tokio::join!(send(url.clone()), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send(other.clone()).await
    });
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 429], "{a:?} {b:?}");

    // A public address without a token is refused before anything starts.
    let mut args = serve_args(&[fleet.url(0)], contract, &[]);
    let listen = args.len() - 1;
    args[listen] = "0.0.0.0:0".into();
    cli.run(args).assert_usage_error("--auth-token-file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_is_ready_only_while_its_rounds_are_fresh() {
    let h = tx(40);
    let (fleet, contract) = voting_fleet(1, &[(h, 1)]).await;
    // Every round waits 3 s for this node; readiness allows 2 × 500 ms.
    let slow = Proxy::start(&fleet.url(0), Fault::Delay(Duration::from_secs(3))).await;
    let cli = Cli::new();
    let file = cli.write("pending.txt", &hex(h));
    let token = "t0ken-t0ken-t0ken";
    let token_file = token_file(&cli, "token", token);
    let mut args = serve_args(std::slice::from_ref(&slow.url), contract, &["--threshold", "1"]);
    args.extend(
        [
            "--tx-file",
            &path_str(&file),
            "--interval",
            "500ms",
            "--auth-token-file",
            &path_str(&token_file),
        ]
        .map(String::from),
    );
    let server = serve(&cli, &args);
    // Before the first round: neither metrics nor ready.
    assert_eq!(get(&server.url("/metrics"), Some(token)).await.0, 503);
    // Readiness needs no token (probes send none) and says nothing more.
    assert_eq!(get(&server.url("/readyz"), None).await, (503, "not ready\n".into()));
    assert_eq!(
        get(&server.url("/metrics"), None).await.0,
        401,
        "the token guards /metrics"
    );
    let mut waited = 0;
    while get(&server.url("/readyz"), None).await.0 != 200 {
        waited += 1;
        assert!(waited < 200, "no round finished within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(&server.url("/readyz"), None).await, (200, "ready\n".into()));
    let (status, metrics) = get(&server.url("/metrics"), Some(token)).await;
    assert_eq!(status, 200);
    // The next round is still out 2 s after the first ended (its node takes
    // 3 s): stale, not ready — and the answer tells an outsider nothing about
    // the rounds. (Timed from the round's own end, as /metrics gives it: a
    // loaded machine may notice readiness late.)
    let ended = value(&prometheus(&metrics), "quorum_check_run_timestamp_seconds", &[]).unwrap();
    let wait = (ended + 2.0 - unix_now()).max(0.0);
    assert!(wait > 0.0, "readiness noticed more than 2 s after the round ended");
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    assert_eq!(get(&server.url("/readyz"), None).await, (503, "not ready\n".into()));
    // Metrics still serve the last completed round meanwhile.
    assert_eq!(get(&server.url("/metrics"), Some(token)).await.0, 200);
}

/// The attack of issue 16: 1,100 connections that never send a byte, with
/// serve under a soft = hard limit of 1,024 descriptors. Before: /healthz
/// timed out, and the background rounds failed with "Too many open files".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_probes_and_keeps_its_rounds_under_1100_idle_connections() {
    raise_own_fd_limit(4096);
    let h = tx(50);
    let (fleet, contract) = voting_fleet(3, &[(h, 3)]).await;
    let cli = Cli::new();
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "2"]);
    args.extend(["--tx", &hex(h), "--interval", "200ms"].map(String::from));
    let server = serve_with_fd_limit(&cli, &args, 1024);
    ready(&server).await;

    let flood_began = unix_now();
    let mut idle = Vec::with_capacity(1100);
    for _ in 0..1100 {
        idle.push(TcpStream::connect(&server.addr).await.expect("connect"));
    }
    for _ in 0..5 {
        let started = Instant::now();
        let answer = get(&server.url("/healthz"), None).await;
        assert_eq!(answer, (200, "ok\n".into()));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "/healthz took {:?} with 1,100 idle connections open",
            started.elapsed()
        );
    }
    // The background rounds still reach every node: a round that ended
    // after the flood began saw all three up.
    let (fresh_and_up, last) = loop {
        let (status, text) = get(&server.url("/metrics"), None).await;
        assert_eq!(status, 200);
        let scrape = prometheus(&text);
        let ended = value(&scrape, "quorum_check_run_timestamp_seconds", &[]).unwrap();
        let up: f64 = samples(&scrape, "quorum_check_node_up")
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                ref other => panic!("{other:?}"),
            })
            .sum();
        if ended > flood_began + 0.5 {
            break (up == 3.0, text);
        }
        assert!(
            unix_now() < flood_began + 20.0,
            "no round ended in the 20 s after the flood began: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        fresh_and_up,
        "a node is down after the flood:\n{last}\n{}",
        server.stderr()
    );
    let scrape = prometheus(&last);
    let max = value(&scrape, "quorum_check_serve_max_connections", &[]).unwrap();
    // Below the limit by at least what the checks may hold upstream: 3 nodes
    // × 4 requests in flight × (4 API checks + 1 round).
    assert!(
        max <= 1024.0 - 60.0,
        "a cap of {max} leaves the checks too few descriptors"
    );
    assert!(value(&scrape, "quorum_check_serve_connections", &[]).unwrap() <= max);
    let evicted = value(
        &scrape,
        "quorum_check_serve_connections_closed_total",
        &[("reason", "evicted")],
    )
    .unwrap();
    assert!(evicted >= 1100.0 - max, "{evicted} evicted");
    // The attacker sees its oldest connections closed.
    let mut closed = 0;
    for stream in idle.iter_mut().take(50) {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await {
            closed += 1;
        }
    }
    assert!(closed > 0, "none of the oldest idle connections was closed");
    assert!(!server.stderr().contains("Too many open files"), "{}", server.stderr());
}

/// Slowloris and its relatives: a client that sends nothing, one that sends
/// its head a byte every half second, and a keep-alive connection left idle
/// after one answer are all closed after the 10 s header-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_closes_silent_slow_and_idle_clients() {
    let (fleet, contract) = voting_fleet(1, &[]).await;
    let cli = Cli::new();
    let server = serve(&cli, &serve_args(&fleet.urls(), contract, &["--threshold", "1"]));
    ready(&server).await;
    let bound = Duration::from_secs(18);

    let silent = async {
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(bound, stream.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "silent client still connected: {read:?}"
        );
        started.elapsed()
    };
    let slow = async {
        let stream = TcpStream::connect(&server.addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let started = Instant::now();
        let trickle = async {
            writer
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
                .await
                .unwrap();
            for byte in b"X-Slow: ".iter().cycle() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
            }
        };
        let mut answer = Vec::new();
        tokio::select! {
            _ = tokio::time::timeout(bound, reader.read_to_end(&mut answer)) => {}
            () = trickle => {}
        }
        assert!(started.elapsed() < bound, "slow client still connected after {bound:?}");
        assert!(
            !String::from_utf8_lossy(&answer).contains("200 OK"),
            "a head that never ended was answered"
        );
        started.elapsed()
    };
    let kept_alive = async {
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(bound, stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "idle keep-alive connection still open after {bound:?}");
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
        started.elapsed()
    };
    let (a, b, c) = tokio::join!(silent, slow, kept_alive);
    // Closed by the timeout, not by accident right away.
    for waited in [a, b, c] {
        assert!(waited >= Duration::from_secs(8), "closed after {waited:?}");
    }
    let scrape = prometheus(&get(&server.url("/metrics"), None).await.1);
    let timeouts = value(
        &scrape,
        "quorum_check_serve_connections_closed_total",
        &[("reason", "header_timeout")],
    )
    .unwrap();
    assert!(timeouts >= 3.0, "{timeouts}");
}

/// Headers are capped small: a 20 KiB head gets 431, and 600 connections
/// each pushing 390 KB of a head that never ends do not grow serve's memory
/// (before: 7.5 → 246 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_huge_headers_without_holding_them() {
    raise_own_fd_limit(2048);
    let (fleet, contract) = voting_fleet(1, &[]).await;
    let cli = Cli::new();
    let server = serve(&cli, &serve_args(&fleet.urls(), contract, &["--threshold", "1"]));
    ready(&server).await;

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let answer = raw(&server.addr, &big).await;
    assert_eq!(status_of(&answer), 431, "{answer}");
    // A normal head still passes.
    let answer = raw(
        &server.addr,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&answer), 200);

    let before = rss_mib(server.child.id());
    let chunk = format!("X-Pad: {}\r\n", "b".repeat(16 * 1024 - 10));
    let mut held = Vec::new();
    let mut pushes = tokio::task::JoinSet::new();
    for _ in 0..600 {
        let stream = TcpStream::connect(&server.addr).await.expect("connect");
        let (reader, mut writer) = stream.into_split();
        held.push(reader);
        let chunk = chunk.clone();
        pushes.spawn(async move {
            let _ = writer.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n").await;
            let mut sent = 0;
            while sent < 390_000 {
                if writer.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += chunk.len();
            }
            writer
        });
    }
    let mut writers = Vec::new();
    while let Some(done) = tokio::time::timeout(Duration::from_secs(30), pushes.join_next())
        .await
        .expect("the pushes end: serve stops reading or closes")
    {
        writers.push(done.unwrap());
    }
    let after = rss_mib(server.child.id());
    assert!(
        after - before < 64.0,
        "serve's RSS grew from {before:.1} to {after:.1} MiB holding unfinished heads"
    );
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);
    let scrape = prometheus(&get(&server.url("/metrics"), None).await.1);
    let too_large = value(
        &scrape,
        "quorum_check_serve_connections_closed_total",
        &[("reason", "header_too_large")],
    )
    .unwrap();
    assert!(too_large >= 600.0, "{too_large}");
}

/// Amplification: one `/v1/check` of N hashes costs N calls per node. Eight
/// identical checks at once cost one fan-out's worth at the proxies; a
/// repeat within --cache-ttl costs nothing; after it, one fan-out again.
/// serve counts the calls it sent on /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_checks_share_one_fan_out_and_repeats_reuse_it() {
    let hs: Vec<B256> = (60..70).map(tx).collect();
    let votes: Vec<(B256, usize)> = hs.iter().map(|h| (*h, 3)).collect();
    let (fleet, contract) = voting_fleet(3, &votes).await;
    let mut proxies = Vec::new();
    for i in 0..3 {
        proxies.push(Proxy::start(&fleet.url(i), Fault::Delay(Duration::from_millis(400))).await);
    }
    let urls: Vec<String> = proxies.iter().map(|p| p.url.clone()).collect();
    let cli = Cli::new();
    let mut args = serve_args(&urls, contract, &["--threshold", "2", "--multicall", "off"]);
    args.extend(["--cache-ttl", "3s"].map(String::from));
    let server = serve(&cli, &args);
    ready(&server).await;
    let eth_calls = || proxies.iter().map(Proxy::eth_calls).sum::<usize>();
    let calls = || proxies.iter().map(Proxy::calls).sum::<usize>();
    assert_eq!(calls(), 0, "no hash to watch: the rounds ask nothing");

    let query: String = hs
        .iter()
        .map(|h| format!("tx={}", hex(*h)))
        .collect::<Vec<_>>()
        .join("&");
    let url = server.url(&format!("/v1/check?{query}"));
    // One client, built before: the eight requests leave at once.
    let client = reqwest::Client::new();
    let fetch = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(&url).send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let answers = futures::future::join_all((0..8).map(|_| fetch(url.clone()))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    // One fan-out: each of 3 nodes asked each of 10 hashes once.
    assert_eq!(eth_calls(), 10 * 3);
    assert!(
        answers.iter().all(|(_, body)| *body == answers[0].1),
        "every requester gets the same document"
    );
    let report: CheckReport = serde_json::from_str(&answers[0].1).unwrap();
    assert!(report.txs.iter().all(|t| t.verdict == quorum_check::Verdict::Confirmed));

    // Within the TTL: answered without asking anyone.
    let (status, body) = fetch(url.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(eth_calls(), 30);
    assert!(body == answers[0].1, "the same document");
    // The same hashes written differently are the same check.
    let comma: String = hs
        .iter()
        .map(|h| hex(*h).to_uppercase().replace("0X", "0x"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(fetch(server.url(&format!("/v1/check?tx={comma}"))).await.0, 200);
    assert_eq!(eth_calls(), 30);

    let scrape = prometheus(&get(&server.url("/metrics"), None).await.1);
    assert_eq!(
        value(&scrape, "quorum_check_serve_upstream_calls_total", &[]),
        Some(calls() as f64),
        "serve's count matches the proxies'"
    );
    let answered = |source: &str| value(&scrape, "quorum_check_serve_checks_total", &[("source", source)]);
    assert_eq!(answered("fanout"), Some(1.0));
    // The other seven rode on the fan-out in flight, or (on a loaded machine,
    // arriving after it ended) took its answer from the cache; then two repeats.
    let (shared, cached) = (answered("shared").unwrap(), answered("cached").unwrap());
    assert_eq!(shared + cached, 9.0, "shared {shared}, cached {cached}");
    assert!(cached >= 2.0, "the repeats: cached {cached}");

    // After the TTL: asked again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(fetch(url.clone()).await.0, 200);
    assert_eq!(eth_calls(), 60);
}

/// DNS rebinding: a page on the attacker's name, re-resolved to 127.0.0.1,
/// reaches serve with the attacker's name in Host. It gets 421; loopback
/// names, the listen address and --allowed-host values pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_rebinding_host() {
    let h = tx(70);
    let (fleet, contract) = voting_fleet(1, &[(h, 1)]).await;
    let cli = Cli::new();
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    args.extend(["--allowed-host", "monitor.example"].map(String::from));
    let server = serve(&cli, &args);
    ready(&server).await;
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let ask = |path: String, host: Option<String>| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let version = if host.is_empty() { "1.0" } else { "1.1" };
        let request = format!("GET {path} HTTP/{version}\r\n{host}Connection: close\r\n\r\n");
        let addr = server.addr.clone();
        async move { status_of(&raw(&addr, &request).await) }
    };
    let check = format!("/v1/check?tx={}", hex(h));
    for evil in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        "monitor.example.evil.example".into(),
    ] {
        assert_eq!(ask(check.clone(), Some(evil.clone())).await, 421, "{evil}");
        assert_eq!(ask("/metrics".into(), Some(evil.clone())).await, 421, "{evil}");
    }
    for good in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "monitor.example:9464".into(),
        "MONITOR.EXAMPLE".into(),
    ] {
        assert_eq!(ask("/metrics".into(), Some(good.clone())).await, 200, "{good}");
    }
    assert_eq!(ask(check.clone(), Some(format!("localhost:{port}"))).await, 200);
    // HTTP/1.0 without Host (old probes): no browser, no rebinding.
    assert_eq!(ask("/metrics".into(), None).await, 200);
    // Probes reveal nothing: they pass whatever their Host.
    assert_eq!(ask("/healthz".into(), Some("evil.example".into())).await, 200);
    // A bad --allowed-host is a usage error naming the flag.
    let mut args = serve_args(&fleet.urls(), contract, &[]);
    args.extend(["--allowed-host", "http://monitor.example/"].map(String::from));
    cli.run(args).assert_usage_error("--allowed-host");
}

/// Token files: a non-ASCII token (it locked everyone out) and a short one
/// are refused at start; a file others may read is warned about; the
/// bearer scheme matches in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_vets_its_token_file() {
    let (fleet, contract) = voting_fleet(1, &[]).await;
    let cli = Cli::new();
    let with_token = |path: &std::path::Path| {
        let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
        args.extend(["--auth-token-file".to_string(), path_str(path)]);
        args
    };
    let accented = token_file(&cli, "accented", "pässwörd-0123456789-abcdef\n");
    let run = run_expecting_exit(&cli, &with_token(&accented));
    run.assert_usage_error("--auth-token-file");
    assert!(run.stderr().contains("ASCII"), "{}", run.stderr());
    let short = token_file(&cli, "short", "s3cret-token\n");
    let run = run_expecting_exit(&cli, &with_token(&short));
    run.assert_usage_error("--auth-token-file");
    assert!(run.stderr().contains("fewer than 16"), "{}", run.stderr());
    assert!(!run.stderr().contains("s3cret"), "the token is never printed");

    // Readable by others: served, with a warning.
    let token = "0123456789abcdef-ghijkl";
    let open = cli.write("open", token);
    set_mode(&open, 0o644);
    let server = serve(&cli, &with_token(&open));
    ready(&server).await;
    assert!(
        server.stderr().contains("readable by group or others"),
        "{}",
        server.stderr()
    );
    let metrics = server.url("/metrics");
    let with_scheme = |scheme: &'static str| {
        let metrics = metrics.clone();
        async move {
            reqwest::Client::new()
                .get(&metrics)
                .header("Authorization", format!("{scheme} {token}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(with_scheme("Bearer").await, 200);
    assert_eq!(with_scheme("bearer").await, 200);
    assert_eq!(with_scheme("BEARER").await, 200);
    assert_eq!(with_scheme("Basic").await, 401);
    assert_eq!(get(&metrics, None).await.0, 401);
    assert_eq!(get(&server.url("/readyz"), None).await, (200, "ready\n".into()));
    drop(server);

    // Owner-only: no warning.
    let private = token_file(&cli, "private", token);
    let server = serve(&cli, &with_token(&private));
    ready(&server).await;
    assert!(!server.stderr().contains("readable by group"), "{}", server.stderr());
}

/// `/healthz` keeps answering while heavy checks run: background rounds of
/// 60,000 hashes, each tallied and written with the per-transaction
/// series (420,000 lines) — seconds of CPU per round in a debug build, one
/// round after another. The node is down, so the work is all
/// serve's own. Before, the one-thread runtime held every probe that came
/// in during that work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_heavy_checks_run() {
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let cli = Cli::new();
    let list: String = (0..60_000u64).map(|i| hex(tx(1_000_000 + i)) + "\n").collect();
    let file = cli.write("pending.txt", &list);
    let contract = alloy::primitives::Address::repeat_byte(0x11);
    let mut args = serve_args(&[dead], contract, &["--threshold", "1", "--retries", "0"]);
    args.extend(["--tx-file", &path_str(&file), "--metrics-per-tx", "--interval", "100ms"].map(String::from));
    let server = serve(&cli, &args);
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut metrics = None;
    // Probe for 6 s and until a round has ended (the rounds did run meanwhile).
    while started.elapsed() < Duration::from_secs(6) || metrics.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no round ended in 120 s: {}",
            server.stderr()
        );
        let asked = Instant::now();
        let status = client.get(server.url("/healthz")).send().await.unwrap().status();
        assert_eq!(status, 200);
        latencies.push(asked.elapsed());
        if metrics.is_none() && latencies.len() % 25 == 0 {
            let response = client.get(server.url("/metrics")).send().await.unwrap();
            if response.status() == 200 {
                metrics = Some(response.text().await.unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        metrics.is_some_and(|m| m.contains("quorum_check_tx_verdict{")),
        "the per-transaction series"
    );
    latencies.sort();
    let p90 = latencies[latencies.len() * 9 / 10];
    let slowest = latencies[latencies.len() - 1];
    eprintln!(
        "{} probes; median {:?}, p90 {p90:?}, slowest {slowest:?}",
        latencies.len(),
        latencies[latencies.len() / 2]
    );
    assert!(
        p90 < Duration::from_millis(100),
        "one probe in ten waited {p90:?} or more (slowest {slowest:?})"
    );
}

/// Polls `/v1/pending` until `done` holds for its document (10 s at most).
async fn pending_until(server: &Serve, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let mut last = String::new();
    for _ in 0..100 {
        let (status, body) = get(&server.url("/v1/pending"), None).await;
        if status == 200 {
            let document: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            if done(&document) {
                return document;
            }
        }
        last = format!("{status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/v1/pending never got there; last answer: {last}\n{}", server.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_discover_checks_voted_hashes_and_lists_the_unconfirmed() {
    // Before serve starts: one hash every node approved, one only one of three did.
    let (fleet, contract) = voting_fleet(3, &[(tx(60), 3), (tx(61), 1)]).await;
    let cli = Cli::new();
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "2"]);
    args.extend(
        [
            "--discover",
            "--from-block",
            "0",
            "--state",
            "serve-state.json",
            "--interval",
            "300ms",
        ]
        .map(String::from),
    );
    let server = serve(&cli, &args);
    ready(&server).await;

    let first = pending_until(&server, |d| d["discovered"] == 2).await;
    let pending: Vec<&str> = first["pending"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["tx_hash"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [hex(tx(61))], "{first}");
    assert_eq!(first["pending"][0]["verdict"], "rejected", "{first}");
    assert!(first["pending"][0]["first_block"].as_u64().unwrap() > 0, "{first}");

    // A vote cast while serve runs is found in a later round and confirmed.
    fleet
        .cast_votes(contract, &[tx(62)], &[true, true, false])
        .await
        .unwrap();
    let later = pending_until(&server, |d| d["discovered"] == 3).await;
    let node_head = head(&fleet.url(0)).await;
    assert!(later["scan_head_block"].as_u64().unwrap() <= node_head, "{later}");
    assert_eq!(later["pending"].as_array().unwrap().len(), 1, "{later}");

    // The metrics agree once a round has checked the new hash.
    let mut scrape = None;
    for _ in 0..50 {
        let (status, text) = get(&server.url("/metrics"), None).await;
        assert_eq!(status, 200, "{text}");
        let s = prometheus(&text);
        if value(&s, "quorum_check_discovered_txs", &[("verdict", "confirmed")]) == Some(2.0) {
            scrape = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scrape = scrape.unwrap_or_else(|| panic!("tx 62 never confirmed: {}", server.stderr()));
    assert_eq!(
        value(&scrape, "quorum_check_discovered_txs", &[("verdict", "rejected")]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_discovered_txs", &[("verdict", "unchecked")]),
        Some(0.0)
    );
    let scanned = value(&scrape, "quorum_check_scan_head_block", &[]).expect("the scan head");
    assert!(scanned >= 1.0 && scanned <= head(&fleet.url(0)).await as f64);
    // Every discovered hash is checked like a listed one.
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]),
        Some(2.0)
    );
    // The scan's place is kept for the next start.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli.path("serve-state.json")).expect("the state file"))
            .expect("JSON");
    assert_eq!(
        state["contract"].as_str().map(str::to_lowercase),
        Some(format!("{contract:#x}"))
    );
    assert!(state["next_block"].as_u64().unwrap() > 1, "{state}");
}

#[tokio::test]
async fn serve_without_discover_has_no_pending_list_and_refuses_scan_flags() {
    let (fleet, contract) = voting_fleet(1, &[(tx(63), 1)]).await;
    let cli = Cli::new();
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    args.extend(["--tx", &hex(tx(63)), "--interval", "300ms"].map(String::from));
    let server = serve(&cli, &args);
    ready(&server).await;
    let (status, body) = get(&server.url("/v1/pending"), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("--discover"), "{body}");
    drop(server);

    args.extend(["--from-block", "0"].map(String::from));
    let run = run_expecting_exit(&cli, &args);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("add --discover"), "{}", run.stderr());
}

#[tokio::test]
async fn serve_refuses_the_check_flags_it_has_no_use_for() {
    let (fleet, contract) = voting_fleet(1, &[(tx(64), 1)]).await;
    let cli = Cli::new();
    let mut base = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    base.extend(["--tx", &hex(tx(64))].map(String::from));
    for (extra, flag) in [
        (&["--format", "json"][..], "--format"),
        (&["--output", "out.json"][..], "--output"),
        (&["-q"][..], "--quiet"),
    ] {
        let mut args = base.clone();
        args.extend(extra.iter().map(|s| s.to_string()));
        let run = run_expecting_exit(&cli, &args);
        assert_eq!(run.code(), 2, "{flag}: {}", run.stderr());
        assert!(
            run.stderr().contains(&format!("serve does not use {flag}")),
            "{}",
            run.stderr()
        );
        assert!(!cli.path("out.json").exists(), "refused before anything is written");
    }
    // From the environment, which check shares, they are not refused.
    let mut cmd = cli.command();
    cmd.args(&base)
        .env("QUORUM_FORMAT", "json")
        .env("QUORUM_OUTPUT", "out.json");
    let server = start(cmd);
    ready(&server).await;
    assert!(!cli.path("out.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_file_that_cannot_be_re_read_is_counted_and_shown_by_readyz() {
    let (fleet, contract) = voting_fleet(1, &[(tx(65), 1)]).await;
    let cli = Cli::new();
    let file = cli.write("hashes.txt", &format!("{}\n", hex(tx(65))));
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    args.extend(["--tx-file", &path_str(&file), "--interval", "200ms"].map(String::from));
    let before = unix_now();
    let server = serve(&cli, &args);
    ready(&server).await;
    let metrics = || async {
        let (status, text) = get(&server.url("/metrics"), None).await;
        assert_eq!(status, 200, "{text}");
        prometheus(&text)
    };
    let scrape = metrics().await;
    let version = cli.run(["--version"]).stdout();
    let version = version.split_whitespace().nth(1).expect("quorum-check VERSION");
    assert_eq!(
        value(&scrape, "quorum_check_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_serve_tx_file_reload_errors_total", &[]),
        Some(0.0)
    );
    let read_at = value(&scrape, "quorum_check_serve_tx_file_last_reload_timestamp_seconds", &[]).unwrap();
    assert!(
        read_at >= before.floor() && read_at <= unix_now() + 1.0,
        "{read_at} vs {before}"
    );
    assert_eq!(get(&server.url("/readyz"), None).await, (200, "ready\n".into()));

    // A garbage line: the last good list is kept, the failure counted and shown.
    std::fs::write(&file, format!("{}\nnot a hash\n", hex(tx(65)))).unwrap();
    let mut errors = 0.0;
    for _ in 0..50 {
        errors = value(&metrics().await, "quorum_check_serve_tx_file_reload_errors_total", &[]).unwrap();
        if errors > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(errors >= 1.0, "{}", server.stderr());
    let (status, body) = get(&server.url("/readyz"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("could not be re-read"), "{body}");
    assert!(
        !body.contains("not a hash"),
        "readyz tells outsiders nothing of the file: {body}"
    );
    let scrape = metrics().await;
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "quorum_check_serve_tx_file_last_reload_timestamp_seconds", &[]),
        Some(read_at),
        "the last good read is still the first one"
    );

    // Fixed: ready again, plainly.
    std::fs::write(&file, format!("{}\n", hex(tx(65)))).unwrap();
    let mut body = String::new();
    for _ in 0..50 {
        body = get(&server.url("/readyz"), None).await.1;
        if body == "ready\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body, "ready\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_answers_a_check_in_prometheus_text_with_its_success() {
    let (fleet, contract) = voting_fleet(3, &[(tx(66), 3), (tx(67), 1)]).await;
    let cli = Cli::new();
    let args = serve_args(&fleet.urls(), contract, &["--threshold", "2"]);
    let server = serve(&cli, &args);
    let probe = |hashes: &[B256]| {
        let query: Vec<String> = hashes.iter().map(|h| format!("tx={}", hex(*h))).collect();
        server.url(&format!("/probe?{}", query.join("&")))
    };
    let (status, text) = get(&probe(&[tx(66)]), None).await;
    assert_eq!(status, 200, "{text}");
    let scrape = prometheus(&text);
    assert_eq!(value(&scrape, "quorum_check_probe_success", &[]), Some(1.0));
    assert!(value(&scrape, "quorum_check_probe_duration_seconds", &[]).unwrap() > 0.0);
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "confirmed")]),
        Some(1.0)
    );
    // Per-transaction series name the hash probed; every node was heard.
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.labels.get("tx") == Some(hex(tx(66)).as_str())),
        "{text}"
    );
    assert_eq!(samples(&scrape, "quorum_check_node_up").count(), 3, "{text}");

    // One hash of two short of the threshold: no success.
    let (status, text) = get(&probe(&[tx(66), tx(67)]), None).await;
    assert_eq!(status, 200, "{text}");
    let scrape = prometheus(&text);
    assert_eq!(value(&scrape, "quorum_check_probe_success", &[]), Some(0.0));
    assert_eq!(
        value(&scrape, "quorum_check_txs", &[("verdict", "rejected")]),
        Some(1.0)
    );
    // Bad targets are the caller's error, as for /v1/check.
    assert_eq!(get(&server.url("/probe?tx=0x12"), None).await.0, 400);
    assert_eq!(get(&server.url("/probe"), None).await.0, 400);
}

/// The example Prometheus configuration scrapes /probe with hashes as
/// targets (relabelled into ?tx=) and passes `promtool check config`.
#[test]
fn the_example_probe_job_relabels_hashes_into_the_query() {
    use yaml_rust2::YamlLoader;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus");
    let text = std::fs::read_to_string(dir.join("prometheus.yml")).unwrap();
    let config = &YamlLoader::load_from_str(&text).expect("YAML")[0];
    let jobs = config["scrape_configs"].as_vec().expect("scrape_configs");
    let probe = jobs
        .iter()
        .find(|j| j["metrics_path"].as_str() == Some("/probe"))
        .expect("a /probe job");
    let relabel = probe["relabel_configs"].as_vec().expect("relabel_configs");
    assert!(relabel.iter().any(|r| r["target_label"].as_str() == Some("__param_tx")));
    assert!(
        relabel
            .iter()
            .any(|r| r["target_label"].as_str() == Some("__address__"))
    );
    let target = probe["static_configs"][0]["targets"][0].as_str().unwrap();
    assert!(quorum_check::parse::parse_tx_hash(target).is_ok(), "{target}");
    match std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(dir.join("prometheus.yml"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "promtool is missing and CI=true: install the Debian package prometheus"
        ),
    }
}

/// A throw-away CA (PEM) and a certificate it signed for 127.0.0.1 with its key (PEM).
fn tls_files(cli: &Cli) -> (String, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let cert_file = cli.write("serve-cert.pem", &cert.pem());
    let key_file = cli.write("serve-key.pem", &key.serialize_pem());
    set_mode(&key_file, 0o600);
    (ca_cert.pem(), cert_file, key_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_https_with_tls_cert_and_key() {
    let (fleet, contract) = voting_fleet(1, &[(tx(68), 1)]).await;
    let cli = Cli::new();
    let (ca_pem, cert, key) = tls_files(&cli);
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    args.extend(["--tls-cert", &path_str(&cert), "--tls-key", &path_str(&key)].map(String::from));
    let server = serve(&cli, &args);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = server.url(&format!("/v1/check?tx={}", hex(tx(68))));
    let response = client.get(&url).send().await.expect("an HTTPS answer");
    assert_eq!(response.status().as_u16(), 200);
    let report: CheckReport = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(report.txs[0].verdict, quorum_check::Verdict::Confirmed);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = raw(&server.addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain:?}");
    // A client that does not trust the certificate is refused by its own TLS.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    drop(server);

    // Bad files and half a pair are usage errors, before anything listens.
    let bad = cli.write("bad.pem", "not a certificate\n");
    let mut args = serve_args(&fleet.urls(), contract, &["--threshold", "1"]);
    let with = |extra: &[&str]| {
        let mut a = args.clone();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = run_expecting_exit(
        &cli,
        &with(&["--tls-cert", &path_str(&bad), "--tls-key", &path_str(&key)]),
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("--tls-cert") && run.stderr().contains("bad.pem"),
        "{}",
        run.stderr()
    );
    let run = run_expecting_exit(&cli, &with(&["--tls-cert", &path_str(&cert)]));
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--tls-key"), "{}", run.stderr());
    // A public address with a token but no TLS: warned that the token travels in clear.
    let token = token_file(&cli, "token", "0123456789abcdef0123\n");
    args.extend(["--auth-token-file", &path_str(&token)].map(String::from));
    let listen = args.iter().position(|a| a == "127.0.0.1:0").unwrap();
    args[listen] = "0.0.0.0:0".into();
    let server = serve(&cli, &args);
    assert!(server.stderr().contains("travels in clear"), "{}", server.stderr());
}

#[test]
fn a_busy_port_is_named_with_how_to_move() {
    // Another process (an OpenTelemetry exporter, say) holds the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cli = Cli::new();
    let contract: alloy::primitives::Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap();
    let mut args = serve_args(&["http://127.0.0.1:1".to_string()], contract, &["--tx", &hex(tx(1))]);
    let listen = args.iter().rposition(|a| a == "--listen").unwrap();
    args[listen + 1] = format!("127.0.0.1:{port}");
    let run = run_expecting_exit(&cli, &args);
    assert_ne!(run.code(), 0);
    let err = run.stderr();
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}: the port is in use"))
            && err.contains("--listen ADDR:PORT"),
        "{err}"
    );
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_counts_and_logs_each_dispute_once_across_rounds() {
    let h = tx(210);
    let (fleet, contract) = voting_fleet(3, &[(h, 3)]).await;
    let liar = Proxy::start(&fleet.url(2), Fault::flip_votes()).await;
    let urls = vec![fleet.url(0), fleet.url(1), liar.url.clone()];
    let cli = Cli::new();
    let log = cli.path("dissent.log");
    let mut args = serve_args(&urls, contract, &["--threshold", "2"]);
    args.extend(["--tx", &hex(h), "--interval", "150ms", "--dissent-log", &path_str(&log)].map(String::from));
    let server = serve(&cli, &args);
    ready(&server).await;
    // Several rounds, and a /v1/check of the same hash, see the same dispute.
    let (status, body) = get(&server.url(&format!("/v1/check?tx={}", hex(h))), None).await;
    assert_eq!(status, 200, "{body}");
    let api: CheckReport = serde_json::from_str(&body).unwrap();
    assert_eq!(
        api.nodes.iter().map(|n| (n.dissent, n.failed)).collect::<Vec<_>>(),
        [(0, 0), (0, 0), (1, 0)]
    );
    let before = liar.requests();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(liar.requests() >= before + 3, "rounds went on");
    let scrape = prometheus(&get(&server.url("/metrics"), None).await.1);
    let liar_label = [("node", urls[2].as_str())];
    assert_eq!(
        value(&scrape, "quorum_check_node_dissent_total", &liar_label),
        Some(1.0)
    );
    assert_eq!(value(&scrape, "quorum_check_node_dissent", &liar_label), Some(1.0));
    assert_eq!(
        value(
            &scrape,
            "quorum_check_node_dissent_total",
            &[("node", urls[0].as_str())]
        ),
        Some(0.0)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1, "logged once: {text}");
    let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(
        (&line["node"], &line["vote"]),
        (&urls[2].as_str().into(), &false.into())
    );
}
