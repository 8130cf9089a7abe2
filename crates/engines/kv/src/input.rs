//! Parsing of the loosely typed request fields of the KV API, with Vault's coercions
//! (`5` or `"5"`, `[1, 2]` or `"1,2"`, `"1h"` or `3600`) and 400 messages naming the field.
//! Messages never echo field values: they may be secrets.

use std::collections::BTreeMap;

use secrethub_common::{input, JsonMap};
use secrethub_engine::EngineError;
use serde_json::Value;

fn invalid(field: &str, expected: &str) -> EngineError {
    EngineError::bad_request(format!("invalid {field}: expected {expected}"))
}

/// An optional non-negative integer field no larger than `max`.
pub(crate) fn opt_uint(body: &JsonMap, field: &str, max: u64) -> Result<Option<u64>, EngineError> {
    match input::field::<i64>(body, field)? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| {
                let limit = if max == u64::MAX {
                    String::new()
                } else {
                    format!(" no larger than {max}")
                };
                EngineError::bad_request(format!("{field} must be a non-negative integer{limit}"))
            }),
    }
}

/// The `version` of a read: `None` (or 0) means the current version.
pub(crate) fn version_param(body: &JsonMap) -> Result<Option<u64>, EngineError> {
    Ok(opt_uint(body, "version", u64::MAX)?.filter(|v| *v > 0))
}

/// An optional boolean field (`true`, `"true"`, `1`, ...).
pub(crate) fn opt_bool(body: &JsonMap, field: &str) -> Result<Option<bool>, EngineError> {
    Ok(input::field(body, field)?)
}

/// An optional string field (numbers and booleans are stringified).
pub(crate) fn opt_string(body: &JsonMap, field: &str) -> Result<Option<String>, EngineError> {
    Ok(input::field(body, field)?)
}

/// A signed duration in whole seconds: a number, or Vault syntax with an optional leading `-`
/// (KV takes a negative `delete_version_after` as "never").
pub(crate) fn opt_signed_duration(body: &JsonMap, field: &str) -> Result<Option<i64>, EngineError> {
    let negative = |v: &Value| match v {
        Value::Number(n) => n.as_f64().is_some_and(|f| f < 0.0),
        Value::String(s) => s.trim().starts_with('-'),
        _ => false,
    };
    let Some(v) = input::given(body, field) else {
        return Ok(None);
    };
    let magnitude = match v {
        Value::Number(n) if negative(v) => Value::from(n.as_f64().map_or(0.0, f64::abs)),
        Value::String(s) if negative(v) => Value::from(s.trim().trim_start_matches('-')),
        other => other.clone(),
    };
    let secs = input::duration_of(&magnitude)
        .map_err(|e| e.at(field))?
        .as_secs();
    // duration_of bounds durations far below i64::MAX seconds.
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    Ok(Some(if negative(v) { -secs } else { secs }))
}

/// A non-negative duration in whole seconds.
pub(crate) fn opt_duration(body: &JsonMap, field: &str) -> Result<Option<u64>, EngineError> {
    Ok(input::duration_field(body, field)?.map(|d| d.as_secs()))
}

/// The `versions` list of delete, undelete and destroy: `[1, 2]`, `"1,2"` or `3`.
/// An empty list is `missing_msg` (Vault's wording differs between the endpoints).
pub(crate) fn versions_list(body: &JsonMap, missing_msg: &str) -> Result<Vec<u64>, EngineError> {
    let versions = input::field::<Vec<u64>>(body, "versions")?.unwrap_or_default();
    if versions.is_empty() {
        return Err(EngineError::bad_request(missing_msg));
    }
    Ok(versions)
}

/// Takes the `data` object of a data write or patch out of the body (moved, not copied:
/// it can be large).
pub(crate) fn take_data_object(body: &mut JsonMap) -> Result<JsonMap, EngineError> {
    match body.remove("data") {
        None | Some(Value::Null) => Err(EngineError::bad_request("no data provided")),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(invalid("data", "a JSON object")),
    }
}

