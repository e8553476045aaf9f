//! `serve`'s open-file budget. At start the soft `RLIMIT_NOFILE` is raised
//! to the hard one (as Go's runtime does for every Go server: the soft
//! default of 1024 is a relic of `select()`); then `--max-connections`
//! defaults to what is left once the background rounds' and checks'
//! upstream connections and the process's own files are set aside, so that
//! clients can never take the descriptors the checks need.

/// Descriptors the process holds besides HTTP connections: stdio, the
/// runtime's epoll and wakers, the signal pipe, the listener, name lookups,
/// reading the hash file and the CA files, with room to spare.
pub const OWN_FILES: u64 = 64;

/// The default cap never exceeds this many connections, whatever the
/// limit: each may hold a header buffer, and an exporter has few clients.
pub const DEFAULT_MAX_CONNECTIONS_CAP: u64 = 4096;

/// The fewest connections a default leaves room for, however tight the limit.
pub const MIN_CONNECTIONS: u64 = 16;

/// The open-file limit after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit in force now.
    pub soft: u64,
    /// The soft limit before raising, when it was raised.
    pub raised_from: Option<u64>,
}

/// Raises the soft open-file limit to the hard one (at most 2²⁰, for
/// systems whose hard limit is "unlimited"); `None` where the limit
/// cannot be read (not Unix). A refused raise keeps the soft limit.
pub fn raise() -> Option<FdLimit> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (soft_raw, hard_raw) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
        let target_raw = hard_raw.min(1 << 20);
        // rlim_t is u64 on Linux and macOS, i64 on some BSDs.
        #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
        let (soft, hard, target) = (
            u64::try_from(soft_raw).unwrap_or(0),
            u64::try_from(hard_raw).unwrap_or(0),
            u64::try_from(target_raw).unwrap_or(0),
        );
        // Only when there is something to gain: a unit with LimitNOFILE set
        // (soft = hard) never makes the call (its seccomp filter may refuse it).
        if soft < target {
            match setrlimit(Resource::RLIMIT_NOFILE, target_raw, hard_raw) {
                Ok(()) => {
                    return Some(FdLimit {
                        soft: target,
                        raised_from: Some(soft),
                    });
                }
                Err(e) => tracing::info!(soft, hard, error = %e, "open-file limit not raised"),
            }
        }
        Some(FdLimit {
            soft,
            raised_from: None,
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Descriptors set aside for everything but client connections: each
/// check in flight (`concurrent_checks` of `/v1/check` plus the background
/// round) holds at most `per_node` upstream connections to each of `nodes`
/// nodes; plus [`OWN_FILES`], plus the connection being admitted while the
/// one it replaces closes.
pub fn reserve(nodes: usize, per_node: usize, concurrent_checks: usize) -> u64 {
    let upstream = (nodes as u64)
        .saturating_mul(per_node as u64)
        .saturating_mul((concurrent_checks as u64).saturating_add(1));
    upstream.saturating_add(OWN_FILES).saturating_add(1)
}

/// The default `--max-connections` for a soft limit and a reserve, and
/// whether the limit was too tight to leave the reserve (then
/// [`MIN_CONNECTIONS`]: the operator must raise the limit).
pub fn default_max_connections(soft: u64, reserve: u64) -> (u64, bool) {
    match soft.checked_sub(reserve) {
        Some(room) if room >= MIN_CONNECTIONS => (room.min(DEFAULT_MAX_CONNECTIONS_CAP), false),
        _ => (MIN_CONNECTIONS, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_counts_every_check_in_flight() {
        // 10 nodes, 4 connections each, 4 API checks + 1 background round: 200.
        assert_eq!(reserve(10, 4, 4), 200 + 64 + 1);
        assert_eq!(reserve(0, 4, 4), 65);
        assert_eq!(reserve(usize::MAX, usize::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn the_default_fits_under_the_limit() {
        // systemd's default soft limit, 3 nodes: 1024 - (3·4·5 + 65) = 899.
        assert_eq!(default_max_connections(1024, reserve(3, 4, 4)), (899, false));
        assert_eq!(default_max_connections(1 << 20, 265), (4096, false));
        assert_eq!(default_max_connections(256, 265), (16, true));
        assert_eq!(default_max_connections(280, 265), (16, true));
        assert_eq!(default_max_connections(281, 265), (16, false));
    }
}
