//! The auth method's handlers, one file per resource, plus what they share: typed access to
//! body fields (each error names its field and never repeats its value) and name checks.

mod config;
mod login;
mod roles;

use secrethub_common::{serde_helpers, JsonMap};
use secrethub_storage::validate_key;
use serde_json::Value;

use crate::error::KubeError;
use crate::records::role_key;

pub(crate) use config::load_config;
pub(crate) use roles::load_role;

/// Rejects role names that would not be a single, safe storage key segment.
pub(crate) fn check_role_name(name: &str) -> Result<String, KubeError> {
    let key = role_key(name);
    if name.is_empty() || validate_key(&key).is_err() {
        return Err(KubeError::invalid("invalid role name"));
    }
    Ok(key)
}

/// A string field; `None` when absent or null. Numbers and booleans are stringified, as
/// Vault's loose typing does.
pub(crate) fn opt_string(body: &JsonMap, field: &str) -> Result<Option<String>, KubeError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(KubeError::field(field, "expected a string")),
    }
}

/// A boolean field (`true`, `"true"`, `"1"`, ...); `None` when absent.
pub(crate) fn opt_bool(body: &JsonMap, field: &str) -> Result<Option<bool>, KubeError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_helpers::value_to_bool(v)
            .map(Some)
            .ok_or_else(|| KubeError::field(field, "expected a boolean")),
    }
}

/// A list field (JSON array or comma-separated string); `None` when absent.
pub(crate) fn opt_list(body: &JsonMap, field: &str) -> Result<Option<Vec<String>>, KubeError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_helpers::string_list(v.clone())
            .map(Some)
            .map_err(|e| KubeError::field(field, e)),
    }
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
    fn fields_are_loosely_typed_and_errors_name_them() {
        let b = body(json!({"s": 5, "b": "true", "l": "a, b", "bad": {"x": 1}}));
        assert_eq!(opt_string(&b, "s").unwrap().as_deref(), Some("5"));
        assert_eq!(opt_bool(&b, "b").unwrap(), Some(true));
        assert_eq!(
            opt_list(&b, "l").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(opt_string(&b, "missing").unwrap(), None);
        assert_eq!(
            opt_string(&b, "bad").unwrap_err().to_string(),
            "invalid bad: expected a string"
        );
        assert_eq!(
            opt_bool(&b, "bad").unwrap_err().to_string(),
            "invalid bad: expected a boolean"
        );
        assert!(opt_list(&b, "bad")
            .unwrap_err()
            .to_string()
            .starts_with("invalid bad: "));
    }

    #[test]
    fn role_names_are_single_safe_segments() {
        assert_eq!(check_role_name("app").unwrap(), "role/app");
        assert!(check_role_name("").is_err());
        assert!(check_role_name("..").is_err());
        assert!(check_role_name("a\u{0}b").is_err());
    }
}
