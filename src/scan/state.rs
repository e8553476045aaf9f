//! The `--state` file: where the last scan stopped, so that the next one
//! asks only for new blocks. JSON, one document: the contract, event and
//! chain it belongs to, the first block not yet covered, and per node —
//! keyed by a fingerprint of its endpoint, never its URL (which holds an
//! API key) — the last block it scanned, that block's hash (to notice a
//! reorg) and the log range it was last seen to accept. Parsing and
//! checking are here; the command line writes the file atomically.

use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::{config::Node, sanitize::printable};

/// The state file's shape.
pub const STATE_SCHEMA_VERSION: u32 = 1;

/// Largest state file read (a few hundred bytes per node).
pub const MAX_STATE_BYTES: u64 = 4 * 1024 * 1024;

/// What a scan leaves for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanState {
    /// [`STATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The contract scanned.
    pub contract: Address,
    /// The event and hash field, name-independent (see `VoteEvent::canonical`).
    pub event: String,
    /// The chain the nodes served.
    pub chain_id: u64,
    /// The first block not yet covered: where the next scan starts.
    pub next_block: u64,
    /// Per node, by fingerprint.
    pub nodes: Vec<NodeState>,
}

/// What one node's last scan left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// [`fingerprint`] of the node: never its URL.
    pub fingerprint: String,
    /// The last block it scanned.
    pub last_block: u64,
    /// That block's hash, as the node gave it.
    pub last_hash: B256,
    /// Blocks per `eth_getLogs` it was last seen to accept.
    pub range: u64,
    /// Whether that range came from a results limit (it may grow back).
    #[serde(default)]
    pub range_grows: bool,
}

/// A node's key in the state file: 16 hex digits of the keccak256 of its
/// endpoint (spelling normalised) and its `from`. It tells nodes apart and
/// finds the same node again, without revealing the URL or its key.
pub fn fingerprint(node: &Node) -> String {
    let from = node.from.map(|a| format!("{a:#x}")).unwrap_or_default();
    let digest = keccak256(format!("{}|{from}", node.url.identity()).as_bytes());
    alloy::primitives::hex::encode(&digest[..8])
}

impl ScanState {
    /// Parses a state file's text; `shown` names the file in errors.
    pub fn parse(text: &str, shown: &str) -> Result<Self, String> {
        let not_state = |why: String| format!("state file {shown} is not a quorum-check scan state ({why})");
        let state: Self = serde_json::from_str(text).map_err(|e| not_state(printable(&e.to_string())))?;
        if state.schema_version != STATE_SCHEMA_VERSION {
            return Err(not_state(format!(
                "schema_version {} where {STATE_SCHEMA_VERSION} was expected",
                state.schema_version
            )));
        }
        if state.nodes.iter().any(|n| n.range == 0) {
            return Err(not_state("a node's range is 0".into()));
        }
        Ok(state)
    }

    /// Refuses a state of another contract, event or chain (`chain_id` when
    /// known before any request: `--chain-id`). A rescan is never silent.
    pub fn check_belongs(
        &self,
        shown: &str,
        contract: Address,
        event: &str,
        chain_id: Option<u64>,
    ) -> Result<(), String> {
        if self.contract != contract {
            return Err(format!(
                "state file {shown} belongs to contract {:#x}, not {contract:#x}: use another --state file",
                self.contract
            ));
        }
        if self.event != event {
            return Err(format!(
                "state file {shown} belongs to event {}, not {event}: use another --state file",
                printable(&self.event)
            ));
        }
        if let Some(id) = chain_id {
            self.check_chain(shown, id)?;
        }
        Ok(())
    }

    /// Refuses a state of another chain.
    pub fn check_chain(&self, shown: &str, chain_id: u64) -> Result<(), String> {
        if self.chain_id != chain_id {
            return Err(format!(
                "state file {shown} belongs to chain {}, but the nodes serve chain {chain_id}: use another --state file",
                self.chain_id
            ));
        }
        Ok(())
    }

    /// The state a node left, by fingerprint.
    pub fn node(&self, fingerprint: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.fingerprint == fingerprint)
    }

    /// The document, pretty-printed, with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_url::NodeUrl;

    fn state() -> ScanState {
        ScanState {
            schema_version: 1,
            contract: Address::repeat_byte(1),
            event: "VoteCast(bytes32 indexed,bool)#0".into(),
            chain_id: 31337,
            next_block: 120,
            nodes: vec![NodeState {
                fingerprint: "00112233aabbccdd".into(),
                last_block: 119,
                last_hash: B256::repeat_byte(2),
                range: 1000,
                range_grows: false,
            }],
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let s = state();
        let text = String::from_utf8(s.to_json()).unwrap();
        assert_eq!(ScanState::parse(&text, "s.json").unwrap(), s);
        assert_eq!(s.node("00112233aabbccdd").unwrap().last_block, 119);
        assert!(s.node("ffff").is_none());
    }

    #[test]
    fn corrupt_or_foreign_states_are_named() {
        for bad in ["", "{", "[]", "{\"schema_version\":1}", "null"] {
            let err = ScanState::parse(bad, "s.json").unwrap_err();
            assert!(
                err.starts_with("state file s.json is not a quorum-check scan state ("),
                "{err}"
            );
        }
        let mut s = state();
        s.schema_version = 9;
        let err = ScanState::parse(&String::from_utf8(s.to_json()).unwrap(), "s.json").unwrap_err();
        assert!(err.contains("schema_version 9"), "{err}");
        let s = state();
        let event = "VoteCast(bytes32 indexed,bool)#0";
        assert!(
            s.check_belongs("s.json", Address::repeat_byte(1), event, Some(31337))
                .is_ok()
        );
        let err = s
            .check_belongs("s.json", Address::repeat_byte(3), event, None)
            .unwrap_err();
        assert!(err.contains("contract 0x0101") && err.contains("0x0303"), "{err}");
        let err = s
            .check_belongs("s.json", Address::repeat_byte(1), "Other(bytes32)#0", None)
            .unwrap_err();
        assert!(err.contains("event VoteCast"), "{err}");
        let err = s
            .check_belongs("s.json", Address::repeat_byte(1), event, Some(1))
            .unwrap_err();
        assert!(err.contains("chain 31337") && err.contains("chain 1"), "{err}");
    }

    #[test]
    fn fingerprints_never_hold_the_url_and_tell_nodes_apart() {
        let node = |url: &str| Node::at(0, NodeUrl::parse(url).unwrap());
        let a = fingerprint(&node("https://eth.example/v2/SECRETKEY"));
        let b = fingerprint(&node("https://eth.example/v2/OTHERKEY"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("SECRET") && !a.contains("example"));
        assert_ne!(a, b);
        // Spelling that does not change the endpoint does not change the key.
        assert_eq!(a, fingerprint(&node("HTTPS://eth.example:443/v2/SECRETKEY/")));
        let mut with_from = node("https://eth.example/v2/SECRETKEY");
        with_from.from = Some(Address::repeat_byte(5));
        assert_ne!(a, fingerprint(&with_from));
    }
}
