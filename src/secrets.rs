//! Scrubbing a node's secrets out of what the node says. A node (or a proxy
//! in front of it) may echo the request back in an error message: the path
//! with its API key, the query string, the Basic-auth credentials, a bearer
//! token. Every text that comes from a node passes through [`Secrets::scrub`]
//! before it reaches a report, a log line or a file.

use base64::Engine as _;

use crate::{config::Node, report::NodeStatus};

/// What replaces a secret.
pub const MASK: &str = "***";

/// The secret substrings of one node's configuration, in every form a node
/// might echo them: as configured, percent-encoded, percent-decoded, and
/// (user-info) as the Base64 of a Basic-auth header.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.0.len())
    }
}

/// Whether a URL part reads as an ordinary word (`v2`, `rpc`, `eth-mainnet`)
/// rather than a key: short, or lowercase letters with `-`/`_` only.
fn is_plain_word(s: &str) -> bool {
    s.chars().count() <= 3 || s.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
}

impl Secrets {
    /// The secrets of `node`: URL path segments and query values that are
    /// not plain words, user-info, and header values.
    pub fn of(node: &Node) -> Self {
        let url = node.url.expose();
        let mut found: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if s.chars().count() >= 4 {
                found.push(s.to_string());
                let decoded = percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                let encoded =
                    percent_encoding::utf8_percent_encode(&decoded, percent_encoding::NON_ALPHANUMERIC).to_string();
                let form: String = url::form_urlencoded::byte_serialize(decoded.as_bytes()).collect();
                found.extend([decoded, encoded, form]);
            }
        };
        for segment in url.path_segments().into_iter().flatten() {
            if !is_plain_word(segment) {
                add(segment);
            }
        }
        if let Some(query) = url.query() {
            for pair in query.split('&') {
                let value = pair.split_once('=').map(|(_, v)| v).unwrap_or(pair);
                if !is_plain_word(value) {
                    add(value);
                }
            }
        }
        let user = url.username();
        if !user.is_empty() && !is_plain_word(user) {
            add(user);
        }
        if let Some(password) = url.password() {
            add(password);
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            let basic = format!("{}:{}", decode(user), decode(password));
            add(&base64::engine::general_purpose::STANDARD.encode(basic.as_bytes()));
            add(&basic);
        }
        for (_, value) in node.headers.pairs() {
            add(value);
            for part in value.split_whitespace().filter(|p| p.len() >= 8) {
                add(part);
            }
        }
        found.retain(|s| s.chars().count() >= 4);
        // Longest first, so that a secret inside a longer one is not left half-masked.
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found.dedup();
        Self(found)
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// `status` with every text in it scrubbed.
    pub fn scrub_status(&self, status: NodeStatus) -> NodeStatus {
        if self.0.is_empty() {
            return status;
        }
        match status {
            NodeStatus::ConnectError { message } => NodeStatus::ConnectError {
                message: self.scrub(&message),
            },
            NodeStatus::HttpError { http_status, reason } => NodeStatus::HttpError {
                http_status,
                reason: reason.map(|r| self.scrub(&r)),
            },
            NodeStatus::TlsError { message } => NodeStatus::TlsError {
                message: self.scrub(&message),
            },
            NodeStatus::RpcError { code, message } => NodeStatus::RpcError {
                code,
                message: self.scrub(&message),
            },
            NodeStatus::Reverted { reason } => NodeStatus::Reverted {
                reason: self.scrub(&reason),
            },
            NodeStatus::BadResponse { reason } => NodeStatus::BadResponse {
                reason: self.scrub(&reason),
            },
            other => other,
        }
    }
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
        let basic = base64::engine::general_purpose::STANDARD.encode("al:p@ss-w0rd");
        for echoed in [
            "unauthorized key Key_123abc",
            "bad path /v2/Key_123abc/rpc",
            "apikey q%2Fk3y%3D99 revoked",
            "apikey q/k3y=99 revoked",
            "password p@ss-w0rd",
            "password p%40ss-w0rd",
            &format!("Authorization: Basic {basic}"),
            "token tok_SECRET_0099 expired",
        ] {
            let out = s.scrub(echoed);
            for secret in ["Key_123abc", "q%2Fk3y", "q/k3y", "p@ss", "p%40ss", "tok_SECRET", &basic] {
                assert!(!out.contains(secret), "{echoed} -> {out}");
            }
            assert!(out.contains(MASK), "{echoed} -> {out}");
        }
        // Plain words stay: they are not keys and make messages readable.
        assert_eq!(s.scrub("network mainnet via rpc v2"), "network mainnet via rpc v2");
    }

    #[test]
    fn statuses_are_scrubbed_and_a_plain_url_has_no_secrets() {
        let s = Secrets::of(&node("https://eth.example.io/v3/abcdef0123456789", &[]));
        let status = s.scrub_status(NodeStatus::RpcError {
            code: -32000,
            message: "invalid project id abcdef0123456789".into(),
        });
        assert_eq!(
            status,
            NodeStatus::RpcError {
                code: -32000,
                message: "invalid project id ***".into()
            }
        );
        assert_eq!(Secrets::of(&node("http://127.0.0.1:8545", &[])), Secrets::default());
        assert!(!format!("{s:?}").contains("abcdef"));
    }
}
