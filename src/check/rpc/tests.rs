//! Unit tests of the JSON-RPC client's pure parts.

use super::*;

fn ok(r: &CallResult) -> &str {
    r.as_ref().unwrap().get()
}

#[test]
fn matches_answers_by_id_in_any_order() {
    let body = br#"[{"jsonrpc":"2.0","id":1,"result":"0x02"},{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#;
    let results = decode_batch(body, 2).unwrap();
    assert_eq!(ok(&results[0]), "\"0x01\"");
    assert_eq!(ok(&results[1]), "\"0x02\"");
}

#[test]
fn per_call_errors_stay_per_call() {
    let body = br#"[{"jsonrpc":"2.0","id":0,"error":{"code":3,"message":"execution reverted","data":"0x"}},{"jsonrpc":"2.0","id":1,"result":"0x"}]"#;
    let results = decode_batch(body, 2).unwrap();
    assert_eq!(results[0].as_ref().unwrap_err().code, 3);
    assert!(results[1].is_ok());
}

#[test]
fn rejects_missing_duplicate_and_unknown_ids() {
    let cases: [(&[u8], &str); 5] = [
        (br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#, "missing 1 of 2"),
        (
            br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":0,"result":"0x01"}]"#,
            "two answers",
        ),
        (
            br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":7,"result":"0x01"}]"#,
            "unexpected id 7",
        ),
        (
            br#"[{"jsonrpc":"2.0","id":"00","result":"0x01"},{"jsonrpc":"2.0","id":1,"result":"0x01"}]"#,
            "unexpected id",
        ),
        (br#"{"jsonrpc":"2.0","id":0,"result":"0x01"}"#, "single result"),
    ];
    for (body, expected) in cases {
        let err = decode_batch(body, 2).unwrap_err();
        assert!(
            matches!(&err, NodeFailure::BadResponse(m) if m.contains(expected)),
            "{err}"
        );
    }
}

#[test]
fn garbage_is_a_bad_response() {
    for body in [
        &b"<html>502</html>"[..],
        b"",
        b"{\"a\":1}",
        b"[1,2]",
        b"[{\"id\":0}]",
        b"\xff\xfe",
    ] {
        assert!(
            matches!(decode_batch(body, 1), Err(NodeFailure::BadResponse(_))),
            "{body:?}"
        );
    }
}

#[test]
fn a_single_error_object_fails_the_batch() {
    let body = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}"#;
    let err = decode_batch(body, 3).unwrap_err();
    assert_eq!(
        err,
        NodeFailure::Rpc {
            code: -32005,
            message: "rate limited".into()
        }
    );
    assert!(err.is_transient());
}

#[test]
fn transient_classification() {
    assert!(NodeFailure::Http(429).is_transient());
    assert!(NodeFailure::Http(503).is_transient());
    assert!(!NodeFailure::Http(401).is_transient());
    assert!(NodeFailure::Connect("refused".into()).is_transient());
    assert!(!NodeFailure::BadResponse("x".into()).is_transient());
    assert!(
        !NodeFailure::Rpc {
            code: -32601,
            message: "no".into()
        }
        .is_transient()
    );
}

#[test]
fn tls_failures_in_plain_english() {
    let tls = |chain: &str, https| tls_failure(chain, https).unwrap_or_default();
    assert!(tls("client error (Connect): invalid peer certificate: UnknownIssuer", true).contains("see --ca-cert"));
    assert!(tls("received corrupt message of type InvalidContentType", true).contains("use http://"));
    assert!(tls("invalid HTTP version parsed", false).contains("use https://"));
    assert!(tls_failure("Connection refused", true).is_none());
    assert!(tls_failure("Connection refused", false).is_none());
    assert!(!NodeFailure::Tls("x".into()).is_transient());
    assert!(!NodeFailure::Redirect(307).is_transient());
}

#[test]
fn retry_after_in_both_forms() {
    assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
    let soon = std::time::SystemTime::now() + Duration::from_secs(30);
    let d = parse_retry_after(&httpdate::fmt_http_date(soon)).unwrap();
    assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn single_requests_and_their_answers() {
    let one = [Call {
        method: "eth_chainId",
        params: serde_json::json!([]),
    }];
    let body = String::from_utf8(encode_request(&one).unwrap()).unwrap();
    assert!(body.starts_with('{'), "{body}");
    let two = [one[0].clone(), one[0].clone()];
    assert!(encode_request(&two).unwrap().starts_with(b"["));
    let ok = decode_single(br#"{"jsonrpc":"2.0","id":0,"result":"0x1"}"#).unwrap();
    assert_eq!(ok[0].as_ref().unwrap().get(), "\"0x1\"");
    let err = decode_single(br#"{"jsonrpc":"2.0","id":0,"error":{"code":3,"message":"execution reverted"}}"#).unwrap();
    assert_eq!(err[0].as_ref().unwrap_err().code, 3);
    assert!(decode_single(br#"{"jsonrpc":"2.0","id":5,"result":"0x1"}"#).is_err());
}

#[test]
fn batch_refusals_are_told_from_failures() {
    assert!(is_batch_refusal(&NodeFailure::Http(413)));
    assert!(is_batch_refusal(&NodeFailure::Rpc {
        code: -32600,
        message: "batch requests are not supported".into()
    }));
    assert!(!is_batch_refusal(&NodeFailure::Rpc {
        code: -32005,
        message: "rate limited".into()
    }));
    assert!(!is_batch_refusal(&NodeFailure::Timeout));
    assert!(!is_batch_refusal(&NodeFailure::Http(401)));
}

/// The promise (RELIABILITY.md): "100 ms doubling, with jitter, at most
/// 5 s". Checked as properties of many draws, with those numbers, not by
/// computing the formula again.
#[test]
fn backoff_doubles_from_100ms_with_jitter_and_never_exceeds_5s() {
    let ms = Duration::from_millis;
    let draws = |attempt: u32| -> (Duration, Duration) {
        let waits: Vec<Duration> = (0..400).map(|_| backoff(attempt)).collect();
        let shortest = waits.iter().min().copied().unwrap_or_default();
        let longest = waits.iter().max().copied().unwrap_or_default();
        (shortest, longest)
    };
    // Bounds: the first retry waits, but not more than 100 ms.
    let (shortest, longest) = draws(1);
    assert!(shortest >= ms(10) && longest <= ms(100), "{shortest:?}..{longest:?}");
    // Growth: until the cap, each retry's longest wait is about twice the last.
    let longest: Vec<Duration> = (1..=5).map(|attempt| draws(attempt).1).collect();
    for (attempt, pair) in (1..).zip(longest.windows(2)) {
        let ratio = pair[1].as_secs_f64() / pair[0].as_secs_f64();
        assert!(
            (1.7..=2.3).contains(&ratio),
            "retry {attempt} → next: ×{ratio:.2} ({pair:?})"
        );
    }
    assert!(
        longest[4] >= ms(1_300) && longest[4] <= ms(1_600),
        "5th retry: {:?}",
        longest[4]
    );
    // Cap: late retries, up to absurd counts, wait long but never above 5 s.
    for attempt in [8, 12, 31, 32, 64, 1_000, u32::MAX] {
        let (shortest, longest) = draws(attempt);
        assert!(longest <= ms(5_000), "retry {attempt}: {longest:?}");
        assert!(
            shortest >= ms(1_000),
            "retry {attempt} fell back to short waits: {shortest:?}"
        );
        assert!(longest >= ms(4_500), "retry {attempt} stays below the cap: {longest:?}");
    }
    // Jitter: the waits of one retry vary (clients do not retry in
    // lockstep), but jitter never shortens a wait to near nothing.
    let (shortest, longest) = draws(4);
    assert!(longest - shortest >= ms(150), "no spread: {shortest:?}..{longest:?}");
    assert!(shortest * 3 >= longest, "{shortest:?}..{longest:?}");
}

#[test]
fn clean_bounds_and_flattens() {
    assert_eq!(clean("a\nb"), "a b");
    assert_eq!(clean(&"x".repeat(500)).chars().count(), 201);
}

/// A UTF-8 byte-order mark before the JSON is skipped.
#[test]
fn a_byte_order_mark_is_skipped() {
    let mut body = b"\xef\xbb\xbf".to_vec();
    body.extend_from_slice(br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":1,"result":"0x02"}]"#);
    let results = decode_batch(&body, 2).unwrap();
    assert_eq!(ok(&results[1]), "\"0x02\"");
    let mut single = b"\xef\xbb\xbf".to_vec();
    single.extend_from_slice(br#"{"jsonrpc":"2.0","id":0,"result":"0x01"}"#);
    assert_eq!(ok(&decode_single(&single).unwrap()[0]), "\"0x01\"");
}

/// Ids echoed as strings are ours when they spell our number, and only then.
#[test]
fn ids_echoed_as_strings_equal_to_ours_are_accepted() {
    let body = br#"[{"jsonrpc":"2.0","id":"1","result":"0x02"},{"jsonrpc":"2.0","id":"0","result":"0x01"}]"#;
    let results = decode_batch(body, 2).unwrap();
    assert_eq!((ok(&results[0]), ok(&results[1])), ("\"0x01\"", "\"0x02\""));
    assert_eq!(
        ok(&decode_single(br#"{"jsonrpc":"2.0","id":"0","result":"0x01"}"#).unwrap()[0]),
        "\"0x01\""
    );
    for id in ["\"0x0\"", "\" 0\"", "\"+0\"", "\"2\"", "\"zero\""] {
        let body =
            format!(r#"[{{"jsonrpc":"2.0","id":{id},"result":"0x01"}},{{"jsonrpc":"2.0","id":1,"result":"0x02"}}]"#);
        assert!(
            matches!(decode_batch(body.as_bytes(), 2), Err(NodeFailure::BadResponse(m)) if m.contains("unexpected id")),
            "{id}"
        );
    }
}

/// A batch refused as an array of errors without ids: the batch's failure
/// (so it is halved), not "an answer with unexpected id null".
#[test]
fn a_refused_batch_as_an_error_array_with_null_ids_fails_the_batch() {
    let one = br#"[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}]"#;
    let err = decode_batch(one, 3).unwrap_err();
    assert_eq!(
        err,
        NodeFailure::Rpc {
            code: -32600,
            message: "batch too large".into()
        }
    );
    assert!(failure::is_batch_refusal(&err));
    let each = br#"[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}]"#;
    assert!(matches!(
        decode_batch(each, 2),
        Err(NodeFailure::Rpc { code: -32600, .. })
    ));
    // One null-id error among answers with ids is still a bad answer.
    let mixed = br#"[{"jsonrpc":"2.0","id":0,"result":"0x01"},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}]"#;
    assert!(matches!(decode_batch(mixed, 2), Err(NodeFailure::BadResponse(_))));
}

/// An HTML page or plain text says what it was, and is retried once.
#[test]
fn html_and_text_answers_say_what_they_were() {
    for body in [
        &b"<!DOCTYPE html><html><body>502</body></html>"[..],
        b"  <html>oops</html>",
    ] {
        let err = decode_batch(body, 2).unwrap_err();
        assert_eq!(
            err,
            NodeFailure::BadResponse("answered HTML, not JSON (HTTP 200)".into())
        );
        assert!(err.is_unexpected_markup());
        assert_eq!(decode_single(body).unwrap_err(), err);
    }
    let err = decode_single(b"upstream connect error").unwrap_err();
    assert_eq!(
        err,
        NodeFailure::BadResponse("answered text, not JSON (HTTP 200)".into())
    );
    assert!(err.is_unexpected_markup());
    // Broken JSON is not markup.
    assert!(!decode_single(b"{\"jsonrpc\":").unwrap_err().is_unexpected_markup());
}

fn payload(code: i64, message: &str, data: Option<&str>) -> alloy::rpc::json_rpc::ErrorPayload {
    alloy::rpc::json_rpc::ErrorPayload {
        code,
        message: message.to_string().into(),
        data: data.map(|d| serde_json::value::RawValue::from_string(d.to_string()).unwrap()),
    }
}

#[test]
fn rate_limit_hints_are_read_where_providers_put_them() {
    let infura = payload(
        -32005,
        "project ID request rate exceeded",
        Some(
            r#"{"see":"https://infura.io/dashboard","current_rps":13.3,"allowed_rps":1.0,"backoff_seconds":30.0,"rate":{"allowed_rps":1,"backoff_seconds":1.5,"current_rps":2}}"#,
        ),
    );
    assert_eq!(backoff_hint(&infura), Some(Duration::from_millis(1500)));
    assert!(failure::is_rate_limit_entry(&infura));
    assert_eq!(
        backoff_hint(&payload(-32005, "x", Some(r#"{"backoff_seconds":2}"#))),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        backoff_hint(&payload(-32005, "x", Some(r#"{"rate":{"backoff_seconds":-1}}"#))),
        None
    );
    assert_eq!(backoff_hint(&payload(-32005, "x", None)), None);
    // Alchemy's compute units, in its words, under any code.
    let alchemy = payload(
        -32000,
        "Your app has exceeded its compute units per second capacity.",
        None,
    );
    assert!(failure::is_rate_limit_entry(&alchemy));
    assert!(is_transient_entry(&alchemy));
    // A rate-limit body behind HTTP 429 or 200.
    let body = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"limit","data":{"rate":{"backoff_seconds":0.25}}}}"#;
    assert_eq!(failure::body_backoff_hint(body), Some(Duration::from_millis(250)));
    assert_eq!(failure::body_rate_limit(body), Some((-32005, "limit".into())));
    let alchemy_body = br#"{"jsonrpc":"2.0","error":{"code":429,"message":"Your app has exceeded its compute units per second capacity."}}"#;
    assert_eq!(failure::body_rate_limit(alchemy_body).map(|(c, _)| c), Some(429));
    assert_eq!(
        failure::body_rate_limit(br#"{"error":{"code":-32000,"message":"no"}}"#),
        None
    );
    assert!(failure::is_rate_limited(&NodeFailure::Rpc {
        code: -32000,
        message: "rate limit exceeded".into()
    }));
}

#[test]
fn transient_entries_and_out_of_gas_are_told_apart() {
    assert!(is_transient_entry(&payload(-32000, "header not found", None)));
    assert!(is_transient_entry(&payload(-32603, "internal error", None)));
    assert!(!is_transient_entry(&payload(-32000, "execution reverted", None)));
    assert!(!is_transient_entry(&payload(3, "execution reverted", None)));
    for words in [
        "EVM error OutOfGas",
        "out of gas",
        "gas required exceeds allowance (1000000)",
        "err: execution aborted (timeout = 5s) / gas cap",
    ] {
        assert!(is_out_of_gas(&payload(-32000, words, None)), "{words}");
    }
    assert!(!is_out_of_gas(&payload(-32000, "header not found", None)));
}
