//! Scrubbing without gaps (RELIABILITY.md, "Echoed secrets are scrubbed"):
//! a node in front of a real anvil echoes the request it got — path key,
//! long lowercase path segment, query key, Basic auth with and without a
//! password, an API-key header — re-cased, re-encoded, split by invisible
//! characters, or pushed across a cut, and nothing of any key reaches any
//! output format, file or log level. Also: a hash file's bad line is named
//! by number and length, never quoted, by `check` and by `serve`.

mod support;

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use base64::Engine as _;
use support::{
    proxy::{EchoForm, Fault, Proxy},
    *,
};

const KEY: &str = "Key_DO_NOT_PRINT_5c3e";
/// A long lowercase path segment: no digit, no capital, still a key.
const WORDS: &str = "correcthorsebatterystaple";
const QKEY: &str = "Q9_DO_NOT_PRINT_x1";
const PASS: &str = "Pw_DO_NOT_PRINT_7";
/// A user name without a password: sent as Basic base64("UserKey…:").
const USER_KEY: &str = "UserKey_DO_NOT_PRINT_4a";
const TOKEN: &str = "tok_DO_NOT_PRINT_2b";

/// Every secret as an attacker would look for it in the output: the value,
/// and the Basic credentials in both Base64 alphabets (the client sends
/// the standard one; the node may re-encode).
fn secrets() -> Vec<String> {
    let mut all: Vec<String> = [KEY, WORDS, QKEY, PASS, USER_KEY, TOKEN].map(String::from).to_vec();
    for pair in [format!("user:{PASS}"), format!("{USER_KEY}:")] {
        all.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&pair));
        all.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&pair));
    }
    all
}

