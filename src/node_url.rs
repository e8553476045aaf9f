//! RPC endpoint URLs, which carry API keys in their paths, query strings and
//! user-info. [`NodeUrl`] is the only way the rest of the crate holds one: its
//! `Display` and `Debug` print the redacted form (scheme, host, port), so a URL
//! cannot leak into a report, a log line or an error message by accident.

use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
};

use url::{Host, Url};

/// Why a string is not a usable RPC endpoint. Messages never repeat the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeUrlError {
    /// Not a URL at all.
    #[error("not a valid URL ({0})")]
    Invalid(url::ParseError),
    /// `localhost:8545` and the like.
    #[error("no scheme: add http:// (or https://) in front of the host")]
    NoScheme,
    /// A scheme other than http or https.
    #[error("unsupported scheme '{0}' (expected http or https)")]
    Scheme(String),
    /// No host name or address.
    #[error("URL has no host")]
    NoHost,
}

/// A validated `http(s)` JSON-RPC endpoint whose secrets never print.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeUrl {
    url: Url,
    redacted: String,
}

impl NodeUrl {
    /// Parses an endpoint. The error names what is wrong without echoing the
    /// input, which may hold a key.
    pub fn parse(input: &str) -> Result<Self, NodeUrlError> {
        let input = input.trim();
        // `localhost:8545` parses as scheme "localhost"; `127.0.0.1:8545` not at all.
        let url = match Url::parse(input) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => return Err(NodeUrlError::NoScheme),
            Err(e) => return Err(NodeUrlError::Invalid(e)),
        };
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" && !input.contains("://") {
            return Err(NodeUrlError::NoScheme);
        }
        if scheme != "http" && scheme != "https" {
            // The scheme is not a secret, but keep it short and printable.
            let shown: String = scheme.chars().take(16).collect();
            return Err(NodeUrlError::Scheme(shown));
        }
        let host = url.host_str().ok_or(NodeUrlError::NoHost)?;
        let redacted = match url.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Self { url, redacted })
    }

    /// The full URL, key included: only for the HTTP client.
    pub fn expose(&self) -> &Url {
        &self.url
    }

    /// Scheme, host and port: safe to print anywhere.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The endpoint with the spelling differences that do not change where a
    /// request goes taken out: two entries with the same identity are the
    /// same node. Taken out are the case of scheme and host and other
    /// spellings of an IP address (the parser already does that), a default
    /// port, a trailing `.` on a host name, `localhost` and `[::1]` (both
    /// `127.0.0.1`: `localhost` reaches either, and one listener often
    /// answers on both), empty path segments (`//`, a trailing `/`),
    /// percent-escapes of unreserved characters (`%44` is `D`) and the case
    /// of other escapes, an empty query (a trailing `?`), the order of query
    /// parameters, and escapes in the user-info (sent decoded, as Basic
    /// auth). Holds the key: never print it.
    pub fn identity(&self) -> String {
        let u = &self.url;
        let port = u.port_or_known_default().map(|p| p.to_string()).unwrap_or_default();
        let path: Vec<String> = u
            .path()
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(normalize_escapes)
            .collect();
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{}", path.join("/"))
        };
        let mut query: Vec<String> = u
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(normalize_escapes)
            .collect();
        query.sort_unstable();
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = match (u.username(), u.password()) {
            ("", None) => String::new(),
            (name, password) => format!("{}:{}@", decode(name), decode(password.unwrap_or(""))),
        };
        format!("{}://{user}{}:{port}{path}{query}", u.scheme(), host_identity(u))
    }

    /// Appends a short, stable fingerprint of the whole URL to the printed
    /// form, for two distinct endpoints that would otherwise print the same
    /// (same host, different paths or keys). Six hex digits of a hash: it
    /// tells entries apart without revealing what differs.
    pub fn disambiguate(&mut self) {
        let digest = alloy::primitives::keccak256(self.identity().as_bytes());
        self.redacted = format!(
            "{} [{}]",
            self.redacted_base(),
            alloy::primitives::hex::encode(&digest[..3])
        );
    }

    fn redacted_base(&self) -> &str {
        self.redacted.split(" [").next().unwrap_or(&self.redacted)
    }

    /// Whether the endpoint needs TLS.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }
}

/// The host as [`NodeUrl::identity`] compares it.
fn host_identity(u: &Url) -> String {
    let loopback = Ipv4Addr::LOCALHOST.to_string();
    match u.host() {
        Some(Host::Domain(domain)) => {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            if domain == "localhost" {
                loopback
            } else {
                domain.to_string()
            }
        }
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => loopback,
        Some(Host::Ipv6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{ip}]"),
        },
        None => String::new(),
    }
}

