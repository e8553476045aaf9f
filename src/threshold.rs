//! Thresholds: how much "yes" weight confirms a transaction. A
//! [`Threshold`] is what the user wrote (`7`, `majority`, `all`, `66.7%`,
//! `2/3`); [`Threshold::resolve`] turns it into an absolute weight once the
//! total weight of the configured nodes is known. Pure, no I/O.

use std::{fmt, str::FromStr};

use crate::sanitize::printable;

/// A threshold as written by the user: `7` (an absolute weight), `majority`,
/// `all`, `66%`, `2/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// `N`: at least this much weight.
    Absolute(u128),
    /// `majority`: strictly more than half the total weight, floor(W/2)+1.
    Majority,
    /// `all`: the whole weight.
    All,
    /// `P%` or `A/B`: that share of the total weight, rounded up.
    /// Stored as a fraction `num/den` with `0 < num <= den`.
    Share {
        /// Numerator.
        num: u128,
        /// Denominator.
        den: u128,
        /// Written as a percentage (`66%`) rather than a fraction (`2/3`).
        percent: bool,
    },
}

/// Why a threshold cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// Not a threshold (the text, escaped).
    #[error("invalid threshold '{0}': expected N, majority, all, P% (0 < P <= 100) or A/B (0 < A <= B)")]
    Syntax(String),
    /// More than the nodes' total weight.
    #[error("threshold {spec} resolves to {value}, outside 1..={total} (the total weight of the nodes)")]
    OutOfRange {
        /// The threshold as written.
        spec: String,
        /// What it resolves to.
        value: u128,
        /// The nodes' total weight.
        total: u128,
    },
    /// Zero.
    #[error("threshold must be at least 1")]
    Zero,
    /// A relative threshold with uint votes (whose sum has no maximum).
    #[error(
        "threshold '{0}' is relative, but the vote function returns a uint weight: only an absolute threshold N can be used"
    )]
    RelativeWithUint(String),
}

impl ThresholdError {
    /// The message; `defaulted` (the user did not choose the threshold)
    /// adds "(the default)" where the threshold is named, so a user who
    /// never typed `majority` learns where it came from.
    pub(crate) fn message(&self, defaulted: bool) -> String {
        match self {
            Self::RelativeWithUint(spec) if defaulted => format!(
                "threshold '{spec}' (the default) is relative, but the vote function returns a uint weight: only an absolute threshold N can be used"
            ),
            other => other.to_string(),
        }
    }
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ThresholdError::Syntax(printable(s));
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "majority" => return Ok(Self::Majority),
            "all" => return Ok(Self::All),
            _ => {}
        }
        if let Some(p) = t.strip_suffix('%') {
            let (num, den) = parse_decimal(p.trim()).ok_or_else(syntax)?;
            // num/den is P; the share is P/100.
            let den = den.checked_mul(100).ok_or_else(syntax)?;
            if num == 0 || num > den {
                return Err(syntax());
            }
            return Ok(Self::Share {
                num,
                den,
                percent: true,
            });
        }
        if let Some((a, b)) = t.split_once('/') {
            let num = parse_integer(a.trim()).ok_or_else(syntax)?;
            let den = parse_integer(b.trim()).ok_or_else(syntax)?;
            if num == 0 || den == 0 || num > den {
                return Err(syntax());
            }
            return Ok(Self::Share {
                num,
                den,
                percent: false,
            });
        }
        let n = parse_integer(t).ok_or_else(syntax)?;
        if n == 0 {
            return Err(ThresholdError::Zero);
        }
        Ok(Self::Absolute(n))
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute(n) => write!(f, "{n}"),
            Self::Majority => f.write_str("majority"),
            Self::All => f.write_str("all"),
            Self::Share {
                num,
                den,
                percent: false,
            } => write!(f, "{num}/{den}"),
            Self::Share {
                num,
                den,
                percent: true,
            } if is_percent_scale(*den) => {
                // Print P back as the shortest decimal that equals num/den*100.
                let scaled = den / 100;
                let whole = num / scaled;
                let mut frac = num % scaled;
                write!(f, "{whole}")?;
                if frac != 0 {
                    f.write_str(".")?;
                    let mut unit = scaled / 10;
                    while frac != 0 && unit != 0 {
                        write!(f, "{}", frac / unit)?;
                        frac %= unit;
                        unit /= 10;
                    }
                }
                f.write_str("%")
            }
            // A share built by hand whose denominator is not 100 × 10^k.
            Self::Share { num, den, .. } => write!(f, "{num}/{den}"),
        }
    }
}

