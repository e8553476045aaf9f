//! What one node's answers to the health batch say, apart from any network:
//! the questions asked ([`Question`]), the answers by question
//! ([`Answers`]), and the node's health judged from them — every failing
//! rule a named problem. The lag behind the other nodes is judged once all
//! are in ([`judge_lag`]).

use std::time::Duration;

use alloy::primitives::{B256, Bytes, U64};
use serde_json::{json, value::RawValue};

use super::{HealthCheck, NodeHealth};
use crate::{
    check::rpc::{Call, CallResult, NodeFailure, node_text},
    config::Node,
    report::NodeStatus,
    secrets::Secrets,
};

/// One question of the health batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Question {
    /// `eth_chainId`.
    ChainId,
    /// `eth_getBlockByNumber("latest")`: the head's number and time.
    Head,
    /// `web3_clientVersion`.
    ClientVersion,
    /// `eth_syncing`.
    Syncing,
    /// `eth_getCode` of the contract.
    Code,
    /// The vote function called for the zero hash.
    Vote,
}

impl Question {
    /// The questions, in the order asked; the contract's two with a contract.
    pub(super) fn all(with_contract: bool) -> &'static [Question] {
        const ALL: [Question; 6] = [
            Question::ChainId,
            Question::Head,
            Question::ClientVersion,
            Question::Syncing,
            Question::Code,
            Question::Vote,
        ];
        if with_contract { &ALL } else { &ALL[..4] }
    }

    /// The JSON-RPC call that asks it.
    pub(super) fn call(self, spec: &HealthCheck<'_>) -> Call {
        let contract = spec.contract.unwrap_or_default();
        let (method, params) = match self {
            Self::ChainId => ("eth_chainId", json!([])),
            Self::Head => ("eth_getBlockByNumber", json!(["latest", false])),
            Self::ClientVersion => ("web3_clientVersion", json!([])),
            Self::Syncing => ("eth_syncing", json!([])),
            Self::Code => ("eth_getCode", json!([contract, "latest"])),
            Self::Vote => (
                "eth_call",
                json!([{ "to": contract, "data": spec.function.calldata(B256::ZERO) }, "latest"]),
            ),
        };
        Call { method, params }
    }
}

/// A node's answers, by question; `None` where it gave none.
#[derive(Debug, Default)]
pub(super) struct Answers {
    chain_id: Option<CallResult>,
    head: Option<CallResult>,
    client_version: Option<CallResult>,
    syncing: Option<CallResult>,
    code: Option<CallResult>,
    vote: Option<CallResult>,
}

impl Answers {
    /// The answers to `questions`, in the order asked.
    pub(super) fn of(questions: &[Question], results: Vec<CallResult>) -> Self {
        let mut answers = Self::default();
        for (question, result) in questions.iter().zip(results) {
            let slot = match question {
                Question::ChainId => &mut answers.chain_id,
                Question::Head => &mut answers.head,
                Question::ClientVersion => &mut answers.client_version,
                Question::Syncing => &mut answers.syncing,
                Question::Code => &mut answers.code,
                Question::Vote => &mut answers.vote,
            };
            *slot = Some(result);
        }
        answers
    }
}

/// A successful answer's value, when it parses as `T`.
fn value<T: serde::de::DeserializeOwned>(answer: &Option<CallResult>) -> Option<T> {
    let raw: &RawValue = answer.as_ref()?.as_ref().ok()?;
    serde_json::from_str(raw.get()).ok()
}

