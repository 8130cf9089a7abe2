//! The raw layer of `agent.hcl`: the file's shape as serde structs (`deny_unknown_fields`
//! throughout), read by the crate's deserializer so every error names its line. Loosely typed
//! values (Vault accepts `tls_disable = "true"`, `timeout = 10` or `"10s"`) stay
//! `serde_json::Value` here; `validate` gives them meaning.
//!
//! Stanzas whose label is a type (`method "approle"`, `sink "file"`, `listener "tcp"`) are
//! enums, so an unknown type or a key of another type fails while parsing. `provider "NAME"`
//! is labelled by a free name and typed by its `type` key, so its body holds the keys of every
//! type and validation refuses those that don't belong to the one chosen.

use std::fmt;
use std::marker::PhantomData;

use secrethub_common::Sensitive;
use serde::de::{self, EnumAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::de::{LEADING_ZERO_TEXT_NAME, NAMED_BLOCK_NAME};
use crate::raw::Spanned;

/// Everything an agent config file may contain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgentConfig {
    pub(crate) vault: Option<Spanned<RawVault>>,
    pub(crate) auto_auth: Option<Spanned<RawAutoAuth>>,
    pub(crate) cache: Option<Spanned<RawCache>>,
    pub(crate) api_proxy: Option<Spanned<RawApiProxy>>,
    #[serde(default)]
    pub(crate) listener: Vec<Spanned<RawAgentListener>>,
    pub(crate) lease_renewal: Option<Spanned<RawLeaseRenewal>>,
    #[serde(default)]
    pub(crate) template: Vec<Spanned<RawTemplate>>,
    pub(crate) template_config: Option<Spanned<RawTemplateConfig>>,
    #[serde(default)]
    pub(crate) provider: Vec<Spanned<Named<RawProvider>>>,
    pub(crate) exit_after_auth: Option<Spanned<Value>>,
}

/// `vault { address, ca_cert, tls_skip_verify, default_kv_mount, retry { num_retries } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawVault {
    pub(crate) address: Option<Spanned<String>>,
    pub(crate) default_kv_mount: Option<Spanned<String>>,
    pub(crate) ca_cert: Option<Spanned<String>>,
    pub(crate) tls_skip_verify: Option<Spanned<Value>>,
    pub(crate) retry: Option<Spanned<RawRetry>>,
}

/// `retry { num_retries }` inside `vault`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawRetry {
    pub(crate) num_retries: Option<Spanned<Value>>,
}

/// `auto_auth { method "TYPE" { … }  sink "file" { … } }`. A second `method` is refused by the
/// deserializer (the field is not a list); a missing one by validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawAutoAuth {
    pub(crate) method: Option<Spanned<RawMethod>>,
    #[serde(default)]
    pub(crate) sink: Vec<Spanned<RawSink>>,
}

/// `method "TYPE" { … }`: the variant is the label.
#[derive(Debug, Deserialize)]
pub(crate) enum RawMethod {
    #[serde(rename = "token_file")]
    TokenFile(RawMethodStanza<RawTokenFileConfig>),
    #[serde(rename = "approle")]
    AppRole(RawMethodStanza<RawAppRoleConfig>),
    #[serde(rename = "jwt")]
    Jwt(RawMethodStanza<RawJwtConfig>),
    #[serde(rename = "kubernetes")]
    Kubernetes(RawMethodStanza<RawKubernetesConfig>),
    #[serde(rename = "userpass")]
    Userpass(RawMethodStanza<RawUserpassConfig>),
}

