//! The validated agent configuration. Relative paths are resolved against the config file's
//! directory. `Debug` never shows a secret value (static tokens, client secrets, AWS keys).

use std::path::PathBuf;
use std::time::Duration;

use secrethub_common::Sensitive;

/// Default for [`LeaseRenewalConfig::renew_at`]: renew when a third of the lease is left.
pub const DEFAULT_RENEW_AT: f64 = 0.33;
/// Default for [`LeaseRenewalConfig::max_attempts`].
pub const DEFAULT_RENEW_MAX_ATTEMPTS: u32 = 5;
/// Default for [`LeaseRenewalConfig::backoff_initial`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Default for [`LeaseRenewalConfig::backoff_max`].
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Default for [`LeaseRenewalConfig::grace`].
pub const DEFAULT_RENEW_GRACE: Duration = Duration::from_secs(10);
/// Default for [`TemplateSettings::static_secret_render_interval`] (Vault Agent's: 5m).
pub const DEFAULT_STATIC_RENDER_INTERVAL: Duration = Duration::from_secs(300);
/// Default for [`ProviderConfig::cache_ttl`].
pub const DEFAULT_PROVIDER_CACHE_TTL: Duration = Duration::from_secs(300);
/// Default for [`ProviderConfig::cache_max_entries`].
pub const DEFAULT_PROVIDER_CACHE_MAX_ENTRIES: usize = 1000;
/// Default for [`ServerConnection::default_kv_mount`] and [`RemoteVault::default_kv_mount`]:
/// the KV v2 mount of a dev server.
pub const DEFAULT_KV_MOUNT: &str = "secret";
/// Default for [`ProviderConfig::timeout`].
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// A checked `agent.hcl`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `vault { … }`: the SecretHub server the agent talks to.
    pub server: ServerConnection,
    /// `auto_auth { … }`; `None` when the stanza is absent (then the token comes from the
    /// environment: `SECRETHUB_TOKEN`/`VAULT_TOKEN` or `~/.vault-token`).
    pub auto_auth: Option<AutoAuthConfig>,
    /// `cache {}` present: the listeners cache leased and KV answers.
    pub cache: bool,
    /// `api_proxy { use_auto_auth_token = true }` (or Vault's older `cache { use_auto_auth_token }`):
    /// requests without a token are sent with the agent's.
    pub use_auto_auth_token: bool,
    /// `listener "tcp"|"unix" { … }`.
    pub listeners: Vec<AgentListener>,
    /// `lease_renewal { … }`, defaults when absent.
    pub lease_renewal: LeaseRenewalConfig,
    /// `template { … }` stanzas, in file order.
    pub templates: Vec<TemplateConfig>,
    /// `template_config { … }`.
    pub template_settings: TemplateSettings,
    /// `provider "NAME" { … }` stanzas, in file order. The built-in provider `secrethub`
    /// (the server of `vault {}`) is always there and is not listed.
    pub providers: Vec<ProviderConfig>,
    /// `exit_after_auth = true`: authenticate, write the sinks, render templates once, exit.
    pub exit_after_auth: bool,
}

/// `vault { address, ca_cert, tls_skip_verify, retry { num_retries } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConnection {
    /// `None`: from `SECRETHUB_ADDR`/`VAULT_ADDR`, else `http://127.0.0.1:8200`.
    pub address: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub tls_skip_verify: bool,
    /// Attempts after the first for a request that failed with a connection error or 5xx
    /// (Vault Agent's default: 12).
    pub num_retries: u32,
    /// `default_kv_mount`: where a reference's path that no mount visible to the token holds is
    /// read (`ai/key` reads `secret/ai/key`); `None` (`default_kv_mount = ""`) reads it as is.
    pub default_kv_mount: Option<String>,
}

/// `auto_auth { method "TYPE" { mount_path, config = {…} }  sink "file" { config = {…} } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoAuthConfig {
    pub method: AuthMethodConfig,
    /// Mount path of the method (`auth/approle`); default `auth/<type>`.
    pub mount_path: String,
    pub sinks: Vec<SinkConfig>,
}

/// The auto-auth method and its `config` map.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMethodConfig {
    /// `method "token_file" { config = { token_file_path } }`: a token someone else keeps fresh.
    TokenFile { token_file_path: PathBuf },
    /// `method "approle" { config = { role_id_file_path, secret_id_file_path,
    /// remove_secret_id_file_after_reading } }` (Vault's default for the last: true).
    AppRole {
        role_id_file_path: PathBuf,
        secret_id_file_path: Option<PathBuf>,
        remove_secret_id_file_after_reading: bool,
    },
    /// `method "jwt" { config = { path, role } }`: the JWT is read from `path` at each login
    /// (a Kubernetes projected token or a CI job token).
    Jwt { path: PathBuf, role: String },
    /// `method "kubernetes" { config = { role, token_path } }`; `token_path` defaults to
    /// `/var/run/secrets/kubernetes.io/serviceaccount/token`.
    Kubernetes { role: String, token_path: PathBuf },
    /// `method "userpass" { config = { username, password_file_path } }`.
    Userpass {
        username: String,
        password_file_path: PathBuf,
    },
}

/// `sink "file" { config = { path, mode } }` (mode default 0640 as Vault's; we default 0600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    pub path: PathBuf,
    /// Unix permission bits, e.g. `0o600`.
    pub mode: u32,
}

