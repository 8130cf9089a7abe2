//! The audit entry data model: one `AuditEvent` per request and one per response.
//!
//! Field names follow Vault's file audit device JSON, and like Vault (`omitempty`) empty values
//! are left out, so tools that parse Vault audit logs read ours.
//! Core fills these structs with *raw* values; a device HMACs them (see `hashing`) before writing.
//! `Debug` never shows tokens, accessors or data, because these structs hold them in clear.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether an entry records the request as received or the response as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Logged before the request is routed; `response` is `None`.
    #[default]
    Request,
    /// Logged after the handler ran; carries `response` or `error`.
    Response,
}

/// One audit entry, written as one JSON line.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditEvent {
    /// RFC 3339 time the entry was produced (`secrethub_common::format_rfc3339`).
    pub time: String,
    /// `"request"` or `"response"`.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The calling token, when the request carried a valid one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuditAuth>,
    /// The request as received.
    pub request: AuditRequest,
    /// The response; only on `Response` entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<AuditResponse>,
    /// The error returned to the client, if any; never contains secret values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The caller's token as Vault's audit `auth` object shows it.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditAuth {
    /// The token itself; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// The token's accessor; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessor: Option<String>,
    /// Human-readable name, e.g. `token` or `userpass-alice`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// All policies that apply (token and identity).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Policies attached to the token itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_policies: Vec<String>,
    /// Token metadata; logged in clear as Vault does (it names things, it holds no secrets).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Identity entity, empty when none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity_id: String,
    /// `service`, `batch`, ...
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// Remaining TTL in seconds; 0 (omitted) for tokens that never expire.
    #[serde(skip_serializing_if = "is_zero")]
    pub token_ttl: i64,
}

/// The request part of an entry (Vault's audit `request` object).
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditRequest {
    /// Request ID, shared by the request and response entries.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Vault's operation name: `read`, `create`, `update`, `patch`, `delete`, `list`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// Type of the mount serving the path, e.g. `kv`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
    /// Accessor of that mount (not a secret: mount accessors are public).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mount_accessor: String,
    /// The token sent with the request; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// That token's accessor; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token_accessor: Option<String>,
    /// The full request path, e.g. `secret/data/app`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The request body; every string leaf is HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Client IP address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_address: String,
    /// Requested response-wrapping TTL in seconds, 0 when not wrapping.
    #[serde(skip_serializing_if = "is_zero")]
    pub wrap_ttl: i64,
    /// Labels the caller put on the lease this request creates (the seed endpoint's
    /// `metadata`). Written in clear: they describe the purpose of a credential, not a secret.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lease_metadata: BTreeMap<String, String>,
}

/// The response part of an entry (Vault's audit `response` object).
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditResponse {
    /// Type of the mount that answered.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
    /// The response data; every string leaf is HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The token a login or token-create minted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuditResponseAuth>,
    /// The lease handed out, logged in clear; Vault nests it as `"secret": {"lease_id": ...}`.
    #[serde(
        rename = "secret",
        with = "secret_lease",
        skip_serializing_if = "Option::is_none"
    )]
    pub lease_id: Option<String>,
    /// Response-wrapping details when the response was wrapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_info: Option<AuditWrapInfo>,
    /// Warnings returned to the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A token minted by the request (Vault logs it with the same `auth` shape as the caller's).
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditResponseAuth {
    /// The new token; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// The new token's accessor; HMACed by the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessor: Option<String>,
    /// Human-readable name of the new token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// All policies of the new token.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Policies attached to the new token itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_policies: Vec<String>,
    /// Metadata of the new token, in clear.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Identity entity of the new token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity_id: String,
    /// `service`, `batch`, ...
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// The new token's lease duration in seconds; Vault's audit JSON calls it `token_ttl`.
    #[serde(skip_serializing_if = "is_zero")]
    pub token_ttl: i64,
}

