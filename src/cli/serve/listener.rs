//! `serve`'s accept loop and HTTP/1 connections, on hyper directly (axum's
//! own `serve` wires no timer, so hyper's header-read timeout never fires,
//! and has no connection cap): every connection gets [`HEADER_READ_TIMEOUT`]
//! to send each request head (a silent, slow or idle keep-alive client is
//! closed after it), a head of at most [`head_limit`] bytes (431 beyond),
//! a slot under `--max-connections` from the [`Registry`], and a `Host`
//! check ([`HostPolicy`]) before the routes; with TLS, a handshake first,
//! within the same timeout ([`super::tls`]). On stop, the listener closes
//! and each connection finishes the request it is answering, then closes.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, Response, StatusCode, header},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};

use super::{
    connections::{Activity, Closed, Counted, Registry},
    host::{HostPolicy, HostVerdict},
};

/// A client must send a whole request head within this long of opening
/// the connection or of its previous answer (so this is the keep-alive
/// idle timeout too).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Header bytes allowed besides the request line.
const HEADER_BYTES: usize = 8 * 1024;

/// Bytes of request line per hash of `/v1/check` (`tx=0x` + 64 digits + `&`, rounded up).
const BYTES_PER_HASH: usize = 72;

/// The longest request target HTTP's URI type parses (`http::Uri`): a
/// longer line is refused whatever the head limit.
const MAX_TARGET_BYTES: usize = 64 * 1024;

/// The largest request head accepted: the headers plus a request line
/// holding `max_txs` hashes (as far as a URI can); never less than 16 KiB.
pub fn head_limit(max_txs: usize) -> usize {
    BYTES_PER_HASH
        .saturating_mul(max_txs)
        .min(MAX_TARGET_BYTES)
        .saturating_add(HEADER_BYTES)
        .max(16 * 1024)
}

/// What every connection shares.
pub struct Server {
    /// With `--tls-cert`/`--tls-key`: every connection starts with a TLS handshake.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The routes.
    pub router: Router,
    /// The names requests may use.
    pub hosts: HostPolicy,
    /// The open connections.
    pub registry: Arc<Registry>,
    /// The largest request head, in bytes.
    pub head_limit: usize,
}

/// Accepts connections until `stop` turns true, then waits for the open
/// ones to finish what they are answering.
pub async fn run(listener: TcpListener, server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(server.head_limit)
        .max_header_size(server.head_limit)
        .keep_alive(true);
    let mut connections = JoinSet::new();
    let mut last_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, open = server.registry.open(), "cannot accept a connection");
                    last_warning = Some(tokio::time::Instant::now());
                }
                // Out of descriptors although the cap should prevent it (the
                // limit was lowered, the checks need more): free one.
                if out_of_descriptors(&e) {
                    server.registry.evict_one();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(admitted) = server.registry.admit().await else {
            // Every connection is being answered: the newcomer waits its turn elsewhere.
            continue;
        };
        let Ok(local) = stream.local_addr() else { continue };
        let _ = stream.set_nodelay(true);
        let (server, http, stop) = (server.clone(), http.clone(), stop.clone());
        connections.spawn(async move {
            let activity = admitted.activity;
            let reason = connection(stream, local, &server, &http, activity.clone(), stop).await;
            // The socket is closed by now: the slot can go to someone else.
            server.registry.forget(&activity);
            // Evictions are counted when decided.
            if let Some(reason) = reason.filter(|r| *r != Closed::Evicted) {
                server.registry.count(reason);
            }
            drop(admitted.slot);
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection until it ends; says why when `serve` closed it.
async fn connection(
    stream: tokio::net::TcpStream,
    local: SocketAddr,
    server: &Arc<Server>,
    http: &http1::Builder,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) -> Option<Closed> {
    let counted = Counted::new(stream, activity.clone());
    let Some(acceptor) = &server.tls else {
        return drive(TokioIo::new(counted), local, server, http, activity, stop).await;
    };
    // The handshake gets the time a request head gets.
    let handshake = tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(counted));
    let tls = tokio::select! {
        done = handshake => done,
        () = activity.evicted() => return Some(Closed::Evicted),
        _ = stop.wait_for(|s| *s) => return None,
    };
    match tls {
        Ok(Ok(tls)) => drive(TokioIo::new(tls), local, server, http, activity, stop).await,
        // Not TLS, or a client that gave up: nothing to answer.
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => Some(Closed::HeaderTimeout),
    }
}

/// HTTP/1 on an open (plain or TLS) connection until it ends.
async fn drive<I>(
    io: I,
    local: SocketAddr,
    server: &Arc<Server>,
    http: &http1::Builder,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) -> Option<Closed>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = {
        let (server, activity) = (server.clone(), activity.clone());
        hyper::service::service_fn(move |request| answer(request, server.clone(), local, activity.clone()))
    };
    let mut conn = Box::pin(http.serve_connection(io, service));
    let idle = activity.idle();
    tokio::pin!(idle);
    let mut draining = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                return match ended {
                    Err(e) if e.is_timeout() => Some(Closed::HeaderTimeout),
                    Err(e) if e.is_parse_too_large() => Some(Closed::HeaderTooLarge),
                    _ => None,
                };
            }
            () = activity.evicted() => return Some(Closed::Evicted),
            () = &mut idle => return Some(Closed::Idle),
            _ = stop.wait_for(|s| *s), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// One request: the `Host` check, then the routes, the connection marked
/// busy meanwhile (it is not evicted while a check runs for it).
async fn answer(
    request: Request<Incoming>,
    server: Arc<Server>,
    local: SocketAddr,
    activity: Arc<Activity>,
) -> Result<Response<Body>, Infallible> {
    // Probes reveal nothing and often name the server by an address of their own.
    let probe = matches!(request.uri().path(), "/healthz" | "/readyz");
    if !probe {
        match server
            .hosts
            .verdict(request.version(), request.uri(), request.headers(), local)
        {
            HostVerdict::Allowed => {}
            HostVerdict::Malformed => {
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    "bad request: send exactly one Host header",
                ));
            }
            HostVerdict::Refused => {
                return Ok(plain(
                    StatusCode::MISDIRECTED_REQUEST,
                    "misdirected request: this server does not answer for that Host (see --allowed-host)",
                ));
            }
        }
    }
    let _busy = activity.busy();
    let mut router = server.router.clone();
    tower_service::Service::call(&mut router, request).await
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{text}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Whether accepting failed for want of file descriptors.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(code) if code == nix::libc::EMFILE || code == nix::libc::ENFILE)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_limit_fits_the_longest_allowed_request_line() {
        assert_eq!(head_limit(0), 16 * 1024);
        assert_eq!(head_limit(100), 16 * 1024);
        // 900 hashes written as tx=0x…& take 70 bytes each.
        let line = format!(
            "GET /v1/check?{} HTTP/1.1",
            vec![format!("tx=0x{}", "a".repeat(64)); 900].join("&")
        );
        assert!(head_limit(900) >= line.len() + HEADER_BYTES, "{}", line.len());
        assert_eq!(head_limit(usize::MAX), 72 * 1024, "no URI is longer than 64 KiB");
    }
}
