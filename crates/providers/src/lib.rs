//! Secret providers: where a `${secret:…}` reference is read from. `secrethub` (the agent's
//! own server, the default), `vault` (any Vault/OpenBao), `aws-sm` (AWS Secrets Manager),
//! `azure-kv` (Azure Key Vault) and `file` (a local YAML or dotenv file for development).
//!
//! [`Provider`] is the one trait; [`Providers`] is the configured set: it picks the provider
//! of a reference (explicit `name:` prefix, a configured path `prefix`, else `secrethub`),
//! caches non-leased answers with a TTL and a size bound, and falls back to another provider
//! when one fails (never when the secret simply does not exist).
//!
//! API Boundary: the agent, `secrethub run` and `secrethub template render` read secrets only
//! through [`Providers`]; values travel as [`Secret`], whose `Debug` shows field names only.

mod aws_sm;
mod azure_kv;
mod cache;
pub mod dotenv;
mod file;
mod file_format;
mod from_config;
mod http;
mod secrethub;
mod set;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::Sensitive;

pub use aws_sm::AwsSmProvider;
pub use azure_kv::AzureKvProvider;
pub use file::FileProvider;
pub use secrethub::SecretHubProvider;
pub use set::{ProviderOptions, Providers, BREAKER_OPEN, BREAKER_THRESHOLD, DEFAULT_PROVIDER};

/// A secret as read: its fields, and its lease when the server attached one.
#[derive(Clone, Default)]
pub struct Secret {
    /// Field name → value. Non-string JSON values are rendered as their JSON text.
    pub fields: BTreeMap<String, Sensitive<String>>,
    /// Present for dynamic secrets (database credentials): renew and revoke it.
    pub lease: Option<Lease>,
    /// A version marker that changes when the secret changes (KV v2 version, AWS
    /// `VersionId`, Azure version); used to notice rotation. `None` when unknown.
    pub version: Option<String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("lease", &self.lease)
            .field("version", &self.version)
            .finish()
    }
}

/// A lease on a secret, as the server gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub duration: Duration,
    pub renewable: bool,
}

/// What went wrong reading a secret. Messages name the provider and path, never a value.
#[derive(Debug, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    /// The provider's name.
    pub provider: String,
    pub message: String,
}

impl ProviderError {
    /// An error of `kind` from `provider`; `message` names paths and fields, never values.
    pub fn new(
        kind: ProviderErrorKind,
        provider: impl Into<String>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError {
            kind,
            provider: provider.into(),
            message: message.into(),
        }
    }

    /// The secret does not exist at `path`.
    pub fn not_found(provider: &str, path: &str) -> ProviderError {
        Self::new(
            ProviderErrorKind::NotFound,
            provider,
            format!("no secret at {path}"),
        )
    }
}

/// How a caller should react to a [`ProviderError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The secret (or the field) does not exist: no fallback, a clear error.
    NotFound,
    /// Permission denied or bad credentials.
    Denied,
    /// Unreachable, timed out, 5xx: a fallback provider may answer.
    Unavailable,
    /// Bad reference or bad configuration.
    Invalid,
    /// The provider cannot do this (renew on a provider without leases).
    Unsupported,
}

/// A provider's health, as `secrethub agent` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub healthy: bool,
    /// Why not, or a short status line.
    pub detail: String,
}

/// One secret store.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured name (`secrethub`, or the `provider "NAME"` label).
    fn name(&self) -> &str;
    /// Reads the secret at `path` (provider-specific meaning; see each implementation).
    async fn read(&self, path: &str) -> Result<Secret, ProviderError>;
    /// Renews a lease this provider handed out; `increment` is a request, the answer is the
    /// granted duration.
    async fn renew(&self, lease_id: &str, increment: Duration) -> Result<Lease, ProviderError> {
        let _ = (lease_id, increment);
        Err(self.unsupported("leases"))
    }
    /// Revokes a lease this provider handed out.
    async fn revoke(&self, lease_id: &str) -> Result<(), ProviderError> {
        let _ = lease_id;
        Err(self.unsupported("leases"))
    }
    /// A cheap probe of reachability and credentials.
    async fn health(&self) -> Health;

    /// The error for an operation this provider does not have.
    fn unsupported(&self, what: &str) -> ProviderError {
        ProviderError {
            kind: ProviderErrorKind::Unsupported,
            provider: self.name().to_string(),
            message: format!("this provider has no {what}"),
        }
    }
}

/// A JSON value as a field value: strings as they are, anything else as its JSON text.
pub(crate) fn field_text(value: &serde_json::Value) -> Sensitive<String> {
    match value {
        serde_json::Value::String(text) => Sensitive::new(text.clone()),
        other => Sensitive::new(other.to_string()),
    }
}

/// The fields of a JSON object, each through [`field_text`].
pub(crate) fn object_fields(
    object: &serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, Sensitive<String>> {
    object
        .iter()
        .map(|(key, value)| (key.clone(), field_text(value)))
        .collect()
}

/// `{"value": text}`: the shape of a secret that is one string.
pub(crate) fn single_value(text: String) -> BTreeMap<String, Sensitive<String>> {
    BTreeMap::from([("value".to_string(), Sensitive::new(text))])
}
