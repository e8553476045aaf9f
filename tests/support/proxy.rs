//! A fault-injecting HTTP proxy for tests and benchmarks: it sits in front of
//! a real anvil node on its own 127.0.0.1 port and, per [`Fault`], delays,
//! hangs, closes, answers with an HTTP error, rewrites or corrupts the JSON-RPC
//! answer, or streams without end. It counts HTTP requests and JSON-RPC calls,
//! and the most requests it was answering at once.
//! Every loop it runs is bounded in bytes and time, so nothing outlives a test.

#![allow(dead_code)]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};

/// A rewrite of the upstream's JSON answer.
pub type Rewrite = Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>;

/// A per-request decision of [`Fault::Intercept`], made from the request.
pub enum Intercept {
    /// Forward the request and its answer unchanged.
    Pass,
    /// Answer this, without asking upstream.
    Reply { status: u16, body: String },
    /// Forward the request, then rewrite the upstream's JSON answer.
    Rewrite(Rewriting),
}

/// A one-time rewrite of one answer.
pub type Rewriting = Box<dyn FnOnce(&mut serde_json::Value) + Send>;

/// What decides per request, from the parsed JSON-RPC request (`Null` when
/// the body is not JSON).
pub type Handler = Arc<dyn Fn(&serde_json::Value) -> Intercept + Send + Sync>;

/// What the proxy does to each request.
#[derive(Clone)]
pub enum Fault {
    /// Pass through unchanged.
    None,
    /// Wait this long before answering (after the upstream answered).
    Delay(Duration),
    /// Read the request, then never answer.
    Hang,
    /// Read the request, then close the connection without answering.
    Close,
    /// Answer every request with this HTTP status (and `Retry-After`, if set).
    Status { code: u16, retry_after: Option<u64> },
    /// The first `n` requests get `code` (with `Retry-After`, if set), then pass through.
    FailFirst {
        n: usize,
        code: u16,
        retry_after: Option<u64>,
    },
    /// Answer 200 with a body that is not JSON.
    NotJson,
    /// Answer 200 with this JSON body instead of the upstream's.
    Body(String),
    /// Rewrite the upstream's JSON answer.
    Rewrite(Rewrite),
    /// Announce the full length, send half the body, close.
    Truncate,
    /// Stream a body without end (bounded: 1 GiB or 60 s).
    Endless,
    /// Send the upstream's answer one byte every `interval`.
    Trickle(Duration),
    /// Pass through only requests that carry this header with this value
    /// (name matched case-insensitively); answer 401 to the others.
    RequireHeader { name: String, value: String },
    /// Answer with this 3xx status and a `Location` header.
    Redirect { code: u16, location: String },
    /// Refuse JSON-RPC batches as some public endpoints do: an array gets one
    /// error object (-32600); a single request passes.
    RefuseBatches,
    /// Refuse a batch of more than `n` calls with HTTP 413; smaller pass.
    CapBatch(usize),
    /// Pass through, gzip-compressing the answer when the request accepts it.
    Gzip,
    /// The first request's entries with an even id are refused one by one
    /// (`{"error":{"code":429}}`), the others answered; later requests pass.
    RateLimitEntries,
    /// Answer 200 with this gzip body (see [`Fault::gzip_bomb`]).
    GzipBomb(Arc<Vec<u8>>),
    /// Decide per request (answer, pass, or rewrite the answer) with a
    /// handler that sees the request: providers' own behaviours (see
    /// `tests/support/logs.rs`) without a variant each.
    Intercept(Handler),
    /// Answer every call with a JSON-RPC error (code `code`) whose message
    /// quotes the request line and every header — as a careless provider or
    /// proxy that echoes the request would, keys included.
    Echo { code: i64 },
    /// A node lying about its head: every `eth_blockNumber` is answered with
    /// this block; everything else passes through (so a call at a block the
    /// node does not have fails as the real node answers it).
    Head(u64),
    /// Like [`Fault::Echo`], with the request head re-written first as a
    /// provider (or an attacker) might echo it: re-cased, re-encoded, split
    /// by invisible characters, pushed across a cut (see [`EchoForm`]) — and
    /// a batch refused as a whole, with one error object, so that the echo
    /// is the node's failure (logged, and shown by `nodes`).
    EchoAs { code: i64, form: EchoForm },
    /// A hostile node's `aggregate3` answers (see [`Aggregate3Attack`]); other
    /// answers pass. With `gzip`, the answer is sent gzip-compressed when the
    /// request accepts it.
    Aggregate3 { attack: Aggregate3Attack, gzip: bool },
    /// Every `eth_call` of a request is answered "execution reverted" with
    /// `error.data` an `Error(string)` as long as fits: the body carries about
    /// `body_bytes` of revert data in hex, shared among the calls. Other calls
    /// pass. With `gzip`, compressed when the request accepts it.
    HugeRevert { body_bytes: usize, gzip: bool },
    /// Answer 200 without a length, send `sent` bytes of a JSON body (`[` and
    /// spaces), then stall with the connection open (bounded: 120 s). With
    /// `gzip`, those bytes go as a gzip stream flushed up to that point (a few
    /// KiB on the wire).
    StallAfter { sent: usize, gzip: bool },
    /// Hold every request until the gate opens (bounded: 60 s), then pass
    /// through: the test decides when an honest node answers.
    Gate(tokio::sync::watch::Receiver<bool>),
    /// A limit that hosted providers and proxies impose (see [`ProviderLimit`]).
    Limit(ProviderLimit),
}

