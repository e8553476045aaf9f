//! The vote event: its signature (`--event`), the parameter that holds the
//! transaction hash (`--event-field`), and reading that hash out of a log —
//! from a topic when the parameter is indexed, from the data when it is not —
//! after checking the log is exactly one of this event (topic count, topic0,
//! data decoding strictly).

use alloy::{
    dyn_abi::{DynSolValue, EventExt, Specifier},
    json_abi::Event,
    primitives::{B256, LogData},
};

use crate::sanitize::printable;

/// The default `--event`: `Voting`'s vote event.
pub const DEFAULT_EVENT: &str = "VoteCast(bytes32 indexed txHash, bool approve)";

/// A vote event and where its hash is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteEvent {
    event: Event,
    /// Position of the hash parameter among all inputs.
    field: usize,
}

impl VoteEvent {
    /// Parses `signature` (with or without the `event` keyword) and finds the
    /// hash parameter: `field` by name, else the first `bytes32` parameter.
    /// Errors name what is wrong and quote only a bounded part of the input.
    pub fn parse(signature: &str, field: Option<&str>) -> Result<Self, String> {
        let event = Event::parse(signature.trim()).map_err(|e| {
            format!(
                "--event '{}' is not an event signature such as '{DEFAULT_EVENT}' ({})",
                printable(signature),
                printable(&e.to_string())
            )
        })?;
        if event.anonymous {
            return Err(format!(
                "--event '{}' is anonymous: its logs carry no signature topic to ask for",
                printable(signature)
            ));
        }
        let field = match field {
            Some(name) => {
                let (i, param) = event
                    .inputs
                    .iter()
                    .enumerate()
                    .find(|(_, p)| p.name == name)
                    .ok_or_else(|| {
                        let names: Vec<&str> = event.inputs.iter().map(|p| p.name.as_str()).collect();
                        format!(
                            "--event-field '{}': the event has no such parameter (it has: {})",
                            printable(name),
                            names.join(", ")
                        )
                    })?;
                if param.ty != "bytes32" {
                    return Err(format!(
                        "--event-field '{}' is a {}, not a bytes32: it cannot hold a transaction hash",
                        printable(name),
                        printable(&param.ty)
                    ));
                }
                i
            }
            None => event.inputs.iter().position(|p| p.ty == "bytes32").ok_or_else(|| {
                format!(
                    "--event '{}' has no bytes32 parameter to read a transaction hash from",
                    printable(signature)
                )
            })?,
        };
        // Resolving checks every type once, up front.
        event
            .resolve()
            .map_err(|e| format!("--event '{}': {}", printable(signature), printable(&e.to_string())))?;
        Ok(Self { event, field })
    }

    /// The event's topic0: keccak256 of its canonical signature.
    pub fn topic0(&self) -> B256 {
        self.event.selector()
    }

    /// The full signature, as `--event` takes it back.
    pub fn full_signature(&self) -> String {
        self.event.full_signature()
    }

    /// What identifies the event and its hash field independently of the
    /// parameter names: `VoteCast(bytes32 indexed,bool)#0` (types, which are
    /// indexed, and the field's position). A state file keeps this.
    pub fn canonical(&self) -> String {
        let params: Vec<String> = self
            .event
            .inputs
            .iter()
            .map(|p| {
                if p.indexed {
                    format!("{} indexed", p.selector_type())
                } else {
                    p.selector_type().into_owned()
                }
            })
            .collect();
        format!("{}({})#{}", self.event.name, params.join(","), self.field)
    }

