//! What `server` hands to core and gets back: HTTP-free request and response types.

use std::net::IpAddr;
use std::time::Duration;

use secrethub_common::{JsonMap, Sensitive};
use secrethub_engine::RawBody;
use serde::{Deserialize, Serialize};

/// The HTTP method as the Vault API sees it (LIST is a method of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// PUT or POST (Vault treats them alike)
    Write,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// LIST, or GET with `?list=true`
    List,
}

/// One API request, already decoded from HTTP.
pub struct CoreRequest {
    /// Unique ID, echoed as `request_id`.
    pub id: String,
    /// Method.
    pub method: Method,
    /// Path after `/v1/`, without leading slash.
    pub path: String,
    /// JSON body (or query parameters for GET/LIST).
    pub body: JsonMap,
    /// The client token from `X-Vault-Token`, `Authorization: Bearer` or `X-Agent-Token`.
    pub token: Option<Sensitive<String>>,
    /// The client address.
    pub remote_addr: Option<IpAddr>,
    /// `X-Vault-Wrap-TTL`, when the client asked for a wrapped response.
    pub wrap_ttl: Option<Duration>,
    /// Labels stored on a lease this request creates (the seed endpoint's `metadata`).
    pub lease_metadata: std::collections::BTreeMap<String, String>,
    /// A write's body that is not JSON, as sent (`body` is then empty); only paths whose row
    /// takes one (`PathFlags::raw_body`) accept it, any other answers 400.
    pub raw_body: Option<secrethub_engine::RawInput>,
}

/// A raw answer as response data, in Vault's field names: what audit devices record (every
/// string HMACed, so the body is never written in clear) and what a wrapped raw answer
/// holds. The body is base64 (standard, padded), as Go's JSON encodes Vault's `[]byte`.
pub(crate) fn raw_as_data(raw: &RawBody) -> JsonMap {
    use base64::Engine as _;
    let mut data = JsonMap::new();
    data.insert("http_content_type".into(), raw.content_type.clone().into());
    data.insert(
        "http_raw_body".into(),
        base64::engine::general_purpose::STANDARD
            .encode(&raw.body)
            .into(),
    );
    data.insert("http_status_code".into(), raw.status.into());
    data
}

/// The `auth` block of a response that created a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthBlock {
    /// The new token (hmac'd in audit).
    pub client_token: String,
    /// Its accessor.
    pub accessor: String,
    /// Policies including `default`.
    pub policies: Vec<String>,
    /// Same as `policies` (Vault prints both).
    pub token_policies: Vec<String>,
    /// Metadata.
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
    /// TTL in seconds.
    pub lease_duration: u64,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// Entity ID (empty without identity).
    pub entity_id: String,
    /// `service`.
    pub token_type: String,
    /// Whether the token has no parent.
    pub orphan: bool,
    /// Always null (no MFA).
    pub mfa_requirement: Option<()>,
    /// Remaining uses (0 = unlimited).
    pub num_uses: u64,
}

/// The `wrap_info` block of a wrapped response.
#[derive(Debug, Clone, Serialize)]
pub struct WrapInfo {
    /// The single-use wrapping token.
    pub token: String,
    /// Its accessor.
    pub accessor: String,
    /// TTL in seconds.
    pub ttl: u64,
    /// RFC 3339.
    pub creation_time: String,
    /// The path whose response was wrapped.
    pub creation_path: String,
    /// Accessor of a wrapped token, if the wrapped response created one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

/// A lease attached to a response.
#[derive(Debug, Clone, Default)]
pub struct LeaseBlock {
    /// The lease ID.
    pub lease_id: String,
    /// Seconds.
    pub duration: u64,
    /// Renewable.
    pub renewable: bool,
}

/// What core answers; `server` renders Vault's envelope from it.
#[derive(Debug, Default)]
pub struct CoreResponse {
    /// `data`.
    pub data: Option<JsonMap>,
    /// `auth`, when a token was created.
    pub auth: Option<AuthBlock>,
    /// Lease fields.
    pub lease: Option<LeaseBlock>,
    /// `wrap_info`, when wrapped (then `data` and `auth` are empty).
    pub wrap_info: Option<WrapInfo>,
    /// `warnings`.
    pub warnings: Vec<String>,
    /// `mount_type` of the mount that served the request.
    pub mount_type: String,
    /// Extra top-level fields some `sys/` endpoints return beside `data`, as Vault does.
    pub top_level: Option<JsonMap>,
    /// The operation is reported as started rather than done (HTTP 202 Accepted, as Vault
    /// answers a tidy); rendered with the envelope even without `data`.
    pub accepted: bool,
    /// An engine's raw answer, rendered as it is instead of the envelope (then nothing else
    /// is set).
    pub raw: Option<RawBody>,
}

impl CoreResponse {
    /// A response carrying `data`.
    pub fn data(data: JsonMap) -> Self {
        CoreResponse {
            data: Some(data),
            ..Default::default()
        }
    }

    /// An operation reported as started (HTTP 202), with `warnings` as its only content.
    pub fn accepted(warnings: Vec<String>) -> Self {
        CoreResponse {
            warnings,
            accepted: true,
            ..Default::default()
        }
    }

    /// Whether this renders as HTTP 204.
    pub fn is_empty(&self) -> bool {
        !self.accepted
            && self.raw.is_none()
            && self.data.is_none()
            && self.auth.is_none()
            && self.wrap_info.is_none()
            && self.warnings.is_empty()
            && self.top_level.is_none()
    }
}