/// `part` of a URL (a path segment, a query parameter) with percent-escapes
/// of unreserved characters decoded and the others in upper case (RFC 3986,
/// section 6.2.2).
fn normalize_escapes(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(part.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                let hex = [*hi, *lo];
                std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            }
            _ => None,
        };
        match escaped {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(char::from(b));
                i += 3;
            }
            Some(b) => {
                out.push_str(&format!("%{b:02X}"));
                i += 3;
            }
            None => {
                let Some(c) = part[i..].chars().next() else {
                    break;
                };
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_live_0123456789abcdef";

    #[test]
    fn redacts_path_query_and_userinfo() {
        for raw in [
            format!("https://eth.example.com/v2/{SECRET}"),
            format!("https://eth.example.com/?apikey={SECRET}"),
            format!("https://user:{SECRET}@eth.example.com:8443/rpc"),
        ] {
            let url = NodeUrl::parse(&raw).unwrap();
            for shown in [url.to_string(), format!("{url:?}"), url.redacted().to_string()] {
                assert!(!shown.contains(SECRET), "{shown}");
                assert!(shown.contains("eth.example.com"), "{shown}");
            }
        }
    }

    #[test]
    fn keeps_explicit_port() {
        let url = NodeUrl::parse("http://127.0.0.1:8545/abc").unwrap();
        assert_eq!(url.redacted(), "http://127.0.0.1:8545");
        assert!(!url.is_https());
    }

    #[test]
    fn identity_ignores_spelling_but_not_the_endpoint() {
        let id = |s: &str| NodeUrl::parse(s).unwrap().identity();
        assert_eq!(id("HTTP://Node.Example:80/v2/K/"), id("http://node.example/v2/K"));
        assert_eq!(id("https://node.example:443"), id("https://node.example/"));
        assert_ne!(id("https://node.example/v2/A"), id("https://node.example/v2/B"));
        assert_ne!(id("https://node.example/?key=A"), id("https://node.example/?key=B"));
        assert_ne!(id("http://node.example:8545"), id("http://node.example:8546"));
        assert_ne!(id("http://node.example"), id("https://node.example"));
    }

    #[test]
    fn identity_sees_through_other_spellings_of_the_same_endpoint() {
        let id = |s: &str| NodeUrl::parse(s).unwrap().identity();
        for (a, b) in [
            ("http://127.0.0.1:8545/rpc?", "http://127.0.0.1:8545/rpc"),
            ("http://127.0.0.1:8545/?", "http://127.0.0.1:8545"),
            ("http://localhost:8545", "http://127.0.0.1:8545"),
            ("http://localhost.:8545", "http://127.0.0.1:8545"),
            ("http://[::1]:8545", "http://127.0.0.1:8545"),
            ("http://[::ffff:127.0.0.1]:8545", "http://127.0.0.1:8545"),
            ("http://2130706433:8545", "http://127.0.0.1:8545"),
            ("https://node.example./v2/K", "https://node.example/v2/K"),
            ("https://node.example/v2/%44", "https://node.example/v2/D"),
            ("https://node.example/v2/%6b%65%79", "https://node.example/v2/key"),
            ("https://node.example/v2/a%2fb", "https://node.example/v2/a%2Fb"),
            ("https://node.example//v2///K//", "https://node.example/v2/K"),
            ("https://node.example/?b=2&a=1", "https://node.example/?a=1&b=2"),
            ("https://node.example/?a=1&&b=%32", "https://node.example/?b=2&a=1"),
            (
                "https://us%65r:p%40ss@node.example/",
                "https://user:p%40ss@node.example/",
            ),
            ("https://node.example/v2/K#frag", "https://node.example/v2/K"),
        ] {
            assert_eq!(id(a), id(b), "{a} vs {b}");
        }
        for (a, b) in [
            // Another loopback address can be another listener.
            ("http://127.0.0.2:8545", "http://127.0.0.1:8545"),
            // An escaped slash is not a path separator.
            ("https://node.example/v2/a%2Fb", "https://node.example/v2/a/b"),
            ("https://node.example/?a=1", "https://node.example/?a=2"),
            ("https://node.example/?a=1&a=1", "https://node.example/?a=1"),
            ("https://u:p@node.example/", "https://u:q@node.example/"),
            ("https://node.example/v2/k", "https://node.example/v2/K"),
        ] {
            assert_ne!(id(a), id(b), "{a} vs {b}");
        }
    }

    #[test]
    fn disambiguation_is_stable_and_keeps_the_key_out() {
        let mut a = NodeUrl::parse(&format!("https://eth.example.com/v2/{SECRET}")).unwrap();
        let mut b = NodeUrl::parse("https://eth.example.com/v2/other").unwrap();
        a.disambiguate();
        b.disambiguate();
        assert_ne!(a.redacted(), b.redacted());
        assert!(a.redacted().starts_with("https://eth.example.com ["), "{a}");
        assert!(!a.redacted().contains(SECRET));
        let before = a.redacted().to_string();
        a.disambiguate();
        assert_eq!(a.redacted(), before, "idempotent");
    }

    #[test]
    fn a_missing_scheme_says_so() {
        for raw in ["localhost:8545", "127.0.0.1:8545", "node.example/v2/KEY"] {
            assert_eq!(NodeUrl::parse(raw).unwrap_err(), NodeUrlError::NoScheme, "{raw}");
        }
        assert!(NodeUrlError::NoScheme.to_string().contains("add http://"));
    }

    #[test]
    fn rejects_other_schemes_and_garbage_without_echoing() {
        let err = NodeUrl::parse(&format!("ws://node/{SECRET}")).unwrap_err();
        assert_eq!(err, NodeUrlError::Scheme("ws".into()));
        let err = NodeUrl::parse(&format!("not a url {SECRET}")).unwrap_err();
        assert!(!err.to_string().contains(SECRET));
        assert!(NodeUrl::parse("unix:/tmp/x").is_err());
    }
}
