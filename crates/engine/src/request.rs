//! The request an engine receives and the response it returns.

use std::net::IpAddr;
use std::time::Duration;

use secrethub_common::{input, JsonMap, UnixTime};
use secrethub_storage::StorageView;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The operation of a request. Create and update stay apart so the ACL can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// GET.
    Read,
    /// A write to a path that does not exist yet (per [`crate::Engine::exists`]).
    Create,
    /// A write to an existing path (or one the engine does not distinguish).
    Update,
    /// PATCH (JSON merge).
    Patch,
    /// DELETE.
    Delete,
    /// LIST, or GET with `?list=true`.
    List,
}

impl Operation {
    /// Whether this operation writes (create, update or patch).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Operation::Create | Operation::Update | Operation::Patch
        )
    }

    /// Vault's lowercase name, as used in audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
        }
    }
}

/// Who is calling, as far as an engine needs to know. Never the token itself.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The token's display name (`root`, `token`, `userpass-alice`).
    pub display_name: String,
    /// The token's accessor, if the request had a token.
    pub token_accessor: Option<String>,
    /// The entity the token belongs to, if any.
    pub entity_id: Option<String>,
    /// The token's policies.
    pub policies: Vec<String>,
    /// The client's address, when the request came over the network.
    pub remote_addr: Option<IpAddr>,
}

/// Facts about the mount a request arrived on.
#[derive(Debug, Clone, Default)]
pub struct MountInfo {
    /// The mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    /// The mount's accessor, e.g. `kv_1a2b3c4d`.
    pub accessor: String,
    /// The mount's default lease TTL (system default already applied).
    pub default_lease_ttl: Duration,
    /// The mount's max lease TTL (system default already applied).
    pub max_lease_ttl: Duration,
}

/// One request to an engine.
#[derive(Clone)]
pub struct Request {
    /// What to do.
    pub op: Operation,
    /// The path relative to the mount, without a leading or trailing slash (`data/app/db`).
    pub path: String,
    /// The JSON body; for reads and lists, the query parameters.
    pub body: JsonMap,
    /// The mount's own storage.
    pub storage: StorageView,
    /// Who is calling.
    pub caller: Caller,
    /// Where the request arrived.
    pub mount: MountInfo,
    /// Where to record intents before creating things upstream (see [`crate::IntentLog`]);
    /// `None` where core does not register leases (e.g. in engine unit tests).
    pub intents: Option<std::sync::Arc<dyn crate::IntentLog>>,
    /// Where to set the mount's timers (see [`crate::TimerLog`]); `None` where core runs no
    /// timers (engine unit tests), and then [`Request::schedule`] does nothing.
    pub timers: Option<std::sync::Arc<dyn crate::TimerLog>>,
    /// A write's body as sent, when it was not JSON (its content type is not JSON, form or
    /// text) and the path's row takes one ([`crate::PathFlags::raw_body`]); `body` is then
    /// empty.
    pub raw_body: Option<RawInput>,
}

/// A request body that is not JSON, with its content type.
#[derive(Clone, PartialEq, Eq)]
pub struct RawInput {
    /// The `Content-Type` header as sent, e.g. `application/ocsp-request`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

// The body may be secret: Debug shows its length only.
impl std::fmt::Debug for RawInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawInput")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

// Debug shows the body's keys only: values may be secrets.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("op", &self.op)
            .field("path", &self.path)
            .field("body_keys", &self.body.keys().collect::<Vec<_>>())
            .field("mount", &self.mount.path)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// Decodes the body into `T` with Vault's rules (`secrethub_common::input`: `null` is
    /// "not given", weak typing). A value that does not fit is a 400 naming the field.
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T, EngineError> {
        Ok(input::decode(&self.body)?)
    }

    /// One field of the body decoded with Vault's rules; `None` when absent or `null`.
    pub fn field<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, EngineError> {
        Ok(input::field(&self.body, name)?)
    }

    /// Records an intent before a side effect (see [`crate::IntentLog`]). Fails when this
    /// request cannot carry a lease.
    pub async fn record_intent(&self, internal: &serde_json::Value) -> Result<(), EngineError> {
        match &self.intents {
            Some(log) => log.record(internal).await,
            None => Err(EngineError::Internal(anyhow::anyhow!(
                "this request cannot record lease intents"
            ))),
        }
    }

    /// Sets the mount's timer `key` to fire at `at` (Unix seconds), replacing an earlier
    /// setting (see [`crate::TimerLog`]).
    pub async fn schedule(&self, key: &str, at: UnixTime) -> Result<(), EngineError> {
        match &self.timers {
            Some(timers) => timers.set(key, at).await,
            None => Ok(()),
        }
    }

    /// Removes the mount's timer `key`, if set.
    pub async fn unschedule(&self, key: &str) -> Result<(), EngineError> {
        match &self.timers {
            Some(timers) => timers.clear(key).await,
            None => Ok(()),
        }
    }

    /// A string field of the body with Vault's rules (numbers stringified); `None` when
    /// absent, `null` or not a string.
    pub fn str_field(&self, name: &str) -> Option<String> {
        input::field(&self.body, name).ok().flatten()
    }
}

/// The warning of a tidy, which Vault and OpenBao answer with 202 Accepted ([`Response::accepted`]).
/// Ours tidy before answering, but clients expect this answer.
pub const TIDY_STARTED: &str = "Tidy operation successfully started. Any information from the \
     operation will be printed to SecretHub's server logs.";