/// `listener "tcp" { address, tls_disable, tls_cert_file, tls_key_file }` or
/// `listener "unix" { address }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentListener {
    Tcp {
        address: std::net::SocketAddr,
        /// `(cert, key)` when TLS is on.
        tls: Option<(PathBuf, PathBuf)>,
    },
    Unix {
        path: PathBuf,
    },
}

/// `lease_renewal { renew_at, max_attempts, backoff_initial, backoff_max, grace, on_failed }`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRenewalConfig {
    /// Renew when the remaining TTL falls below this fraction of the lease duration
    /// (0 < renew_at < 1; `"50%"` is accepted too).
    pub renew_at: f64,
    /// Renewal attempts before giving up on a lease and fetching a fresh secret.
    pub max_attempts: u32,
    /// First retry delay; doubles up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// When a lease cannot be extended (max TTL reached), fresh secrets are fetched this
    /// long before it expires (capped at half the remaining time).
    pub grace: Duration,
    /// Shell command run (`sh -c`) when a lease's renewal has failed `max_attempts` times,
    /// with `SECRETHUB_LEASE_ID` and `SECRETHUB_LEASE_PATH` in its environment.
    pub on_failed: Option<String>,
}

impl Default for LeaseRenewalConfig {
    fn default() -> Self {
        Self {
            renew_at: DEFAULT_RENEW_AT,
            max_attempts: DEFAULT_RENEW_MAX_ATTEMPTS,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            grace: DEFAULT_RENEW_GRACE,
            on_failed: None,
        }
    }
}

/// `template { source | contents, destination, perms, command, error_on_missing_key }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateConfig {
    pub source: TemplateSource,
    pub destination: PathBuf,
    /// Unix permission bits of the rendered file (default 0o600).
    pub perms: u32,
    /// Run with `sh -c` after each render that changed the file.
    pub command: Option<String>,
}

/// Where a template's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    File(PathBuf),
    Inline(String),
}

/// `template_config { static_secret_render_interval, exit_on_retry_failure }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSettings {
    /// How often non-leased secrets (KV) are re-read to notice a new version.
    pub static_secret_render_interval: Duration,
    /// Exit the agent when a template cannot be rendered after the client's retries.
    pub exit_on_retry_failure: bool,
}

impl Default for TemplateSettings {
    fn default() -> Self {
        Self {
            static_secret_render_interval: DEFAULT_STATIC_RENDER_INTERVAL,
            exit_on_retry_failure: false,
        }
    }
}

/// `provider "NAME" { type = "…", prefix, fallback, timeout, cache_ttl, cache_max_entries, … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The stanza's label; `${secret:NAME:path#field}` selects it.
    pub name: String,
    /// References whose path starts with this prefix go to this provider (prefix stripped).
    pub prefix: Option<String>,
    /// Name of the provider asked when this one fails (not for "not found").
    pub fallback: Option<String>,
    /// Upper bound on one read.
    pub timeout: Duration,
    /// How long a read result is reused (leased secrets are never cached here).
    pub cache_ttl: Duration,
    pub cache_max_entries: usize,
    pub kind: ProviderKind,
}

/// The provider type (`type = "…"`) and its own keys.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderKind {
    /// `type = "secrethub"`: another SecretHub server (the agent's own is built in).
    SecretHub(RemoteVault),
    /// `type = "vault"`: any Vault/OpenBao (KV v2 and any readable path).
    Vault(RemoteVault),
    /// `type = "aws-sm"`: AWS Secrets Manager.
    AwsSecretsManager(AwsSmConfig),
    /// `type = "azure-kv"`: Azure Key Vault.
    AzureKeyVault(AzureKvConfig),
    /// `type = "file"`: a local YAML or dotenv file (development).
    File(FileProviderConfig),
}

impl ProviderKind {
    /// The `type = "…"` of this kind (its canonical name, never an alias).
    pub fn type_name(&self) -> &'static str {
        match self {
            ProviderKind::SecretHub(_) => "secrethub",
            ProviderKind::Vault(_) => "vault",
            ProviderKind::AwsSecretsManager(_) => "aws-sm",
            ProviderKind::AzureKeyVault(_) => "azure-kv",
            ProviderKind::File(_) => "file",
        }
    }
}

/// `address, token | token_file, ca_cert, tls_skip_verify, default_kv_mount`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteVault {
    pub address: String,
    /// `token = "…"`.
    pub token: Option<Sensitive<String>>,
    /// `token_file = "…"`, read at each (re)connection.
    pub token_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    pub tls_skip_verify: bool,
    /// As [`ServerConnection::default_kv_mount`], for this server.
    pub default_kv_mount: Option<String>,
}

/// `region, endpoint, access_key_id, secret_access_key, session_token`; keys default to the
/// `AWS_*` environment variables, `endpoint` to `https://secretsmanager.<region>.amazonaws.com`.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSmConfig {
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Sensitive<String>>,
    pub session_token: Option<Sensitive<String>>,
}

/// `vault_url, tenant_id, client_id, client_secret, authority_host`: client-credentials login
/// to Microsoft Entra ID, then the Key Vault REST API. `authority_host` defaults to
/// `https://login.microsoftonline.com`.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureKvConfig {
    pub vault_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Sensitive<String>,
    pub authority_host: Option<String>,
}

/// `path, format` (`yaml` or `dotenv`; default from the file extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProviderConfig {
    pub path: PathBuf,
    pub format: FileFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Yaml,
    Dotenv,
}
