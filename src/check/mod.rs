//! The engine: ask every node at once (`fanout`) over JSON-RPC ([`rpc`]),
//! each request built and read by `ask` — plain `eth_call`s or Multicall3
//! `aggregate3` calls ([`multicall`]) —, optionally after fixing one block
//! for all (`pin`). It depends on configuration, tallying and the report
//! types, never on the command line or on rendering.

pub(crate) mod ask;
pub(crate) mod fanout;
pub mod multicall;
pub(crate) mod pin;
pub mod rpc;
mod window;

// `serve` sizes its open-file reserve by the upstream connections a check can hold.
#[cfg(feature = "cli")]
pub(crate) use window::BATCHES_IN_FLIGHT_PER_NODE;