    /// The hash a log of this event carries; an error says why the log is
    /// not one of this event.
    pub fn hash_of(&self, log: &LogData) -> Result<B256, String> {
        if log.topics().first() != Some(&self.topic0()) {
            return Err("a log with another event's topic0".into());
        }
        let decoded = self
            .event
            .decode_log_parts(log.topics().iter().copied(), &log.data)
            .map_err(|e| {
                format!(
                    "a log that does not decode as the event ({})",
                    printable(&e.to_string())
                )
            })?;
        // Strict: the data must be exactly the canonical encoding of what it
        // decoded to (no trailing bytes, a bool 0 or 1, padding zero).
        if DynSolValue::Tuple(decoded.body.clone()).abi_encode_params() != log.data.as_ref() {
            return Err("a log whose data is not exactly the event's encoding".into());
        }
        let param = &self.event.inputs[self.field];
        let position = self.event.inputs[..self.field]
            .iter()
            .filter(|p| p.indexed == param.indexed)
            .count();
        let value = if param.indexed {
            decoded.indexed.get(position)
        } else {
            decoded.body.get(position)
        };
        match value {
            Some(DynSolValue::FixedBytes(word, 32)) => Ok(*word),
            _ => Err("a log without the hash parameter".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{Address, Bytes, U256},
        sol_types::SolValue,
    };

    use super::*;

    fn voting() -> VoteEvent {
        VoteEvent::parse(DEFAULT_EVENT, None).unwrap()
    }

    #[test]
    fn the_two_contracts_events_and_their_hash() {
        let e = voting();
        assert_eq!(e.topic0(), alloy::primitives::keccak256("VoteCast(bytes32,bool)"));
        assert_eq!(e.canonical(), "VoteCast(bytes32 indexed,bool)#0");
        let hash = B256::repeat_byte(7);
        let log = LogData::new_unchecked(vec![e.topic0(), hash], true.abi_encode().into());
        assert_eq!(e.hash_of(&log), Ok(hash));

        let registry = VoteEvent::parse(
            "event VoteCast(address indexed voter, bytes32 indexed txHash, bool approve)",
            Some("txHash"),
        )
        .unwrap();
        assert_eq!(registry.canonical(), "VoteCast(address indexed,bytes32 indexed,bool)#1");
        let voter = B256::left_padding_from(Address::repeat_byte(1).as_slice());
        let log = LogData::new_unchecked(vec![registry.topic0(), voter, hash], true.abi_encode().into());
        assert_eq!(registry.hash_of(&log), Ok(hash));
    }

    #[test]
    fn a_hash_in_the_data_is_read_and_its_length_checked() {
        let e = VoteEvent::parse("Voted(address indexed who, bool approve, bytes32 txHash)", None).unwrap();
        let hash = B256::repeat_byte(9);
        let data = (true, hash).abi_encode_params();
        let topic = B256::left_padding_from(&[1]);
        assert_eq!(
            e.hash_of(&LogData::new_unchecked(vec![e.topic0(), topic], data.clone().into())),
            Ok(hash)
        );
        let short = Bytes::copy_from_slice(&data[..40]);
        assert!(
            e.hash_of(&LogData::new_unchecked(vec![e.topic0(), topic], short))
                .is_err()
        );
    }

    #[test]
    fn malformed_logs_are_refused() {
        let e = voting();
        let hash = B256::repeat_byte(7);
        let ok_data: Bytes = true.abi_encode().into();
        let cases = [
            LogData::new_unchecked(vec![], ok_data.clone()),
            LogData::new_unchecked(vec![B256::ZERO, hash], ok_data.clone()),
            LogData::new_unchecked(vec![e.topic0()], ok_data.clone()),
            LogData::new_unchecked(vec![e.topic0(), hash, hash], ok_data.clone()),
            LogData::new_unchecked(vec![e.topic0(), hash], Bytes::new()),
            // A bool that is neither 0 nor 1.
            LogData::new_unchecked(vec![e.topic0(), hash], U256::from(2).abi_encode().into()),
        ];
        for log in cases {
            assert!(e.hash_of(&log).is_err(), "{log:?}");
        }
    }

    #[test]
    fn bad_signatures_and_fields_are_named() {
        let err = |sig: &str, field: Option<&str>| VoteEvent::parse(sig, field).unwrap_err();
        assert!(err("VoteCast(bytes32 indexed", None).contains("--event"));
        assert!(err("VoteCast(bool approve)", None).contains("no bytes32"));
        assert!(err(DEFAULT_EVENT, Some("nope")).contains("txHash, approve"));
        assert!(err(DEFAULT_EVENT, Some("approve")).contains("not a bytes32"));
        assert!(err("event VoteCast(bytes32 h) anonymous", None).contains("anonymous"));
        assert!(err("VoteCast(bytes33 h)", None).contains("--event"));
    }
}
