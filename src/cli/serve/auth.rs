//! The bearer token of `--auth-token-file`: vetted once at start (printable
//! ASCII — what an HTTP header can carry —, at least [`MIN_TOKEN_CHARS`]
//! characters, a warning when other users may read the file), then compared
//! with what a request sends in constant time. The token itself is never
//! printed.

use std::path::Path;

use axum::http::{HeaderMap, header};

/// The shortest token accepted: 16 characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A vetted bearer token.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// The token of a file's text (surrounding whitespace and a final
    /// newline ignored), or why it is not usable.
    pub fn vet(text: &str) -> Result<Self, String> {
        let token = text.trim();
        if token.is_empty() {
            return Err("the file is empty: write the token on one line".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token must be one line of printable ASCII characters without spaces (an HTTP header cannot carry others)"
                    .into(),
            );
        }
        if token.len() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the token has {} characters, fewer than {MIN_TOKEN_CHARS}: use a long random one (e.g. openssl rand -hex 32)",
                token.len()
            ));
        }
        Ok(Self(token.to_string()))
    }

    /// Reads and vets `path`; also says whether the file is readable by
    /// group or others (the caller warns).
    pub fn load(path: &Path) -> Result<(Self, bool), String> {
        let text = crate::input::read_file(path, "--auth-token-file", 64 * 1024, crate::input::DEFAULT_READ_WAIT)
            .map_err(|e| e.to_string())?;
        let token = Self::vet(&text).map_err(|why| format!("--auth-token-file {}: {why}", path.display()))?;
        Ok((token, readable_by_others(path)))
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>` (the
    /// scheme in any case, RFC 7235).
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_credentials)
            .unwrap_or("");
        constant_time_eq(given.as_bytes(), self.0.as_bytes())
    }
}

/// The credentials of a `Bearer` authorization value: the scheme matched
/// without regard to case, then one or more spaces.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(|c| c == ' ' || c == '\t'))
}

/// Whether the file's mode lets its group or others read it.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}

/// Compares without stopping at the first difference (the time taken does
/// not tell how much of a guessed token was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secret!", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"Secret", b"secret"));
    }

    #[test]
    fn tokens_are_long_printable_ascii() {
        assert!(Token::vet("0123456789abcdef\n").is_ok());
        assert!(Token::vet("  0123456789abcdef  ").is_ok());
        assert!(Token::vet("0123456789abcde").unwrap_err().contains("fewer than 16"));
        assert!(Token::vet("").unwrap_err().contains("empty"));
        assert!(Token::vet("pässwörd-0123456789").unwrap_err().contains("ASCII"));
        assert!(Token::vet("0123456789 abcdef").unwrap_err().contains("without spaces"));
        assert!(Token::vet("0123456789abcdef\nsecond").is_err());
        let shown = format!("{:?}", Token::vet("0123456789abcdef").unwrap());
        assert!(!shown.contains("0123"), "{shown}");
    }

    #[test]
    fn the_bearer_scheme_matches_in_any_case() {
        assert_eq!(bearer_credentials("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("BEARER   abc"), Some("abc"));
        assert_eq!(bearer_credentials("Basic abc"), None);
        assert_eq!(bearer_credentials("Bearerabc"), None);
        assert_eq!(bearer_credentials("Bearer"), None);
        let token = Token::vet("0123456789abcdef").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bEaReR 0123456789abcdef".parse().unwrap());
        assert!(token.admits(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer 0123456789abcdeF".parse().unwrap());
        assert!(!token.admits(&headers));
        assert!(!token.admits(&HeaderMap::new()));
    }
}
