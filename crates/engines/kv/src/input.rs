//! Parsing of the loosely typed request fields of the KV API, with Vault's coercions
//! (`5` or `"5"`, `[1, 2]` or `"1,2"`, `"1h"` or `3600`) and 400 messages naming the field.
//! Messages never echo field values: they may be secrets.

use std::collections::BTreeMap;

use secrethub_common::serde_helpers::value_to_bool;
use secrethub_common::{parse_duration, JsonMap};
use secrethub_engine::EngineError;
use serde_json::Value;

fn invalid(field: &str, expected: &str) -> EngineError {
    EngineError::bad_request(format!("invalid value for {field:?}: expected {expected}"))
}

/// The field's value, treating JSON `null` as absent.
fn present<'a>(body: &'a JsonMap, field: &str) -> Option<&'a Value> {
    body.get(field).filter(|v| !v.is_null())
}

/// A signed integer given as a number or a numeric string.
fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An optional signed integer field.
pub(crate) fn opt_int(body: &JsonMap, field: &str) -> Result<Option<i64>, EngineError> {
    match present(body, field) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => int_value(v)
            .map(Some)
            .ok_or_else(|| invalid(field, "an integer")),
    }
}

/// An optional non-negative integer field no larger than `max`.
pub(crate) fn opt_uint(body: &JsonMap, field: &str, max: u64) -> Result<Option<u64>, EngineError> {
    match opt_int(body, field)? {
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
    match present(body, field) {
        None => Ok(None),
        Some(v) => value_to_bool(v)
            .map(Some)
            .ok_or_else(|| invalid(field, "a boolean")),
    }
}

/// An optional string field (numbers and booleans are stringified).
pub(crate) fn opt_string(body: &JsonMap, field: &str) -> Result<Option<String>, EngineError> {
    match present(body, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(invalid(field, "a string")),
    }
}

/// A signed duration in whole seconds: a number, or Vault syntax with an optional leading `-`.
pub(crate) fn opt_signed_duration(body: &JsonMap, field: &str) -> Result<Option<i64>, EngineError> {
    let expected = "a duration such as \"1h\" or a number of seconds";
    let Some(v) = present(body, field) else {
        return Ok(None);
    };
    let secs = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            let (negative, magnitude) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s),
            };
            parse_duration(magnitude)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map(|secs| if negative { -secs } else { secs })
        }
        _ => None,
    };
    secs.map(Some).ok_or_else(|| invalid(field, expected))
}

/// A non-negative duration in whole seconds.
pub(crate) fn opt_duration(body: &JsonMap, field: &str) -> Result<Option<u64>, EngineError> {
    match opt_signed_duration(body, field)? {
        None => Ok(None),
        Some(secs) => u64::try_from(secs)
            .map(Some)
            .map_err(|_| EngineError::bad_request(format!("{field} cannot be negative"))),
    }
}

/// The `versions` list of delete, undelete and destroy: `[1, 2]`, `"1,2"` or `3`.
/// An empty list is `missing_msg` (Vault's wording differs between the endpoints).
pub(crate) fn versions_list(body: &JsonMap, missing_msg: &str) -> Result<Vec<u64>, EngineError> {
    let expected = "a list of version numbers";
    let items: Vec<Value> = match present(body, "versions") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_string()))
            .collect(),
        Some(v @ Value::Number(_)) => vec![v.clone()],
        Some(_) => return Err(invalid("versions", expected)),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let n = int_value(item)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| invalid("versions", expected))?;
        out.push(n);
    }
    if out.is_empty() {
        return Err(EngineError::bad_request(missing_msg));
    }
    Ok(out)
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
    let options = match present(body, "options") {
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
