//! The voting contract's ABI: the vote function from a human-readable
//! signature (`vote(bytes32)(bool)`), from an ABI file (a plain ABI array or a
//! Foundry / Hardhat artifact) or from the built-in `Voting` ABI; encoding its
//! calldata and decoding what a node answers — strictly, so that a malformed
//! answer is never mistaken for a vote. Pure apart from reading the file.

use std::{fmt, path::Path};

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt, Specifier},
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
pub const BUILTIN_ABI: &str = include_str!("../../abi/Voting.json");

/// How the built-in ABI is named in messages.
mod error;
pub use error::{AbiError, DecodeError};
mod canonical;

const BUILTIN_NAME: &str = "the built-in Voting ABI";

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
    /// a custom error declared in the ABI, or the raw selector. Only the
    /// first [`MAX_REVERT_BYTES`] are read, however long the data.
    pub fn describe_revert(&self, data: &[u8]) -> String {
        self.describe_revert_head(data, data.len())
    }

    /// Like [`describe_revert`](Self::describe_revert) for revert data of
    /// `total` bytes of which only `head` — its start — is at hand. Past
    /// [`MAX_REVERT_BYTES`] nothing is decoded or formatted: an `Error(string)`
    /// shows the start of its message, and every longer reason says how long
    /// the data was. A custom error's arguments are decoded only when laid out
    /// as an encoder lays them out, so that decoding never makes more than
    /// the data's own size (shared offsets would make copies).
    pub fn describe_revert_head(&self, head: &[u8], total: usize) -> String {
        let head = &head[..head.len().min(MAX_REVERT_BYTES)];
        let cut = total > head.len();
        let size = |shown: String| {
            if cut {
                format!("{shown} ({total} bytes of revert data, the first {} read)", head.len())
            } else {
                shown
            }
        };
        if head.is_empty() && !cut {
            return "reverted without data".into();
        }
        if head.starts_with(&Revert::SELECTOR) {
            if !cut && let Ok(revert) = Revert::abi_decode(head) {
                return format!("Error({:?})", revert.reason);
            }
            if cut && let Some((start, whole)) = revert_message_start(head) {
                let message = String::from_utf8_lossy(start);
                let mut shown = String::new();
                let mut chars = message.chars();
                for c in chars.by_ref() {
                    let escaped = c.escape_debug().to_string();
                    if shown.len() + escaped.len() > REVERT_SHOWN_CHARS {
                        break;
                    }
                    shown.push_str(&escaped);
                }
                let more = if whole && chars.next().is_none() { "" } else { "…" };
                return size(format!("Error(\"{shown}{more}\")"));
            }
        }
        if head.starts_with(&Panic::SELECTOR)
            && let Ok(panic) = Panic::abi_decode(head)
        {
            return size(format!("Panic({})", panic));
        }
        if head.len() >= 4 {
            let selector = &head[..4];
            for error in self.errors.iter().filter(|e| e.selector().as_slice() == selector) {
                if cut {
                    return size(format!("{}(…)", error.name));
                }
                let Ok(types) = error.inputs.iter().map(|p| p.resolve()).collect::<Result<Vec<_>, _>>() else {
                    continue;
                };
                let args = &head[4..];
                let static_only = types.iter().all(|t| !t.is_dynamic());
                if (static_only || canonical::is_canonical(&types, args))
                    && let Ok(values) = error.abi_decode_input(args)
                {
                    let values: Vec<String> = values.iter().map(format_value).collect();
                    return format!("{}({})", error.name, shorten(&values.join(", "), REVERT_SHOWN_CHARS));
                }
            }
        }
        let shown = alloy::primitives::hex::encode_prefixed(&head[..head.len().min(36)]);
        let more = if total > 36 { "…" } else { "" };
        size(format!("unknown revert data {shown}{more}"))
    }
}

/// Revert data longer than this is cut before it is decoded or formatted: a
/// reason of several lines fits; megabytes are never copied or escaped.
pub const MAX_REVERT_BYTES: usize = 1024;

/// How much of a revert reason's text is kept (before the node text is
/// cleaned and cut for printing anyway).
const REVERT_SHOWN_CHARS: usize = 160;

/// The start of an `Error(string)`'s message in revert data that was cut:
/// the bytes after the offset and length words, up to the length given; and
/// whether that is the whole message.
fn revert_message_start(data: &[u8]) -> Option<(&[u8], bool)> {
    let offset = data.get(4..36)?;
    if offset[..31].iter().any(|&b| b != 0) || offset[31] != 0x20 {
        return None;
    }
    let length = U256::from_be_slice(data.get(36..68)?);
    let available = &data[68..];
    match usize::try_from(length) {
        Ok(length) if length <= available.len() => Some((&available[..length], true)),
        _ => Some((available, false)),
    }
}

/// At most `max` characters of `s`, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn read_abi(path: &Path, wait: std::time::Duration) -> Result<String, AbiError> {
    crate::input::read_file(path, "ABI file", crate::input::MAX_ABI_BYTES, wait)
        .map_err(|e| AbiError::Input(e.to_string().replace(['\n', '\r'], " ")))
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
mod tests;
