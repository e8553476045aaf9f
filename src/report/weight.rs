//! Weights in the JSON document: a number while JavaScript and jq read it
//! exactly (up to 2^53 − 1), a decimal string beyond — `uint` vote weights
//! reach 10^29 and more, which a double would round. Read back from either.

use serde::{Deserialize, Deserializer, Serializer};

/// The largest integer a double holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u128 = (1 << 53) - 1;

/// Serialises `value` as a number up to [`MAX_SAFE_INTEGER`], else as a decimal string.
pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    if *value <= MAX_SAFE_INTEGER {
        serializer.serialize_u64(*value as u64)
    } else {
        serializer.collect_str(value)
    }
}

/// Reads a weight written as a number or a decimal string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }
    match Either::deserialize(deserializer)? {
        Either::Number(n) => Ok(n.into()),
        Either::Text(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(serde::de::Error::custom)
        }
        Either::Text(s) => Err(serde::de::Error::custom(format!("not a decimal weight: {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct W(#[serde(with = "super")] u128);

    #[test]
    fn numbers_while_exact_strings_beyond() {
        let cases = [
            (0u128, "0"),
            (super::MAX_SAFE_INTEGER, "9007199254740991"),
            (super::MAX_SAFE_INTEGER + 1, "\"9007199254740992\""),
            (237684487542793012780631851005, "\"237684487542793012780631851005\""),
        ];
        for (value, json) in cases {
            assert_eq!(serde_json::to_string(&W(value)).unwrap(), json);
            assert_eq!(serde_json::from_str::<W>(json).unwrap(), W(value));
        }
        assert!(serde_json::from_str::<W>("\"12x\"").is_err());
        assert!(serde_json::from_str::<W>("\"-1\"").is_err());
    }
}