/// What an engine answers. `data: None` with no warnings becomes HTTP 204.
#[derive(Default)]
pub struct Response {
    /// The `data` object of Vault's envelope.
    pub data: Option<JsonMap>,
    /// A lease for what this response hands out; core registers it before replying.
    pub lease: Option<NewLease>,
    /// Non-fatal notes for the client.
    pub warnings: Vec<String>,
    /// A successful login (auth methods only): core mints a token for it.
    pub auth: Option<Box<crate::LoginAuth>>,
    /// The operation is reported as started rather than done (Vault's HTTP 202 Accepted,
    /// which it answers for a tidy), with the envelope even when there is no `data`.
    pub accepted: bool,
    /// A body answered as it is instead of Vault's JSON envelope ([`Response::raw`]); `data`,
    /// `warnings` and `accepted` are then not rendered, and it cannot carry a lease or a login.
    pub raw: Option<RawBody>,
}

/// A body answered byte for byte with its own content type and status, instead of Vault's
/// JSON envelope: a PEM certificate, a DER CRL, an OCSP response (Vault's `http_raw_body`,
/// `http_content_type` and `http_status_code`). Audit devices record it as those three
/// fields, HMACed like any response data; a wrapped raw answer is wrapped as them.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The HTTP status, 200 unless the engine says otherwise.
    pub status: u16,
    /// The `Content-Type` header, e.g. `application/pkix-cert`.
    pub content_type: String,
    /// The bytes, sent as they are.
    pub body: Vec<u8>,
    /// More response headers (ACME's `Replay-Nonce`, `Location`, `Link`); names and values
    /// HTTP cannot carry, and the framing headers core sets itself, are a 500.
    pub headers: Vec<(String, String)>,
}

// The body may be secret (an exported key): Debug shows its length only.
impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("headers", &self.headers.len())
            .finish()
    }
}

impl Response {
    /// A response carrying `data`.
    pub fn data(data: JsonMap) -> Self {
        Response {
            data: Some(data),
            ..Default::default()
        }
    }

    /// A login response: core answers with the minted token in Vault's `auth` block.
    pub fn login(auth: crate::LoginAuth) -> Self {
        Response {
            auth: Some(Box::new(auth)),
            ..Default::default()
        }
    }

    /// A response with no body (HTTP 204).
    pub fn empty() -> Self {
        Response::default()
    }

    /// An operation reported as started (HTTP 202), with `warnings` as its only content.
    pub fn accepted(warnings: Vec<String>) -> Self {
        Response {
            warnings,
            accepted: true,
            ..Default::default()
        }
    }

    /// A raw answer (HTTP 200): `body` exactly as given, with `content_type`.
    pub fn raw(content_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Response::raw_with_status(200, content_type, body)
    }

    /// A raw answer with its own HTTP status (e.g. 201 for a created ACME account).
    pub fn raw_with_status(
        status: u16,
        content_type: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Response {
            raw: Some(RawBody {
                status,
                content_type: content_type.into(),
                body: body.into(),
                headers: Vec::new(),
            }),
            ..Default::default()
        }
    }

    /// Adds a header to a raw answer ([`RawBody::headers`]); a JSON answer is unchanged.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(raw) = self.raw.as_mut() {
            raw.headers.push((name.into(), value.into()));
        }
        self
    }

    /// A LIST answer: `{"keys": [...]}`; an empty list is a 404 as in Vault.
    pub fn list(keys: Vec<String>) -> Result<Self, EngineError> {
        if keys.is_empty() {
            return Err(EngineError::NotFound);
        }
        let mut m = JsonMap::new();
        m.insert("keys".into(), serde_json::Value::from(keys));
        Ok(Response::data(m))
    }
}

/// What an engine asks for when it hands out something that must be revoked later.
#[derive(Clone)]
pub struct NewLease {
    /// The engine's own data, given back to [`crate::Engine::revoke`] and `renew`.
    pub internal: serde_json::Value,
    /// The lease's duration and renewability.
    pub terms: LeaseTerms,
}

/// Duration terms of a lease; core caps them at the mount's and system's max TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseTerms {
    /// Requested TTL (zero = the mount default).
    pub ttl: Duration,
    /// The engine's own max TTL (zero = the mount max).
    pub max_ttl: Duration,
    /// Whether renewal is allowed.
    pub renewable: bool,
}

/// How a revocation for a waiting caller ended ([`crate::Engine::revoke_for_caller`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Revocation {
    /// Done, and durable upstream.
    Durable,
    /// In effect upstream already (the credential no longer works), durable there shortly
    /// after: a database commit that did not wait for its disk flush, say. Core keeps this
    /// receipt with the lease's data and calls [`crate::Engine::confirm_revocations`] until
    /// the revocation is confirmed, across restarts.
    Unconfirmed(serde_json::Value),
}

/// A revocation answered [`Revocation::Unconfirmed`], given back to its engine to confirm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnconfirmedRevocation {
    /// The revoked lease, as the engine saw it when revoking.
    pub lease: LeaseInfo,
    /// What the engine answered.
    pub receipt: serde_json::Value,
}

/// A lease as given back to the engine that created it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The full lease ID (`database/creds/ro/abc123`).
    pub lease_id: String,
    /// The request path that created it, relative to the mount.
    pub path: String,
    /// The engine's own data: what `NewLease::internal` held, or the recorded intent when the
    /// lease was never confirmed.
    pub internal: serde_json::Value,
    /// Whether the lease was confirmed (false: only the intent was recorded).
    pub confirmed: bool,
    /// When it was issued.
    pub issue_time: UnixTime,
    /// When it expires; for `renew`, the new expiry to apply upstream.
    pub expire_time: UnixTime,
}
