//! Strict decoding of JSON-RPC answers: each call matched to its answer by id.

use alloy::rpc::json_rpc::{Id, Response, ResponsePacket, ResponsePayload};

use super::{
    CallResult, NodeFailure,
    failure::{ANSWERED_HTML, ANSWERED_TEXT},
    node_text,
};

/// A body as JSON: a UTF-8 byte-order mark before it is skipped; an answer
/// that is not JSON says whether it was an HTML page or other text.
fn parse(body: &[u8]) -> Result<ResponsePacket, NodeFailure> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    serde_json::from_slice(body).map_err(|e| {
        if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            return NodeFailure::BadResponse(format!("not a JSON-RPC response ({})", node_text(&e.to_string())));
        }
        let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
        let text = &body[start..];
        let lower = String::from_utf8_lossy(&text[..text.len().min(256)]).to_ascii_lowercase();
        if lower.starts_with("<!doctype html")
            || lower.starts_with("<html")
            || lower.starts_with("<head")
            || lower.starts_with("<body")
        {
            NodeFailure::BadResponse(format!("{ANSWERED_HTML} (HTTP 200)"))
        } else if !text.is_empty() && !matches!(text[0], b'{' | b'[' | b'"') && std::str::from_utf8(text).is_ok() {
            NodeFailure::BadResponse(format!("{ANSWERED_TEXT} (HTTP 200)"))
        } else {
            NodeFailure::BadResponse(format!("not JSON ({})", node_text(&e.to_string())))
        }
    })
}

/// The index an answer's id stands for among `expected` calls: our number,
/// or the same number echoed as a string (`"id":"0"`) — nothing else.
fn index_of(id: &Id, expected: usize) -> Option<usize> {
    let n = match id {
        Id::Number(n) => *n,
        Id::String(s) => {
            let n: u64 = s.parse().ok()?;
            // Only the number's own spelling: not "00", "+0" or " 0".
            (n.to_string() == *s).then_some(n)?
        }
        Id::None => return None,
    };
    usize::try_from(n).ok().filter(|&i| i < expected)
}

/// The answer to a plain (un-batched) request: one result, or the node's
/// error for that call. A one-element array is accepted too.
pub fn decode_single(body: &[u8]) -> Result<Vec<CallResult>, NodeFailure> {
    let packet = parse(body)?;
    let response = match packet {
        ResponsePacket::Single(r) => r,
        ResponsePacket::Batch(mut v) if v.len() == 1 => v.remove(0),
        ResponsePacket::Batch(v) => {
            return Err(NodeFailure::BadResponse(format!("{} answers to one call", v.len())));
        }
    };
    match (index_of(&response.id, 1), &response.id, response.payload) {
        (Some(0), _, ResponsePayload::Success(result)) => Ok(vec![Ok(result)]),
        (Some(0), _, ResponsePayload::Failure(e)) | (_, Id::None, ResponsePayload::Failure(e)) => Ok(vec![Err(e)]),
        (_, other, _) => Err(NodeFailure::BadResponse(format!(
            "answer with unexpected id {}",
            node_text(&other.to_string())
        ))),
    }
}

/// Matches a batch answer to the `expected` calls (ids `0..expected`).
/// Answers may come in any order (JSON-RPC 2.0 allows it); a missing,
/// duplicated or unknown id makes the whole answer a bad response.
pub fn decode_batch(body: &[u8], expected: usize) -> Result<Vec<CallResult>, NodeFailure> {
    let bad = |m: String| NodeFailure::BadResponse(m);
    let packet = parse(body)?;
    let responses = match packet {
        ResponsePacket::Batch(responses) => responses,
        // A single object to a batch: the node refused the batch as a whole.
        ResponsePacket::Single(Response {
            payload: ResponsePayload::Failure(e),
            ..
        }) => {
            return Err(NodeFailure::Rpc {
                code: e.code,
                message: node_text(&e.message),
            });
        }
        ResponsePacket::Single(_) => {
            return Err(bad("a single result where a batch was expected".into()));
        }
    };
    // The batch refused as a whole, answered as an array of errors without
    // ids (one, or one per call): the same as a single error object.
    let refused = |r: &Response| r.id == Id::None && matches!(r.payload, ResponsePayload::Failure(_));
    if responses.iter().all(refused)
        && let Some(Response {
            payload: ResponsePayload::Failure(e),
            ..
        }) = responses.first()
    {
        return Err(NodeFailure::Rpc {
            code: e.code,
            message: node_text(&e.message),
        });
    }
    let mut slots: Vec<Option<CallResult>> = (0..expected).map(|_| None).collect();
    for response in responses {
        let Some(index) = index_of(&response.id, expected) else {
            return Err(bad(format!(
                "answer with unexpected id {}",
                node_text(&response.id.to_string())
            )));
        };
        if slots[index].is_some() {
            return Err(bad(format!("two answers with id {index}")));
        }
        slots[index] = Some(match response.payload {
            ResponsePayload::Success(result) => Ok(result),
            ResponsePayload::Failure(e) => Err(e),
        });
    }
    let missing = slots.iter().filter(|s| s.is_none()).count();
    if missing > 0 {
        return Err(bad(format!("batch answer is missing {missing} of {expected} calls")));
    }
    Ok(slots.into_iter().flatten().collect())
}
