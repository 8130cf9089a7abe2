//! Vault's loose input coercions for serde: durations as `3600` or `"1h"`, lists as JSON arrays
//! or comma-separated strings, booleans as `true` or `"true"`, integers as `5` or `"5"`.
//! Use with `#[serde(default, deserialize_with = "...")]`.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::parse_duration;

/// A duration given as seconds (number or numeric string) or Vault syntax (`"1h"`).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Duration::ZERO),
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(Duration::from_secs_f64)
            })
            .ok_or_else(|| D::Error::custom("duration must be a non-negative number of seconds")),
        Value::String(s) => parse_duration(&s).map_err(D::Error::custom),
        _ => Err(D::Error::custom(
            "duration must be a number or a string such as \"1h\"",
        )),
    }
}

/// Like [`duration`] but keeps "not given" apart from zero.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => duration(v).map(Some).map_err(D::Error::custom),
    }
}

/// A list given as a JSON array of strings or a comma-separated string; blanks are dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split_list(&s)),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(D::Error::custom("list items must be strings")),
            })
            .filter(|r| !matches!(r, Ok(s) if s.is_empty()))
            .collect(),
        _ => Err(D::Error::custom(
            "expected a list or a comma-separated string",
        )),
    }
}

/// Like [`string_list`] but keeps "not given" apart from empty.
pub fn opt_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => string_list(v).map(Some).map_err(D::Error::custom),
    }
}

/// A boolean given as `true` or `"true"`/`"1"`/`"false"`/`"0"`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(false),
        v => value_to_bool(&v).ok_or_else(|| D::Error::custom("expected a boolean")),
    }
}

/// Like [`boolean`] but keeps "not given" apart from false.
pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => value_to_bool(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom("expected a boolean")),
    }
}

/// An unsigned integer given as `5` or `"5"`.
pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        v => value_to_u64(&v).ok_or_else(|| D::Error::custom("expected a non-negative integer")),
    }
}

/// Like [`uint`] but keeps "not given" apart from zero.
pub fn opt_uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => value_to_u64(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom("expected a non-negative integer")),
    }
}

/// Splits `"a, b,c"` into `["a", "b", "c"]`, dropping empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Vault's truthiness for loosely typed booleans.
pub fn value_to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Some(true),
            "false" | "0" | "f" | "F" | "FALSE" | "False" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

fn value_to_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
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
    }
}
