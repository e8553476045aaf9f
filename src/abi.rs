//! The voting contract's ABI: the vote function from a human-readable
//! signature (`vote(bytes32)(bool)`), from an ABI file (a plain ABI array or a
//! Foundry / Hardhat artifact) or from the built-in `Voting` ABI; encoding its
//! calldata and decoding what a node answers — strictly, so that a malformed
//! answer is never mistaken for a vote. Pure apart from reading the file.

use std::{fmt, path::Path};

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::{ContractObject, Error as AbiErrorItem, Function},
    primitives::{B256, Bytes, U256},
    sol_types::{Panic, Revert, SolError},
};

/// What the vote function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteKind {
    /// `bool`: a yes (1) or no (0) per node.
    Bool,
    /// `uintN`: a weight per node.
    Uint(usize),
}

/// One node's decoded answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteValue {
    /// A yes or no.
    Bool(bool),
    /// A weight.
    Uint(U256),
}

impl VoteValue {
    /// The weight this answer adds to "yes", given the node's weight.
    /// Saturates rather than wrapping for absurd uint votes.
    pub fn contribution(&self, weight: u64) -> u128 {
        match *self {
            Self::Bool(true) => u128::from(weight),
            Self::Bool(false) => 0,
            Self::Uint(v) => {
                let v: u128 = v.try_into().unwrap_or(u128::MAX);
                v.saturating_mul(u128::from(weight))
            }
        }
    }

    /// Whether the node voted "no" (false, or a zero weight).
    pub fn is_no(&self) -> bool {
        match *self {
            Self::Bool(b) => !b,
            Self::Uint(v) => v.is_zero(),
        }
    }
}

impl fmt::Display for VoteValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(true) => f.write_str("yes"),
            Self::Bool(false) => f.write_str("no"),
            Self::Uint(v) => write!(f, "{v}"),
        }
    }
}

/// The ABI used when no `--abi` is given: `Voting`'s, whose
/// `vote(bytes32) returns (bool)` is the default vote function.
pub const BUILTIN_ABI: &str = include_str!("../abi/Voting.json");

/// How the built-in ABI is named in messages.
const BUILTIN_NAME: &str = "the built-in Voting ABI";

/// Why the ABI or the function in it cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AbiError {
    /// The ABI file could not be read.
    #[error("cannot read ABI file {path}")]
    Read {
        /// The file, as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be read within its bounds (size, time).
    #[error("{0}")]
    Input(String),
    /// The file is not a JSON ABI.
    #[error("ABI file {path} is not a JSON ABI array or an artifact with an \"abi\" field: {reason}")]
    Parse {
        /// The file, as given.
        path: String,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// The ABI has no function of that name.
    #[error("ABI file {path} has no function '{wanted}' (functions found: {found})")]
    Missing {
        /// The file, as given.
        path: String,
        /// The function asked for.
        wanted: String,
        /// The functions it has (at most ten named).
        found: String,
    },
    /// The built-in ABI has no function of that name.
    #[error(
        "{path} has no function '{wanted}' (it has vote(bytes32) returns (bool)): pass --abi FILE, or a full signature such as {wanted}(bytes32)(bool)"
    )]
    MissingBuiltin {
        /// "the built-in Voting ABI".
        path: String,
        /// The function asked for.
        wanted: String,
    },
    /// A signature that does not parse.
    #[error("--function '{wanted}' is not a function signature such as vote(bytes32)(bool): {reason}")]
    Signature {
        /// The signature, as given (escaped).
        wanted: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A name with several overloads: the full signature is needed.
    #[error("function '{wanted}' in {path} is overloaded ({found}): pass the full signature with --function")]
    Ambiguous {
        /// The file, as given.
        path: String,
        /// The name asked for.
        wanted: String,
        /// The overloads.
        found: String,
    },
    /// The function does not take one bytes32 and return one bool or uint.
    #[error(
        "function {signature} in {path} cannot be a vote function: it must take exactly one bytes32 and return exactly one bool or uintN, found ({inputs}) returns ({outputs})"
    )]
    Shape {
        /// The file, as given.
        path: String,
        /// The function's signature.
        signature: String,
        /// Its parameter types.
        inputs: String,
        /// Its return types.
        outputs: String,
    },
}

/// Why a node's answer to an `eth_call` is not a vote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No data: no contract, or no such function.
    #[error("empty result (0x)")]
    Empty,
    /// Not exactly one 32-byte word (the length found).
    #[error("result is {0} bytes, expected exactly 32")]
    Length(usize),
    /// A bool word other than 0 or 1.
    #[error("result is not a canonical bool (0 or 1)")]
    NotBool,
    /// A uint word that does not fit the declared bits.
    #[error("result does not fit in uint{0}")]
    UintOverflow(usize),
}

/// The resolved vote function, ready to encode calls and decode answers.
#[derive(Debug, Clone)]
pub struct VoteFunction {
    function: Function,
    /// The function's selector, computed once (a keccak per call adds up at
    /// a million hashes).
    selector: [u8; 4],
    kind: VoteKind,
    errors: Vec<AbiErrorItem>,
}

