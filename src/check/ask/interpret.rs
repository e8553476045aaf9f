//! What one request's answers mean, apart from any network: a plain
//! `eth_call` result, or an `aggregate3` result for a run of transactions,
//! becomes one [`TxAnswer`] per transaction — the same status a plain call
//! would give (`ok`, `reverted`, `no_contract`, `bad_response`, …) — or a
//! reason to ask again with plain calls. Linear in the answers' size, with
//! bounded work per revert reason.

use std::ops::Range;

use alloy::primitives::{Bytes, U64};
use serde_json::value::RawValue;

use crate::{
    abi::{DecodeError, MAX_REVERT_BYTES, VoteFunction, VoteValue},
    check::{
        multicall::{self, Decoded},
        rpc::{CallResult, is_out_of_gas, is_transient_entry, node_text},
    },
    report::NodeStatus,
};

/// What one node answered about one transaction: its status, and the vote
/// when it gave a valid one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TxAnswer {
    pub status: NodeStatus,
    pub vote: Option<VoteValue>,
}

impl TxAnswer {
    /// A valid vote.
    fn valid(vote: VoteValue) -> Self {
        Self {
            status: NodeStatus::Ok { vote: vote.into() },
            vote: Some(vote),
        }
    }

    /// No valid vote, for the reason `status` gives.
    pub(super) fn invalid(status: NodeStatus) -> Self {
        Self { status, vote: None }
    }
}

/// What one request's answers say, before the `eth_getCode` follow-up and
/// before secrets are masked.
pub(super) struct Interpreted {
    /// Per entry, its first transaction and one verdict per transaction.
    pub answered: Vec<(usize, Vec<TxAnswer>)>,
    /// Entries to ask again, and how.
    pub fallback: Vec<(Range<usize>, Again)>,
}

/// Why an `aggregate3` entry is asked again, and so how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Again {
    /// What is at the address is not Multicall3: plain calls, for the rest
    /// of the node's run.
    Unusable(String),
    /// Too much at once (out of gas, a gas cap): a smaller chunk.
    Smaller(String),
    /// A transient error (-32603, "header not found"): the same again.
    Transient(String),
}

/// Reads each entry's answer: a plain `eth_call` result, or an `aggregate3`
/// result for the entry's transactions. Pure; linear in the answers' size,
/// with bounded work per revert reason.
pub(super) fn interpret(
    function: &VoteFunction,
    multicall: bool,
    entries: Vec<Range<usize>>,
    results: Vec<CallResult>,
) -> Interpreted {
    let mut answered = Vec::with_capacity(entries.len());
    let mut fallback = Vec::new();
    for (range, result) in entries.into_iter().zip(results) {
        if !multicall {
            answered.push((range.start, vec![vote_status(function, result)]));
            continue;
        }
        match aggregate_outcomes(result, range.len()) {
            Aggregate::Outcomes(outcomes) => answered.push((
                range.start,
                outcomes
                    .into_iter()
                    .map(|(success, data)| inner_status(function, success, &data))
                    .collect(),
            )),
            Aggregate::Malformed(reason) => {
                let answer = TxAnswer::invalid(NodeStatus::BadResponse { reason });
                answered.push((range.start, vec![answer; range.len()]));
            }
            Aggregate::Again(again) => fallback.push((range, again)),
        }
    }
    Interpreted { answered, fallback }
}

/// The bytes of one call's answer that reading it has to go through.
pub(super) fn answer_size(result: &CallResult) -> usize {
    match result {
        Ok(raw) => raw.get().len(),
        Err(e) => e.message.len() + e.data.as_ref().map_or(0, |d| d.get().len()),
    }
}

/// What one `aggregate3` entry's answer means.
enum Aggregate {
    /// One `(success, returnData)` per transaction.
    Outcomes(Vec<(bool, Bytes)>),
    /// The node's bad response for all of the entry's transactions.
    Malformed(String),
    /// Ask again (see [`Again`]).
    Again(Again),
}

