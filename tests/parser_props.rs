//! Bad input, tried hard: arbitrary strings and bytes thrown at every parser a
//! user or a node can reach. Each must return a value or a clean one-line
//! error — never panic. CASES per property; RELIABILITY.md records the total.

use proptest::prelude::*;
use quorum_check::{
    abi::VoteFunction,
    cli::{parse_address, parse_duration, parse_tx_hash},
    config::Headers,
    config::{BlockSpec, parse_tx_lines},
    node_url::NodeUrl,
    nodes_file::{expand_env, parse_nodes_toml, parse_nodes_toml_with},
    rpc::decode_batch,
    threshold::Threshold,
};

const CASES: u32 = 2000;
const VOTING_ABI: &str = include_str!("../abi/Voting.json");

fn clean<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let msg = e.to_string();
        prop_assert!(!msg.is_empty());
        prop_assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
    }
    Ok(())
}

fn clean_anyhow<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let msg = format!("{e:#}");
        prop_assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
    }
    Ok(())
}

/// Strings near the valid shapes, plus anything at all.
fn hexish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(0[xX])?[0-9a-fA-FgG ]{0,80}",
        "0x[0-9a-f]{64}[\\s\\S]{0,4}"
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn tx_hashes(s in hexish()) {
        clean(parse_tx_hash(&s))?;
    }

    #[test]
    fn tx_files(s in prop_oneof![any::<String>(), "((0x[0-9a-f]{60,66}|#.*|\\s*)\\n){0,8}"]) {
        clean_anyhow(parse_tx_lines(&s, "t.txt"))?;
    }

    #[test]
    fn addresses(s in hexish()) {
        clean(parse_address(&s))?;
    }

    #[test]
    fn thresholds(s in prop_oneof![any::<String>(), "[0-9]{0,40}(%|/[0-9]{0,40}|\\.[0-9]{0,8}%)?", "(majority|all|ALL)"], total in 0u128..1_000_000) {
        match s.parse::<Threshold>() {
            Ok(spec) => {
                if let Ok(v) = spec.resolve(total, false) {
                    prop_assert!(v >= 1 && v <= total);
                }
                clean(spec.resolve(total, true))?;
            }
            Err(e) => clean::<(), _>(Err(e))?,
        }
    }

    #[test]
    fn durations(s in prop_oneof![any::<String>(), "[0-9]{0,25}(ns|ms|s|m|h|d|x)?"]) {
        clean(parse_duration(&s))?;
    }

    #[test]
    fn blocks(s in prop_oneof![any::<String>(), "(0x)?[0-9a-fA-F]{0,20}"]) {
        clean(s.parse::<BlockSpec>())?;
    }

    #[test]
    fn urls(s in prop_oneof![any::<String>(), "(https?|wss?|ftp)://[a-z0-9.:@/?=_-]{0,40}"]) {
        clean(NodeUrl::parse(&s))?;
    }

    #[test]
    fn nodes_files(s in prop_oneof![
        any::<String>(),
        "(\\[\\[node\\]\\]\\n(url = \"[a-z:/.0-9]{0,20}\"\\n)?(weight = -?[0-9]{1,20}\\n)?(from = \"0x[0-9a-f]{0,42}\"\\n)?(name = \"[a-z]{0,3}\"\\n)?){0,3}",
    ]) {
        clean_anyhow(parse_nodes_toml(&s))?;
    }

    #[test]
    fn abi_files(s in prop_oneof![
        any::<String>(),
        Just(VOTING_ABI.to_string()).prop_flat_map(|abi| (0..abi.len(), any::<u8>()).prop_map(move |(i, b)| {
            let mut bytes = abi.clone().into_bytes();
            bytes[i] = b;
            String::from_utf8_lossy(&bytes).into_owned()
        })),
    ], name in prop_oneof![Just("vote".to_string()), any::<String>()]) {
        clean(VoteFunction::from_json(&s, "abi.json", &name))?;
    }

    #[test]
    fn vote_results(data in prop::collection::vec(any::<u8>(), 0..80)) {
        let f = VoteFunction::from_json(VOTING_ABI, "v", "vote").unwrap();
        match f.decode(&data) {
            Ok(_) => prop_assert!(data.len() == 32 && data[..31].iter().all(|b| *b == 0) && data[31] <= 1),
            Err(e) => clean::<(), _>(Err(e))?,
        }
        let _ = f.describe_revert(&data);
    }

    #[test]
    fn json_rpc_answers(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\[(\\{\"jsonrpc\":\"2.0\",\"id\":(-?[0-9]{1,3}|\"x\"|null),(\"result\":\"0x[0-9a-f]{0,66}\"|\"error\":\\{\"code\":-?[0-9]{1,6},\"message\":\"m\"\\})\\},?){0,4}\\]"
                .prop_map(String::into_bytes),
        ],
        expected in 0usize..5,
    ) {
        match decode_batch(&body, expected) {
            Ok(results) => prop_assert_eq!(results.len(), expected),
            Err(e) => clean::<(), _>(Err(e))?,
        }
    }

    #[test]
    fn signatures(sig in prop_oneof![
        any::<String>(),
        "(function )?[a-zA-Z_]{0,8} ?\\((bytes32|uint256|bool|address)?( [a-z]{1,4})?\\)( view| external| pure){0,2}( returns)? ?\\((bool|uint[0-9]{0,3}|int8|string|bytes32)?(,bool)?\\)",
    ]) {
        match VoteFunction::resolve(None, &sig) {
            Ok(f) => prop_assert!(f.signature().ends_with("(bytes32)"), "{}", f.signature()),
            Err(e) => clean::<(), _>(Err(e))?,
        }
    }

    #[test]
    fn env_references(value in prop_oneof![any::<String>(), "([a-z/:]{0,5}(\\$\\{[A-Z_0-9]{0,6}\\}?)?){0,4}"]) {
        let env = |name: &str| (name == "SET").then(|| "v".to_string());
        match expand_env(&value, &env) {
            // Nothing of the form ${NAME} survives an expansion.
            Ok(out) => {
                let reference = "${SET}";
                prop_assert!(!value.contains(reference) || !out.contains(reference), "{:?}", out);
            }
            Err(e) => clean::<(), _>(Err(e))?,
        }
    }

    #[test]
    fn nodes_files_with_headers_and_references(
        key in "[A-Za-z0-9_]{1,12}",
        value in any::<String>(),
        url in prop_oneof![Just("https://x.example/v2/${KEY}".to_string()), any::<String>()],
    ) {
        let text = format!(
            "[[node]]\nurl = {}\nheaders = {{ {} = {} }}\n",
            toml_string(&url),
            toml_string(&key),
            toml_string(&value)
        );
        let env = |name: &str| (name == "KEY").then(|| "SECRETVALUE99".to_string());
        match parse_nodes_toml_with(&text, &env) {
            Ok(nodes) => {
                let shown = format!("{nodes:?}");
                prop_assert!(!shown.contains("SECRETVALUE99"), "{}", shown);
            }
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(!msg.contains('\n') && !msg.contains("SECRETVALUE99"), "{msg:?}");
            }
        }
        clean_anyhow(Headers::new(vec![(key, value)]))?;
    }
}

// The sanitiser's and the secret mask's properties (same CASES) live beside
// them, in src/sanitize.rs and src/secrets.rs: those modules are not public API.

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
