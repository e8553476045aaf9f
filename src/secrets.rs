//! Scrubbing a node's secrets out of what the node says. A node (or a proxy
//! in front of it) may echo the request back in an error message: the path
//! with its API key, the query string, the Basic-auth credentials, a bearer
//! token — as sent, or re-cased, re-encoded, or split by invisible
//! characters. Every text that comes from a node passes through
//! [`Secrets::scrub`] before it reaches a report, a log line or a file.
//!
//! The pipeline, in order:
//! 1. [`crate::sanitize::node_text`] escapes the node's text onto one line
//!    and bounds it generously ([`crate::sanitize::NODE_TEXT_MAX`]
//!    characters, `…` when cut) — no display cut yet, so no key is cut
//!    before it is seen whole.
//! 2. [`Secrets::scrub`] escapes again (a no-op on escaped text; raw text
//!    gets escaped here), then matches every secret against a *folded* view
//!    of the text: ASCII case ignored, `%XX` decoded (either hex case),
//!    `+` and white space alike, and zero-width and other invisible
//!    characters skipped, raw or escaped (`\u{200b}`, `\u200b`). Every
//!    match, overlapping ones included, is masked as one `***` per run.
//!    Every run of 8 characters of a secret is masked too.
//! 3. At every cut — a `…` or `...` in the text, where a node's text was
//!    bounded, and the display cut below — a tail that begins a secret (3
//!    characters or more) is masked too: a key across a cut leaks nothing.
//! 4. Last, the text is cut to [`DISPLAY_MAX`] characters — also when the
//!    node has no secrets at all.
//!
//! The secrets of a node are every form its own client sent: path segments
//! and query values (unless plain words), user name and password, the
//! `user:password` (or `user:`) pair and its Base64 (standard and URL-safe,
//! padded or not: what the Basic header carries), and header values and
//! their long words. Matching all of them is one pass over the text
//! (Aho-Corasick), so the work stays linear in the text's length.

use aho_corasick::AhoCorasick;
use base64::Engine as _;

use crate::{config::Node, sanitize};

/// What replaces a secret.
pub const MASK: &str = "***";

/// The longest text from a node shown, in characters (after scrubbing).
pub const DISPLAY_MAX: usize = 200;

/// Shortest secret form matched, in folded bytes: shorter ones would mask
/// ordinary words.
const MIN_SECRET: usize = 4;

/// Shortest tail masked at a cut for beginning a secret: two characters
/// of a key tell nothing, and shorter tails would mask ordinary text.
const MIN_PARTIAL: usize = 3;

/// A run of this many characters of a secret is masked wherever it
/// appears: a node that echoes a key cut short on its own, or a key in
/// pieces, shows at most 7 characters of it in a row.
const SECRET_RUN: usize = 8;

/// Cuts looked at per text (the last ones): the cuts this crate makes are
/// at most two, and a node filling its text with `…` must not cost more.
const MAX_CUTS: usize = 16;

/// Longest lowercase word (letters, `-`, `_`) that reads as a route or
/// network name rather than a key: `eth-mainnet`, `polygon-amoy`,
/// `jsonrpc` fit; a lowercase key or pass-phrase longer than this
/// (`correcthorsebatterystaple`) is treated as a secret.
const PLAIN_WORD_MAX: usize = 12;

/// The secrets of one node's configuration, in every form its client sent
/// them, ready to be masked in anything the node says.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Each secret form, folded; sorted, without repeats.
    patterns: Vec<Pattern>,
    /// Finds every pattern at once, overlaps included; `None` only when
    /// there are no patterns (or the automaton could not be built, in
    /// which case every text is masked whole).
    matcher: Option<AhoCorasick>,
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for Secrets {}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.patterns.len())
    }
}

/// One secret form, folded, with its KMP failure table (for the longest
/// beginning of it that ends a text, at a cut).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pattern {
    bytes: Vec<u8>,
    fail: Vec<usize>,
}

