//! Serde adapters for fields of typed input (`#[serde(default, deserialize_with = "…")]`):
//! durations (a `Duration` is a struct to serde), and lists, booleans and integers for types
//! that are also read outside [`crate::input::decode`]. Each keeps to the rules of
//! [`crate::input`], so a field answers the same whichever way it is read.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::input;

/// A duration given as seconds (number or numeric string) or Vault syntax (`"1h"`); `null` is
/// zero.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = Value::deserialize(d)?;
    input::duration_of(&v).map_err(D::Error::custom)
}

/// Like [`duration`] but keeps "not given" apart from zero.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => input::duration_of(&v).map(Some).map_err(D::Error::custom),
    }
}

/// A list given as a JSON array or a comma-separated string; items trimmed, blanks dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    input::string_list_of(&v).map_err(D::Error::custom)
}

/// Like [`string_list`] but keeps "not given" apart from empty.
pub fn opt_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => input::string_list_of(&v)
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// A boolean given as `true`, `"true"`, `"1"`, `1`, ...; `null` is false.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    input::decode_value(&v).map_err(D::Error::custom)
}

/// Like [`boolean`] but keeps "not given" apart from false.
pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    input::decode_value(&v).map_err(D::Error::custom)
}

/// An unsigned integer given as `5` or `"5"`; `null` is zero.
pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    input::decode_value(&v).map_err(D::Error::custom)
}

/// Like [`uint`] but keeps "not given" apart from zero.
pub fn opt_uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    input::decode_value(&v).map_err(D::Error::custom)
}

/// Splits `"a, b,c"` into `["a", "b", "c"]`, dropping empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Vault's truthiness for loosely typed booleans ([`input::bool_of`]).
pub fn value_to_bool(v: &Value) -> Option<bool> {
    input::bool_of(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Input {
        #[serde(default, deserialize_with = "duration")]
        ttl: Duration,
        #[serde(default, deserialize_with = "string_list")]
        policies: Vec<String>,
        #[serde(default, deserialize_with = "boolean")]
        renewable: bool,
        #[serde(default, deserialize_with = "opt_uint")]
        uses: Option<u64>,
    }

    #[test]
    fn coerces_loose_values() {
        let i: Input = serde_json::from_value(
            json!({"ttl": "1h", "policies": "a, b", "renewable": "true", "uses": "3"}),
        )
        .unwrap();
        assert_eq!(i.ttl.as_secs(), 3600);
        assert_eq!(i.policies, ["a", "b"]);
        assert!(i.renewable);
        assert_eq!(i.uses, Some(3));
        let i: Input =
            serde_json::from_value(json!({"ttl": 60, "policies": ["x"], "renewable": false}))
                .unwrap();
        assert_eq!(i.ttl.as_secs(), 60);
        assert_eq!(i.uses, None);
        assert!(serde_json::from_value::<Input>(json!({"ttl": "soon"})).is_err());
        assert!(serde_json::from_value::<Input>(json!({"ttl": 1e20})).is_err());
    }
}