/// The body of a `method` stanza; `C` is the method's own `config = { … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawMethodStanza<C> {
    pub(crate) mount_path: Option<Spanned<String>>,
    pub(crate) config: Spanned<C>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawTokenFileConfig {
    pub(crate) token_file_path: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawAppRoleConfig {
    pub(crate) role_id_file_path: Spanned<String>,
    pub(crate) secret_id_file_path: Option<Spanned<String>>,
    pub(crate) remove_secret_id_file_after_reading: Option<Spanned<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawJwtConfig {
    pub(crate) path: Spanned<String>,
    pub(crate) role: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawKubernetesConfig {
    pub(crate) role: Spanned<String>,
    pub(crate) token_path: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawUserpassConfig {
    pub(crate) username: Spanned<String>,
    pub(crate) password_file_path: Spanned<String>,
}

/// `sink "TYPE" { config = { … } }`; only files so far.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawSink {
    File(RawFileSink),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawFileSink {
    pub(crate) config: Spanned<RawFileSinkConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(crate) struct RawFileSinkConfig {
    pub(crate) path: Spanned<String>,
    pub(crate) mode: Option<Spanned<RawMode>>,
}

/// `cache { }`; Vault before 1.14 put `use_auto_auth_token` here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawCache {
    pub(crate) use_auto_auth_token: Option<Spanned<Value>>,
}

/// `api_proxy { use_auto_auth_token = true | false | "force" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawApiProxy {
    pub(crate) use_auto_auth_token: Option<Spanned<Value>>,
}

/// `listener "tcp" { … }` or `listener "unix" { … }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawAgentListener {
    Tcp(RawAgentTcpListener),
    Unix(RawUnixListener),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawAgentTcpListener {
    pub(crate) address: Spanned<String>,
    pub(crate) tls_disable: Option<Spanned<Value>>,
    pub(crate) tls_cert_file: Option<Spanned<String>>,
    pub(crate) tls_key_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawUnixListener {
    pub(crate) address: Spanned<String>,
}

/// `lease_renewal { … }` (SecretHub's own).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawLeaseRenewal {
    pub(crate) renew_at: Option<Spanned<Value>>,
    pub(crate) max_attempts: Option<Spanned<Value>>,
    pub(crate) backoff_initial: Option<Spanned<Value>>,
    pub(crate) backoff_max: Option<Spanned<Value>>,
    pub(crate) grace: Option<Spanned<Value>>,
    pub(crate) on_failed: Option<Spanned<String>>,
}

/// `template { … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawTemplate {
    pub(crate) source: Option<Spanned<String>>,
    pub(crate) contents: Option<Spanned<String>>,
    pub(crate) destination: Spanned<String>,
    pub(crate) perms: Option<Spanned<RawMode>>,
    pub(crate) command: Option<Spanned<String>>,
    /// Accepted for Vault configs; a missing key is always an error here.
    pub(crate) error_on_missing_key: Option<Spanned<Value>>,
}

/// `template_config { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawTemplateConfig {
    pub(crate) static_secret_render_interval: Option<Spanned<Value>>,
    pub(crate) exit_on_retry_failure: Option<Spanned<Value>>,
}

/// The body of `provider "NAME" { … }`: the common keys, then the keys of every type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub(crate) struct RawProvider {
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<String>,
    pub(crate) prefix: Option<Spanned<String>>,
    pub(crate) fallback: Option<Spanned<String>>,
    pub(crate) timeout: Option<Spanned<Value>>,
    pub(crate) cache_ttl: Option<Spanned<Value>>,
    pub(crate) cache_max_entries: Option<Spanned<Value>>,
    // secrethub, vault
    pub(crate) address: Option<Spanned<String>>,
    pub(crate) token: Option<Spanned<Sensitive<String>>>,
    pub(crate) token_file: Option<Spanned<String>>,
    pub(crate) ca_cert: Option<Spanned<String>>,
    pub(crate) tls_skip_verify: Option<Spanned<Value>>,
    pub(crate) default_kv_mount: Option<Spanned<String>>,
    // aws-sm
    pub(crate) region: Option<Spanned<String>>,
    pub(crate) endpoint: Option<Spanned<String>>,
    pub(crate) access_key_id: Option<Spanned<String>>,
    pub(crate) secret_access_key: Option<Spanned<Sensitive<String>>>,
    pub(crate) session_token: Option<Spanned<Sensitive<String>>>,
    // azure-kv
    pub(crate) vault_url: Option<Spanned<String>>,
    pub(crate) tenant_id: Option<Spanned<String>>,
    pub(crate) client_id: Option<Spanned<String>>,
    pub(crate) client_secret: Option<Spanned<Sensitive<String>>>,
    pub(crate) authority_host: Option<Spanned<String>>,
    // file
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) format: Option<Spanned<String>>,
}

/// A block with one label that is a name, not a type: `provider "aws" { … }`.
#[derive(Debug)]
pub(crate) struct Named<T> {
    pub(crate) name: String,
    pub(crate) body: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read as an externally tagged enum whose variant is any label, the way the
        // deserializer presents labelled blocks.
        d.deserialize_enum(NAMED_BLOCK_NAME, &[], NamedVisitor(PhantomData))
    }
}

struct NamedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedVisitor<T> {
    type Value = Named<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stanza")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let (name, body) = data.variant::<String>()?;
        let body = body.newtype_variant::<T>()?;
        Ok(Named { name, body })
    }
}

/// Unix permission bits as written: a number (`384`), a number with a leading zero (`0600`,
/// octal as HCL 1 reads it, handed over as its text) or a string (`"0640"`, octal).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawMode(pub(crate) Value);

impl<'de> Deserialize<'de> for RawMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(LEADING_ZERO_TEXT_NAME, &[], ModeVisitor)
    }
}

struct ModeVisitor;

impl Visitor<'_> for ModeVisitor {
    type Value = RawMode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMode, E> {
        Ok(RawMode(Value::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMode, E> {
        Ok(RawMode(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawMode, E> {
        Ok(RawMode(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMode, E> {
        Ok(RawMode(Value::from(v)))
    }
}
