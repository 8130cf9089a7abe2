//! Claims: finding a claim by name or JSON pointer (RFC 6901, `/a/b`), comparing claims with
//! a role's `bound_claims` (exact text or `*` globs; either side may be a list, and any
//! pair matching is enough), audiences, and copying claims into metadata.
//!
//! Error texts name claims, never their values, so nothing from the token is echoed back.

use std::collections::BTreeMap;

use secrethub_engine::JsonMap;
use serde_json::Value;

/// The claim `spec` names: a top-level claim, or a JSON pointer when it starts with `/`.
/// A JSON `null` counts as missing.
pub(crate) fn lookup<'a>(claims: &'a JsonMap, spec: &str) -> Option<&'a Value> {
    let found = match spec.strip_prefix('/') {
        None => claims.get(spec),
        Some(rest) => {
            let mut parts = rest.split('/').map(unescape);
            let first = parts.next()?;
            let mut cur = claims.get(&first)?;
            for part in parts {
                cur = match cur {
                    Value::Object(m) => m.get(&part)?,
                    Value::Array(items) => items.get(array_index(&part)?)?,
                    _ => return None,
                };
            }
            Some(cur)
        }
    };
    found.filter(|v| !v.is_null())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// RFC 6901 array indexes: digits without leading zeros.
fn array_index(token: &str) -> Option<usize> {
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    ok.then(|| token.parse().ok()).flatten()
}

/// Whether `spec` is a usable claim name: non-empty, and a well-formed pointer when it
/// starts with `/` (`~` only as `~0` or `~1`).
pub(crate) fn valid_spec(spec: &str) -> bool {
    if spec.is_empty() {
        return false;
    }
    if !spec.starts_with('/') {
        return true;
    }
    let bytes = spec.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(i, b)| *b != b'~' || matches!(bytes.get(i + 1), Some(b'0') | Some(b'1')))
}

/// A scalar claim as text: strings as they are, booleans as `true`/`false`, integral
/// numbers without a fraction. `None` for arrays, objects and null.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Some(i.to_string());
            }
            if let Some(u) = n.as_u64() {
                return Some(u.to_string());
            }
            let f = n.as_f64()?;
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Some(format!("{}", f as i64))
            } else {
                Some(n.to_string())
            }
        }
        _ => None,
    }
}

/// A scalar or a list of scalars as a list of texts (providers often send a one-item list as
/// a plain string). List items that are not scalars are skipped; `None` for objects.
pub(crate) fn texts(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => Some(items.iter().filter_map(scalar_text).collect()),
        other => scalar_text(other).map(|s| vec![s]),
    }
}

pub(crate) use secrethub_common::glob::glob_match;

