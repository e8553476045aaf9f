//! Strict decoding of JSON-RPC answers: each call matched to its answer by id.

use alloy::rpc::json_rpc::{Id, Response, ResponsePacket, ResponsePayload};

use super::{CallResult, NodeFailure, node_text};

/// The answer to a plain (un-batched) request: one result, or the node's
/// error for that call. A one-element array is accepted too.
pub fn decode_single(body: &[u8]) -> Result<Vec<CallResult>, NodeFailure> {
    let packet: ResponsePacket = serde_json::from_slice(body).map_err(|e| {
        let what = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            "not a JSON-RPC response"
        } else {
            "not JSON"
        };
        NodeFailure::BadResponse(format!("{what} ({})", node_text(&e.to_string())))
    })?;
    let response = match packet {
        ResponsePacket::Single(r) => r,
        ResponsePacket::Batch(mut v) if v.len() == 1 => v.remove(0),
        ResponsePacket::Batch(v) => {
            return Err(NodeFailure::BadResponse(format!("{} answers to one call", v.len())));
        }
    };
    match (&response.id, response.payload) {
        (Id::Number(0), ResponsePayload::Success(result)) => Ok(vec![Ok(result)]),
        (Id::Number(0) | Id::None, ResponsePayload::Failure(e)) => Ok(vec![Err(e)]),
        (other, _) => Err(NodeFailure::BadResponse(format!(
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
    let packet: ResponsePacket = serde_json::from_slice(body).map_err(|e| {
        let what = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            "not a JSON-RPC response"
        } else {
            "not JSON"
        };
        bad(format!("{what} ({})", node_text(&e.to_string())))
    })?;
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
    let mut slots: Vec<Option<CallResult>> = (0..expected).map(|_| None).collect();
    for response in responses {
        let index = match response.id {
            Id::Number(n) if (n as usize) < expected && n <= usize::MAX as u64 => n as usize,
            other => {
                return Err(bad(format!(
                    "answer with unexpected id {}",
                    node_text(&other.to_string())
                )));
            }
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