/// Limits of hosted providers and self-hosted proxies (issue 18), each as
/// the provider words it. Stateful ones keep their state inside.
#[derive(Clone)]
pub enum ProviderLimit {
    /// HTTP 413 for a request body over this many bytes (Express: 100 KB).
    Body(usize),
    /// A request body over `over` bytes waits `delay`, then gets HTTP
    /// `status`, or (`None`) hangs (bounded: 120 s). Smaller ones pass.
    SlowLarge {
        over: usize,
        delay: Duration,
        status: Option<u16>,
    },
    /// An `eth_call` whose `aggregate3` carries more than `reads` calls is
    /// answered with this error, as the node program words running out of gas.
    GasCap {
        reads: usize,
        code: i64,
        message: &'static str,
    },
    /// The first `aggregate3` `eth_call` is answered with this error; the rest pass.
    TransientOnce {
        code: i64,
        message: &'static str,
        done: Arc<AtomicUsize>,
    },
    /// Infura: one request per `every`; one sooner gets -32005 with
    /// `data.rate.backoff_seconds`, under HTTP `status` (429 or 200).
    RequestRate {
        every: Duration,
        status: u16,
        last: Arc<Mutex<Option<std::time::Instant>>>,
    },
    /// Alchemy: `budget` compute units per second, `cost` per call in a
    /// request; a request over what is left gets HTTP 429 with
    /// `{"code":429}` in the body and no hint.
    ComputeUnits {
        budget: u32,
        cost: u32,
        spent: Arc<Mutex<(std::time::Instant, u32)>>,
    },
    /// A batch of more than this many calls is refused as an array with one
    /// error whose id is null.
    BatchErrorArray(usize),
    /// A UTF-8 byte-order mark before every answer.
    Bom,
    /// Every answer's id echoed as a string (`"id":"0"`).
    StringIds,
    /// The first request gets an HTML error page with HTTP 200.
    HtmlOnce(Arc<AtomicUsize>),
}

impl ProviderLimit {
    pub fn request_rate(every: Duration, status: u16) -> Fault {
        Fault::Limit(Self::RequestRate {
            every,
            status,
            last: Default::default(),
        })
    }

    pub fn compute_units(budget: u32, cost: u32) -> Fault {
        Fault::Limit(Self::ComputeUnits {
            budget,
            cost,
            spent: Arc::new(Mutex::new((std::time::Instant::now(), 0))),
        })
    }

    pub fn transient_once(code: i64, message: &'static str) -> Fault {
        Fault::Limit(Self::TransientOnce {
            code,
            message,
            done: Default::default(),
        })
    }

    pub fn html_once() -> Fault {
        Fault::Limit(Self::HtmlOnce(Default::default()))
    }

