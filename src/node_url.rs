//! RPC endpoint URLs, which carry API keys in their paths, query strings and
//! user-info. [`NodeUrl`] is the only way the rest of the crate holds one: its
//! `Display` and `Debug` print the redacted form (scheme, host, port), so a URL
//! cannot leak into a report, a log line or an error message by accident.

use std::fmt;

use url::Url;

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
    /// request goes taken out (case of scheme and host — already lowered by
    /// the parser —, a default port, a trailing slash): two entries with the
    /// same identity are the same node. Holds the key: never print it.
    pub fn identity(&self) -> String {
        let u = &self.url;
        let port = u.port_or_known_default().map(|p| p.to_string()).unwrap_or_default();
        let path = u.path().trim_end_matches('/');
        let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
        let user = match (u.username(), u.password()) {
            ("", None) => String::new(),
            (name, password) => format!("{name}:{}@", password.unwrap_or("")),
        };
        format!(
            "{}://{user}{}:{port}{path}{query}",
            u.scheme(),
            u.host_str().unwrap_or("")
        )
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