/// Whether `den` is 100 × 10^k: a percentage with k decimals, as parsed.
fn is_percent_scale(den: u128) -> bool {
    let mut scaled = den / 100;
    if !den.is_multiple_of(100) || scaled == 0 {
        return false;
    }
    while scaled.is_multiple_of(10) {
        scaled /= 10;
    }
    scaled == 1
}

impl Threshold {
    /// The absolute weight needed, given the total weight `total` of the nodes.
    /// With `uint_votes` (votes are weights, not yes/no) only `N` is accepted
    /// and it is not bounded by the node weight.
    /// A threshold built by hand (the enum's fields are public) is held to
    /// what parsing allows: `Absolute(0)` and a share outside `0 < num <= den`
    /// are errors, never a division by zero or a threshold of nothing.
    pub fn resolve(&self, total: u128, uint_votes: bool) -> Result<u128, ThresholdError> {
        match *self {
            Self::Absolute(0) => return Err(ThresholdError::Zero),
            Self::Share { num, den, .. } if num == 0 || den == 0 || num > den => {
                return Err(ThresholdError::Syntax(self.to_string()));
            }
            _ => {}
        }
        if uint_votes {
            return match self {
                Self::Absolute(n) => Ok(*n),
                other => Err(ThresholdError::RelativeWithUint(other.to_string())),
            };
        }
        let value = match *self {
            Self::Absolute(n) => n,
            Self::Majority => total / 2 + 1,
            Self::All => total,
            Self::Share { num, den, .. } => ceil_mul_div(total, num, den),
        };
        if value == 0 || value > total {
            return Err(ThresholdError::OutOfRange {
                spec: self.to_string(),
                value,
                total,
            });
        }
        Ok(value)
    }
}

/// ceil(total * num / den) without overflow for any total the tool can hold.
fn ceil_mul_div(total: u128, num: u128, den: u128) -> u128 {
    // total * num / den = q*num + ceil(r*num/den) where total = q*den + r.
    let (q, r) = (total / den, total % den);
    let rest = match r.checked_mul(num) {
        Some(p) => p.div_ceil(den),
        None => u128::MAX,
    };
    q.saturating_mul(num).saturating_add(rest)
}