/// `options.cas` of a data write or patch, if given.
pub(crate) fn cas_option(body: &JsonMap) -> Result<Option<u64>, EngineError> {
    let options = match input::given(body, "options") {
        None => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(invalid("options", "a JSON object")),
    };
    let Some(cas) = options.get("cas") else {
        return Ok(None);
    };
    let parsed = match cas {
        Value::Null => Some(0),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) if s.trim().is_empty() => Some(0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    // A negative cas can never match a version; map it to a value no version reaches.
    parsed
        .map(|n| Some(u64::try_from(n).unwrap_or(u64::MAX)))
        .ok_or_else(|| EngineError::bad_request("error parsing check-and-set parameter"))
}

const MAX_CUSTOM_METADATA_KEYS: usize = 64;
const MAX_CUSTOM_METADATA_KEY_LEN: usize = 128;
const MAX_CUSTOM_METADATA_VALUE_LEN: usize = 512;
const CUSTOM_METADATA_PREFIX: &str = "custom_metadata validation failed";

/// `custom_metadata` as a string map. With `drop_nulls` (patches) a `null` value is left out
/// here because it means "remove this key" to the merge that follows.
pub(crate) fn custom_metadata(
    value: &Value,
    drop_nulls: bool,
) -> Result<BTreeMap<String, String>, EngineError> {
    let Value::Object(raw) = value else {
        return Err(invalid("custom_metadata", "a JSON object of strings"));
    };
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let s = match v {
            Value::Null if drop_nulls => continue,
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            // Vault's weak decoding turns booleans into "1" / "0".
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            _ => {
                return Err(EngineError::bad_request(format!(
                    "{CUSTOM_METADATA_PREFIX}: value for key {k:?} must be a string"
                )))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// Vault's limits on custom metadata; every violation is reported, in Vault's list format.
pub(crate) fn validate_custom_metadata(cm: &BTreeMap<String, String>) -> Result<(), EngineError> {
    let mut errs = Vec::new();
    if cm.len() > MAX_CUSTOM_METADATA_KEYS {
        errs.push(format!(
            "{CUSTOM_METADATA_PREFIX}: payload must contain at most {MAX_CUSTOM_METADATA_KEYS} keys, provided {}",
            cm.len()
        ));
        return Err(multi_error(&errs));
    }
    for (k, v) in cm {
        if k.is_empty() || k.len() > MAX_CUSTOM_METADATA_KEY_LEN {
            errs.push(format!(
                "{CUSTOM_METADATA_PREFIX}: length of key {k:?} is {} but must be 0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LEN}",
                k.len()
            ));
        }
        if v.is_empty() || v.len() > MAX_CUSTOM_METADATA_VALUE_LEN {
            errs.push(format!(
                "{CUSTOM_METADATA_PREFIX}: length of value for key {k:?} is {} but must be 0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LEN}",
                v.len()
            ));
        }
        if !printable(k) {
            errs.push(format!(
                "{CUSTOM_METADATA_PREFIX}: key {k:?} contains unprintable characters"
            ));
        }
        if !printable(v) {
            errs.push(format!(
                "{CUSTOM_METADATA_PREFIX}: value for key {k:?} contains unprintable characters"
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(multi_error(&errs))
    }
}

/// Like Go's `unicode.IsPrint` on every rune: no control characters, and no spacing other
/// than the plain space.
fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace()))
}

/// Vault's `multierror` rendering, so clients that match on it see the same text.
fn multi_error(errs: &[String]) -> EngineError {
    let points: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
    let head = if errs.len() == 1 {
        "1 error occurred:".to_string()
    } else {
        format!("{} errors occurred:", errs.len())
    };
    EngineError::bad_request(format!("{head}\n\t{}\n\n", points.join("\n\t")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn coerces_versions() {
        let missing = "no version number provided";
        let got = |v: Value| versions_list(&body(json!({ "versions": v })), missing);
        assert_eq!(got(json!([1, "2"])).unwrap(), [1, 2]);
        assert_eq!(got(json!("3, 4")).unwrap(), [3, 4]);
        assert_eq!(got(json!(5)).unwrap(), [5]);
        assert_eq!(got(json!([])).unwrap_err().to_string(), missing);
        assert!(got(json!(["x"])).is_err());
        assert!(got(json!([-1])).is_err());
    }

    #[test]
    fn cas_and_durations() {
        let cas = |v: Value| cas_option(&body(json!({ "options": { "cas": v } })));
        assert_eq!(cas(json!(2)).unwrap(), Some(2));
        assert_eq!(cas(json!("0")).unwrap(), Some(0));
        assert_eq!(cas(json!(-1)).unwrap(), Some(u64::MAX));
        assert!(cas(json!("x")).is_err());
        assert_eq!(cas_option(&body(json!({}))).unwrap(), None);
        let dva = |v: Value| opt_signed_duration(&body(json!({ "d": v })), "d").unwrap();
        assert_eq!(dva(json!("1h")), Some(3600));
        assert_eq!(dva(json!("-1s")), Some(-1));
        assert_eq!(dva(json!(-5)), Some(-5));
        assert!(opt_duration(&body(json!({ "d": "-1s" })), "d").is_err());
    }

    #[test]
    fn custom_metadata_limits() {
        let long = "x".repeat(513);
        let cm = custom_metadata(&json!({ "a": long, "": "v", "t": true }), false).unwrap();
        assert_eq!(cm["t"], "1");
        let err = validate_custom_metadata(&cm).unwrap_err().to_string();
        assert!(
            err.starts_with("2 errors occurred:\n\t* custom_metadata"),
            "{err}"
        );
        assert!(custom_metadata(&json!({ "a": {} }), false).is_err());
        assert!(!printable("a\tb"));
        assert!(printable("a b é"));
    }
}
