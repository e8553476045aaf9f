//! Text from users and nodes made safe to put in a one-line message:
//! bounded in length, with control characters (newlines included) blanked.

/// At most `max` characters of `s` on one line, with `…` when cut.
pub fn bounded(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A short echo of user input in an error (40 characters).
pub fn printable(s: &str) -> String {
    bounded(s, 40)
}

/// A node's or a parser's message (200 characters).
pub fn clean(s: &str) -> String {
    bounded(s, 200)
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
}
