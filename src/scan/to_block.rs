//! `--to-block`: the last block a scan asks for — a tag every provider
//! resolves (`latest`, `safe`, `finalized`) or a number — and block numbers
//! as users type them (decimal or `0x` hex).

use std::{fmt, str::FromStr};

use crate::sanitize::printable;

/// The last block to scan (`--to-block`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToBlock {
    /// The newest block (the highest that enough weight has reached).
    Latest,
    /// The newest `safe` block.
    Safe,
    /// The newest `finalized` block.
    Finalized,
    /// This block.
    Number(u64),
}

impl FromStr for ToBlock {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "latest" => Ok(Self::Latest),
            "safe" => Ok(Self::Safe),
            "finalized" => Ok(Self::Finalized),
            _ => parse_block_number(&t).map(Self::Number).ok_or_else(|| {
                format!(
                    "invalid block '{}': expected latest, safe, finalized or a block number",
                    printable(s)
                )
            }),
        }
    }
}

impl fmt::Display for ToBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Safe => f.write_str("safe"),
            Self::Finalized => f.write_str("finalized"),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A block number, decimal or `0x` hex.
pub fn parse_block_number(s: &str) -> Option<u64> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_blocks() {
        assert_eq!("latest".parse(), Ok(ToBlock::Latest));
        assert_eq!("Finalized".parse(), Ok(ToBlock::Finalized));
        assert_eq!("safe".parse(), Ok(ToBlock::Safe));
        assert_eq!("0x10".parse(), Ok(ToBlock::Number(16)));
        assert_eq!("1234".parse(), Ok(ToBlock::Number(1234)));
        for bad in ["", "pending", "-1", "0x", "1e3", "99999999999999999999999"] {
            assert!(bad.parse::<ToBlock>().is_err(), "{bad}");
        }
        assert_eq!(ToBlock::Number(7).to_string(), "7");
    }
}
