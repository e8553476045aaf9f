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
        // The right length: name the first character that is not a hex digit
        // (one character, escaped: never the value).
        (64, Err(_)) => {
            let (at, bad) = hex
                .chars()
                .enumerate()
                .find(|(_, c)| !c.is_ascii_hexdigit())
                .unwrap_or((0, '?'));
            Err(format!(
                "expected a 32-byte hash as 64 hex digits: digit {} is '{}', not 0-9 or a-f",
                at + 1,
                bad.escape_debug()
            ))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_digit_is_named_with_its_position() {
        let mut hash = format!("0x{}", "1".repeat(64));
        hash.replace_range(65.., "g");
        assert_eq!(
            parse_tx_hash(&hash).unwrap_err(),
            "expected a 32-byte hash as 64 hex digits: digit 64 is 'g', not 0-9 or a-f"
        );
        let escaped = format!("{}\u{1b}{}", "a".repeat(10), "b".repeat(53));
        assert_eq!(
            parse_tx_hash(&escaped).unwrap_err(),
            "expected a 32-byte hash as 64 hex digits: digit 11 is '\\u{1b}', not 0-9 or a-f"
        );
        assert!(parse_tx_hash("0x12").unwrap_err().contains("got 2 characters"));
    }

    #[test]
    fn hashes() {
        let h = "0x".to_string() + &"ab".repeat(32);
        assert_eq!(parse_tx_hash(&h).unwrap(), B256::repeat_byte(0xab));
        assert_eq!(parse_tx_hash(&"AB".repeat(32)).unwrap(), B256::repeat_byte(0xab));
        for bad in [
            "",
            "0x",
            "0x1234",
            &"ab".repeat(33),
            &("0x".to_string() + &"zz".repeat(32)),
            "0x 12",
        ] {
            assert!(parse_tx_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        let a = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert!(parse_address(a).is_ok());
        assert!(parse_address(&a.to_lowercase()).is_ok());
        assert!(
            parse_address("0x5FbDB2315678afecb367f032d93F642f64180aA3").is_err(),
            "bad checksum"
        );
        for bad in [
            "",
            "0x12",
            "0xzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            &("0x".to_string() + &"1".repeat(41)),
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        for bad in ["", "0s", "0", "-1s", "fast", "25h", "99999999999999999999"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