fn parse_integer(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 30 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "66.7" -> (667, 10). At most 6 fractional digits.
fn parse_decimal(s: &str) -> Option<(u128, u128)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty()) || frac.len() > 6 {
        return None;
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || int.len() > 6 {
        return None;
    }
    let den = 10u128.pow(frac.len() as u32);
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    Some((int * den + frac, den))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(s: &str, total: u128) -> Result<u128, ThresholdError> {
        s.parse::<Threshold>()?.resolve(total, false)
    }

    #[test]
    fn absolute() {
        assert_eq!(resolve("7", 10), Ok(7));
        assert_eq!(resolve("10", 10), Ok(10));
        assert_eq!(resolve(" 1 ", 1), Ok(1));
        assert!(matches!(
            resolve("11", 10),
            Err(ThresholdError::OutOfRange { value: 11, .. })
        ));
        assert_eq!(resolve("0", 10), Err(ThresholdError::Zero));
    }

    #[test]
    fn majority_is_strictly_more_than_half() {
        assert_eq!(resolve("majority", 1), Ok(1));
        assert_eq!(resolve("majority", 2), Ok(2));
        assert_eq!(resolve("majority", 3), Ok(2));
        assert_eq!(resolve("majority", 10), Ok(6));
        assert_eq!(resolve("MAJORITY", 11), Ok(6));
    }

    #[test]
    fn all_and_shares_round_up() {
        assert_eq!(resolve("all", 10), Ok(10));
        assert_eq!(resolve("all", 1), Ok(1));
        assert_eq!(resolve("2/3", 10), Ok(7));
        assert_eq!(resolve("2/3", 9), Ok(6));
        assert_eq!(resolve("1/2", 10), Ok(5));
        assert_eq!(resolve("70%", 10), Ok(7));
        assert_eq!(resolve("66.7%", 10), Ok(7));
        assert_eq!(resolve("100%", 3), Ok(3));
        assert_eq!(resolve("1%", 1), Ok(1));
        assert_eq!(resolve("50%", 1), Ok(1));
        assert_eq!(resolve("1/1", 1), Ok(1));
    }

    #[test]
    fn garbage_is_a_syntax_error_naming_the_input() {
        for bad in [
            "",
            "seven",
            "-1",
            "1.5",
            "0%",
            "101%",
            "%",
            "3/2",
            "0/3",
            "1/0",
            "/",
            "1/",
            "7 of 10",
            "1e3",
            "99999999999999999999999999999999999999",
        ] {
            let err = bad.parse::<Threshold>().unwrap_err();
            assert!(
                matches!(err, ThresholdError::Syntax(_) | ThresholdError::Zero),
                "{bad}: {err}"
            );
        }
        let err = "seven".parse::<Threshold>().unwrap_err();
        assert!(err.to_string().contains("'seven'"));
    }

    #[test]
    fn uint_votes_take_only_absolute() {
        let n: Threshold = "500".parse().unwrap();
        assert_eq!(n.resolve(3, true), Ok(500));
        let m: Threshold = "majority".parse().unwrap();
        assert!(matches!(m.resolve(3, true), Err(ThresholdError::RelativeWithUint(_))));
    }

    #[test]
    fn display_round_trips() {
        for s in ["7", "majority", "all", "2/3", "66.7%", "70%", "0.5%"] {
            let spec: Threshold = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
            assert_eq!(spec.to_string().parse::<Threshold>().unwrap(), spec);
        }
    }

    #[test]
    fn hand_built_thresholds_are_refused_not_divided_by() {
        for (num, den, percent) in [
            (1, 0, false),
            (1, 0, true),
            (0, 0, true),
            (0, 3, false),
            (5, 3, false),
            (1, 50, true),
        ] {
            let spec = Threshold::Share { num, den, percent };
            for uint in [false, true] {
                let result = spec.resolve(10, uint);
                if (num, den) == (1, 50) && !uint {
                    // 1/50 of 10, rounded up: a valid share, shown as a fraction.
                    assert_eq!(result, Ok(1));
                    assert_eq!(spec.to_string(), "1/50");
                } else if (num, den) == (1, 50) {
                    assert!(matches!(result, Err(ThresholdError::RelativeWithUint(_))), "{result:?}");
                } else {
                    assert!(
                        matches!(result, Err(ThresholdError::Syntax(_))),
                        "{num}/{den}: {result:?}"
                    );
                }
            }
        }
        assert_eq!(Threshold::Absolute(0).resolve(10, false), Err(ThresholdError::Zero));
        // With uint votes a threshold of 0 would confirm every transaction on no weight at all.
        assert_eq!(Threshold::Absolute(0).resolve(10, true), Err(ThresholdError::Zero));
    }

    #[test]
    fn huge_totals_do_not_overflow() {
        let spec: Threshold = "2/3".parse().unwrap();
        let total = u128::MAX / 2;
        let v = spec.resolve(total, false).unwrap();
        assert!(v <= total && v > total / 2);
    }
}