    /// What to answer instead of asking upstream, if anything: `(status, body)`.
    fn before(&self, body: &[u8], parsed: &Option<serde_json::Value>, calls: usize) -> Option<(u16, Vec<u8>)> {
        let error = |code: i64, message: &str, data: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": code, "message": message, "data": data}}))
            .expect("json")
        };
        match self {
            Self::Body(limit) if body.len() > *limit => Some((413, b"request entity too large".to_vec())),
            Self::RequestRate { every, status, last } => {
                let mut last = last.lock().expect("rate");
                let now = std::time::Instant::now();
                match *last {
                    Some(at) if now.duration_since(at) < *every => {
                        let data = serde_json::json!({"see": "https://infura.io/dashboard",
                            "rate": {"allowed_rps": 1, "backoff_seconds": every.as_secs_f64(), "current_rps": 2}});
                        Some((*status, error(-32005, "project ID request rate exceeded", data)))
                    }
                    _ => {
                        *last = Some(now);
                        None
                    }
                }
            }
            Self::ComputeUnits { budget, cost, spent } => {
                let mut spent = spent.lock().expect("units");
                let now = std::time::Instant::now();
                if now.duration_since(spent.0) >= Duration::from_secs(1) {
                    *spent = (now, 0);
                }
                let wanted = cost * calls as u32;
                if spent.1 + wanted > *budget {
                    // Alchemy counts a refused request too.
                    spent.1 = (*budget).min(spent.1 + *cost);
                    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": 429,
                        "message": "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message."}});
                    return Some((429, serde_json::to_vec(&body).expect("json")));
                }
                spent.1 += wanted;
                None
            }
            Self::BatchErrorArray(n) if calls > *n && matches!(parsed, Some(serde_json::Value::Array(_))) => {
                let body = serde_json::json!([{"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32600, "message": format!("batch of {calls} exceeds the limit of {n}")}}]);
                Some((200, serde_json::to_vec(&body).expect("json")))
            }
            Self::HtmlOnce(seen) if seen.fetch_add(1, Ordering::SeqCst) == 0 => Some((
                200,
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
                    .to_vec(),
            )),
            _ => None,
        }
    }

    /// Rewrites upstream's `answer` to the request `parsed`.
    fn after(&self, parsed: &Option<serde_json::Value>, answer: Vec<u8>) -> Vec<u8> {
        let rewrite = |answer: Vec<u8>, f: &dyn Fn(&mut serde_json::Value)| {
            let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer) else {
                return answer;
            };
            match &mut v {
                serde_json::Value::Array(items) => items.iter_mut().for_each(f),
                single => f(single),
            }
            serde_json::to_vec(&v).expect("json")
        };
        // The error that replaces the answer to call `id`, if any.
        let failing = |id: &serde_json::Value| -> Option<serde_json::Value> {
            let calls: Vec<&serde_json::Value> = match parsed {
                Some(serde_json::Value::Array(a)) => a.iter().collect(),
                Some(c) => vec![c],
                None => vec![],
            };
            let call = calls.into_iter().find(|c| c["id"] == *id)?;
            let reads = aggregate3_reads(call)?;
            match self {
                Self::GasCap {
                    reads: cap,
                    code,
                    message,
                } if reads > *cap => Some(serde_json::json!({"code": code, "message": message})),
                _ => None,
            }
        };
        match self {
            Self::GasCap { .. } => rewrite(answer, &|item| {
                if let Some(error) = failing(&item["id"]) {
                    *item = serde_json::json!({"jsonrpc": "2.0", "id": item["id"].clone(), "error": error});
                }
            }),
            Self::TransientOnce { code, message, done } => rewrite(answer, &|item| {
                let calls: Vec<&serde_json::Value> = match parsed {
                    Some(serde_json::Value::Array(a)) => a.iter().collect(),
                    Some(c) => vec![c],
                    None => vec![],
                };
                let is_aggregate3 = calls
                    .iter()
                    .any(|c| c["id"] == item["id"] && aggregate3_reads(c).is_some());
                if is_aggregate3 && done.fetch_add(1, Ordering::SeqCst) == 0 {
                    *item = serde_json::json!({"jsonrpc": "2.0", "id": item["id"].clone(),
                            "error": {"code": code, "message": message}});
                }
            }),
            Self::StringIds => rewrite(answer, &|item| {
                if let Some(n) = item["id"].as_u64() {
                    item["id"] = serde_json::Value::String(n.to_string());
                }
            }),
            Self::Bom => [&b"\xef\xbb\xbf"[..], &answer].concat(),
            _ => answer,
        }
    }
}

/// How many calls an `eth_call` request's `aggregate3` carries, when it is one.
fn aggregate3_reads(call: &serde_json::Value) -> Option<usize> {
    if call["method"] != "eth_call" {
        return None;
    }
    let data = call["params"][0]["data"]
        .as_str()
        .or(call["params"][0]["input"].as_str())?;
    let data = alloy::primitives::hex::decode(data).ok()?;
    // Selector, the array's offset, then its length.
    if data.len() < 68 || data[..4] != [0x82, 0xad, 0x56, 0xcb] {
        return None;
    }
    let len = &data[36..68];
    len[..24]
        .iter()
        .all(|&b| b == 0)
        .then(|| u64::from_be_bytes(len[24..].try_into().expect("8 bytes")) as usize)
}

/// How [`Fault::EchoAs`] re-writes the request head it echoes (request line
/// and headers, lines joined with ` | `).
#[derive(Clone, Copy, Debug)]
pub enum EchoForm {
    /// As received.
    AsSent,
    Upper,
    Lower,
    /// A raw U+200B (zero-width space) after every 4th character.
    ZeroWidth,
    /// The text `\u{200b}` after every 4th character.
    EscapedZeroWidth,
    /// Every byte as `%xx`, lower-case hex.
    PercentEveryByte,
    /// `application/x-www-form-urlencoded` (`+` for spaces, `%XX` for the rest).
    FormEncoded,
    /// Every `Basic` credential decoded and re-encoded URL-safe, unpadded.
    Base64UrlSafe,
    /// This many `x` before the head, so that what follows lands across a cut.
    Padded(usize),
    /// The request path's last segment repeated past 5,000 characters, after
    /// this many `x`: copies side by side, and a copy across every cut.
    RepeatSegment(usize),
}

