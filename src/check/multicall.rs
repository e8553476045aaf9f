//! Multicall3: many `vote()` reads inside one `eth_call`. Multicall3 lives at
//! the same address on virtually every EVM chain; its `aggregate3` makes each
//! call in turn and returns every call's `(success, returnData)`. Providers
//! bill and rate-limit per `eth_call`, so a check of 1,000 hashes costs
//! ⌈1000 / [`CHUNK_START`]⌉ calls per node instead of 1,000 (fewer once the
//! node has shown it takes larger ones, more behind a limit: the size is
//! learned per node, see [`crate::check::rpc::learned`]).
//!
//! The inner calls' sender is the Multicall3 contract, so a node configured
//! with a `from` address (whose vote depends on `msg.sender`) is always asked
//! with plain calls.

use alloy::{
    primitives::{Address, Bytes},
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

/// Inner calls per `aggregate3` to start with, on a node not seen before.
/// A `vote(bytes32)` read takes 224 bytes of calldata (448 hex digits), so
/// 200 of them make a request body of about 90 KB: under the 100 KB that
/// common proxies accept by default (Express; old geth took 128 KB). They
/// cost about 1.1 M gas inside `aggregate3` (about 5,300 each, measured on
/// anvil: BENCHMARKS.md), under the `eth_call` gas caps that hosted
/// providers set, and the answer is about 64 KB of hex.
pub const CHUNK_START: usize = 200;

/// The fewest inner calls per `aggregate3`: a node that cannot take even
/// this many at once (halving from [`CHUNK_START`] on every size failure)
/// is asked with plain calls.
pub const CHUNK_FLOOR: usize = 16;

/// The most inner calls per `aggregate3`, however fast a node answers:
/// about 2.7 M gas, a tenth of the 30 M block gas limit that many chains
/// (and hardhat) give an `eth_call`, and an answer of about 160 KB of hex.
pub const CHUNK_MAX: usize = 500;

/// Requests through Multicall3 in flight to one node at a time. Each carries
/// one `aggregate3` of up to [`CHUNK_MAX`] reads; more at once only fills memory (measured: 4 requests
/// of 2,000 reads per node took S5 from 24 to 152 MiB) while the node works
/// through them one after another anyway.
pub const IN_FLIGHT: usize = 2;

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
///
/// The rule: an answer that does not even claim to be a list of outcomes
/// (empty, or not starting with the list's offset and length words) says that
/// what sits at the address is not Multicall3 — the node is asked again with
/// plain calls. An answer that claims to be one but is not exactly what an
/// encoder writes for as many outcomes as calls — offsets that overlap, leave
/// gaps or point outside the answer, lengths past its end, dirty padding or
/// bools, trailing bytes, another count — can only come from a faulty or
/// hostile node: it is that node's `bad_response` for those transactions.
/// Real Multicall3 deployments (Solidity's encoder) never produce one.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Empty: there is no contract at the Multicall3 address.
    NoCode,
    /// One `(success, returnData)` per inner call, in order.
    Outcomes(Vec<(bool, Bytes)>),
    /// Not an `aggregate3` answer at all: something else is at the address.
    Bad(String),
    /// Shaped as an `aggregate3` answer but not its canonical encoding for
    /// this many calls: a bad response.
    Malformed(String),
}