/// `node`'s health from its `answers` (or the failure of the whole batch),
/// which came `latency` after the start; `now` is in Unix seconds.
pub(super) fn assess(
    spec: &HealthCheck<'_>,
    node: &Node,
    answers: Result<Answers, NodeFailure>,
    latency: Duration,
    now: u64,
) -> NodeHealth {
    let mut health = NodeHealth {
        node: node.index + 1,
        name: node.label(),
        url: node.url.redacted().to_string(),
        weight: node.weight,
        healthy: false,
        problems: Vec::new(),
        failure: None,
        chain_id: None,
        head_block: None,
        head_age_s: None,
        clock_ahead_s: None,
        head_lag: None,
        syncing: None,
        client_version: None,
        contract_has_code: None,
        vote_answers: None,
        latency_ms: (latency.as_secs_f64() * 1e4).round() / 10.0,
    };
    let secrets = Secrets::of(node);
    let answers = match answers {
        Ok(answers) => answers,
        Err(failure) => {
            health.problems.push(secrets.scrub(&failure.to_string()));
            health.failure = Some(NodeStatus::from(failure).scrubbed(&secrets));
            return health;
        }
    };
    health.chain_id = value::<U64>(&answers.chain_id).map(|c| c.to::<u64>());
    if let Some(block) = value::<serde_json::Value>(&answers.head) {
        let quantity = |key: &str| {
            block
                .get(key)
                .and_then(|v| serde_json::from_value::<U64>(v.clone()).ok())
        };
        health.head_block = quantity("number").map(|n| n.to::<u64>());
        if let Some(ts) = quantity("timestamp") {
            let (age, ahead) = head_age(now, ts.to::<u64>());
            health.head_age_s = Some(i64::try_from(age).unwrap_or(i64::MAX));
            health.clock_ahead_s = ahead;
        }
    }
    health.client_version = value::<String>(&answers.client_version).map(|v| secrets.scrub(&node_text(&v)));
    // `false`, or an object describing the sync's progress.
    health.syncing = value::<serde_json::Value>(&answers.syncing).map(|v| v != serde_json::Value::Bool(false));
    let mut vote_problem = None;
    if spec.contract.is_some() {
        health.contract_has_code = value::<Bytes>(&answers.code).map(|code| !code.is_empty());
        let decoded = match answers.vote {
            Some(Ok(raw)) => match serde_json::from_str::<Bytes>(raw.get()) {
                Ok(data) => spec.function.decode(&data).map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => Err("eth_call result is not hex data".to_string()),
            },
            Some(Err(e)) => Err(vote_error_reason(
                spec,
                e.code,
                &node_text(&e.message),
                e.data.as_deref(),
            )),
            None => Err("no answer".to_string()),
        };
        health.vote_answers = Some(decoded.is_ok());
        vote_problem = decoded.err().map(|why| {
            format!(
                "{} does not answer with a valid vote: {}",
                spec.function.signature(),
                secrets.scrub(&why)
            )
        });
    }
    health.problems = problems(spec, &health, vote_problem);
    health.healthy = health.problems.is_empty();
    health
}

/// Every rule `health` breaks, as a problem to show.
/// Why the vote probe's `eth_call` failed, in words: a revert's decoded
/// reason, a reason-less revert explained (it is how a solc contract answers
/// a function it does not have), else the node's code and message.
fn vote_error_reason(spec: &HealthCheck<'_>, code: i64, message: &str, data: Option<&RawValue>) -> String {
    let revert_data = data
        .and_then(|raw| serde_json::from_str::<Bytes>(raw.get()).ok())
        .filter(|d| !d.is_empty());
    let reverted = code == 3 || message.to_ascii_lowercase().contains("revert");
    match (reverted, revert_data) {
        (_, Some(data)) => format!("it reverted: {}", spec.function.describe_revert(&data)),
        (true, None) => "it reverted without a reason (a contract compiled by solc does this for a function it does not have: check --function and --abi)".into(),
        (false, None) => format!("the node answered error {code}: {message}"),
    }
}

fn problems(spec: &HealthCheck<'_>, health: &NodeHealth, vote_problem: Option<String>) -> Vec<String> {
    let mut problems = Vec::new();
    match (spec.chain_id, health.chain_id) {
        (_, None) => problems.push("no usable eth_chainId answer".into()),
        (Some(expected), Some(actual)) if expected != actual => {
            problems.push(format!("on chain {actual}, expected {expected}"));
        }
        _ => {}
    }
    if health.head_block.is_none() {
        problems.push("no usable head block".into());
    }
    if health.syncing == Some(true) {
        problems.push("syncing (eth_syncing is not false)".into());
    }
    if let (Some(max), Some(age)) = (spec.max_head_age, health.head_age_s)
        && u64::try_from(age).unwrap_or(0) > max.as_secs()
    {
        problems.push(format!(
            "head block is {age}s old (--max-head-age {})",
            humantime::format_duration(max)
        ));
    }
    // A clock a little ahead is common (hardhat, ganache); a head stamped
    // further ahead than a head may be old is as unusable as a stale one.
    if let (Some(max), Some(ahead)) = (spec.max_head_age, health.clock_ahead_s)
        && ahead > max.as_secs()
    {
        problems.push(format!(
            "head block is stamped {ahead}s in the future (--max-head-age {})",
            humantime::format_duration(max)
        ));
    }
    match health.contract_has_code {
        Some(false) => problems.push("no code at the contract address".into()),
        None if spec.contract.is_some() => problems.push("no usable eth_getCode answer".into()),
        // No code says it all; a call to nothing answers nothing.
        _ => problems.extend(vote_problem),
    }
    problems
}

/// A head stamped `timestamp` seen at `now` (both Unix seconds): its age,
/// 0 when stamped in the future, and how far in the future, if it is.
fn head_age(now: u64, timestamp: u64) -> (u64, Option<u64>) {
    match now.checked_sub(timestamp) {
        Some(age) => (age, None),
        None => (0, Some(timestamp - now)),
    }
}