impl EchoForm {
    /// `head` as this form echoes it.
    pub fn apply(self, head: &str) -> String {
        let every_4th = |mark: &str| {
            let mut out = String::new();
            for (i, c) in head.chars().enumerate() {
                out.push(c);
                if i % 4 == 3 {
                    out.push_str(mark);
                }
            }
            out
        };
        match self {
            Self::AsSent => head.to_string(),
            Self::Upper => head.to_uppercase(),
            Self::Lower => head.to_lowercase(),
            Self::ZeroWidth => every_4th("\u{200b}"),
            Self::EscapedZeroWidth => every_4th("\\u{200b}"),
            Self::PercentEveryByte => head.bytes().map(|b| format!("%{b:02x}")).collect(),
            Self::FormEncoded => url::form_urlencoded::byte_serialize(head.as_bytes()).collect(),
            Self::Base64UrlSafe => {
                use base64::Engine as _;
                let engines = (
                    base64::engine::general_purpose::STANDARD,
                    base64::engine::general_purpose::URL_SAFE_NO_PAD,
                );
                head.split(' ')
                    .map(|word| match engines.0.decode(word) {
                        Ok(raw) if word.len() >= 8 => engines.1.encode(raw),
                        _ => word.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            Self::Padded(n) => format!("{}{head}", "x".repeat(n)),
            Self::RepeatSegment(n) => {
                let target = head.split(' ').nth(1).unwrap_or("");
                let path = target.split('?').next().unwrap_or("");
                let segment = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("segment");
                let mut out = "x".repeat(n);
                while out.len() < 5_000 {
                    out.push_str(segment);
                }
                out
            }
        }
    }
}

/// How a hostile node rewrites each `aggregate3` answer of `n` outcomes.
#[derive(Clone, Copy, Debug)]
pub enum Aggregate3Attack {
    /// Every outcome's offset points at one failed call whose revert data is
    /// an `Error(string)` of this many bytes: a lenient decoder makes `n`
    /// copies of it.
    SharedRevert(usize),
    /// Every outcome's offset points far past the end of the answer.
    OutOfBounds,
}

impl Aggregate3Attack {
    /// The ABI-encoded `Outcome3[]` this attack answers for `n` calls.
    pub fn encode(self, n: usize) -> Vec<u8> {
        let word = |v: usize| {
            let mut w = [0u8; 32];
            w[24..].copy_from_slice(&(v as u64).to_be_bytes());
            w
        };
        // The return value's offset, then the array: its length and one offset per outcome.
        let mut out = Vec::new();
        out.extend_from_slice(&word(0x20));
        out.extend_from_slice(&word(n));
        match self {
            Self::SharedRevert(bytes) => {
                // Every outcome points at the one tuple right after the offsets.
                for _ in 0..n {
                    out.extend_from_slice(&word(32 * n));
                }
                let revert = revert_of(bytes);
                out.extend_from_slice(&word(0)); // success = false
                out.extend_from_slice(&word(0x40)); // returnData's offset in the tuple
                out.extend_from_slice(&word(revert.len()));
                out.extend_from_slice(&revert);
                out.resize(out.len().div_ceil(32) * 32, 0);
            }
            Self::OutOfBounds => {
                for i in 0..n {
                    out.extend_from_slice(&word((1 << 40) + 64 * i));
                }
            }
        }
        out
    }
}

/// `Error(string)` revert data of about `bytes` bytes, the message made of
/// control characters (each one that a formatter escapes grows sixfold).
pub fn revert_of(bytes: usize) -> Vec<u8> {
    use alloy::sol_types::{Revert, SolError};
    let message = "\u{1}".repeat(bytes.saturating_sub(68).max(1));
    Revert::from(message).abi_encode()
}

fn gzip_of(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn accepts_gzip(head: &str) -> bool {
    head.to_ascii_lowercase().contains("accept-encoding: gzip")
}

/// The ids of the `eth_call`s in a request (one object or a batch).
fn eth_call_ids(request: &Option<serde_json::Value>) -> Vec<serde_json::Value> {
    let calls: Vec<&serde_json::Value> = match request {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(c) => vec![c],
        None => vec![],
    };
    calls
        .into_iter()
        .filter(|c| c["method"] == "eth_call")
        .map(|c| c["id"].clone())
        .collect()
}

impl Fault {
    /// A gzip body of a few KiB per MiB that inflates to `n` bytes of spaces.
    pub fn gzip_bomb(n: usize) -> Self {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let block = vec![b' '; 1 << 20];
        for _ in 0..(n >> 20).max(1) {
            gz.write_all(&block).expect("gzip");
        }
        Self::GzipBomb(Arc::new(gz.finish().expect("gzip")))
    }

    /// A lying node: every 32-byte `eth_call` result 0 becomes 1 and 1 becomes 0.
    pub fn flip_votes() -> Self {
        Self::rewrite(|v| {
            for_each_result(v, |r| {
                if let Some(s) = r.as_str()
                    && s.len() == 66
                {
                    let flipped = match &s[65..] {
                        "0" => format!("{}1", &s[..65]),
                        "1" => format!("{}0", &s[..65]),
                        _ => return,
                    };
                    *r = serde_json::Value::String(flipped);
                }
            })
        })
    }

    /// Replace every 32-byte `eth_call` result by `hex`.
    pub fn result(hex: &'static str) -> Self {
        Self::rewrite(move |v| {
            for_each_result(v, |r| {
                if r.as_str().is_some_and(|s| s.len() == 66) {
                    *r = serde_json::Value::String(hex.into());
                }
            })
        })
    }

    pub fn rewrite(f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static) -> Self {
        Self::Rewrite(Arc::new(f))
    }

    /// A node answering votes in non-canonical encodings: every 32-byte
    /// `eth_call` result that is a bool word (0 or 1) gets its top byte set
    /// (`0xff00…01`: a bool word that is neither 0 nor 1), and with
    /// `extra_word` also 32 bytes more behind it. Through Multicall3 each
    /// inner answer is rewritten the same way.
    pub fn noncanon_votes(extra_word: bool) -> Self {
        Self::rewrite(move |v| {
            for_each_result(v, |r| {
                if let Some(s) = r.as_str()
                    && s.len() == 66
                    && s[2..65].bytes().all(|b| b == b'0')
                    && matches!(&s[65..], "0" | "1")
                {
                    let mut lie = format!("0xff{}", &s[4..]);
                    if extra_word {
                        lie.push_str(&"0".repeat(64));
                    }
                    *r = serde_json::Value::String(lie);
                }
            })
        })
    }
}

fn for_each_result(v: &mut serde_json::Value, mut f: impl FnMut(&mut serde_json::Value)) {
    match v {
        serde_json::Value::Array(items) => {
            for item in items {
                if let Some(r) = item.get_mut("result") {
                    each_vote(r, &mut f);
                }
            }
        }
        other => {
            if let Some(r) = other.get_mut("result") {
                each_vote(r, &mut f);
            }
        }
    }
}

/// Applies `f` to a result, or, when the result is a Multicall3 `aggregate3`
/// answer, to each inner call's return data (re-encoding the answer), so a
/// lying node lies the same way through Multicall3 as through plain calls.
fn each_vote(r: &mut serde_json::Value, f: &mut impl FnMut(&mut serde_json::Value)) {
    use alloy::sol_types::SolCall as _;
    use quorum_check::multicall::aggregate3Call;
    let decoded = r
        .as_str()
        .filter(|s| s.len() > 66)
        .and_then(|s| s.parse::<alloy::primitives::Bytes>().ok())
        .and_then(|b| aggregate3Call::abi_decode_returns_validate(&b).ok());
    let Some(mut outcomes) = decoded else {
        return f(r);
    };
    for o in &mut outcomes {
        let mut inner = serde_json::Value::String(o.returnData.to_string());
        f(&mut inner);
        if let Some(b) = inner.as_str().and_then(|s| s.parse().ok()) {
            o.returnData = b;
        }
    }
    *r = serde_json::Value::String(
        alloy::primitives::Bytes::from(aggregate3Call::abi_encode_returns(&outcomes)).to_string(),
    );
}

/// A running proxy; stops accepting when dropped.
pub struct Proxy {
    pub url: String,
    pub port: u16,
    requests: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    eth_calls: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    max_batch: Arc<AtomicUsize>,
    stalled: Arc<AtomicUsize>,
    in_flight: Arc<InFlight>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    upstream: String,
    fault: Fault,
    client: reqwest::Client,
    requests: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    eth_calls: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    max_batch: Arc<AtomicUsize>,
    stalled: Arc<AtomicUsize>,
    in_flight: Arc<InFlight>,
}

/// Requests read and not yet answered (or given up on), and the most at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// One request in flight, from the moment it is read until it is dropped.
struct Answering<'a>(&'a InFlight);

impl<'a> Answering<'a> {
    fn begin(in_flight: &'a InFlight) -> Self {
        let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
        in_flight.most.fetch_max(now, Ordering::SeqCst);
        Self(in_flight)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free 127.0.0.1 port.
    pub async fn start(upstream: &str, fault: Fault) -> Self {
        Self::start_with(upstream, fault, None).await
    }

    /// Starts a proxy that speaks HTTPS with `tls` (see [`TestCa`]).
    pub async fn start_tls(upstream: &str, fault: Fault, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(upstream, fault, Some(tls)).await
    }

    async fn start_with(upstream: &str, fault: Fault, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let eth_calls = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let max_batch = Arc::new(AtomicUsize::new(0));
        let stalled = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(InFlight::default());
        let shared = Arc::new(Shared {
            in_flight: in_flight.clone(),
            max_batch: max_batch.clone(),
            stalled: stalled.clone(),
            upstream: upstream.to_string(),
            fault,
            client: reqwest::Client::new(),
            requests: requests.clone(),
            calls: calls.clone(),
            eth_calls: eth_calls.clone(),
            heads: heads.clone(),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                match &acceptor {
                    None => {
                        conns.spawn(serve(stream, shared));
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        conns.spawn(async move {
                            if let Ok(Ok(tls)) =
                                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                            {
                                serve(tls, shared).await;
                            }
                        });
                    }
                }
            }
        });
        Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            requests,
            calls,
            eth_calls,
            heads,
            max_batch,
            stalled,
            in_flight,
            task,
        }
    }

    /// Bodies sent up to their stall ([`Fault::StallAfter`]): written in
    /// full to the socket, so all but what the kernel buffers is read.
    pub fn stalled_bodies(&self) -> usize {
        self.stalled.load(Ordering::SeqCst)
    }

    /// The most calls any one request carried (1 for a plain request).
    pub fn max_batch(&self) -> usize {
        self.max_batch.load(Ordering::SeqCst)
    }

    /// The head (request line and headers) of every request received, as sent.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }

    /// The most requests the proxy was answering at once: read in full and
    /// not yet answered (nor given up on), over all its connections.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.most.load(Ordering::SeqCst)
    }

    /// HTTP requests received.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// JSON-RPC calls received (a batch counts each call).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// `eth_call`s received: what a provider bills for a check.
    pub fn eth_calls(&self) -> usize {
        self.eth_calls.load(Ordering::SeqCst)
    }
}

const MAX_REQUEST: usize = 64 * 1024 * 1024;

/// Serves one connection: requests one after another (keep-alive).
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let _answering = Answering::begin(&shared.in_flight);
        shared.heads.lock().expect("heads").push(head.clone());
        let n = shared.requests.fetch_add(1, Ordering::SeqCst);
        let parsed = serde_json::from_slice::<serde_json::Value>(&body).ok();
        let calls = match &parsed {
            Some(serde_json::Value::Array(a)) => a.len(),
            _ => 1,
        };
        let is_eth_call = |c: &serde_json::Value| c["method"] == "eth_call";
        let eth_calls = match &parsed {
            Some(serde_json::Value::Array(a)) => a.iter().filter(|c| is_eth_call(c)).count(),
            Some(c) => usize::from(is_eth_call(c)),
            None => 0,
        };
        shared.calls.fetch_add(calls, Ordering::SeqCst);
        shared.eth_calls.fetch_add(eth_calls, Ordering::SeqCst);
        shared.max_batch.fetch_max(calls, Ordering::SeqCst);
        let is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        if let Fault::Limit(limit) = &shared.fault {
            if let ProviderLimit::SlowLarge { over, delay, status } = limit
                && body.len() > *over
            {
                match status {
                    Some(code) => {
                        tokio::time::sleep(*delay).await;
                        if write_response(&mut stream, *code, "", b"<html>504 Gateway Time-out</html>")
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(120)).await;
                        return;
                    }
                }
            }
            if let Some((status, reply)) = limit.before(&body, &parsed, calls) {
                if write_response(&mut stream, status, "", &reply).await.is_err() {
                    return;
                }
                continue;
            }
        }
        let mut intercepted: Option<Rewriting> = None;
        if let Fault::Intercept(handler) = &shared.fault {
            match handler(parsed.as_ref().unwrap_or(&serde_json::Value::Null)) {
                Intercept::Pass => {}
                Intercept::Reply { status, body } => {
                    if write_response(&mut stream, status, "", body.as_bytes()).await.is_err() {
                        return;
                    }
                    continue;
                }
                Intercept::Rewrite(f) => intercepted = Some(f),
            }
        }

        match &shared.fault {
            Fault::RefuseBatches if is_array => {
                let refusal = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch requests are not supported"}}"#;
                if write_response(&mut stream, 200, "", refusal).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::CapBatch(n) if calls > *n => {
                let body = format!("{{\"error\":\"batch of {calls} is over the limit of {n}\"}}");
                if write_response(&mut stream, 413, "", body.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::GzipBomb(packed) => {
                if write_response(&mut stream, 200, "Content-Encoding: gzip\r\n", packed)
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::RequireHeader { name, value } => {
                let wanted = format!("{}: {}", name.to_ascii_lowercase(), value.to_ascii_lowercase());
                if !head.lines().any(|l| l.trim().to_ascii_lowercase() == wanted) {
                    if write_response(&mut stream, 401, "", b"{\"error\":\"unauthorized\"}")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
            Fault::Redirect { code, location } => {
                let extra = format!("Location: {location}\r\n");
                if write_response(&mut stream, *code, &extra, b"").await.is_err() {
                    return;
                }
                continue;
            }
            Fault::Echo { code } => {
                let echoed = head.replace("\r\n", " | ");
                let error = |id: &serde_json::Value| serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": format!("rejected: {echoed}")}});
                let answer = match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(serde_json::Value::Array(calls)) => {
                        serde_json::Value::Array(calls.iter().map(|c| error(&c["id"])).collect())
                    }
                    Ok(call) => error(&call["id"]),
                    Err(_) => error(&serde_json::Value::Null),
                };
                let answer = serde_json::to_vec(&answer).expect("json");
                if write_response(&mut stream, 200, "", &answer).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::EchoAs { code, form } => {
                let echoed = form.apply(&head.replace("\r\n", " | "));
                let error = |id: &serde_json::Value| serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": format!("rejected: {echoed}")}});
                let answer = match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(serde_json::Value::Array(_)) | Err(_) => error(&serde_json::Value::Null),
                    Ok(call) => error(&call["id"]),
                };
                let answer = serde_json::to_vec(&answer).expect("json");
                if write_response(&mut stream, 200, "", &answer).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::Hang => {
                // Hold the connection open, bounded.
                tokio::time::sleep(Duration::from_secs(120)).await;
                return;
            }
            Fault::Close => return,
            Fault::Status { code, retry_after } => {
                let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
                if write_response(&mut stream, *code, &extra, b"{\"error\":\"injected\"}")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::FailFirst {
                n: first,
                code,
                retry_after,
            } if n < *first => {
                let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
                if write_response(&mut stream, *code, &extra, b"injected failure")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::NotJson => {
                if write_response(&mut stream, 200, "", b"<html>502 Bad Gateway</html>")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::Body(text) => {
                if write_response(&mut stream, 200, "", text.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::StallAfter { sent, gzip } => {
                stall_after(&mut stream, *sent, *gzip && accepts_gzip(&head), &shared.stalled).await;
                return;
            }
            Fault::Gate(open) => {
                let mut open = open.clone();
                let _ = tokio::time::timeout(Duration::from_secs(60), open.wait_for(|o| *o)).await;
            }
            Fault::Endless => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let started = std::time::Instant::now();
                for _ in 0..(1024 * 1024 / 64) {
                    if started.elapsed() > Duration::from_secs(60) || stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                return;
            }
            _ => {}
        }

        let upstream = shared
            .client
            .post(&shared.upstream)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let Ok(upstream) = upstream else {
            let _ = write_response(&mut stream, 502, "", b"upstream down").await;
            return;
        };
        let status = upstream.status().as_u16();
        let mut answer = upstream.bytes().await.map(|b| b.to_vec()).unwrap_or_default();

        if let Some(rewrite) = intercepted
            && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer)
        {
            rewrite(&mut v);
            answer = serde_json::to_vec(&v).expect("json");
        }
        if let Fault::Limit(limit) = &shared.fault {
            answer = limit.after(&parsed, answer);
        }
        match &shared.fault {
            Fault::Head(claimed) => {
                let asked_head = |c: &serde_json::Value| c["method"] == "eth_blockNumber";
                let ids: Vec<serde_json::Value> = match &parsed {
                    Some(serde_json::Value::Array(calls)) => calls
                        .iter()
                        .filter(|c| asked_head(c))
                        .map(|c| c["id"].clone())
                        .collect(),
                    Some(call) if asked_head(call) => vec![call["id"].clone()],
                    _ => Vec::new(),
                };
                if let (false, Ok(mut v)) = (ids.is_empty(), serde_json::from_slice::<serde_json::Value>(&answer)) {
                    let lie = |item: &mut serde_json::Value| {
                        if ids.contains(&item["id"]) {
                            *item = serde_json::json!({"jsonrpc": "2.0", "id": item["id"].clone(), "result": format!("{claimed:#x}")});
                        }
                    };
                    match &mut v {
                        serde_json::Value::Array(items) => items.iter_mut().for_each(lie),
                        single => lie(single),
                    }
                    answer = serde_json::to_vec(&v).expect("json");
                }
            }
            Fault::Delay(d) => tokio::time::sleep(*d).await,
            Fault::Rewrite(f) => {
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer) {
                    f(&mut v);
                    answer = serde_json::to_vec(&v).expect("json");
                }
            }
            Fault::RateLimitEntries if n == 0 => {
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer) {
                    for item in v.as_array_mut().into_iter().flatten() {
                        if item["id"].as_u64().is_some_and(|id| id % 2 == 0) {
                            let id = item["id"].clone();
                            *item = serde_json::json!({"jsonrpc": "2.0", "id": id,
                                "error": {"code": 429, "message": "too many requests"}});
                        }
                    }
                    answer = serde_json::to_vec(&v).expect("json");
                }
            }
            Fault::Truncate => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&answer[..answer.len() / 2]).await;
                return;
            }
            Fault::Trickle(every) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for byte in answer.iter().take(10_000) {
                    tokio::time::sleep(*every).await;
                    if stream.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Fault::Aggregate3 { attack, gzip } => {
                let (attack, gzip) = (*attack, *gzip && accepts_gzip(&head));
                // Megabytes of hex: built off the proxy's runtime threads.
                let built = tokio::task::spawn_blocking(move || {
                    let answer = hostile_aggregate3(answer, attack);
                    if gzip { gzip_of(&answer) } else { answer }
                })
                .await
                .expect("build");
                let extra = if gzip { "Content-Encoding: gzip\r\n" } else { "" };
                if write_response(&mut stream, status, extra, &built).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::HugeRevert { body_bytes, gzip } => {
                let ids = eth_call_ids(&parsed);
                let (body_bytes, gzip) = (*body_bytes, *gzip && accepts_gzip(&head));
                // Megabytes of JSON: built off the proxy's runtime threads.
                let built = tokio::task::spawn_blocking(move || {
                    let answer = huge_reverts(answer, &ids, body_bytes);
                    if gzip { gzip_of(&answer) } else { answer }
                })
                .await
                .expect("build");
                let extra = if gzip { "Content-Encoding: gzip\r\n" } else { "" };
                if write_response(&mut stream, status, extra, &built).await.is_err() {
                    return;
                }
                continue;
            }
            Fault::Gzip if head.to_ascii_lowercase().contains("accept-encoding: gzip") => {
                use std::io::Write as _;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&answer).expect("gzip");
                let packed = gz.finish().expect("gzip");
                if write_response(&mut stream, status, "Content-Encoding: gzip\r\n", &packed)
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            _ => {}
        }
        if write_response(&mut stream, status, "", &answer).await.is_err() {
            return;
        }
    }
}

/// How many outcomes `r` holds, when it is an `aggregate3` answer.
fn aggregate3_outcomes(r: &serde_json::Value) -> Option<usize> {
    use alloy::sol_types::SolCall as _;
    use quorum_check::multicall::aggregate3Call;
    r.as_str()
        .filter(|s| s.len() > 66)
        .and_then(|s| s.parse::<alloy::primitives::Bytes>().ok())
        .and_then(|b| aggregate3Call::abi_decode_returns_validate(&b).ok())
        .map(|outcomes| outcomes.len())
}

/// [`Fault::Aggregate3`]: every `aggregate3` result of `answer` replaced by
/// the attack's. The hostile hex is made once per attack and size, and
/// spliced into the JSON as text: the answer must reach the checker before
/// the honest nodes' do for the attack to land.
fn hostile_aggregate3(answer: Vec<u8>, attack: Aggregate3Attack) -> Vec<u8> {
    const SPLICE: &str = "__hostile_aggregate3__";
    static MADE: Mutex<Vec<(String, Arc<String>)>> = Mutex::new(Vec::new());
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer) else {
        return answer;
    };
    let items: Vec<&mut serde_json::Value> = match &mut v {
        serde_json::Value::Array(items) => items.iter_mut().collect(),
        single => vec![single],
    };
    let mut splices = Vec::new();
    for r in items.into_iter().filter_map(|item| item.get_mut("result")) {
        if let Some(n) = aggregate3_outcomes(r) {
            let key = format!("{attack:?} {n}");
            let mut made = MADE.lock().expect("made");
            let hex = match made.iter().find(|(k, _)| *k == key) {
                Some((_, hex)) => hex.clone(),
                None => {
                    let hex = Arc::new(alloy::primitives::Bytes::from(attack.encode(n)).to_string());
                    made.push((key, hex.clone()));
                    hex
                }
            };
            *r = serde_json::Value::String(format!("{SPLICE}{}", splices.len()));
            splices.push(hex);
        }
    }
    let mut text = serde_json::to_string(&v).expect("json");
    for (i, hex) in splices.iter().enumerate().rev() {
        text = text.replace(&format!("{SPLICE}{i}"), hex);
    }
    text.into_bytes()
}

/// [`Fault::HugeRevert`]: `answer` with every `eth_call` of `ids` reverted,
/// the revert data sharing about `body_bytes` of hex. Built as text: the hex
/// is made once per size and copied in.
fn huge_reverts(answer: Vec<u8>, ids: &[serde_json::Value], body_bytes: usize) -> Vec<u8> {
    static HEX: Mutex<Option<(usize, Arc<String>)>> = Mutex::new(None);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer) else {
        return answer;
    };
    if ids.is_empty() {
        return answer;
    }
    // Hex doubles the bytes; leave room for the JSON around them.
    let each = (body_bytes / 2 / ids.len()).saturating_sub(64).max(68);
    let data = {
        let mut cached = HEX.lock().expect("hex");
        match &*cached {
            Some((n, hex)) if *n == each => hex.clone(),
            _ => {
                let hex = Arc::new(alloy::primitives::Bytes::from(revert_of(each)).to_string());
                *cached = Some((each, hex.clone()));
                hex
            }
        }
    };
    let item = |item: &serde_json::Value| {
        if ids.contains(&item["id"]) {
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":3,"message":"execution reverted","data":"{data}"}}}}"#,
                item["id"]
            )
        } else {
            item.to_string()
        }
    };
    match &v {
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(item).collect::<Vec<_>>().join(",")),
        single => item(single),
    }
    .into_bytes()
}

/// [`Fault::StallAfter`]: `sent` bytes of a body, then silence. Bounded in
/// time whatever the peer does (it may stop reading).
async fn stall_after<S: AsyncWrite + Unpin>(stream: &mut S, sent: usize, gzip: bool, stalled: &AtomicUsize) {
    let run = async {
        let encoding = if gzip { "Content-Encoding: gzip\r\n" } else { "" };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n{encoding}\r\n");
        stream.write_all(head.as_bytes()).await?;
        let body = tokio::task::spawn_blocking(move || stalled_body(sent, gzip))
            .await
            .expect("body");
        for chunk in body.chunks(64 * 1024) {
            stream.write_all(chunk).await?;
        }
        stream.flush().await?;
        stalled.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(120)).await;
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(130), run).await;
}

/// `sent` bytes of a JSON body that never ends (`[` and spaces), or a gzip
/// stream of them flushed so that all of it can be inflated; made once per
/// size and shared.
fn stalled_body(sent: usize, gzip: bool) -> Arc<Vec<u8>> {
    type Made = Vec<((usize, bool), Arc<Vec<u8>>)>;
    static MADE: Mutex<Made> = Mutex::new(Vec::new());
    let mut made = MADE.lock().expect("stalled bodies");
    if let Some((_, body)) = made.iter().find(|(key, _)| *key == (sent, gzip)) {
        return body.clone();
    }
    let mut body = vec![b' '; sent];
    if let Some(first) = body.first_mut() {
        *first = b'[';
    }
    if gzip {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).expect("gzip");
        // A sync flush: everything so far can be inflated, the stream stays open.
        gz.flush().expect("gzip");
        body = std::mem::take(gz.get_mut());
    }
    let body = Arc::new(body);
    made.push(((sent, gzip), body.clone()));
    body
}

/// Reads one HTTP/1.1 request; returns its head (as sent) and body, or
/// `None` when the peer is gone.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let raw_head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let head = raw_head.to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    while buf.len() < header_end + length {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..header_end + length].to_vec();
    buf.drain(..header_end + length);
    Some((raw_head, body))
}

async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).await
}

/// A throw-away certificate authority and a server certificate it signed
/// for 127.0.0.1 and localhost, for HTTPS test endpoints.
pub struct TestCa {
    /// The CA certificate, PEM: what `--ca-cert` is given.
    pub ca_pem: String,
    /// A server configuration presenting the signed certificate.
    pub server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "quorum-check test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("server key");
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server params");
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("server cert");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .expect("server config");
        Self {
            ca_pem: ca_cert.pem(),
            server: Arc::new(server),
        }
    }
}
