//! One module per command group; each exposes its clap arguments and an async `run`.
//!
//! Commands are thin: build the path and body, call the client, print the answer in Vault's
//! shape. Command argument structs do not derive `Debug`: several carry tokens or key shares.

pub(crate) mod advise;
pub(crate) mod agent;
pub(crate) mod audit;
pub(crate) mod generic;
pub(crate) mod kv;
pub(crate) mod lease;
pub(crate) mod login;
pub(crate) mod operator;
pub(crate) mod policy;
pub(crate) mod scan;
pub(crate) mod secrets;
pub(crate) mod token;

use serde_json::Value;

/// Trims whitespace and surrounding slashes, as Vault does with every path argument.
pub(crate) fn sanitize_path(path: &str) -> String {
    path.trim().trim_matches('/').to_string()
}

/// `path/` (mount paths are shown and listed with a trailing slash).
pub(crate) fn ensure_trailing_slash(path: &str) -> String {
    let path = path.trim();
    if path.is_empty() || path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

/// The `data` object of an answer; `sys/` endpoints answer at the top level in Vault, and
/// SecretHub may answer either way, so both are accepted.
pub(crate) fn body_data(body: &Value) -> Value {
    match body.get("data") {
        Some(data @ Value::Object(map)) if !map.is_empty() => data.clone(),
        _ => body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_helpers() {
        assert_eq!(sanitize_path(" /secret/app/ "), "secret/app");
        assert_eq!(ensure_trailing_slash("secret"), "secret/");
        assert_eq!(ensure_trailing_slash("secret/"), "secret/");
        assert_eq!(
            body_data(&json!({"data": {"a": 1}, "a": 1})),
            json!({"a": 1})
        );
        assert_eq!(
            body_data(&json!({"term": 2, "data": null})),
            json!({"term": 2, "data": null})
        );
    }
}