impl VoteFunction {
    /// The vote function as configured: `wanted` is a name (`vote`), a
    /// signature to look up (`vote(bytes32)`), or a complete human-readable
    /// signature with its return type (`vote(bytes32)(bool)`,
    /// `function vote(bytes32 h) view returns (bool)`), which needs no ABI.
    /// Names and lookups use the ABI file at `abi`, else the built-in one.
    pub fn resolve(abi: Option<&Path>, wanted: &str) -> Result<Self, AbiError> {
        Self::resolve_within(abi, wanted, crate::input::DEFAULT_READ_WAIT)
    }

    /// Like [`resolve`](Self::resolve); reading the ABI file gives up after `wait`.
    pub fn resolve_within(abi: Option<&Path>, wanted: &str, wait: std::time::Duration) -> Result<Self, AbiError> {
        let abi_text = match abi {
            Some(path) => Some((read_abi(path, wait)?, path.display().to_string())),
            None => None,
        };
        let parsed = parse_signature(wanted)?;
        let lookup = match &parsed {
            Some(f) if f.outputs.is_empty() => f.signature(),
            _ => wanted.to_string(),
        };
        if let Some(function) = parsed.filter(|f| !f.outputs.is_empty()) {
            // A complete signature: the ABI file, if any, only lends its custom
            // errors (to decode revert reasons).
            let errors = match &abi_text {
                Some((text, path)) => parse_abi(text, path)?.errors().cloned().collect(),
                None => parse_abi(BUILTIN_ABI, BUILTIN_NAME)?.errors().cloned().collect(),
            };
            return Self::checked(function, errors, "--function");
        }
        match &abi_text {
            Some((text, path)) => Self::from_json(text, path, &lookup),
            None => Self::from_json(BUILTIN_ABI, BUILTIN_NAME, &lookup).map_err(|e| match e {
                AbiError::Missing { wanted, .. } => AbiError::MissingBuiltin {
                    path: BUILTIN_NAME.into(),
                    wanted,
                },
                other => other,
            }),
        }
    }

    /// Loads `path` and finds `wanted` (a name like `vote`, or a full
    /// signature like `vote(bytes32)`).
    pub fn load(path: &Path, wanted: &str) -> Result<Self, AbiError> {
        let text = read_abi(path, crate::input::DEFAULT_READ_WAIT)?;
        Self::from_json(&text, &path.display().to_string(), wanted)
    }