impl Pattern {
    fn new(bytes: Vec<u8>) -> Self {
        let mut fail = vec![0; bytes.len()];
        let mut k = 0;
        for i in 1..bytes.len() {
            while k > 0 && bytes[i] != bytes[k] {
                k = fail[k - 1];
            }
            if bytes[i] == bytes[k] {
                k += 1;
            }
            fail[i] = k;
        }
        Self { bytes, fail }
    }

    /// The length of the longest proper beginning of this secret that `text`
    /// ends with.
    fn begun_at_end(&self, text: &[u8]) -> usize {
        let window = &text[text.len().saturating_sub(self.bytes.len().saturating_sub(1))..];
        let mut state = 0;
        for &b in window {
            while state > 0 && self.bytes[state] != b {
                state = self.fail[state - 1];
            }
            if self.bytes.get(state) == Some(&b) {
                state += 1;
            }
            if state == self.bytes.len() {
                state = self.fail[state - 1];
            }
        }
        state
    }
}

/// Whether a URL part reads as an ordinary word (`v2`, `rpc`,
/// `eth-mainnet`) rather than a key: at most 3 characters, or lowercase
/// letters with `-`/`_` only and at most [`PLAIN_WORD_MAX`] characters.
fn is_plain_word(s: &str) -> bool {
    let n = s.chars().count();
    n <= 3 || (n <= PLAIN_WORD_MAX && s.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_'))
}

fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl Secrets {
    /// The secrets of `node`: URL path segments and query values that are
    /// not plain words, user-info and the Basic-auth credentials made of
    /// it, and header values.
    pub fn of(node: &Node) -> Self {
        let url = node.url.expose();
        let mut values: Vec<String> = Vec::new();
        for segment in url.path_segments().into_iter().flatten() {
            if !is_plain_word(&percent_decoded(segment)) {
                values.push(segment.to_string());
            }
        }
        if let Some(query) = url.query() {
            for pair in query.split('&') {
                let value = pair.split_once('=').map_or(pair, |(_, v)| v);
                if !is_plain_word(&percent_decoded(&value.replace('+', " "))) {
                    values.push(value.to_string());
                }
            }
        }
        // The HTTP client sends user-info as `Authorization: Basic
        // base64(user:password)`, percent-decoded, `user:` without a password.
        let user = percent_decoded(url.username());
        let password = url.password().map(percent_decoded);
        if !user.is_empty() && !is_plain_word(&user) {
            values.push(user.clone());
        }
        if let Some(password) = &password {
            values.push(password.clone());
        }
        if !user.is_empty() || password.is_some() {
            let pair = format!("{user}:{}", password.as_deref().unwrap_or(""));
            for engine in [
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                // Unpadded: a padded echo begins with it.
                values.push(engine.encode(pair.as_bytes()));
            }
            if password.is_some() || !is_plain_word(&user) {
                values.push(pair);
            }
        }
        for (_, value) in node.headers.pairs() {
            values.push(value.clone());
            values.extend(value.split_whitespace().filter(|p| p.len() >= 8).map(String::from));
        }
        Self::from_values(values)
    }

    fn from_values(values: Vec<String>) -> Self {
        // Each value folded both ways: with `%XX` decoded, and as written
        // (a `%` the node puts before a key must not swallow its start).
        let mut folded: Vec<Vec<u8>> = values
            .iter()
            .flat_map(|v| [fold(v, true).bytes, fold(v, false).bytes])
            .filter(|b| b.len() >= MIN_SECRET)
            .collect();
        folded.sort();
        folded.dedup();
        let mut needles: Vec<&[u8]> = folded.iter().map(Vec::as_slice).collect();
        needles.extend(folded.iter().flat_map(|p| p.windows(SECRET_RUN)));
        needles.sort_unstable();
        needles.dedup();
        let matcher = if folded.is_empty() {
            None
        } else {
            AhoCorasick::new(needles).ok()
        };
        Self {
            patterns: folded.into_iter().map(Pattern::new).collect(),
            matcher,
        }
    }

    /// `text` fit to print: escaped, every secret masked with `***` (see the
    /// module's pipeline), cut to [`DISPLAY_MAX`] characters with `…`.
    pub fn scrub(&self, text: &str) -> String {
        let masked = self.mask(&sanitize::escape(text), false);
        if masked.chars().nth(DISPLAY_MAX).is_none() {
            return masked;
        }
        let head: String = masked.chars().take(DISPLAY_MAX).collect();
        let mut head = self.mask(&head, true);
        head.push('…');
        head
    }

    /// `text` with every secret, and every beginning of one at a cut,
    /// replaced by `***`; `cut_at_end` says the text's end is a cut too.
    fn mask(&self, text: &str, cut_at_end: bool) -> String {
        if self.patterns.is_empty() {
            return text.to_string();
        }
        let Some(matcher) = &self.matcher else {
            return MASK.to_string();
        };
        let mut cuts = cut_marks(text);
        if cut_at_end {
            cuts.push(text.len());
        }
        let mut hidden: Vec<(usize, usize)> = Vec::new();
        // Two views: `%XX` decoded (a key echoed percent-encoded), and as
        // written (a stray `%` before a key would otherwise eat its start).
        for decode_percent in [true, false] {
            let folded = fold(text, decode_percent);
            let Ok(found) = matcher.try_find_overlapping_iter(folded.bytes.as_slice()) else {
                return MASK.to_string();
            };
            hidden.extend(found.map(|m| folded.source(m.start(), m.end())));
            for &cut in &cuts {
                let end = folded.spans.partition_point(|&(_, span_end)| span_end <= cut);
                let begun = self
                    .patterns
                    .iter()
                    .map(|p| p.begun_at_end(&folded.bytes[..end]))
                    .max()
                    .unwrap_or(0);
                if begun >= MIN_PARTIAL {
                    hidden.push(folded.source(end - begun, end));
                }
            }
        }
        replace_ranges(text, hidden)
    }
}

/// Where a text says it was cut: before each `…` or `...` (the last
/// [`MAX_CUTS`] of them), as byte offsets.
fn cut_marks(text: &str) -> Vec<usize> {
    let mut marks: Vec<usize> = text
        .match_indices('…')
        .chain(text.match_indices("..."))
        .map(|(at, _)| at)
        .collect();
    marks.sort_unstable();
    let skip = marks.len().saturating_sub(MAX_CUTS);
    marks.split_off(skip)
}

/// `text` with the byte ranges `hidden` (at character boundaries) replaced
/// by one `***` per run of overlapping or touching ranges.
fn replace_ranges(text: &str, mut hidden: Vec<(usize, usize)>) -> String {
    if hidden.is_empty() {
        return text.to_string();
    }
    hidden.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut shown_from = 0;
    let mut run: Option<(usize, usize)> = None;
    for (start, end) in hidden {
        match &mut run {
            Some((_, run_end)) if start <= *run_end => *run_end = (*run_end).max(end),
            _ => {
                if let Some((run_start, run_end)) = run {
                    out.push_str(&text[shown_from..run_start]);
                    out.push_str(MASK);
                    shown_from = run_end;
                }
                run = Some((start, end));
            }
        }
    }
    if let Some((run_start, run_end)) = run {
        out.push_str(&text[shown_from..run_start]);
        out.push_str(MASK);
        shown_from = run_end;
    }
    out.push_str(&text[shown_from..]);
    out
}

/// A text as secrets are matched in it: each byte of `bytes` stands for the
/// source bytes `spans[i]` of the text.
struct Folded {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Folded {
    /// The source byte range of folded bytes `start..end` (non-empty).
    fn source(&self, start: usize, end: usize) -> (usize, usize) {
        (self.spans[start].0, self.spans[end - 1].1)
    }

    /// Appends `c`, found at `span` of the source, folded: invisible
    /// characters dropped, white space and `+` as a space, ASCII lowercased.
    fn push_char(&mut self, c: char, span: (usize, usize)) {
        if is_invisible(c) {
            return;
        }
        let c = if c.is_whitespace() || c == '+' {
            ' '
        } else if c.is_ascii() {
            c.to_ascii_lowercase()
        } else {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        };
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.bytes.push(b);
            self.spans.push(span);
        }
    }

    /// Appends the bytes of a run of `%XX` escapes (`at[i]` is where byte
    /// `i`'s escape starts), decoded: UTF-8 characters as characters, other
    /// bytes as they are.
    fn push_decoded(&mut self, raw: &[u8], at: &[usize]) {
        let mut i = 0;
        for chunk in raw.utf8_chunks() {
            for c in chunk.valid().chars() {
                let len = c.len_utf8();
                self.push_char(c, (at[i], at[i + len - 1] + 3));
                i += len;
            }
            for &b in chunk.invalid() {
                self.bytes.push(b);
                self.spans.push((at[i], at[i] + 3));
                i += 1;
            }
        }
    }
}

/// Characters that hide inside a word: control and invisible formatting
/// characters other than white space.
fn is_invisible(c: char) -> bool {
    sanitize::is_unsafe_char(c) && !c.is_whitespace()
}

/// The byte a `%XX` escape at `i` stands for.
fn percent_byte(src: &[u8], i: usize) -> Option<u8> {
    match src.get(i..i + 3) {
        Some([b'%', hi, lo]) => {
            let digit = |b: u8| (b as char).to_digit(16);
            Some((digit(*hi)? * 16 + digit(*lo)?) as u8)
        }
        _ => None,
    }
}

/// The character an escape at the start of `s` stands for — `\u{hex}` as
/// [`sanitize::escape`] writes it, or JSON's `\uXXXX` — and its length.
fn escaped_char(s: &str) -> Option<(char, usize)> {
    let rest = s.strip_prefix("\\u")?;
    let (hex, len) = match rest.strip_prefix('{') {
        Some(inner) => {
            let close = inner.bytes().take(8).position(|b| b == b'}')?;
            (&inner[..close], 3 + close + 1)
        }
        None => (rest.get(..4)?, 6),
    };
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((c, len))
}

/// `text` folded for matching (see the module's pipeline); `%XX` escapes
/// are decoded only when `decode_percent`.
fn fold(text: &str, decode_percent: bool) -> Folded {
    let src = text.as_bytes();
    let mut folded = Folded {
        bytes: Vec::with_capacity(src.len()),
        spans: Vec::with_capacity(src.len()),
    };
    let mut i = 0;
    while i < src.len() {
        if decode_percent && percent_byte(src, i).is_some() {
            let (mut raw, mut at) = (Vec::new(), Vec::new());
            while let Some(b) = percent_byte(src, i) {
                raw.push(b);
                at.push(i);
                i += 3;
            }
            folded.push_decoded(&raw, &at);
            continue;
        }
        if src[i] == b'\\'
            && let Some((c, len)) = escaped_char(&text[i..])
            && is_invisible(c)
        {
            i += len;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        folded.push_char(c, (i, i + c.len_utf8()));
        i += c.len_utf8();
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Headers, node_url::NodeUrl};

    fn node(url: &str, headers: &[(&str, &str)]) -> Node {
        let mut n = Node::at(0, NodeUrl::parse(url).unwrap());
        n.headers = Headers::new(headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()).unwrap();
        n
    }

    #[test]
    fn path_query_userinfo_and_headers_are_masked_in_every_form() {
        let n = node(
            "https://al:p%40ss-w0rd@eth.example.io/v2/Key_123abc/rpc?apikey=q%2Fk3y%3D99&network=mainnet",
            &[("Authorization", "Bearer tok_SECRET_0099")],
        );
        let s = Secrets::of(&n);
        // base64("al:p@ss-w0rd"), from `printf %s 'al:p@ss-w0rd' | base64`.
        let basic = "YWw6cEBzcy13MHJk";
        for echoed in [
            "unauthorized key Key_123abc",
            "bad path /v2/Key_123abc/rpc",
            "apikey q%2Fk3y%3D99 revoked",
            "apikey q%2fk3y%3d99 revoked",
            "apikey q/k3y=99 revoked",
            "password p@ss-w0rd",
            "password p%40ss-w0rd",
            "Authorization: Basic YWw6cEBzcy13MHJk",
            "token tok_SECRET_0099 expired",
        ] {
            let out = s.scrub(echoed);
            for secret in [
                "Key_123abc",
                "q%2Fk3y",
                "q%2fk3y",
                "q/k3y",
                "p@ss",
                "p%40ss",
                "tok_SECRET",
                basic,
            ] {
                assert!(!out.contains(secret), "{echoed} -> {out}");
            }
            assert!(out.contains(MASK), "{echoed} -> {out}");
        }
        // Plain words stay: they are not keys and make messages readable.
        assert_eq!(s.scrub("network mainnet via rpc v2"), "network mainnet via rpc v2");
    }

    #[test]
    fn re_cased_re_encoded_and_split_echoes_are_masked() {
        let s = Secrets::of(&node("https://eth.example.io/v3/Key_123abc", &[]));
        for echoed in [
            "key KEY_123ABC is invalid",
            "key key_123abc is invalid",
            // Percent-encoded, in either hex case, and every character of it.
            "key Key%5F123abc is invalid",
            "key Key%5f123abc is invalid",
            "key %4B%65%79%5F%31%32%33%61%62%63 is invalid",
            // Split by a zero-width space, a soft hyphen's cousin U+2060, a BOM: raw…
            "key Key_\u{200b}123abc is invalid",
            "key K\u{2060}ey_12\u{feff}3abc is invalid",
            // …escaped as this crate escapes them, or as JSON does…
            "key Key_\\u{200b}123abc is invalid",
            "key Key_\\u200b123abc is invalid",
            // …or percent-encoded (U+200B is E2 80 8B in UTF-8).
            "key Key_%E2%80%8B123abc is invalid",
        ] {
            let out = s.scrub(echoed);
            assert_eq!(out, "key *** is invalid", "{echoed:?}");
        }
    }

    #[test]
    fn a_user_without_a_password_is_masked_as_its_basic_header() {
        // The client sends `Authorization: Basic base64("KEY01abcd:")`.
        let s = Secrets::of(&node("https://KEY01abcd@eth.example.io/", &[]));
        // From `printf %s 'KEY01abcd:' | base64` → S0VZMDFhYmNkOg== ; URL-safe is the same here.
        for echoed in [
            "auth Basic S0VZMDFhYmNkOg== refused",
            "auth Basic S0VZMDFhYmNkOg refused",
            "auth Basic s0vzmdfhymnkog refused",
            "user KEY01abcd refused",
        ] {
            let out = s.scrub(echoed);
            assert!(!out.to_ascii_lowercase().contains("s0vzmdfhymnk"), "{echoed} -> {out}");
            assert!(!out.to_ascii_lowercase().contains("key01"), "{echoed} -> {out}");
            assert!(out.contains(MASK), "{echoed} -> {out}");
        }
        // URL-safe Base64 differs from standard when the bytes say so:
        // `printf %s 'u:>>>?' | base64` is dTo+Pj4/ ; URL-safe dTo-Pj4_.
        let s = Secrets::of(&node("https://u:%3E%3E%3E%3F@eth.example.io/", &[]));
        for echoed in [
            "Basic dTo+Pj4/",
            "Basic dTo-Pj4_",
            "Basic DTO-PJ4_",
            "Basic dTo%2BPj4%2F",
        ] {
            assert_eq!(s.scrub(echoed), "Basic ***", "{echoed}");
        }
    }

    #[test]
    fn long_lowercase_segments_are_secrets_short_words_are_not() {
        let s = Secrets::of(&node(
            "https://eth.example.io/eth-mainnet/correcthorsebatterystaple/rpc?network=polygon-amoy&k=abcdefghijklmnopq",
            &[],
        ));
        assert_eq!(
            s.scrub("eth-mainnet rejected correcthorsebatterystaple on polygon-amoy"),
            "eth-mainnet rejected *** on polygon-amoy"
        );
        assert_eq!(s.scrub("key abcdefghijklmnopq"), "key ***");
    }

    #[test]
    fn runs_of_a_key_are_masked_wherever_they_are() {
        let s = Secrets::from_values(vec!["Key_DO_NOT_PRINT_5c3e".into()]);
        // Cut short by the node itself, or in pieces: 8 characters in a row are masked.
        assert_eq!(s.scrub("key Key_DO_NOT_PRI is invalid"), "key *** is invalid");
        assert_eq!(s.scrub("tail _PRINT_5c3e"), "tail ***");
        assert_eq!(s.scrub("piece DO_NOT_P!"), "piece ***!");
        assert_eq!(s.scrub("short DO_NOT_ is kept"), "short DO_NOT_ is kept");
    }

    #[test]
    fn overlapping_and_nested_matches_are_masked_whole() {
        let s = Secrets::from_values(vec!["abcdabcd".into(), "cdab".into(), "dabcdXYZ".into()]);
        // "abcdabcdXYZ": abcdabcd at 0, cdab at 2, dabcdXYZ at 3: one run.
        assert_eq!(s.scrub("<abcdabcdXYZ>"), "<***>");
        // A repeated key is one run, not a key-shaped gap between masks.
        assert_eq!(s.scrub("abcdabcdabcdabcd!"), "***!");
    }

    #[test]
    fn a_key_across_the_display_cut_is_masked_before_the_cut() {
        let s = Secrets::of(&node("https://eth.example.io/v2/Key_DO_NOT_PRINT_5c3e", &[]));
        let text = format!("{}Key_DO_NOT_PRINT_5c3e and more", "x".repeat(190));
        let out = s.scrub(&crate::sanitize::node_text(&text));
        assert!(!out.contains("Key_DO"), "{out}");
        assert_eq!(out, format!("{}*** and mo…", "x".repeat(190)));
    }

    #[test]
    fn a_key_across_the_node_text_bound_is_masked_at_the_cut() {
        let s = Secrets::of(&node("https://eth.example.io/v2/Key_DO_NOT_PRINT_5c3e", &[]));
        // The key repeated up to the 4096-character bound (masks of copies
        // side by side merge, so the cut shows): the last copy is cut after
        // its 10th character.
        let key = "Key_DO_NOT_PRINT_5c3e";
        let copies = (4096 - 10) / key.len();
        let pad = 4096 - 10 - copies * key.len();
        let text = format!("{}{}{key}", "p".repeat(pad), key.repeat(copies));
        let bounded = crate::sanitize::node_text(&text);
        assert!(bounded.ends_with("Key_DO_NOT…"), "the bound cuts the key");
        let out = s.scrub(&format!("rejected ({bounded})"));
        assert_eq!(out, format!("rejected ({}***…)", "p".repeat(pad)));
        // Three characters are enough to be masked at a cut, not two.
        let s = Secrets::from_values(vec!["QzX_abcdef".into()]);
        assert_eq!(s.scrub("ends with QzX…"), "ends with ***…");
        assert_eq!(s.scrub("ends with Qz…"), "ends with Qz…");
        assert_eq!(s.scrub("provider cut: QzX_ab..."), "provider cut: ***...");
    }

    #[test]
    fn a_beginning_of_a_key_at_the_display_cut_is_masked() {
        // Masks never shrink the text below the cut here: the key begins at 197.
        let s = Secrets::from_values(vec!["ZZQkey0123456789".into()]);
        let text = format!("{}ZZQkey01", "y".repeat(197));
        // Not a whole key: nothing to match, but the display cut falls at 200.
        let out = s.scrub(&format!("{text}{}", "y".repeat(50)));
        assert!(!out.contains("ZZQ"), "{out}");
        assert!(out.ends_with("y***…"), "{out}");
    }

    #[test]
    fn raw_control_characters_are_escaped_by_the_scrubber() {
        let plain = Secrets::default();
        assert_eq!(plain.scrub("a\u{1b}[2Kb\nc"), "a\\u{1b}[2Kb c");
    }

    #[test]
    fn folding_keeps_byte_spans() {
        let f = fold("A%42\\u{200b}c", true);
        assert_eq!(f.bytes, b"abc");
        assert_eq!(f.spans, vec![(0, 1), (1, 4), (12, 13)]);
        assert_eq!(escaped_char("\\u{10FFFF}"), Some(('\u{10ffff}', 10)));
        assert_eq!(escaped_char("\\u{110000}"), None);
        assert_eq!(escaped_char("\\u12"), None);
        assert_eq!(percent_byte(b"%zz", 0), None);
        assert_eq!(percent_byte(b"%2", 0), None);
    }
}
