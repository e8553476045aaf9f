//! What a provider's refusal of an `eth_getLogs` range says, in its own
//! words: a largest range it accepts ("max is 1k blocks", "limited to 1024
//! block range", "up to a 2K block range"), an explicit range to ask instead
//! ("retry with the range 23879634-23879696"), or only "too much" (too many
//! results, a response too large, HTTP 413, a timeout, a 5xx). Pure text in,
//! [`Hint`] out; the planner decides what to do with it.

/// What a refusal tells about the range to ask next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// The provider accepts at most this many blocks per request (a fixed
    /// limit of the plan, not of the data).
    MaxBlocks(u64),
    /// The provider names the range to ask instead (results-based limits).
    Retry {
        /// First block of the suggested range.
        from: u64,
        /// Last block of the suggested range.
        to: u64,
    },
    /// Too many results or too large an answer for this range: the limit
    /// depends on how many logs the blocks hold.
    TooManyResults,
    /// The range failed for a reason that may be its size (a timeout, a 5xx,
    /// HTTP 413, an error nobody recognised): halve it.
    Unknown,
}

impl Hint {
    /// Whether the limit behind this refusal depends on the data (a denser
    /// stretch of blocks needs smaller ranges, a sparser one can take larger).
    pub fn depends_on_density(self) -> bool {
        matches!(self, Self::Retry { .. } | Self::TooManyResults)
    }
}

/// Reads a provider's error message (any case, any wording of the known
/// providers) for what it says about the range.
pub fn parse_hint(message: &str) -> Hint {
    let text = message.to_ascii_lowercase();
    if let Some((from, to)) = suggested_range(&text) {
        return Hint::Retry { from, to };
    }
    if let Some(max) = block_limit(&text) {
        return Hint::MaxBlocks(max);
    }
    // A rate limit is not about the range ("too many requests").
    if text.contains("rate limit") || text.contains("too many requests") {
        return Hint::Unknown;
    }
    let results = ["result", "response size", "too many", "too large", "logs matched"];
    if results.iter().any(|r| text.contains(r)) {
        return Hint::TooManyResults;
    }
    Hint::Unknown
}

/// `retry with the range A-B`, `try with this block range [0xA, 0xB]`: the
/// two numbers after "range" in a message that suggests one.
fn suggested_range(text: &str) -> Option<(u64, u64)> {
    if !(text.contains("retry with") || text.contains("try with")) {
        return None;
    }
    let after = &text[text.rfind("range")? + "range".len()..];
    let numbers: Vec<u64> = tokens(after).iter().filter_map(|t| number(t)).take(2).collect();
    match numbers.as_slice() {
        [from, to] if from <= to => Some((*from, *to)),
        _ => None,
    }
}

/// The number that a message ties to "block(s)": within three words before
/// it ("max block range 100000", "requested blocks is 1000") or two after
/// ("1k blocks", "1024 block range", "a 2K block range").
fn block_limit(text: &str) -> Option<u64> {
    let words = tokens(text);
    let is_block = |w: &str| w.starts_with("block");
    for (i, word) in words.iter().enumerate() {
        let Some(n) = number(word) else { continue };
        let before = &words[i.saturating_sub(3)..i];
        let after = &words[i + 1..(i + 3).min(words.len())];
        if n > 0 && (before.iter().any(|w| is_block(w)) || after.iter().any(|w| is_block(w))) {
            return Some(n);
        }
    }
    None
}

/// Words and numbers: split at anything but letters, digits and `_` (a
/// range `A-B` gives two tokens; `10,000` is kept whole, commas dropped).
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let thousands = c == ','
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(char::is_ascii_digit));
        if thousands {
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A decimal number (`1000`, `1k`, `2K` — already lowered) or a `0x` hex
/// quantity; `None` for any other word or an overflow.
fn number(word: &str) -> Option<u64> {
    if let Some(hex) = word.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok();
    }
    let (digits, factor) = match word.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => (word, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The providers' own words, as the issue lists them.
    #[test]
    fn every_provider_wording_is_understood() {
        let cases = [
            ("query exceeds max block range 100000", Hint::MaxBlocks(100_000)),
            (
                "eth_getLogs range is too large, max is 1k blocks",
                Hint::MaxBlocks(1_000),
            ),
            (
                "ranges over 10000 blocks are not supported on freetier",
                Hint::MaxBlocks(10_000),
            ),
            ("eth_getLogs is limited to 1024 block range", Hint::MaxBlocks(1_024)),
            (
                "query exceeds max results 20000, retry with the range 23879634-23879696",
                Hint::Retry {
                    from: 23_879_634,
                    to: 23_879_696,
                },
            ),
            ("query returned more than 10000 results", Hint::TooManyResults),
            (
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response.",
                Hint::MaxBlocks(2_000),
            ),
            (
                "Maximum allowed number of requested blocks is 1000",
                Hint::MaxBlocks(1_000),
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(parse_hint(message), expected, "{message}");
        }
    }

    #[test]
    fn other_shapes_of_the_same_hints() {
        assert_eq!(
            parse_hint("query returned more than 10000 results. Try with this block range [0x16C5B31, 0x16C5B70]."),
            Hint::Retry {
                from: 0x16c5b31,
                to: 0x16c5b70
            }
        );
        assert_eq!(
            parse_hint("block range limit (10,000) exceeded"),
            Hint::MaxBlocks(10_000)
        );
        assert_eq!(parse_hint("Block range too large"), Hint::TooManyResults);
        assert_eq!(parse_hint("internal error"), Hint::Unknown);
        assert_eq!(
            parse_hint("daily request count exceeded, request rate limited"),
            Hint::Unknown
        );
        assert_eq!(parse_hint("Too Many Requests"), Hint::Unknown);
        assert_eq!(parse_hint(""), Hint::Unknown);
        // A range backwards or without numbers is no suggestion.
        assert_eq!(parse_hint("retry with the range 9-3"), Hint::Unknown);
        // Overflowing numbers are ignored, not wrapped.
        assert_eq!(parse_hint("max is 99999999999999999999999k blocks"), Hint::Unknown);
    }

    #[test]
    fn density_tells_fixed_limits_from_data_limits() {
        assert!(!Hint::MaxBlocks(5).depends_on_density());
        assert!(!Hint::Unknown.depends_on_density());
        assert!(Hint::TooManyResults.depends_on_density());
        assert!(Hint::Retry { from: 1, to: 2 }.depends_on_density());
    }
}