/// Checks every bound claim against the claims `lookup` finds. `bound` values were validated
/// when the role was written (scalars or lists of scalars; strings only for globs).
pub(crate) fn check_bound_claims<'a>(
    bound: &BTreeMap<String, Value>,
    glob: bool,
    lookup: impl Fn(&str) -> Option<&'a Value>,
) -> Result<(), String> {
    for (claim, expected) in bound {
        let actual = lookup(claim).ok_or_else(|| format!("claim {claim:?} is missing"))?;
        let actual = texts(actual)
            .ok_or_else(|| format!("claim {claim:?} is not a string, number, boolean or list"))?;
        let expected = texts(expected).unwrap_or_default();
        let matched = expected.iter().any(|e| {
            actual
                .iter()
                .any(|a| if glob { glob_match(e, a) } else { e == a })
        });
        if !matched {
            return Err(format!(
                "claim {claim:?} does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

/// The `aud` claim as a list: absent is empty, a string is one audience.
pub(crate) fn audiences(claims: &JsonMap) -> Result<Vec<String>, String> {
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "invalid audience (aud) claim: not a string or list of strings".into()),
        Some(_) => Err("invalid audience (aud) claim: not a string or list of strings".into()),
    }
}

/// Vault's audience rule for JWT roles: with bound audiences, one of them must be in `aud`;
/// without, the token must not name any audience.
pub(crate) fn check_audience(bound: &[String], aud: &[String]) -> Result<(), String> {
    if bound.is_empty() {
        if !aud.is_empty() {
            return Err("audience claim found in JWT but no audiences bound to the role".into());
        }
        return Ok(());
    }
    if bound.iter().any(|b| aud.contains(b)) {
        Ok(())
    } else {
        Err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        )
    }
}

/// Copies claims into metadata per `claim_mappings` (claim → key). Missing claims are
/// skipped; a claim that is not a scalar is an error naming it.
pub(crate) fn mapped_metadata(
    claims: &JsonMap,
    mappings: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (claim, key) in mappings {
        if let Some(v) = lookup(claims, claim) {
            let text = scalar_text(v)
                .ok_or_else(|| format!("error converting claim {claim:?} to string"))?;
            out.insert(key.clone(), text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test claims are objects"),
        }
    }

    #[test]
    fn looks_up_names_and_pointers() {
        let c = claims(json!({
            "sub": "x", "a/b": 1, "nested": {"k": {"x~y": "deep"}, "list": ["p", "q"]}, "n": null
        }));
        assert_eq!(lookup(&c, "sub"), Some(&json!("x")));
        assert_eq!(lookup(&c, "a/b"), Some(&json!(1)));
        assert_eq!(lookup(&c, "/nested/k/x~0y"), Some(&json!("deep")));
        assert_eq!(lookup(&c, "/nested/list/1"), Some(&json!("q")));
        assert_eq!(lookup(&c, "/nested/list/01"), None);
        assert_eq!(lookup(&c, "/nested/missing"), None);
        assert_eq!(lookup(&c, "n"), None);
        assert!(
            valid_spec("/a~1b") && valid_spec("plain") && !valid_spec("/a~2") && !valid_spec("")
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("refs/heads/*", "refs/heads/main"));
        assert!(glob_match("*", ""));
        assert!(glob_match(
            "repo:acme/*:ref:refs/heads/*",
            "repo:acme/api:ref:refs/heads/x"
        ));
        assert!(!glob_match(
            "repo:acme/*:ref:refs/heads/*",
            "repo:evil/api:ref:refs/tags/x"
        ));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*a", "a"));
        assert!(!glob_match("main", "main2"));
    }

    #[test]
    fn bound_claims_match_lists_and_scalars() {
        let c = claims(json!({"groups": ["dev", "ops"], "protected": "true", "id": 42, "obj": {}}));
        let get = |s: &str| lookup(&c, s);
        let bound = |v: Value| -> BTreeMap<String, Value> {
            match v {
                Value::Object(m) => m.into_iter().collect(),
                _ => unreachable!(),
            }
        };
        assert!(check_bound_claims(&bound(json!({"groups": "ops"})), false, get).is_ok());
        assert!(check_bound_claims(&bound(json!({"groups": ["x", "dev"]})), false, get).is_ok());
        assert!(
            check_bound_claims(&bound(json!({"protected": true, "id": "42"})), false, get).is_ok()
        );
        let err = check_bound_claims(&bound(json!({"groups": "admin"})), false, get).unwrap_err();
        assert_eq!(
            err,
            "claim \"groups\" does not match any associated bound claim values"
        );
        let err = check_bound_claims(&bound(json!({"env": "prod"})), false, get).unwrap_err();
        assert_eq!(err, "claim \"env\" is missing");
        assert!(check_bound_claims(&bound(json!({"obj": "x"})), false, get).is_err());
        assert!(check_bound_claims(&bound(json!({"groups": "o*"})), true, get).is_ok());
    }

    #[test]
    fn audience_rules() {
        let c = claims(json!({"aud": "vault"}));
        assert_eq!(audiences(&c).unwrap(), ["vault"]);
        assert!(audiences(&claims(json!({"aud": [1]}))).is_err());
        assert!(check_audience(&["vault".into()], &["vault".into()]).is_ok());
        assert!(check_audience(&["x".into()], &["vault".into()]).is_err());
        assert!(check_audience(&[], &["vault".into()]).is_err());
        assert!(check_audience(&[], &[]).is_ok());
    }
}
