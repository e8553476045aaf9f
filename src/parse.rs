//! Parsers for the values users type: transaction hashes, addresses and
//! durations. Each error says what was expected and how much was given,
//! never the value itself (it may be a key pasted in the wrong place).

use std::time::Duration;

use alloy::primitives::{Address, B256};

/// A 32-byte transaction hash: 64 hex digits, `0x` prefix optional.
pub fn parse_tx_hash(s: &str) -> Result<B256, String> {
    let t = s.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    // One pass: the decoder checks every digit (a million hashes in a file).
    match (hex.len(), alloy::primitives::hex::decode_to_array::<_, 32>(hex)) {
        (64, Ok(bytes)) => Ok(B256::from(bytes)),
        _ => Err(format!(
            "expected a 32-byte hash as 64 hex digits, got {} characters",
            hex.chars().count()
        )),
    }
}

/// A 20-byte address: 40 hex digits, `0x` prefix optional. A mixed-case
/// address must carry a valid EIP-55 checksum, catching typos.
pub fn parse_address(s: &str) -> Result<Address, String> {
    let t = s.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "expected a 20-byte address as 40 hex digits, got {} characters",
            hex.chars().count()
        ));
    }
    let mixed = hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        return Address::parse_checksummed(format!("0x{hex}"), None)
            .map_err(|_| "mixed-case address with an invalid EIP-55 checksum".to_string());
    }
    hex.parse::<Address>().map_err(|e| e.to_string())
}

/// A positive duration such as `500ms`, `3s` or `1m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().map(Duration::from_secs).map_err(|e| e.to_string())?
    } else {
        humantime::parse_duration(t).map_err(|e| format!("expected a duration such as 500ms or 3s ({e})"))?
    };
    if d.is_zero() {
        return Err("duration must be greater than zero".into());
    }
    if d > Duration::from_secs(24 * 3600) {
        return Err("duration must be at most 24h".into());
    }
    Ok(d)
}
