//! Multicall3: many `vote()` reads inside one `eth_call`. Multicall3 lives at
//! the same address on virtually every EVM chain; its `aggregate3` makes each
//! call in turn and returns every call's `(success, returnData)`. Providers
//! bill and rate-limit per `eth_call`, so a check of 1,000 hashes costs
//! ⌈1000 / [`CHUNK`]⌉ calls per node instead of 1,000.
//!
//! The inner calls' sender is the Multicall3 contract, so a node configured
//! with a `from` address (whose vote depends on `msg.sender`) is always asked
//! with plain calls.

use std::{fmt, str::FromStr};

use alloy::{
    primitives::{Address, Bytes, address},
    sol,
    sol_types::SolCall,
};

sol! {
    /// One call for `aggregate3`.
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// One call's outcome.
    struct Outcome3 {
        bool success;
        bytes returnData;
    }

    /// Multicall3's entry point (selector `0x82ad56cb`).
    function aggregate3(Call3[] calls) external payable returns (Outcome3[] returnData);
}

/// Where Multicall3 is deployed on (virtually) every EVM chain.
pub const CANONICAL: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");

/// Inner calls per `aggregate3`. Measured on anvil (BENCHMARKS.md): a
/// `vote(bytes32)` read costs about 5,300 gas inside `aggregate3`, a
/// `weight(bytes32)` read about the same, so 500 of them take about 2.7 M
/// gas: a tenth of the 30 M block gas limit that many chains (and hardhat)
/// give an `eth_call` without an explicit gas, and far under geth's 50 M
/// `eth_call` cap. The answer stays small too (about 160 KB of hex).
pub const CHUNK: usize = 500;

/// `aggregate3` calls per JSON-RPC request: bounds an answer to about
/// 0.35 MB, far under `--max-response-bytes`' default.
pub const PER_REQUEST: usize = 2;

/// Requests through Multicall3 in flight to one node at a time. Each carries
/// up to 1,000 reads; more at once only fills memory (measured: 4 requests
/// of 2,000 reads per node took S5 from 24 to 152 MiB) while the node works
/// through them one after another anyway.
pub const IN_FLIGHT: usize = 2;

/// `--multicall`: whether and where to use a Multicall3-compatible contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Multicall {
    /// Multicall3 at its canonical address; nodes without code there fall
    /// back to plain calls.
    #[default]
    Auto,
    /// Plain calls only.
    Off,
    /// A Multicall3-compatible contract at this address.
    At(Address),
}

impl Multicall {
    /// The contract to call, unless off.
    pub fn address(self) -> Option<Address> {
        match self {
            Self::Auto => Some(CANONICAL),
            Self::Off => None,
            Self::At(a) => Some(a),
        }
    }
}

impl FromStr for Multicall {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            other => other.parse::<Address>().map(Self::At).map_err(|_| {
                format!(
                    "`{}` is not auto, off or a contract address (0x and 40 hex digits)",
                    crate::sanitize::cut_message(other)
                )
            }),
        }
    }
}

impl fmt::Display for Multicall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Off => f.write_str("off"),
            Self::At(a) => write!(f, "{a}"),
        }
    }
}

/// The calldata of one `aggregate3` that calls `target` with each of `calls`
/// (failures allowed: each is reported on its own).
pub fn encode(target: Address, calls: &[Bytes]) -> Bytes {
    aggregate3Call {
        calls: calls
            .iter()
            .map(|data| Call3 {
                target,
                allowFailure: true,
                callData: data.clone(),
            })
            .collect(),
    }
    .abi_encode()
    .into()
}

/// What an `aggregate3` call's result says.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Empty: there is no contract at the Multicall3 address.
    NoCode,
    /// One `(success, returnData)` per inner call, in order.
    Outcomes(Vec<(bool, Bytes)>),
    /// Not an `aggregate3` answer for this many calls.
    Bad(String),
}

/// Decodes an `aggregate3` result that should hold `expected` outcomes.
/// Strict: the answer must be exactly the ABI encoding of the outcomes.
pub fn decode(data: &[u8], expected: usize) -> Decoded {
    if data.is_empty() {
        return Decoded::NoCode;
    }
    match aggregate3Call::abi_decode_returns_validate(data) {
        Ok(outcomes) if outcomes.len() == expected => {
            Decoded::Outcomes(outcomes.into_iter().map(|o| (o.success, o.returnData)).collect())
        }
        Ok(outcomes) => Decoded::Bad(format!(
            "aggregate3 answered {} outcomes for {expected} calls",
            outcomes.len()
        )),
        Err(_) => Decoded::Bad("aggregate3 answer is not an ABI-encoded list of outcomes".into()),
    }
}

/// Which way a node was asked, as the JSON report's `via` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `aggregate3` calls, batched.
    Multicall,
    /// Plain `eth_call`s in JSON-RPC batches.
    Batch,
    /// Plain `eth_call`s, one request each (the node refuses batches, or `--batch-size 1`).
    Single,
}

impl Via {
    /// As in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Multicall => "multicall",
            Self::Batch => "batch",
            Self::Single => "single",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_is_multicall3s() {
        assert_eq!(aggregate3Call::SELECTOR, [0x82, 0xad, 0x56, 0xcb]);
        let data = encode(CANONICAL, &[Bytes::from_static(&[1, 2, 3, 4])]);
        assert_eq!(&data[..4], &[0x82, 0xad, 0x56, 0xcb]);
    }

    #[test]
    fn answers_decode_strictly() {
        let outcomes = vec![
            Outcome3 {
                success: true,
                returnData: Bytes::from(vec![0u8; 32]),
            },
            Outcome3 {
                success: false,
                returnData: Bytes::new(),
            },
        ];
        let encoded = aggregate3Call::abi_encode_returns(&outcomes);
        assert_eq!(
            decode(&encoded, 2),
            Decoded::Outcomes(vec![(true, Bytes::from(vec![0u8; 32])), (false, Bytes::new())])
        );
        assert!(matches!(decode(&encoded, 3), Decoded::Bad(m) if m.contains("2 outcomes for 3")));
        assert!(matches!(decode(&encoded[..40], 2), Decoded::Bad(_)));
        assert_eq!(decode(&[], 2), Decoded::NoCode);
    }

    #[test]
    fn the_mode_parses() {
        assert_eq!("auto".parse::<Multicall>(), Ok(Multicall::Auto));
        assert_eq!("off".parse::<Multicall>(), Ok(Multicall::Off));
        assert_eq!(
            "0xcA11bde05977b3631167028862bE2a173976CA11".parse::<Multicall>(),
            Ok(Multicall::At(CANONICAL))
        );
        assert!("on".parse::<Multicall>().unwrap_err().contains("`on`"));
        assert!("0x12".parse::<Multicall>().is_err());
    }
}