    /// The built-in `vote(bytes32) returns (bool)`.
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_ABI, BUILTIN_NAME, "vote").expect("the built-in ABI has a valid vote function")
    }

    /// Like [`load`](Self::load), from the file's text; `path` only names it in errors.
    pub fn from_json(text: &str, path: &str, wanted: &str) -> Result<Self, AbiError> {
        let abi = parse_abi(text, path)?;

        let wanted_trim: String = wanted.chars().filter(|c| !c.is_whitespace()).collect();
        let candidates: Vec<&Function> = if wanted_trim.contains('(') {
            abi.functions().filter(|f| f.signature() == wanted_trim).collect()
        } else {
            abi.function(&wanted_trim)
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        };
        let function = match candidates.as_slice() {
            [one] => (*one).clone(),
            [] => {
                let mut found: Vec<String> = abi.functions().map(|f| f.signature()).collect();
                found.sort();
                let found = match found.len() {
                    0 => "none".to_string(),
                    n if n > 10 => format!("{}, and {} more", found[..10].join(", "), n - 10),
                    _ => found.join(", "),
                };
                return Err(AbiError::Missing {
                    path: path.into(),
                    wanted: crate::sanitize::printable(wanted),
                    found,
                });
            }
            many => {
                let found = many.iter().map(|f| f.signature()).collect::<Vec<_>>().join(", ");
                return Err(AbiError::Ambiguous {
                    path: path.into(),
                    wanted: wanted_trim,
                    found,
                });
            }
        };

        let errors = abi.errors().cloned().collect();
        Self::checked(function, errors, path)
    }

    /// Checks that `function` has a vote function's shape.
    fn checked(function: Function, errors: Vec<AbiErrorItem>, path: &str) -> Result<Self, AbiError> {
        let shape_err = || AbiError::Shape {
            path: path.into(),
            signature: function.signature(),
            inputs: function
                .inputs
                .iter()
                .map(|p| p.ty.as_str())
                .collect::<Vec<_>>()
                .join(","),
            outputs: function
                .outputs
                .iter()
                .map(|p| p.ty.as_str())
                .collect::<Vec<_>>()
                .join(","),
        };
        if function.inputs.len() != 1 || function.inputs[0].ty != "bytes32" {
            return Err(shape_err());
        }
        let kind = match function.outputs.as_slice() {
            [out] => parse_return_type(&out.ty).ok_or_else(shape_err)?,
            _ => return Err(shape_err()),
        };
        let selector = function.selector().0;
        Ok(Self {
            function,
            selector,
            kind,
            errors,
        })
    }

    /// What the function returns.
    pub fn kind(&self) -> VoteKind {
        self.kind
    }

    /// Canonical signature, e.g. `vote(bytes32)`.
    pub fn signature(&self) -> String {
        self.function.signature()
    }

    /// Calldata for `function(tx_hash)`.
    pub fn calldata(&self, tx_hash: B256) -> Bytes {
        let mut data = Vec::with_capacity(36);
        data.extend_from_slice(&self.selector);
        data.extend_from_slice(tx_hash.as_slice());
        data.into()
    }

    /// Decodes an `eth_call` result: exactly one 32-byte word holding a
    /// canonical value of the return type; anything else is an error.
    pub fn decode(&self, data: &[u8]) -> Result<VoteValue, DecodeError> {
        if data.is_empty() {
            return Err(DecodeError::Empty);
        }
        let word: [u8; 32] = data.try_into().map_err(|_| DecodeError::Length(data.len()))?;
        let value = U256::from_be_bytes(word);
        match self.kind {
            VoteKind::Bool if value <= U256::from(1u8) => Ok(VoteValue::Bool(value == U256::from(1u8))),
            VoteKind::Bool => Err(DecodeError::NotBool),
            VoteKind::Uint(bits) if bits == 256 || value.bit_len() <= bits => Ok(VoteValue::Uint(value)),
            VoteKind::Uint(bits) => Err(DecodeError::UintOverflow(bits)),
        }
    }

    /// A readable reason for revert data: `Error(string)`, `Panic(uint256)`,
    /// a custom error declared in the ABI, or the raw selector.
    pub fn describe_revert(&self, data: &[u8]) -> String {
        if data.is_empty() {
            return "reverted without data".into();
        }
        if data.starts_with(&Revert::SELECTOR)
            && let Ok(revert) = Revert::abi_decode(data)
        {
            return format!("Error({:?})", revert.reason);
        }
        if data.starts_with(&Panic::SELECTOR)
            && let Ok(panic) = Panic::abi_decode(data)
        {
            return format!("Panic({})", panic);
        }
        if data.len() >= 4 {
            let selector = &data[..4];
            for error in self.errors.iter().filter(|e| e.selector().as_slice() == selector) {
                if let Ok(args) = error.abi_decode_input(&data[4..]) {
                    let args: Vec<String> = args.iter().map(format_value).collect();
                    return format!("{}({})", error.name, args.join(", "));
                }
            }
        }
        let shown = alloy::primitives::hex::encode_prefixed(&data[..data.len().min(36)]);
        format!("unknown revert data {shown}{}", if data.len() > 36 { "…" } else { "" })
    }
}

fn read_abi(path: &Path, wait: std::time::Duration) -> Result<String, AbiError> {
    crate::input::read_file(path, "ABI file", crate::input::MAX_ABI_BYTES, wait)
        .map_err(|e| AbiError::Input(crate::one_line(&e)))
}

fn parse_abi(text: &str, path: &str) -> Result<alloy::json_abi::JsonAbi, AbiError> {
    let parse_err = |reason: String| AbiError::Parse {
        path: path.into(),
        reason,
    };
    let object =
        serde_json::from_str::<ContractObject>(text).map_err(|e| parse_err(crate::sanitize::clean(&e.to_string())))?;
    object.abi.ok_or_else(|| parse_err("no \"abi\" field".into()))
}

/// A human-readable signature (`vote(bytes32)(bool)`, `function vote(bytes32
/// h) view returns (bool)`) parsed by alloy's signature parser; `None` for a
/// bare name or a plain `vote(bytes32)`, which are looked up in the ABI.
fn parse_signature(wanted: &str) -> Result<Option<Function>, AbiError> {
    let t = wanted.trim();
    let looks_complete = t.contains(")(") || t.contains(") (") || t.contains("returns") || t.starts_with("function ");
    if !looks_complete {
        return Ok(None);
    }
    let function = Function::parse(t).map_err(|e| AbiError::Signature {
        wanted: crate::sanitize::printable(t),
        reason: crate::sanitize::clean(e.to_string().lines().next().unwrap_or("unparsable")),
    })?;
    Ok(Some(function))
}

fn parse_return_type(ty: &str) -> Option<VoteKind> {
    if ty == "bool" {
        return Some(VoteKind::Bool);
    }
    let bits = ty.strip_prefix("uint")?;
    let bits: usize = if bits.is_empty() { 256 } else { bits.parse().ok()? };
    (bits.is_multiple_of(8) && (8..=256).contains(&bits)).then_some(VoteKind::Uint(bits))
}

fn format_value(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Uint(v, _) => v.to_string(),
        DynSolValue::Int(v, _) => v.to_string(),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::FixedBytes(w, n) => alloy::primitives::hex::encode_prefixed(&w[..*n]),
        DynSolValue::Bytes(b) => alloy::primitives::hex::encode_prefixed(b),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOTING: &str = include_str!("../abi/Voting.json");
    const WEIGHTED: &str = include_str!("../abi/WeightedVoting.json");

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
}