/// What a reader recovers from `output`: the text with the encodings the
/// attacking node used undone — percent- and form-decoded, zero-width
/// characters (raw, or written as `\u{200b}`, JSON-escaped or not) taken
/// out — and lower-cased.
fn as_read(output: &str) -> String {
    let joined = output
        .replace("\\\\u{200b}", "")
        .replace("\\u{200b}", "")
        .replace('\u{200b}', "");
    let decoded = percent_encoding::percent_decode_str(&joined.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned();
    decoded.to_lowercase()
}

/// The first run of 6 characters of a secret found in `output` as read.
fn leaked(output: &str) -> Option<String> {
    let read = as_read(output);
    secrets().into_iter().find_map(|secret| {
        // As `as_read` reads a `+`.
        let secret = secret.to_lowercase().replace('+', " ");
        let chars: Vec<char> = secret.chars().collect();
        chars
            .windows(6)
            .map(|w| w.iter().collect::<String>())
            .find(|w| read.contains(w.as_str()))
            .map(|w| format!("{w} (of {secret})"))
    })
}

/// Extra environment variables of one run.
type Env<'a> = &'a [(&'a str, &'a str)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_keys_in_any_form_never_print_in_any_format_or_log_level() {
    let (fleet, contract) = voting_fleet(1, &[(tx(1), 1)]).await;
    let cli = Cli::new();
    let contract = format!("{contract:#x}");
    let forms = [
        EchoForm::AsSent,
        EchoForm::Upper,
        EchoForm::Lower,
        EchoForm::ZeroWidth,
        EchoForm::EscapedZeroWidth,
        EchoForm::PercentEveryByte,
        EchoForm::FormEncoded,
        EchoForm::Base64UrlSafe,
        // The key begins 11 characters before the 200-character display cut.
        EchoForm::Padded(170),
        // Copies of the key side by side; one across the 200 cut, one across
        // the 4,096-character bound a node's text is kept to.
        EchoForm::RepeatSegment(5),
    ];
    for form in forms {
        // A rate limit refusing the whole batch: retried (a debug line),
        // then the node's failure (an info line, its status, a `nodes` problem).
        let code = -32005;
        let fault = Fault::EchoAs { code, form };
        let echo = Proxy::start(&fleet.url(0), fault).await;
        let with_password = echo.url.replace("http://", &format!("http://user:{PASS}@"))
            + &format!("/v2/{KEY}/{WORDS}?apikey={QKEY}&network=mainnet");
        let user_only = echo.url.replace("http://", &format!("http://{USER_KEY}@")) + &format!("/rpc/{KEY}");
        let nodes = cli.write(
            "nodes.toml",
            &format!(
                "[[node]]\nurl = \"{with_password}\"\nheaders = {{ X-Api-Key = \"${{TOKEN}}\" }}\n\
                 [[node]]\nurl = \"{user_only}\"\n"
            ),
        );
        let nodes = path_str(&nodes);
        let check = |extra: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = [
                "check",
                "--nodes",
                &nodes,
                "--contract",
                &contract,
                "--tx",
                &hex(tx(1)),
                // Two calls, so a batch: refused whole.
                "--chain-id",
                "31337",
                "--retries",
                "1",
                // A rate limit is retried until the node's budget is spent:
                // a short one keeps the 80 runs quick (two attempts each).
                "--timeout",
                "1500ms",
            ]
            .map(String::from)
            .to_vec();
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        let health = |extra: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = [
                "nodes",
                "--nodes",
                &nodes,
                "--contract",
                &contract,
                "--retries",
                "1",
                "--timeout",
                "1500ms",
            ]
            .map(String::from)
            .to_vec();
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        let runs: Vec<(Vec<String>, Env, i32)> = vec![
            (check(&["-v"]), &[], 3),
            (check(&["--format", "json", "-vv"]), &[], 3),
            (check(&["--format", "prometheus", "-vvv"]), &[("RUST_LOG", "trace")], 3),
            (
                check(&[
                    "--format",
                    "json",
                    "--output",
                    "out.json",
                    "--log-format",
                    "json",
                    "-vvv",
                ]),
                &[],
                3,
            ),
            (check(&["--output", "out.txt", "-vv"]), &[], 3),
            (health(&["-v"]), &[], 1),
            (health(&["--format", "json", "--log-format", "json", "-vvv"]), &[], 1),
            (health(&["--format", "prometheus", "-vv"]), &[], 1),
        ];
        let mut seen = String::new();
        let mut logged = false;
        for (args, env, expected) in runs {
            let mut env = env.to_vec();
            env.push(("TOKEN", TOKEN));
            let run = cli.run_async_env(args.clone(), &env).await;
            assert_eq!(run.code(), expected, "{form:?} {args:?}: {}", run.stderr());
            let output = run.stdout() + &run.stderr();
            if let Some(leak) = leaked(&output) {
                panic!("{form:?} {args:?}: {leak} printed:\n{output}");
            }
            logged |= run.stderr().contains("rejected: ");
            seen += &output;
        }
        assert!(logged, "{form:?}: the echo is logged:\n{seen}");
        for file in ["out.json", "out.txt"] {
            let text = std::fs::read_to_string(cli.path(file)).unwrap();
            assert!(leaked(&text).is_none(), "{form:?} {file}: {text}");
            seen += &text;
        }
        assert!(seen.contains("***"), "{form:?}: the echo is shown, masked:\n{seen}");
        // The node really did echo every secret (else the test proves nothing).
        let heads = echo.heads().join("\n");
        for sent in [KEY, WORDS, QKEY, TOKEN] {
            assert!(heads.contains(sent), "{sent} not sent: {heads}");
        }
        for pair in [format!("user:{PASS}"), format!("{USER_KEY}:")] {
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            assert!(heads.contains(&format!("Basic {basic}")), "{basic} not sent: {heads}");
        }
    }
}

#[test]
fn a_bad_hash_file_line_is_named_never_quoted() {
    let cli = Cli::new();
    let secret = "INFURA_KEY=SeCrEt0123456789abcdef";
    let file = cli.write("hashes.txt", &format!("# hashes\n{}\n{secret}\n", hex(tx(1))));
    let run = cli.run([
        "check",
        "--rpc",
        "http://127.0.0.1:9",
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--tx-file",
        &path_str(&file),
    ]);
    run.assert_usage_error("line 3 of");
    let err = run.stderr();
    assert!(err.contains(&format!("got {} characters", secret.len())), "{err}");
    assert!(!err.contains("SeCrEt") && !err.contains("INFURA"), "{err}");
}

/// `serve` re-reads its hash file; a bad line there is a warning that keeps
/// the last list — and names the line, never quotes it.
#[test]
fn serve_names_a_bad_hash_file_line_never_quotes_it() {
    let cli = Cli::new();
    let file = cli.write("hashes.txt", &format!("{}\n", hex(tx(1))));
    let mut cmd = cli.command();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rpc",
        "http://127.0.0.1:9",
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--tx-file",
        &path_str(&file),
        "--interval",
        "200ms",
        "--timeout",
        "100ms",
        "--retries",
        "0",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let first = seen.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.contains("listening on"), "{first}");
    // A different size, so the change is seen whatever the clock's resolution.
    let secret = "INFURA_KEY=SeCrEt0123456789abcdef";
    std::fs::write(&file, format!("{}\n{secret}\n", hex(tx(1)))).unwrap();
    let warning = loop {
        match seen.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("not re-read") => break line,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("no reload warning: {e}");
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(warning.contains("line 2 of"), "{warning}");
    assert!(
        warning.contains(&format!("got {} characters", secret.len())),
        "{warning}"
    );
    assert!(!warning.contains("SeCrEt") && !warning.contains("INFURA"), "{warning}");
}
