//! Unit tests of the vote function: resolution, shapes, strict decoding.

use super::*;

const VOTING: &str = include_str!("../../abi/Voting.json");
const WEIGHTED: &str = include_str!("../../abi/WeightedVoting.json");

fn word(last: u8) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[31] = last;
    w
}

#[test]
fn loads_plain_abi_and_artifact_shapes() {
    let f = VoteFunction::from_json(VOTING, "Voting.json", "vote").unwrap();
    assert_eq!(f.kind(), VoteKind::Bool);
    assert_eq!(f.signature(), "vote(bytes32)");
    let artifact = format!(r#"{{"abi": {VOTING}, "bytecode": {{"object": "0x00"}}}}"#);
    let g = VoteFunction::from_json(&artifact, "a.json", "vote(bytes32)").unwrap();
    assert_eq!(g.calldata(B256::ZERO), f.calldata(B256::ZERO));
    let w = VoteFunction::from_json(WEIGHTED, "w.json", "vote").unwrap();
    assert_eq!(w.kind(), VoteKind::Uint(256));
}

#[test]
fn calldata_is_selector_then_hash() {
    let f = VoteFunction::from_json(VOTING, "v", "vote").unwrap();
    let hash = B256::repeat_byte(0xab);
    let data = f.calldata(hash);
    assert_eq!(data.len(), 36);
    assert_eq!(&data[4..], hash.as_slice());
    assert_eq!(&data[..4], &alloy::primitives::keccak256("vote(bytes32)")[..4]);
}

#[test]
fn rejects_missing_ambiguous_and_wrong_shapes() {
    let err = VoteFunction::from_json(VOTING, "v.json", "ballot").unwrap_err();
    assert!(
        err.to_string().contains("'ballot'") && err.to_string().contains("vote(bytes32)"),
        "{err}"
    );
    let err = VoteFunction::from_json(VOTING, "v.json", "castVote").unwrap_err();
    assert!(matches!(err, AbiError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("castVote(bytes32,bool)"));
    let overloaded = r#"[
      {"type":"function","name":"vote","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"bool"}],"stateMutability":"view"},
      {"type":"function","name":"vote","inputs":[{"name":"h","type":"uint256"}],"outputs":[{"name":"","type":"bool"}],"stateMutability":"view"}
    ]"#;
    let err = VoteFunction::from_json(overloaded, "o.json", "vote").unwrap_err();
    assert!(matches!(err, AbiError::Ambiguous { .. }), "{err}");
    assert!(VoteFunction::from_json(overloaded, "o.json", "vote(bytes32)").is_ok());
    let returns_two = r#"[{"type":"function","name":"vote","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"bool"},{"name":"","type":"bool"}],"stateMutability":"view"}]"#;
    assert!(matches!(
        VoteFunction::from_json(returns_two, "t", "vote"),
        Err(AbiError::Shape { .. })
    ));
    let returns_string = r#"[{"type":"function","name":"vote","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"string"}],"stateMutability":"view"}]"#;
    assert!(matches!(
        VoteFunction::from_json(returns_string, "t", "vote"),
        Err(AbiError::Shape { .. })
    ));
    for garbage in ["", "{", "42", r#"{"notabi": 1}"#, r#"[{"type":"function"}]"#] {
        assert!(VoteFunction::from_json(garbage, "g.json", "vote").is_err(), "{garbage}");
    }
}

#[test]
fn complete_signatures_need_no_abi_file() {
    for (sig, kind) in [
        ("vote(bytes32)(bool)", VoteKind::Bool),
        ("vote(bytes32) returns (bool)", VoteKind::Bool),
        ("function vote(bytes32 txHash) view returns (bool)", VoteKind::Bool),
        ("function vote(bytes32) external view returns (bool ok)", VoteKind::Bool),
        ("weight(bytes32)(uint96)", VoteKind::Uint(96)),
        ("weight(bytes32)(uint)", VoteKind::Uint(256)),
    ] {
        let f = VoteFunction::resolve(None, sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
        assert_eq!(f.kind(), kind, "{sig}");
    }
    let weight = VoteFunction::resolve(None, "weight(bytes32)(uint96)").unwrap();
    assert_eq!(weight.signature(), "weight(bytes32)");
    assert_eq!(
        &weight.calldata(B256::ZERO)[..4],
        &alloy::primitives::keccak256("weight(bytes32)")[..4]
    );
    // The same selector and kind as the ABI's own vote function.
    let from_abi = VoteFunction::from_json(VOTING, "v", "vote").unwrap();
    let from_sig = VoteFunction::resolve(None, "function vote(bytes32 txHash) view returns (bool)").unwrap();
    assert_eq!(from_abi.calldata(B256::ZERO), from_sig.calldata(B256::ZERO));
    // The built-in ABI's custom errors still decode reverts.
    let mut data = alloy::primitives::keccak256("NotOwner(address)")[..4].to_vec();
    data.extend_from_slice(&[0u8; 32]);
    assert!(from_sig.describe_revert(&data).starts_with("NotOwner("));
}

#[test]
fn without_an_abi_file_the_builtin_vote_is_used() {
    let f = VoteFunction::resolve(None, "vote").unwrap();
    assert_eq!((f.signature(), f.kind()), ("vote(bytes32)".to_string(), VoteKind::Bool));
    assert_eq!(
        VoteFunction::resolve(None, "vote(bytes32)").unwrap().signature(),
        "vote(bytes32)"
    );
    assert_eq!(
        VoteFunction::resolve(None, "function vote(bytes32)")
            .unwrap()
            .signature(),
        "vote(bytes32)"
    );
    assert_eq!(VoteFunction::builtin().calldata(B256::ZERO), f.calldata(B256::ZERO));
    let err = VoteFunction::resolve(None, "ballot").unwrap_err().to_string();
    assert!(
        err.contains("'ballot'") && err.contains("--abi") && err.contains("ballot(bytes32)(bool)"),
        "{err}"
    );
}

#[test]
fn signatures_of_the_wrong_shape_are_named() {
    for (sig, culprit) in [
        ("vote(uint256)(bool)", "vote(uint256)"),
        ("vote(bytes32,bool)(bool)", "vote(bytes32,bool)"),
        ("vote(bytes32)(string)", "returns (string)"),
        ("vote(bytes32)(bool,bool)", "returns (bool,bool)"),
        ("vote(bytes32)(int256)", "returns (int256)"),
    ] {
        let err = VoteFunction::resolve(None, sig).unwrap_err();
        assert!(matches!(err, AbiError::Shape { .. }), "{sig}: {err}");
        assert!(err.to_string().contains(culprit), "{sig}: {err}");
    }
    for bad in [
        "vote(bytes32)(",
        "function (bytes32) returns (bool)",
        "vote(bytes33)(bool)",
        "function",
    ] {
        let err = VoteFunction::resolve(None, bad).unwrap_err();
        assert!(!err.to_string().contains('\n'), "{bad}: {err}");
        assert!(
            matches!(
                err,
                AbiError::Signature { .. } | AbiError::Shape { .. } | AbiError::MissingBuiltin { .. }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn decodes_strictly() {
    let f = VoteFunction::from_json(VOTING, "v", "vote").unwrap();
    assert_eq!(f.decode(&word(1)), Ok(VoteValue::Bool(true)));
    assert_eq!(f.decode(&word(0)), Ok(VoteValue::Bool(false)));
    assert_eq!(f.decode(&word(2)), Err(DecodeError::NotBool));
    let mut high = word(1);
    high[0] = 1;
    assert_eq!(f.decode(&high), Err(DecodeError::NotBool));
    assert_eq!(f.decode(&[]), Err(DecodeError::Empty));
    assert_eq!(f.decode(&[0u8; 31]), Err(DecodeError::Length(31)));
    assert_eq!(f.decode(&[0u8; 64]), Err(DecodeError::Length(64)));

    let u8abi = r#"[{"type":"function","name":"vote","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"uint8"}],"stateMutability":"view"}]"#;
    let g = VoteFunction::from_json(u8abi, "u", "vote").unwrap();
    assert_eq!(g.kind(), VoteKind::Uint(8));
    assert_eq!(g.decode(&word(200)), Ok(VoteValue::Uint(U256::from(200))));
    let mut big = word(0);
    big[30] = 1;
    assert_eq!(g.decode(&big), Err(DecodeError::UintOverflow(8)));
}

#[test]
fn contributions_saturate() {
    assert_eq!(VoteValue::Bool(true).contribution(3), 3);
    assert_eq!(VoteValue::Bool(false).contribution(3), 0);
    assert_eq!(VoteValue::Uint(U256::from(5)).contribution(2), 10);
    assert_eq!(VoteValue::Uint(U256::MAX).contribution(2), u128::MAX);
}

#[test]
fn describes_reverts() {
    let f = VoteFunction::from_json(VOTING, "v", "vote").unwrap();
    // NotOwner(address) from the ABI.
    let mut data = alloy::primitives::keccak256("NotOwner(address)")[..4].to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(&[0x11u8; 20]);
    let shown = f.describe_revert(&data);
    assert!(shown.starts_with("NotOwner(0x1111"), "{shown}");
    assert_eq!(f.describe_revert(&[]), "reverted without data");
    let revert = Revert::from("closed").abi_encode();
    assert_eq!(f.describe_revert(&revert), "Error(\"closed\")");
    assert!(
        f.describe_revert(&[1, 2, 3, 4])
            .starts_with("unknown revert data 0x01020304")
    );
}

#[test]
fn long_revert_data_is_cut_before_it_is_decoded() {
    let f = VoteFunction::from_json(VOTING, "v", "vote").unwrap();
    // A 1.9 MB Error(string) of control characters (each escaped sixfold when shown).
    let data = Revert::from("\u{1}".repeat(1_900_000)).abi_encode();
    let shown = f.describe_revert(&data);
    assert!(
        shown.starts_with("Error(\"\\u{1}\\u{1}") && shown.contains("\\u{1}…\")"),
        "{shown}"
    );
    assert!(
        shown.ends_with(&format!("({} bytes of revert data, the first 1024 read)", data.len())),
        "{shown}"
    );
    assert!(shown.chars().count() < 300, "{}", shown.chars().count());
    // The same from the head alone, as a node's error.data is read.
    assert_eq!(f.describe_revert_head(&data[..MAX_REVERT_BYTES], data.len()), shown);
    // A message that fits is shown whole.
    let fits = Revert::from("x".repeat(900)).abi_encode();
    assert!(fits.len() <= MAX_REVERT_BYTES);
    assert_eq!(f.describe_revert(&fits), format!("Error({:?})", "x".repeat(900)));
    // Other long data says how long it was.
    let mut unknown = vec![0xde, 0xad, 0xbe, 0xef];
    unknown.resize(5000, 0);
    let shown = f.describe_revert(&unknown);
    assert!(
        shown.starts_with("unknown revert data 0xdeadbeef")
            && shown.ends_with("(5000 bytes of revert data, the first 1024 read)"),
        "{shown}"
    );
    let mut not_owner = alloy::primitives::keccak256("NotOwner(address)")[..4].to_vec();
    not_owner.resize(4000, 0);
    assert_eq!(
        f.describe_revert(&not_owner),
        "NotOwner(…) (4000 bytes of revert data, the first 1024 read)"
    );
}

/// A custom error with dynamic arguments: decoded when laid out as an encoder
/// lays it out; not decoded when its offsets are shared (a lenient decoder
/// would make a copy of the shared string per entry, and per level of nesting).
#[test]
fn custom_errors_with_shared_offsets_are_not_decoded() {
    let abi = r#"[
      {"type":"function","name":"vote","inputs":[{"name":"h","type":"bytes32"}],"outputs":[{"name":"","type":"bool"}],"stateMutability":"view"},
      {"type":"error","name":"Boom","inputs":[{"name":"parts","type":"string[][]"}]}
    ]"#;
    let f = VoteFunction::from_json(abi, "boom.json", "vote").unwrap();
    let selector = alloy::primitives::keccak256("Boom(string[][])")[..4].to_vec();
    let word = |v: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(v as u64).to_be_bytes());
        w
    };
    // The encoder's layout: decoded.
    let value = DynSolValue::Array(vec![DynSolValue::Array(vec![DynSolValue::String("ok".into())])]);
    let mut good = selector.clone();
    good.extend(DynSolValue::Tuple(vec![value]).abi_encode_params());
    let shown = f.describe_revert(&good);
    assert!(shown.starts_with("Boom(") && shown.contains("\"ok\""), "{shown}");
    // 9 outer entries pointing at one inner array of 9 entries pointing at
    // one 256-byte string: 81 copies from under 1 KiB.
    let n = 9;
    let mut args = Vec::new();
    args.extend_from_slice(&word(0x20));
    args.extend_from_slice(&word(n));
    let inner_at = 32 * n;
    for _ in 0..n {
        args.extend_from_slice(&word(inner_at));
    }
    args.extend_from_slice(&word(n));
    for _ in 0..n {
        args.extend_from_slice(&word(32 * n));
    }
    args.extend_from_slice(&word(256));
    args.extend_from_slice(&[b'a'; 256]);
    // A lenient decoder does make the copies.
    let error = serde_json::from_str::<alloy::json_abi::JsonAbi>(abi)
        .unwrap()
        .errors()
        .next()
        .unwrap()
        .clone();
    let copies = error.abi_decode_input(&args).unwrap();
    assert!(format!("{copies:?}").matches(&"a".repeat(256)).count() == n * n);
    let mut bomb = selector;
    bomb.extend(args);
    assert!(bomb.len() <= MAX_REVERT_BYTES, "{}", bomb.len());
    let shown = f.describe_revert(&bomb);
    assert!(shown.starts_with("unknown revert data 0x"), "{shown}");
}