fn aggregate_outcomes(result: CallResult, expected: usize) -> Aggregate {
    let raw = match result {
        Ok(raw) => raw,
        Err(e) => {
            let why = format!("aggregate3 failed: {}: {}", e.code, node_text(&e.message));
            return Aggregate::Again(if is_out_of_gas(&e) {
                Again::Smaller(why)
            } else if is_transient_entry(&e) {
                Again::Transient(why)
            } else {
                Again::Unusable(why)
            });
        }
    };
    let unusable = |why: String| Aggregate::Again(Again::Unusable(why));
    let Ok(data) = serde_json::from_str::<Bytes>(raw.get()) else {
        return unusable("aggregate3 result is not hex data".into());
    };
    match multicall::decode(&data, expected) {
        Decoded::Outcomes(outcomes) => Aggregate::Outcomes(outcomes),
        Decoded::NoCode => unusable("no Multicall3 code at its address".into()),
        Decoded::Bad(why) => unusable(why),
        Decoded::Malformed(why) => Aggregate::Malformed(why),
    }
}

/// A revert's reason when it carried no data, whoever was asked and how.
pub(crate) const REVERTED_WITHOUT_DATA: &str = "execution reverted";

/// One inner call's status, the same as the plain call would have given.
fn inner_status(function: &VoteFunction, success: bool, data: &Bytes) -> TxAnswer {
    if success {
        decode_vote(function, data)
    } else {
        let reason = if data.is_empty() {
            REVERTED_WITHOUT_DATA.to_string()
        } else {
            node_text(&function.describe_revert(data))
        };
        TxAnswer::invalid(NodeStatus::Reverted { reason })
    }
}

pub(crate) fn check_chain(expected: u64, result: CallResult) -> Result<(), NodeStatus> {
    let raw = result.map_err(|e| NodeStatus::RpcError {
        code: e.code,
        message: node_text(&e.message),
    })?;
    let id: U64 = serde_json::from_str(raw.get()).map_err(|_| NodeStatus::BadResponse {
        reason: "eth_chainId result is not a quantity".into(),
    })?;
    let id = id.to::<u64>();
    if id == expected {
        Ok(())
    } else {
        Err(NodeStatus::WrongChain { chain_id: id })
    }
}

fn vote_status(function: &VoteFunction, result: CallResult) -> TxAnswer {
    match result {
        Ok(raw) => decode_result(function, &raw),
        Err(e) if e.code == 3 || e.message.to_ascii_lowercase().contains("revert") => {
            let reason = match e.data.as_ref().and_then(|d| revert_data(d.get(), 0)) {
                Some((head, total)) if total > 0 => node_text(&function.describe_revert_head(&head, total)),
                // Without data, every node program words a revert its own
                // way ("Transaction reverted without a reason string", "VM
                // Exception while processing transaction: revert"): one
                // wording, the same as through Multicall3. A message that
                // does not even say "revert" is the node's own, kept.
                _ if e.message.to_ascii_lowercase().contains("revert") => REVERTED_WITHOUT_DATA.to_string(),
                _ => node_text(&e.message),
            };
            TxAnswer::invalid(NodeStatus::Reverted { reason })
        }
        Err(e) => TxAnswer::invalid(NodeStatus::RpcError {
            code: e.code,
            message: node_text(&e.message),
        }),
    }
}

/// Revert data wherever node software puts it: `error.data` as a hex string
/// (geth, anvil, ganache), nested as `error.data.data` (hardhat), or as the
/// `return` of the one entry of an object keyed by transaction (old ganache).
/// Returns its first [`MAX_REVERT_BYTES`] and its whole length: the rest is
/// checked to be hex but never decoded, and nothing of the JSON is copied.
fn revert_data(raw: &str, depth: u8) -> Option<(Bytes, usize)> {
    match raw.trim_start().as_bytes().first()? {
        b'"' => {
            let text: std::borrow::Cow<'_, str> = match serde_json::from_str::<&str>(raw) {
                Ok(borrowed) => borrowed.into(),
                // Escapes in the string: it cannot borrow.
                Err(_) => serde_json::from_str::<String>(raw).ok()?.into(),
            };
            let digits = text.strip_prefix("0x").unwrap_or(&text).as_bytes();
            if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let head = &digits[..digits.len().min(2 * MAX_REVERT_BYTES)];
            let head = alloy::primitives::hex::decode(head).ok()?;
            Some((head.into(), digits.len() / 2))
        }
        b'{' if depth < 3 => {
            let map: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(raw).ok()?;
            ["data", "return", "result"]
                .iter()
                .filter_map(|k| map.get(*k))
                .chain(map.values())
                .find_map(|inner| revert_data(inner.get(), depth + 1))
        }
        _ => None,
    }
}