/// Marks the nodes more than `max_lag` blocks behind the highest head among
/// the nodes on the same chain.
pub(super) fn judge_lag(nodes: &mut [NodeHealth], max_lag: u64) {
    let mut highest: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for n in nodes.iter() {
        if let (Some(chain), Some(head)) = (n.chain_id, n.head_block) {
            let top = highest.entry(chain).or_insert(head);
            *top = (*top).max(head);
        }
    }
    for n in nodes.iter_mut() {
        if let (Some(chain), Some(head)) = (n.chain_id, n.head_block) {
            let lag = highest[&chain] - head;
            n.head_lag = Some(lag);
            if lag > max_lag {
                n.problems.push(format!(
                    "head {lag} blocks behind the highest on chain {chain} (--max-lag {max_lag})"
                ));
                n.healthy = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ages_never_wrap() {
        assert_eq!(head_age(1_000, 400), (600, None));
        assert_eq!(head_age(1_000, 1_000), (0, None));
        assert_eq!(head_age(1_000, 1_300), (0, Some(300)));
        // 2^63 and u64::MAX: far in the future, not in the past.
        assert_eq!(
            head_age(1_000, 9_223_372_036_854_775_808),
            (0, Some(9_223_372_036_854_774_808))
        );
        assert_eq!(head_age(0, u64::MAX), (0, Some(18_446_744_073_709_551_615)));
        assert_eq!(head_age(u64::MAX, 0), (18_446_744_073_709_551_615, None));
    }

    fn ok(json: &str) -> CallResult {
        Ok(RawValue::from_string(json.to_string()).unwrap())
    }

    fn judged(results: Vec<CallResult>, now: u64) -> NodeHealth {
        let function = crate::abi::VoteFunction::builtin();
        let spec = HealthCheck {
            nodes: &[],
            chain_id: Some(1),
            contract: Some(alloy::primitives::Address::repeat_byte(0x11)),
            function: &function,
            threshold: 1,
            timeout: Duration::from_secs(1),
            max_lag: 5,
            max_head_age: Some(Duration::from_secs(60)),
        };
        let node = Node::at(0, crate::node_url::NodeUrl::parse("http://127.0.0.1:8545").unwrap());
        let answers = Answers::of(Question::all(true), results);
        assess(&spec, &node, Ok(answers), Duration::from_millis(5), now)
    }

    #[test]
    fn every_answer_is_read_for_its_question() {
        let yes = format!("\"0x{}1\"", "0".repeat(63));
        let health = judged(
            vec![
                ok("\"0x2\""),
                ok(r#"{"number":"0x10","timestamp":"0x64"}"#),
                ok("\"Geth/v1.14\""),
                ok("false"),
                ok("\"0x6080\""),
                ok(&yes),
            ],
            1_000,
        );
        assert_eq!(health.chain_id, Some(2));
        assert_eq!(health.head_block, Some(16));
        assert_eq!((health.head_age_s, health.clock_ahead_s), (Some(900), None));
        assert_eq!(health.client_version.as_deref(), Some("Geth/v1.14"));
        assert_eq!(health.syncing, Some(false));
        assert_eq!(
            (health.contract_has_code, health.vote_answers),
            (Some(true), Some(true))
        );
        assert_eq!(
            health.problems,
            ["on chain 2, expected 1", "head block is 900s old (--max-head-age 1m)"]
        );
        assert!(!health.healthy);
    }

    #[test]
    fn missing_contract_answers_are_problems_of_their_own() {
        let base = || {
            vec![
                ok("\"0x1\""),
                ok(r#"{"number":"0x10","timestamp":"0x3e8"}"#),
                ok("\"anvil\""),
                ok("false"),
            ]
        };
        // No code: the vote's answer is not a problem of its own.
        let mut no_code = base();
        no_code.extend([ok("\"0x\""), ok("\"0x\"")]);
        let health = judged(no_code, 1_000);
        assert_eq!(health.problems, ["no code at the contract address"]);
        assert_eq!(health.vote_answers, Some(false));
        // Code, but the vote call's answer is missing from the batch.
        let mut no_vote = base();
        no_vote.push(ok("\"0x6080\""));
        let health = judged(no_vote, 1_000);
        assert_eq!(
            health.problems,
            ["vote(bytes32) does not answer with a valid vote: no answer"]
        );
        // Neither: no usable eth_getCode answer.
        let health = judged(base(), 1_000);
        assert_eq!(health.problems, ["no usable eth_getCode answer"]);
        assert_eq!(health.contract_has_code, None);
    }
}