/// Response-wrapping details (Vault's audit `wrap_info` object).
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditWrapInfo {
    /// The wrapping token; HMACed by the device.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// The wrapping token's accessor; HMACed by the device.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub accessor: String,
    /// Wrapping TTL in seconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub ttl: i64,
    /// RFC 3339 creation time of the wrapping token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub creation_time: String,
    /// The path whose response was wrapped.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub creation_path: String,
    /// Accessor of a token that was wrapped, if the wrapped response minted one; HMACed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Maps `lease_id: Option<String>` to Vault's `"secret": {"lease_id": "..."}`.
mod secret_lease {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Secret {
        #[serde(default)]
        lease_id: String,
    }

    pub(super) fn serialize<S: Serializer>(
        lease_id: &Option<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        // Only called for `Some`: the field is skipped when `None`.
        let lease_id = lease_id.clone().unwrap_or_default();
        Secret { lease_id }.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let secret = Option::<Secret>::deserialize(d)?;
        Ok(secret
            .map(|s| s.lease_id)
            .filter(|lease_id| !lease_id.is_empty()))
    }
}

// The `Debug` impls below show only what identifies an entry; tokens, accessors and data
// are replaced by a marker, so a stray `{:?}` in a log line cannot leak them.

const REDACTED: &str = "<redacted>";

fn redacted_if_some<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

impl fmt::Debug for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditEvent")
            .field("time", &self.time)
            .field("kind", &self.kind)
            .field("auth", &self.auth)
            .field("request", &self.request)
            .field("response", &self.response)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Debug for AuditAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditAuth")
            .field("client_token", &redacted_if_some(&self.client_token))
            .field("accessor", &redacted_if_some(&self.accessor))
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("token_type", &self.token_type)
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuditRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditRequest")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("mount_type", &self.mount_type)
            .field("client_token", &redacted_if_some(&self.client_token))
            .field(
                "client_token_accessor",
                &redacted_if_some(&self.client_token_accessor),
            )
            .field("path", &self.path)
            .field("data", &redacted_if_some(&self.data))
            .field("remote_address", &self.remote_address)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuditResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditResponse")
            .field("mount_type", &self.mount_type)
            .field("data", &redacted_if_some(&self.data))
            .field("auth", &self.auth)
            .field("lease_id", &self.lease_id)
            .field("wrap_info", &self.wrap_info)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl fmt::Debug for AuditResponseAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditResponseAuth")
            .field("client_token", &redacted_if_some(&self.client_token))
            .field("accessor", &redacted_if_some(&self.accessor))
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("token_type", &self.token_type)
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuditWrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditWrapInfo")
            .field("token", &REDACTED)
            .field("ttl", &self.ttl)
            .field("creation_time", &self.creation_time)
            .field("creation_path", &self.creation_path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event_with_secrets() -> AuditEvent {
        AuditEvent {
            kind: EventKind::Response,
            auth: Some(AuditAuth {
                client_token: Some("tok-secret".into()),
                accessor: Some("acc-secret".into()),
                ..Default::default()
            }),
            request: AuditRequest {
                client_token: Some("tok-secret".into()),
                data: Some(json!({"password": "data-secret"})),
                path: "secret/data/app".into(),
                ..Default::default()
            },
            response: Some(AuditResponse {
                data: Some(json!({"value": "data-secret"})),
                auth: Some(AuditResponseAuth {
                    client_token: Some("tok-secret".into()),
                    ..Default::default()
                }),
                wrap_info: Some(AuditWrapInfo {
                    token: "tok-secret".into(),
                    ..Default::default()
                }),
                lease_id: Some("secret/lease/1".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn debug_never_shows_tokens_or_data() {
        let shown = format!("{:?}", event_with_secrets());
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(!shown.contains("acc-secret"), "{shown}");
        assert!(!shown.contains("data-secret"), "{shown}");
        assert!(shown.contains("secret/data/app"), "{shown}");
    }

    #[test]
    fn lease_id_is_nested_under_secret_and_reads_back() {
        let event = event_with_secrets();
        let value = serde_json::to_value(&event).expect("serialize");
        assert_eq!(
            value["response"]["secret"],
            json!({"lease_id": "secret/lease/1"})
        );
        assert_eq!(value["type"], "response");
        let back: AuditEvent = serde_json::from_value(value).expect("deserialize");
        assert!(back == event, "round trip changed the entry");
    }
}