/// Decodes an `aggregate3` result that should hold `expected` outcomes.
/// Strict: the answer must be exactly the canonical ABI encoding of the
/// outcomes, so decoding it never allocates more than its own size (a
/// lenient decoder follows shared offsets and copies one huge revert
/// message once per outcome). Linear in the answer's size.
pub fn decode(data: &[u8], expected: usize) -> Decoded {
    use alloy::sol_types::abi::AbiDecoderConfig;
    if data.is_empty() {
        return Decoded::NoCode;
    }
    let word = |i: usize| data.get(i * 32..(i + 1) * 32);
    let as_small = |w: &[u8]| {
        let (high, low) = w.split_at(24);
        high.iter()
            .all(|&b| b == 0)
            .then(|| u64::from_be_bytes(low.try_into().unwrap_or([0xff; 8])))
    };
    let (Some(offset), Some(count)) = (word(0), word(1)) else {
        return Decoded::Bad("aggregate3 answer is not an ABI-encoded list of outcomes".into());
    };
    if as_small(offset) != Some(0x20) {
        return Decoded::Bad("aggregate3 answer is not an ABI-encoded list of outcomes".into());
    }
    match as_small(count) {
        Some(n) if n == expected as u64 => {}
        Some(n) => return Decoded::Malformed(format!("aggregate3 answered {n} outcomes for {expected} calls")),
        None => {
            return Decoded::Malformed(format!(
                "aggregate3 answered an impossible count of outcomes for {expected} calls"
            ));
        }
    }
    // Strict mode also bounds what is decoded by the answer's size; the
    // memory limit makes that explicit (outcome bookkeeping included).
    let config = AbiDecoderConfig::new()
        .strict(true)
        .memory_limit(data.len().saturating_mul(2).saturating_add(4096));
    match aggregate3Call::abi_decode_returns_with_config(data, config) {
        Ok(outcomes) if outcomes.len() == expected => {
            Decoded::Outcomes(outcomes.into_iter().map(|o| (o.success, o.returnData)).collect())
        }
        Ok(outcomes) => Decoded::Malformed(format!(
            "aggregate3 answered {} outcomes for {expected} calls",
            outcomes.len()
        )),
        Err(e) => Decoded::Malformed(format!(
            "aggregate3 answer of {} bytes is not the ABI encoding of {expected} outcomes ({e})",
            data.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CANONICAL;

    #[test]
    fn the_selector_is_multicall3s() {
        assert_eq!(aggregate3Call::SELECTOR, [0x82, 0xad, 0x56, 0xcb]);
        let data = encode(CANONICAL, &[Bytes::from_static(&[1, 2, 3, 4])]);
        assert_eq!(&data[..4], &[0x82, 0xad, 0x56, 0xcb]);
    }

    fn word(v: usize) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(v as u64).to_be_bytes());
        w
    }

    fn two_outcomes() -> Vec<u8> {
        let outcomes = vec![
            Outcome3 {
                success: true,
                returnData: Bytes::from(vec![0u8; 32]),
            },
            Outcome3 {
                success: false,
                returnData: Bytes::from(vec![7u8; 3]),
            },
        ];
        aggregate3Call::abi_encode_returns(&outcomes)
    }

    #[test]
    fn answers_decode_strictly() {
        let encoded = two_outcomes();
        assert_eq!(
            decode(&encoded, 2),
            Decoded::Outcomes(vec![
                (true, Bytes::from(vec![0u8; 32])),
                (false, Bytes::from(vec![7u8; 3]))
            ])
        );
        assert!(matches!(decode(&encoded, 3), Decoded::Malformed(m) if m.contains("2 outcomes for 3")));
        assert_eq!(decode(&[], 2), Decoded::NoCode);
    }

    /// Not even shaped as a list of outcomes: something else is at the address.
    #[test]
    fn answers_that_are_not_lists_of_outcomes_are_not_multicall3s() {
        let encoded = two_outcomes();
        for other in [
            &word(1)[..],
            &encoded[..40],
            &[&word(0x40)[..], &encoded[32..]].concat(),
        ] {
            assert!(matches!(decode(other, 2), Decoded::Bad(_)), "{other:?}");
        }
    }

    /// Shaped as a list of outcomes, but not what an encoder writes: the node's bad response.
    #[test]
    fn malformed_lists_of_outcomes_are_bad_responses() {
        let encoded = two_outcomes();
        // Layout: [0x20][2][off0][off1] then tuple 0 at 0x80 (bool, 0x40, 32, word),
        // tuple 1 at 0x80 + 0xa0 (bool, 0x40, 3, padded bytes).
        let mut shared = encoded.clone();
        shared[96..128].copy_from_slice(&word(0x40)); // outcome 1 points at outcome 0
        let mut out_of_bounds = encoded.clone();
        out_of_bounds[96..128].copy_from_slice(&word(1 << 40));
        let mut long = encoded.clone();
        let last_len = encoded.len() - 64;
        long[last_len..last_len + 32].copy_from_slice(&word(1 << 20));
        let mut dirty_padding = encoded.clone();
        *dirty_padding.last_mut().unwrap() = 1;
        let mut dirty_bool = encoded.clone();
        dirty_bool[128 + 31] = 2;
        let mut trailing = encoded.clone();
        trailing.extend_from_slice(&[0; 32]);
        let truncated = &encoded[..encoded.len() - 32];
        let mut huge_count = encoded.clone();
        huge_count[32] = 1;
        for (name, data) in [
            ("shared", &shared[..]),
            ("out of bounds", &out_of_bounds),
            ("long", &long),
            ("dirty padding", &dirty_padding),
            ("dirty bool", &dirty_bool),
            ("trailing", &trailing),
            ("truncated", truncated),
            ("huge count", &huge_count),
        ] {
            assert!(
                matches!(decode(data, 2), Decoded::Malformed(_)),
                "{name}: {:?}",
                decode(data, 2)
            );
        }
    }

    /// The decode bomb: 500 outcomes all pointing at one 1.9 MB
    /// revert. Refused without making a single copy of it.
    #[test]
    fn a_decode_bomb_is_refused_at_once() {
        let n = 500;
        let payload = 1_900_000;
        let mut data = Vec::new();
        data.extend_from_slice(&word(0x20));
        data.extend_from_slice(&word(n));
        for _ in 0..n {
            data.extend_from_slice(&word(32 * n));
        }
        data.extend_from_slice(&word(0));
        data.extend_from_slice(&word(0x40));
        data.extend_from_slice(&word(payload));
        data.resize(data.len() + payload.next_multiple_of(32), 1);
        let started = std::time::Instant::now();
        assert!(matches!(decode(&data, n), Decoded::Malformed(_)));
        // A lenient decoder takes about a second here (debug build), making 950 MB of copies.
        assert!(
            started.elapsed() < std::time::Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }
}