/// A plain `eth_call` result: `"0x"` and 64 hex digits, or `"0x"` (empty).
/// Anything longer is not a vote, and is not decoded to find that out.
fn decode_result(function: &VoteFunction, raw: &RawValue) -> TxAnswer {
    const LONGEST: usize = "\"0x\"".len() + 64;
    let text = raw.get();
    let is_hex_string = |t: &str| {
        t.len() >= 4
            && t.starts_with("\"0x")
            && t.ends_with('"')
            && t.as_bytes()[3..t.len() - 1].iter().all(u8::is_ascii_hexdigit)
    };
    if text.len() > LONGEST {
        let reason = if is_hex_string(text) {
            DecodeError::Length((text.len() - 4) / 2).to_string()
        } else {
            "eth_call result is not hex data".into()
        };
        return TxAnswer::invalid(NodeStatus::BadResponse { reason });
    }
    match serde_json::from_str::<Bytes>(text) {
        Ok(data) => decode_vote(function, &data),
        Err(_) => TxAnswer::invalid(NodeStatus::BadResponse {
            reason: "eth_call result is not hex data".into(),
        }),
    }
}

/// A call's return data as a vote, strictly; empty data is `no_contract`
/// until `eth_getCode` says otherwise.
fn decode_vote(function: &VoteFunction, data: &Bytes) -> TxAnswer {
    match function.decode(data) {
        Ok(vote) => TxAnswer::valid(vote),
        Err(DecodeError::Empty) => TxAnswer::invalid(NodeStatus::NoContract),
        Err(e) => TxAnswer::invalid(NodeStatus::BadResponse { reason: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_data_is_found_in_every_shape() {
        let data = "0x08c379a0";
        for raw in [
            format!("\"{data}\""),
            format!(r#"{{"message":"reverted","data":"{data}"}}"#),
            format!(r#"{{"0xabc":{{"error":"revert","return":"{data}"}}}}"#),
            // An escaped digit: still found.
            r#""0x08c379\u0061\u0030""#.to_string(),
        ] {
            let (head, total) = revert_data(&raw, 0).unwrap_or_else(|| panic!("{raw}"));
            assert_eq!((head.to_string().as_str(), total), (data, 4), "{raw}");
        }
        assert!(revert_data("null", 0).is_none());
        assert!(revert_data("\"0xzz\"", 0).is_none());
        assert!(revert_data("\"0x123\"", 0).is_none());
    }

    #[test]
    fn long_revert_data_is_cut_before_it_is_decoded() {
        let total = 3 * MAX_REVERT_BYTES + 5;
        let raw = format!(r#"{{"data":"0x{}"}}"#, "ab".repeat(total));
        let (head, length) = revert_data(&raw, 0).unwrap();
        assert_eq!((head.len(), length), (MAX_REVERT_BYTES, total));
        assert!(head.iter().all(|&b| b == 0xab));
        // Not hex after the part that would be decoded: not revert data.
        let raw = format!("\"0x{}zz\"", "ab".repeat(total));
        assert!(revert_data(&raw, 0).is_none());
    }

    #[test]
    fn long_results_are_bad_responses_without_decoding() {
        let function = VoteFunction::builtin();
        let raw = |s: String| RawValue::from_string(s).unwrap();
        let status = |text: String| decode_result(&function, &raw(text)).status;
        let word = format!("\"0x{}1\"", "0".repeat(63));
        assert!(matches!(status(word), NodeStatus::Ok { .. }));
        match status(format!("\"0x{}\"", "00".repeat(1000))) {
            NodeStatus::BadResponse { reason } => assert!(reason.contains("1000 bytes"), "{reason}"),
            other => panic!("{other:?}"),
        }
        match status(format!("\"0x{}zz\"", "00".repeat(1000))) {
            NodeStatus::BadResponse { reason } => assert!(reason.contains("not hex"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(status("\"0x\"".into()), NodeStatus::NoContract));
    }

    /// A JSON string value, as a node's `result`.
    fn result(hex: &str) -> CallResult {
        Ok(RawValue::from_string(format!("\"{hex}\"")).unwrap())
    }

    #[test]
    fn each_aggregate3_answer_is_read_for_its_own_transactions() {
        use alloy::sol_types::SolCall as _;
        let function = VoteFunction::builtin();
        let word = |last: u8| {
            let mut w = vec![0u8; 32];
            w[31] = last;
            Bytes::from(w)
        };
        let outcome = |success: bool, data: Bytes| multicall::Outcome3 {
            success,
            returnData: data,
        };
        // Entry 0..3: a yes, a revert without data, a no. Entry 3..5: the
        // node's Multicall3 call failed. Entry 5..6: a list of the wrong length.
        let three = multicall::aggregate3Call::abi_encode_returns(&vec![
            outcome(true, word(1)),
            outcome(false, Bytes::new()),
            outcome(true, word(0)),
        ]);
        let one = multicall::aggregate3Call::abi_encode_returns(&vec![outcome(true, word(1))]);
        let failed: CallResult = Err(alloy::rpc::json_rpc::ErrorPayload {
            code: -32000,
            message: "execution reverted".into(),
            data: None,
        });
        let results = vec![
            result(&Bytes::from(three).to_string()),
            failed,
            result(&Bytes::from(one).to_string()),
        ];
        let Interpreted { answered, fallback } = interpret(&function, true, vec![0..3, 3..5, 5..7], results);

        let yes = VoteValue::Bool(true);
        let no = VoteValue::Bool(false);
        let reverted = NodeStatus::Reverted {
            reason: "execution reverted".into(),
        };
        assert_eq!(answered.len(), 2);
        assert_eq!(
            answered[0],
            (
                0,
                vec![TxAnswer::valid(yes), TxAnswer::invalid(reverted), TxAnswer::valid(no)]
            )
        );
        let (first, wrong_length) = &answered[1];
        assert_eq!(*first, 5);
        assert_eq!(wrong_length.len(), 2);
        assert!(
            wrong_length
                .iter()
                .all(|a| a.vote.is_none() && matches!(a.status, NodeStatus::BadResponse { .. })),
            "{wrong_length:?}"
        );
        assert_eq!(fallback.len(), 1);
        assert_eq!(fallback[0].0, 3..5);
        assert!(
            matches!(&fallback[0].1, Again::Unusable(why) if why.starts_with("aggregate3 failed: -32000")),
            "{:?}",
            fallback[0].1
        );
    }

    /// Out of gas in each node program's words is "smaller"; a transient
    /// error is "the same again"; anything else is "not Multicall3".
    #[test]
    fn an_aggregate3_error_says_how_to_ask_again() {
        let function = VoteFunction::builtin();
        let error = |code: i64, message: &str| -> CallResult {
            Err(alloy::rpc::json_rpc::ErrorPayload {
                code,
                message: message.to_string().into(),
                data: None,
            })
        };
        let cases = [
            (error(-32603, "EVM error OutOfGas"), "smaller"),
            (error(-32000, "out of gas"), "smaller"),
            (error(-32000, "gas required exceeds allowance (2600000)"), "smaller"),
            (error(-32000, "err: gas cap exceeded"), "smaller"),
            (error(-32000, "header not found"), "transient"),
            (error(-32603, "internal error"), "transient"),
            (error(-32000, "execution reverted"), "unusable"),
            (error(3, "execution reverted"), "unusable"),
        ];
        for (result, expected) in cases {
            let shown = format!("{result:?}");
            let Interpreted { answered, fallback } =
                interpret(&function, true, std::iter::once(0..2).collect(), vec![result]);
            assert!(answered.is_empty(), "{shown}");
            let got = match &fallback[0].1 {
                Again::Smaller(_) => "smaller",
                Again::Transient(_) => "transient",
                Again::Unusable(_) => "unusable",
            };
            assert_eq!(got, expected, "{shown}");
        }
    }

    #[test]
    fn plain_answers_are_one_per_entry() {
        let function = VoteFunction::builtin();
        let yes = format!("0x{}1", "0".repeat(63));
        let results = vec![result(&yes), result("0x")];
        let Interpreted { answered, fallback } = interpret(&function, false, vec![4..5, 5..6], results);
        assert!(fallback.is_empty());
        assert_eq!(
            answered,
            vec![
                (4, vec![TxAnswer::valid(VoteValue::Bool(true))]),
                (5, vec![TxAnswer::invalid(NodeStatus::NoContract)])
            ]
        );
    }
}
