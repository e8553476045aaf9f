//! Text from users, files and nodes made safe to print: on one line, bounded
//! in length, with control characters (newlines and ESC included) and the
//! invisible formatting characters that can reorder or hide text (bidi
//! overrides such as U+202E, zero-width characters) shown as `\u{…}` escapes,
//! so that nothing printed can forge or hide a line.

/// Whether `c` must not reach a terminal as is: a control character, or a
/// Unicode format character that changes how text around it is displayed.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `s` on one line with every unsafe character made visible: line breaks
/// and tabs become spaces (messages stay readable), anything else is
/// escaped as `\u{hex}`.
pub fn escape(s: &str) -> String {
    if !s.chars().any(is_unsafe_char) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\n' | '\r' | '\t') {
            out.push(' ');
        } else if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `s` (before escaping) on one line, with `…`
/// when cut; unsafe characters escaped.
pub fn bounded(s: &str, max: usize) -> String {
    let head: String = s.chars().take(max).collect();
    let mut out = escape(&head);
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A short echo of user input in an error (40 characters).
pub fn printable(s: &str) -> String {
    bounded(s, 40)
}

/// A parser's message (200 characters).
pub fn clean(s: &str) -> String {
    bounded(s, 200)
}

/// The most characters of one text from a node kept before it is scrubbed:
/// generous, so that a key is never cut before the scrubber has seen it
/// whole, and bounded, so that scrubbing stays cheap.
pub const NODE_TEXT_MAX: usize = 4096;

/// A text from a node (an error message, a revert reason, a client version),
/// escaped onto one line and bounded at `NODE_TEXT_MAX` characters, with
/// `…` when cut. Not yet fit to print: it may hold the node's keys and is
/// longer than a report line; `Secrets::scrub` masks the
/// keys, then cuts it to its display length.
pub fn node_text(s: &str) -> String {
    bounded(s, NODE_TEXT_MAX)
}

/// The longest error message printed, in characters.
pub const MAX_MESSAGE: usize = 300;

/// An error message cut to [`MAX_MESSAGE`] characters, saying how much was cut.
pub fn cut_message(s: &str) -> String {
    let total = s.chars().count();
    if total <= MAX_MESSAGE {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_MESSAGE).collect();
    format!("{head}… ({} more characters not shown)", total - MAX_MESSAGE)
}

/// Whether `s` reads as an identifier (a field or type name), not a value
/// that might be a URL or a key.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 24
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && s.chars().filter(|c| c.is_ascii_digit()).count() <= 2
}

/// A parser's message with every quoted value that is not a plain
/// identifier replaced by `(value not shown)`: serde and TOML quote the
/// offending value (`invalid type: string "https://…/KEY"`, ``unknown field
/// `https://…` ``), which may be a URL with its key.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`', '\'']) {
        let quote = rest[start..].chars().next().expect("found");
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &after[..len];
        if is_identifier(inner) {
            out.push(quote);
            out.push_str(inner);
            out.push(quote);
        } else {
            out.push_str("(value not shown)");
        }
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_and_bounded() {
        assert_eq!(clean("a\nb\r\tc"), "a b  c");
        assert_eq!(printable(&"x".repeat(41)), format!("{}…", "x".repeat(40)));
        assert_eq!(printable("short"), "short");
    }

    #[test]
    fn escapes_and_bidi_are_made_visible() {
        assert_eq!(escape("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("safe\u{202e}txt.exe"), "safe\\u{202e}txt.exe");
        assert_eq!(escape("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(escape("plain ünïcode ✓"), "plain ünïcode ✓");
    }

    #[test]
    fn long_messages_say_how_much_was_cut() {
        let cut = cut_message(&"y".repeat(1000));
        assert!(cut.starts_with(&"y".repeat(MAX_MESSAGE)) && cut.ends_with("(700 more characters not shown)"));
        assert_eq!(cut_message("short"), "short");
    }

    #[test]
    fn quoted_values_are_redacted_but_identifiers_kept() {
        assert_eq!(
            redact_quoted("invalid type: string \"https://x/v2/KEY\", expected u64"),
            "invalid type: string (value not shown), expected u64"
        );
        assert_eq!(
            redact_quoted("unknown field `https://x/KEY`, expected one of `url`, `name`"),
            "unknown field (value not shown), expected one of `url`, `name`"
        );
        assert_eq!(
            redact_quoted("unknown field `colour`, expected `url`"),
            "unknown field `colour`, expected `url`"
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::{escape, is_unsafe_char, redact_quoted};

    proptest! {
        // As tests/parser_props.rs: 2000 cases per property.
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_sanitiser_never_lets_an_unsafe_character_through(s in any::<String>()) {
            let out = escape(&s);
            prop_assert!(!out.chars().any(is_unsafe_char), "{out:?}");
            for c in ['\u{1b}', '\u{202e}', '\u{2066}', '\u{200f}', '\n', '\r'] {
                prop_assert!(!out.contains(c));
            }
            let redacted = redact_quoted(&s);
            prop_assert!(redacted.len() <= s.len() + 18 * s.matches(['"', '`', '\'']).count() + 1);
        }
    }
}
