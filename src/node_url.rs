//! RPC endpoint URLs, which carry API keys in their paths, query strings and
//! user-info. [`NodeUrl`] is the only way the rest of the crate holds one: its
//! `Display` and `Debug` print the redacted form (scheme, host, port), so a URL
//! cannot leak into a report, a log line or an error message by accident.

use std::fmt;

use url::Url;

/// Why a string is not a usable RPC endpoint. Messages never repeat the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeUrlError {
    #[error("not a valid URL ({0})")]
    Invalid(url::ParseError),
    #[error("unsupported scheme '{0}' (expected http or https)")]
    Scheme(String),
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
        let url = Url::parse(input.trim()).map_err(NodeUrlError::Invalid)?;
        let scheme = url.scheme();
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
    fn rejects_other_schemes_and_garbage_without_echoing() {
        let err = NodeUrl::parse(&format!("ws://node/{SECRET}")).unwrap_err();
        assert_eq!(err, NodeUrlError::Scheme("ws".into()));
        let err = NodeUrl::parse(&format!("not a url {SECRET}")).unwrap_err();
        assert!(!err.to_string().contains(SECRET));
        assert!(NodeUrl::parse("unix:/tmp/x").is_err());
    }
}
