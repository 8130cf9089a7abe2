//! HMAC-SHA256 of sensitive audit values, keyed per device, in Vault's `hmac-sha256:<hex>` form.
//!
//! What is hashed follows Vault: tokens, accessors and wrapping tokens, plus every string leaf of
//! request and response `data` (map keys, numbers, booleans and nulls stay readable, so an operator
//! can still see which fields were sent and compare a known value with `sys/audit-hash`).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::event::{AuditAuth, AuditEvent, AuditResponseAuth, AuditWrapInfo};

/// Prefix Vault puts in front of every hashed value, so readers know what they are looking at.
const HMAC_PREFIX: &str = "hmac-sha256:";

/// `hmac-sha256:<hex>` of `value` keyed with `key`; also what `sys/audit-hash/:path` returns.
pub fn hash_value(key: &[u8], value: &str) -> String {
    // HMAC accepts keys of any length (long keys are hashed first), so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(HMAC_PREFIX.len() + digest.len() * 2);
    out.push_str(HMAC_PREFIX);
    out.push_str(&hex::encode(digest));
    out
}

/// A copy of `event` with every sensitive value replaced by its HMAC; what a device writes.
pub fn hash_event(event: &AuditEvent, key: &[u8]) -> AuditEvent {
    let mut hashed = event.clone();
    if let Some(auth) = &mut hashed.auth {
        hash_auth(auth, key);
    }
    let request = &mut hashed.request;
    hash_opt(&mut request.client_token, key);
    hash_opt(&mut request.client_token_accessor, key);
    if let Some(data) = &mut request.data {
        hash_json(data, key);
    }
    if let Some(response) = &mut hashed.response {
        if let Some(data) = &mut response.data {
            hash_json(data, key);
        }
        if let Some(auth) = &mut response.auth {
            hash_response_auth(auth, key);
        }
        if let Some(wrap_info) = &mut response.wrap_info {
            hash_wrap_info(wrap_info, key);
        }
    }
    hashed
}

/// Replaces every string leaf of `value`, at any depth, by its HMAC; object keys are kept.
pub(crate) fn hash_json(value: &mut Value, key: &[u8]) {
    match value {
        Value::String(s) => *s = hash_value(key, s),
        Value::Array(items) => items.iter_mut().for_each(|item| hash_json(item, key)),
        Value::Object(map) => map.values_mut().for_each(|item| hash_json(item, key)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn hash_opt(value: &mut Option<String>, key: &[u8]) {
    if let Some(v) = value {
        hash_nonempty(v, key);
    }
}

/// Empty strings mean "absent" in these structs and are skipped when written, so leave them.
fn hash_nonempty(value: &mut String, key: &[u8]) {
    if !value.is_empty() {
        *value = hash_value(key, value);
    }
}

fn hash_auth(auth: &mut AuditAuth, key: &[u8]) {
    hash_opt(&mut auth.client_token, key);
    hash_opt(&mut auth.accessor, key);
}

fn hash_response_auth(auth: &mut AuditResponseAuth, key: &[u8]) {
    hash_opt(&mut auth.client_token, key);
    hash_opt(&mut auth.accessor, key);
}

fn hash_wrap_info(wrap_info: &mut AuditWrapInfo, key: &[u8]) {
    hash_nonempty(&mut wrap_info.token, key);
    hash_nonempty(&mut wrap_info.accessor, key);
    hash_nonempty(&mut wrap_info.wrapped_accessor, key);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{AuditRequest, AuditResponse, EventKind};

    const KEY: &[u8] = b"device-key";

    #[test]
    fn hash_value_is_vault_shaped_keyed_and_stable() {
        let h = hash_value(KEY, "s.token");
        assert!(h.starts_with("hmac-sha256:"));
        assert_eq!(h.len(), "hmac-sha256:".len() + 64);
        assert_eq!(h, hash_value(KEY, "s.token"));
        assert_ne!(h, hash_value(b"other-key", "s.token"));
        assert_ne!(h, hash_value(KEY, "s.token2"));
        // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
        assert_eq!(
            hash_value(b"Jefe", "what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn every_string_leaf_is_hashed_and_other_leaves_kept() {
        let mut data = json!({
            "password": "hunter2",
            "ttl": 3600,
            "enabled": true,
            "nothing": null,
            "nested": {"list": ["a", 7, {"deep": "b"}], "ratio": 0.5},
        });
        hash_json(&mut data, KEY);
        let h = |s| Value::String(hash_value(KEY, s));
        assert_eq!(
            data,
            json!({
                "password": h("hunter2"),
                "ttl": 3600,
                "enabled": true,
                "nothing": null,
                "nested": {"list": [h("a"), 7, {"deep": h("b")}], "ratio": 0.5},
            })
        );
    }

    #[test]
    fn tokens_accessors_and_wrap_tokens_are_hashed_but_paths_are_not() {
        let event = AuditEvent {
            time: "2024-01-01T00:00:00Z".into(),
            kind: EventKind::Response,
            auth: Some(AuditAuth {
                client_token: Some("caller-token".into()),
                accessor: Some("caller-accessor".into()),
                display_name: "token".into(),
                ..Default::default()
            }),
            request: AuditRequest {
                client_token: Some("caller-token".into()),
                client_token_accessor: Some("caller-accessor".into()),
                path: "auth/token/create".into(),
                data: Some(json!({"policies": ["dev"]})),
                ..Default::default()
            },
            response: Some(AuditResponse {
                auth: Some(AuditResponseAuth {
                    client_token: Some("new-token".into()),
                    accessor: Some("new-accessor".into()),
                    ..Default::default()
                }),
                wrap_info: Some(AuditWrapInfo {
                    token: "wrap-token".into(),
                    accessor: "wrap-accessor".into(),
                    wrapped_accessor: "wrapped-accessor".into(),
                    creation_path: "auth/token/create".into(),
                    ..Default::default()
                }),
                lease_id: Some("auth/token/create/abc".into()),
                ..Default::default()
            }),
            error: None,
        };
        let hashed = hash_event(&event, KEY);
        let h = |s| Some(hash_value(KEY, s));
        let auth = hashed
            .auth
            .as_ref()
            .map(|a| (a.client_token.clone(), a.accessor.clone()));
        assert_eq!(auth, Some((h("caller-token"), h("caller-accessor"))));
        assert_eq!(hashed.request.client_token, h("caller-token"));
        assert_eq!(hashed.request.client_token_accessor, h("caller-accessor"));
        assert_eq!(hashed.request.path, "auth/token/create");
        let response = hashed.response.as_ref().expect("response kept");
        let new_auth = response.auth.as_ref().expect("auth kept");
        assert_eq!(new_auth.client_token, h("new-token"));
        assert_eq!(new_auth.accessor, h("new-accessor"));
        let wrap = response.wrap_info.as_ref().expect("wrap_info kept");
        assert_eq!(Some(wrap.token.clone()), h("wrap-token"));
        assert_eq!(Some(wrap.accessor.clone()), h("wrap-accessor"));
        assert_eq!(Some(wrap.wrapped_accessor.clone()), h("wrapped-accessor"));
        assert_eq!(wrap.creation_path, "auth/token/create");
        assert_eq!(response.lease_id.as_deref(), Some("auth/token/create/abc"));
        // The original is untouched: core may hand the same event to several devices.
        assert_eq!(event.request.client_token.as_deref(), Some("caller-token"));
    }
}
