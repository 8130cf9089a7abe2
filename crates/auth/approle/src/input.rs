//! Reading single fields of a request body with Vault's loose coercions, each error naming
//! its field; plus name checks and CIDR subset tests.

use std::collections::BTreeMap;
use std::net::IpAddr;

use secrethub_common::{input, parse_cidrs, Cidr, JsonMap};
use secrethub_engine::{duration_field, EngineError};
use serde_json::Value;

fn invalid(field: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("invalid {field}: {e}"))
}

/// The first of `keys` given in `body` (Vault's aliases: `secret_id_bound_cidrs` and the
/// older `bound_cidr_list`), decoded with Vault's rules.
fn first<T: serde::de::DeserializeOwned>(
    body: &JsonMap,
    keys: &[&'static str],
) -> Result<Option<T>, EngineError> {
    match input::first_given(body, keys) {
        None => Ok(None),
        Some((k, v)) => Ok(Some(input::decode_value(v).map_err(|e| e.at(k))?)),
    }
}

pub(crate) fn opt_bool(body: &JsonMap, keys: &[&'static str]) -> Result<Option<bool>, EngineError> {
    first(body, keys)
}

pub(crate) fn opt_uint(body: &JsonMap, keys: &[&'static str]) -> Result<Option<u64>, EngineError> {
    first(body, keys)
}

/// A duration field as whole seconds.
pub(crate) fn opt_secs(body: &JsonMap, keys: &[&'static str]) -> Result<Option<u64>, EngineError> {
    match input::first_given(body, keys) {
        None => Ok(None),
        Some((k, v)) => Ok(Some(duration_field(k, v)?.as_secs())),
    }
}

/// A list of CIDR blocks, validated.
pub(crate) fn opt_cidrs(
    body: &JsonMap,
    keys: &[&'static str],
) -> Result<Option<Vec<String>>, EngineError> {
    match input::first_given(body, keys) {
        None => Ok(None),
        Some((k, v)) => {
            let list = input::string_list_of(v).map_err(|e| e.at(k))?;
            parse_cidrs(&list).map_err(|e| invalid(k, e))?;
            Ok(Some(list))
        }
    }
}

pub(crate) fn opt_string(
    body: &JsonMap,
    keys: &[&'static str],
) -> Result<Option<String>, EngineError> {
    first(body, keys)
}

/// A required, non-empty string field.
pub(crate) fn required_string(body: &JsonMap, key: &'static str) -> Result<String, EngineError> {
    match opt_string(body, &[key])? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(EngineError::bad_request(format!("missing {key}"))),
    }
}

/// Secret ID `metadata`: a JSON object of strings, given (as Vault documents) as a string
/// holding JSON, or directly as an object.
pub(crate) fn metadata(body: &JsonMap) -> Result<BTreeMap<String, String>, EngineError> {
    let parsed = match input::given(body, "metadata") {
        None => return Ok(BTreeMap::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(BTreeMap::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map_err(|_| invalid("metadata", "expected a JSON object of strings"))?,
        Some(v) => v.clone(),
    };
    let Value::Object(m) = parsed else {
        return Err(invalid("metadata", "expected a JSON object of strings"));
    };
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(invalid(
                "metadata",
                format!("the value of {k:?} is not a string"),
            )),
        })
        .collect()
}

/// Lowercases a role name and checks Vault's rules: at most 4096 bytes of letters, digits,
/// space, `-`, `_` and `.`, and not `.` or `..` (which would not be a storage key segment).
pub(crate) fn role_name(raw: &str) -> Result<String, EngineError> {
    let name = raw.to_lowercase();
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if name.is_empty() || name.len() >= 4096 || !ok_chars || name == "." || name == ".." {
        return Err(EngineError::bad_request(
            "invalid role name: use letters, digits, space, '-', '_' and '.' (under 4096 bytes)",
        ));
    }
    Ok(name)
}

/// The network address and prefix length of a block (through its `a.b.c.d/n` form, since
/// `Cidr` keeps them private).
fn parts(c: &Cidr) -> Option<(IpAddr, u8)> {
    let s = c.to_string();
    let (a, p) = s.rsplit_once('/')?;
    Some((a.parse().ok()?, p.parse().ok()?))
}

/// Whether every block of `inner` lies inside some block of `outer`. An empty `outer` allows
/// anything.
pub(crate) fn cidrs_subset(inner: &[String], outer: &[String]) -> bool {
    if outer.is_empty() {
        return true;
    }
    let (Ok(inner), Ok(outer)) = (parse_cidrs(inner), parse_cidrs(outer)) else {
        return false;
    };
    inner.iter().all(|i| {
        let Some((net, len)) = parts(i) else {
            return false;
        };
        outer.iter().any(|o| {
            parts(o).is_some_and(|(onet, olen)| {
                onet.is_ipv4() == net.is_ipv4() && olen <= len && o.contains(net)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    #[test]
    fn subsets() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(cidrs_subset(&s(&["10.1.0.0/16"]), &s(&["10.0.0.0/8"])));
        assert!(cidrs_subset(&s(&["10.1.2.3"]), &s(&["10.0.0.0/8"])));
        assert!(cidrs_subset(&s(&["10.0.0.0/8"]), &s(&["10.0.0.0/8"])));
        assert!(!cidrs_subset(&s(&["10.0.0.0/7"]), &s(&["10.0.0.0/8"])));
        assert!(!cidrs_subset(&s(&["11.0.0.0/16"]), &s(&["10.0.0.0/8"])));
        assert!(!cidrs_subset(&s(&["2001:db8::/48"]), &s(&["10.0.0.0/8"])));
        assert!(cidrs_subset(&s(&["11.0.0.0/16"]), &[]));
    }

    #[test]
    fn metadata_forms() {
        let m = metadata(&body(json!({"metadata": "{\"tag\": \"prod\"}"}))).unwrap();
        assert_eq!(m.get("tag").map(String::as_str), Some("prod"));
        let m = metadata(&body(json!({"metadata": {"a": "b"}}))).unwrap();
        assert_eq!(m.len(), 1);
        assert!(metadata(&body(json!({"metadata": "{\"n\": 1}"}))).is_err());
        assert!(metadata(&body(json!({"metadata": "nope"}))).is_err());
        assert!(metadata(&body(json!({}))).unwrap().is_empty());
    }

    #[test]
    fn role_names() {
        assert_eq!(role_name("My.App_1 x").unwrap(), "my.app_1 x");
        assert!(role_name("a/b").is_err());
        assert!(role_name("..").is_err());
        assert!(role_name("").is_err());
    }
}
