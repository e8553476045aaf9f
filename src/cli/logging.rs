//! Diagnostics on stderr through `tracing`. Only this crate's events pass
//! below `warn`: dependencies' debug and trace output (HTTP clients log raw
//! request lines, whose paths hold API keys) never reaches the terminal,
//! whatever `RUST_LOG` asks for.

use std::io::IsTerminal;

use tracing::Level;

use crate::cli::{ColorWhen, LogFormat};
use tracing_subscriber::{EnvFilter, filter::filter_fn, layer::SubscriberExt, util::SubscriberInitExt};

/// Installs the subscriber: `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG`
/// overrides the level; `format` picks text or JSON lines; `color` (with
/// `NO_COLOR`) decides whether text lines are coloured.
pub fn init(verbose: u8, format: LogFormat, color: ColorWhen) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let own_or_warn = filter_fn(|meta| meta.target().starts_with("quorum_check") || *meta.level() <= Level::WARN);
    let registry = tracing_subscriber::registry().with(filter).with(own_or_warn);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => registry
            .with(layer.with_ansi(color.enabled(std::io::stderr().is_terminal())))
            .try_init(),
        // One JSON object per line, for log shippers.
        LogFormat::Json => registry.with(layer.json().with_ansi(false)).try_init(),
    };
}
