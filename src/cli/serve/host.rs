//! Which `Host` a request may name — the defence against DNS rebinding: a
//! web page on an attacker's name that re-resolves to this machine makes
//! the victim's browser send requests here, but with the attacker's name in
//! `Host`. Accepted: the loopback names (`localhost`, `127.0.0.1`, `[::1]`),
//! the `--listen` address and the address the connection arrived on (an IP
//! literal is never a rebinding: the page's origin would be this server),
//! each with any port, and the `--allowed-host` values (a value with a port
//! matches that port only). Pure logic: no I/O.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use axum::http::{HeaderMap, Uri, Version, header};

/// One `--allowed-host` value: a name or IP literal, maybe with a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower case, without a trailing dot; an IPv6 literal keeps its brackets.
    host: String,
    port: Option<u16>,
}

impl FromStr for AllowedHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = split_authority(s.trim()).ok_or_else(|| {
            format!(
                "expected a host name or IP address, optionally with :PORT (e.g. monitor.example:9464), got {} characters",
                s.chars().count()
            )
        })?;
        Ok(Self { host, port })
    }
}

/// What to do with a request, by its authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostVerdict {
    /// The request names this server (or, HTTP/1.0, names nothing).
    Allowed,
    /// HTTP/1.1 without a `Host` header, or with several: malformed (RFC 9112 §3.2).
    Malformed,
    /// Another name: not answered (421).
    Refused,
}

/// The names this server answers for.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    listen: SocketAddr,
    extra: Vec<AllowedHost>,
}

impl HostPolicy {
    /// Loopback names, `listen`'s address and `extra` (from `--allowed-host`).
    pub fn new(listen: SocketAddr, extra: Vec<AllowedHost>) -> Self {
        Self { listen, extra }
    }

    /// Whether a request with this version, target and headers, received
    /// on `local` (the connection's own address), may be answered. Every
    /// authority present must be allowed: the target's (absolute form) and
    /// the `Host` header.
    pub fn verdict(&self, version: Version, uri: &Uri, headers: &HeaderMap, local: SocketAddr) -> HostVerdict {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return HostVerdict::Malformed;
        }
        let from_target = uri.authority().map(|a| a.as_str());
        let from_header = match host.map(|h| h.to_str()) {
            Some(Ok(h)) => Some(h),
            Some(Err(_)) => return HostVerdict::Refused,
            None => None,
        };
        if from_target.is_none() && from_header.is_none() {
            // Browsers always send Host; an HTTP/1.0 client without one (an old
            // load-balancer probe) cannot be a rebinding page.
            return if version <= Version::HTTP_10 {
                HostVerdict::Allowed
            } else {
                HostVerdict::Malformed
            };
        }
        let allowed = |authority: &str| self.allows(authority, local);
        if from_target.into_iter().chain(from_header).all(allowed) {
            HostVerdict::Allowed
        } else {
            HostVerdict::Refused
        }
    }

    /// Whether `authority` (`host[:port]`) names this server.
    pub fn allows(&self, authority: &str, local: SocketAddr) -> bool {
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        if matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        if let Some(ip) = ip_of(&host) {
            let ip = ip.to_canonical();
            let listen = self.listen.ip().to_canonical();
            if (!listen.is_unspecified() && ip == listen) || ip == local.ip().to_canonical() {
                return true;
            }
        }
        self.extra
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| Some(p) == port))
    }
}

/// `host[:port]` split and normalised (lower case, no trailing dot); `None`
/// when it is not a valid authority (userinfo, a bare IPv6 address, a bad
/// port, characters no host name has).
fn split_authority(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        let valid = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(valid) {
            return None;
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// The address an authority's host names, when it is an IP literal.
fn ip_of(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse().ok(),
        None => host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(listen: &str, extra: &[&str]) -> HostPolicy {
        HostPolicy::new(
            listen.parse().unwrap(),
            extra.iter().map(|e| e.parse().unwrap()).collect(),
        )
    }

    #[test]
    fn loopback_names_and_the_listen_address_pass_with_any_port() {
        let p = policy("127.0.0.1:9464", &[]);
        let local: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        for ok in [
            "localhost",
            "LOCALHOST:9464",
            "localhost.:1",
            "127.0.0.1",
            "127.0.0.1:9464",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(p.allows(ok, local), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:9464",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.5",
            "user@localhost",
            "localhost:99999",
            "localhost:",
            "::1",
            "[::1",
            "",
            "local host",
        ] {
            assert!(!p.allows(bad, local), "{bad}");
        }
    }

    #[test]
    fn an_unspecified_listen_address_accepts_the_address_the_connection_reached() {
        let p = policy("0.0.0.0:9464", &[]);
        let local: SocketAddr = "10.0.0.5:9464".parse().unwrap();
        assert!(p.allows("10.0.0.5:9464", local));
        assert!(
            !p.allows("0.0.0.0:9464", local),
            "the unspecified address names nothing"
        );
        assert!(!p.allows("10.0.0.6", local));
        // Dual-stack sockets see IPv4 clients as IPv4-mapped IPv6 addresses.
        let mapped: SocketAddr = "[::ffff:10.0.0.5]:9464".parse().unwrap();
        assert!(policy("[::]:9464", &[]).allows("10.0.0.5", mapped));
        assert!(policy("[::]:9464", &[]).allows("[::ffff:10.0.0.5]", mapped));
    }

    #[test]
    fn allowed_hosts_match_their_name_and_port() {
        let p = policy(
            "0.0.0.0:9464",
            &["Monitor.Example", "api.example:8443", "[2001:db8::1]"],
        );
        let local: SocketAddr = "10.0.0.5:9464".parse().unwrap();
        assert!(p.allows("monitor.example", local));
        assert!(p.allows("MONITOR.example:9464", local));
        assert!(p.allows("api.example:8443", local));
        assert!(!p.allows("api.example", local), "the port given must match");
        assert!(!p.allows("api.example:9464", local));
        assert!(p.allows("[2001:DB8::1]:9464", local));
        assert!(!p.allows("monitor.example.evil", local));
    }

    #[test]
    fn bad_allowed_hosts_are_refused() {
        for bad in ["", "http://x", "a b", "x:y", "[::1", "host:65536", "user@host"] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad}");
        }
        assert!("monitor.example:9464".parse::<AllowedHost>().is_ok());
    }

    #[test]
    fn requests_without_a_host_pass_only_in_http_1_0() {
        let p = policy("127.0.0.1:9464", &[]);
        let local: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let uri: Uri = "/metrics".parse().unwrap();
        let none = HeaderMap::new();
        assert_eq!(p.verdict(Version::HTTP_10, &uri, &none, local), HostVerdict::Allowed);
        assert_eq!(p.verdict(Version::HTTP_11, &uri, &none, local), HostVerdict::Malformed);
        let mut two = HeaderMap::new();
        two.append(header::HOST, "localhost".parse().unwrap());
        two.append(header::HOST, "evil.example".parse().unwrap());
        assert_eq!(p.verdict(Version::HTTP_11, &uri, &two, local), HostVerdict::Malformed);
        let mut good = HeaderMap::new();
        good.insert(header::HOST, "localhost:9464".parse().unwrap());
        assert_eq!(p.verdict(Version::HTTP_11, &uri, &good, local), HostVerdict::Allowed);
        // An absolute target names an authority too: both must pass.
        let absolute: Uri = "http://evil.example/metrics".parse().unwrap();
        assert_eq!(
            p.verdict(Version::HTTP_11, &absolute, &good, local),
            HostVerdict::Refused
        );
    }
}
