//! `--multicall`: whether (and where) a check reads votes through a
//! Multicall3-compatible contract. How it is called and read is the
//! engine's business ([`crate::check::multicall`]); which contract is a setting.

use std::{fmt, str::FromStr};

use alloy::primitives::{Address, address};

/// Where Multicall3 is deployed on (virtually) every EVM chain.
pub const CANONICAL: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");

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

#[cfg(test)]
mod tests {
    use super::*;

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
