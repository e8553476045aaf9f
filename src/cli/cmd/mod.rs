//! One module per subcommand: each turns its parsed flags into work and an exit code.

pub mod check;
pub mod completions;
pub mod demo;
pub mod devnet;
pub mod nodes;
pub mod scan;
pub mod serve;
pub mod watch;

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM). The
/// handlers are installed when this is called, not when first polled, so a
/// signal that arrives in between is not lost (nor fatal).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        async move {
            tokio::select! {
                () = recv(term.as_mut()) => {}
                () = recv(int.as_mut()) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for `signal`, or forever when it could not be installed.
#[cfg(unix)]
async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
