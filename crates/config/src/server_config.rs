//! The validated layer: `ServerConfig` and the types it is made of, built from the raw layer
//! by `ServerConfig::from_raw`, which gives loosely typed values their meaning, applies
//! Vault's defaults and checks whatever involves more than one value.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrethub_common::serde_helpers::{opt_duration, value_to_bool};
use secrethub_common::tls::{CipherSuite, TlsVersion};
use secrethub_common::{format_duration, Sensitive};
use serde_json::Value;

use crate::error::{ConfigError, Problem};
use crate::lease_revocation::{lease_revocation, LeaseRevocationConfig};
use crate::raw::{RawListener, RawServerConfig, RawStorage, Spanned};

/// Vault's default for both `default_lease_ttl` and `max_lease_ttl`: 768h (32 days).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// The embedded database file used when there is no storage stanza, relative to the config
/// file's directory; also the file name inside a `storage "raft"` directory.
pub const DEFAULT_STORAGE_FILE: &str = "secrethub.db";

/// Vault's default listener address.
pub const DEFAULT_LISTENER_ADDRESS: &str = "127.0.0.1:8200";

/// A server config whose values have all been checked.
///
/// Relative paths (storage file, TLS files) are resolved against the config file's directory,
/// so a config works whatever directory the server is started from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where data lives.
    pub storage: StorageConfig,
    /// At least one.
    pub listeners: Vec<ListenerConfig>,
    /// The URL clients are told to use.
    pub api_addr: Option<String>,
    /// Accepted and kept for Vault configs; unused.
    pub cluster_addr: Option<String>,
    /// TTL of a lease whose engine and mount ask for none.
    pub default_lease_ttl: Duration,
    /// No lease outlives this; never below `default_lease_ttl`.
    pub max_lease_ttl: Duration,
    /// Serve the web UI (Vault's default: off).
    pub ui: bool,
    /// The least severe log events to print.
    pub log_level: LogLevel,
    /// How failed lease revocations are retried (`lease_revocation { ... }`).
    pub lease_revocation: LeaseRevocationConfig,
}

/// Where data lives; the one place a storage is chosen (`open_storage` matches on it).
/// `Debug` never shows the connection URL, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// In memory, lost on restart (`storage "inmem"`).
    Memory,
    /// The embedded database file (`storage "file"`, `"embedded"` or `"raft"`, and the default).
    Embedded {
        /// The database file.
        path: PathBuf,
    },
    /// PostgreSQL (`storage "postgresql"`).
    Postgres {
        /// A URL or key=value connection string.
        connection_url: Sensitive<String>,
        /// The table of key/value rows, a plain or schema-qualified SQL identifier.
        table: Option<String>,
        /// The most connections to hold open.
        max_parallel: Option<usize>,
    },
}

/// One `listener "tcp"` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Where to listen.
    pub address: SocketAddr,
    /// `None` only when the stanza says `tls_disable = true`.
    pub tls: Option<TlsFiles>,
    /// `http_read_header_timeout`: accept (TLS handshake included) to the end of the first
    /// request's headers, and a later HTTP/1 request's first byte to the end of its headers.
    pub read_header_timeout: Duration,
    /// `http_read_timeout`: the end of a request's headers to the end of its body.
    pub read_timeout: Duration,
    /// `http_write_timeout`: a ready response to the client having taken it.
    pub write_timeout: Duration,
    /// `http_idle_timeout`: how long a connection with no request in flight stays open.
    pub idle_timeout: Duration,
    /// `max_connections` (ours): connections open at once; at the limit a new connection
    /// closes the longest-idle one.
    pub max_connections: usize,
}

/// Vault's defaults (10s, 30s, 5m); a write timeout and connection limit Vault lacks.
const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The most `max_connections` accepts.
const MAX_MAX_CONNECTIONS: u64 = 1_000_000;

/// The PEM files and protocol settings of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert_file: PathBuf,
    /// The private key.
    pub key_file: PathBuf,
    /// `tls_min_version`: TLS 1.2 (the default) or 1.3.
    pub min_version: TlsVersion,
    /// `tls_cipher_suites`: the TLS 1.2 suites offered, in Vault's way (TLS 1.3 suites are
    /// always offered); empty for the defaults.
    pub cipher_suites: Vec<CipherSuite>,
}

/// How much the server logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Problems the server recovers from.
    Warn,
    /// Failures only.
    Error,
}

impl LogLevel {
    const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The name as written in configs, which is also a `tracing` filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ServerConfig {
    /// Checks a raw config and applies defaults; `base_dir` (the config file's directory)
    /// anchors relative paths.
    pub fn from_raw(raw: RawServerConfig, base_dir: &Path) -> Result<Self, ConfigError> {
        let storage = storage(raw.storage, base_dir)?;
        let listeners = listeners(raw.listener, base_dir)?;
        let api_addr = raw.api_addr.map(api_addr).transpose()?;
        let default_lease_ttl = ttl(raw.default_lease_ttl.as_ref(), "default_lease_ttl")?;
        let max_lease_ttl = ttl(raw.max_lease_ttl.as_ref(), "max_lease_ttl")?;
        if default_lease_ttl > max_lease_ttl {
            let line = raw
                .default_lease_ttl
                .as_ref()
                .or(raw.max_lease_ttl.as_ref())
                .and_then(|v| v.line);
            let problem = Problem::TtlOrder {
                default: format_duration(default_lease_ttl),
                max: format_duration(max_lease_ttl),
            };
            return Err(ConfigError::at(line, None, problem));
        }
        let ui = match &raw.ui {
            Some(value) => boolean(value, "ui", None)?,
            None => false,
        };
        let lease_revocation = lease_revocation(raw.lease_revocation)?;
        let log_level = raw
            .log_level
            .map(log_level)
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            storage,
            listeners,
            api_addr,
            cluster_addr: raw.cluster_addr.map(|addr| addr.value),
            default_lease_ttl,
            max_lease_ttl,
            ui,
            log_level,
            lease_revocation,
        })
    }
}

pub(crate) fn invalid(
    line: Option<usize>,
    stanza: Option<&str>,
    key: &str,
    reason: String,
) -> ConfigError {
    let problem = Problem::InvalidValue {
        key: key.to_owned(),
        reason,
    };
    ConfigError::at(line, stanza, problem)
}

fn storage(
    stanzas: Vec<Spanned<RawStorage>>,
    base_dir: &Path,
) -> Result<StorageConfig, ConfigError> {
    let mut stanzas = stanzas.into_iter();
    let Some(first) = stanzas.next() else {
        return Ok(StorageConfig::Embedded {
            path: base_dir.join(DEFAULT_STORAGE_FILE),
        });
    };
    if let Some(second) = stanzas.next() {
        let problem = Problem::DuplicateStorage {
            first_line: first.line,
        };
        return Err(ConfigError::at(second.line, None, problem));
    }
    let config = match first.value {
        RawStorage::File(file) => StorageConfig::Embedded {
            path: path(&file.path, base_dir, "storage \"file\"")?,
        },
        RawStorage::Embedded(file) => StorageConfig::Embedded {
            path: path(&file.path, base_dir, "storage \"embedded\"")?,
        },
        RawStorage::Raft(raft) => StorageConfig::Embedded {
            path: path(&raft.path, base_dir, "storage \"raft\"")?.join(DEFAULT_STORAGE_FILE),
        },
        RawStorage::Postgresql(pg) => {
            let stanza = Some("storage \"postgresql\"");
            if pg.connection_url.value.expose().trim().is_empty() {
                let reason = "must not be empty".to_owned();
                return Err(invalid(
                    pg.connection_url.line,
                    stanza,
                    "connection_url",
                    reason,
                ));
            }
            let table = pg.table.map(table_name).transpose()?;
            let max_parallel = pg.max_parallel.as_ref().map(max_parallel).transpose()?;
            StorageConfig::Postgres {
                connection_url: pg.connection_url.value,
                table,
                max_parallel,
            }
        }
        RawStorage::Inmem(_) => StorageConfig::Memory,
    };
    Ok(config)
}

fn path(raw: &Spanned<String>, base_dir: &Path, stanza: &str) -> Result<PathBuf, ConfigError> {
    if raw.value.trim().is_empty() {
        let reason = "must not be empty".to_owned();
        return Err(invalid(raw.line, Some(stanza), "path", reason));
    }
    // `join` keeps an absolute path as it is.
    Ok(base_dir.join(&raw.value))
}

/// The table name is spliced into SQL (identifiers can't be bind parameters), so only plain
/// identifiers, optionally schema-qualified, get through.
fn table_name(raw: Spanned<String>) -> Result<String, ConfigError> {
    let is_identifier = |part: &str| {
        part.len() <= 63
            && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = raw.value.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|part| is_identifier(part)) {
        return Ok(raw.value);
    }
    let reason = "must be a table name such as secrethub_kv or schema.secrethub_kv \
                  (letters, digits and underscores)";
    Err(invalid(
        raw.line,
        Some("storage \"postgresql\""),
        "table",
        reason.to_owned(),
    ))
}

fn max_parallel(raw: &Spanned<Value>) -> Result<usize, ConfigError> {
    let n = match &raw.value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => Ok(n),
        _ => {
            let reason = "must be a positive integer".to_owned();
            Err(invalid(
                raw.line,
                Some("storage \"postgresql\""),
                "max_parallel",
                reason,
            ))
        }
    }
}

fn listeners(
    stanzas: Vec<Spanned<RawListener>>,
    base_dir: &Path,
) -> Result<Vec<ListenerConfig>, ConfigError> {
    if stanzas.is_empty() {
        return Err(ConfigError::at(None, None, Problem::NoListener));
    }
    let mut listeners: Vec<(ListenerConfig, Option<usize>)> = Vec::new();
    for stanza in stanzas {
        let RawListener::Tcp(tcp) = stanza.value;
        let name = "listener \"tcp\"";
        let address = match &tcp.address {
            Some(address) => address.value.trim().parse().map_err(|_| {
                let reason = format!(
                    "{:?} is not an IP address and port such as {DEFAULT_LISTENER_ADDRESS}",
                    address.value
                );
                invalid(address.line, Some(name), "address", reason)
            })?,
            // Vault's default; a literal that always parses.
            None => SocketAddr::from(([127, 0, 0, 1], 8200)),
        };
        // Port 0 asks the OS for a free port, so two of them don't clash.
        if let Some((_, first_line)) = listeners
            .iter()
            .find(|(l, _)| l.address == address && address.port() != 0)
        {
            let problem = Problem::DuplicateListener {
                address: address.to_string(),
                first_line: *first_line,
            };
            let line = tcp.address.as_ref().and_then(|a| a.line).or(stanza.line);
            return Err(ConfigError::at(line, Some(name), problem));
        }
        let tls_disable = match &tcp.tls_disable {
            Some(value) => boolean(value, "tls_disable", Some(name))?,
            None => false,
        };
        // Checked even when TLS is disabled, so a typo does not wait for TLS to be enabled.
        let min_version = match &tcp.tls_min_version {
            Some(raw) => tls_setting(raw, "tls_min_version", TlsVersion::parse)?,
            None => TlsVersion::default(),
        };
        let cipher_suites = match &tcp.tls_cipher_suites {
            Some(raw) => tls_setting(raw, "tls_cipher_suites", CipherSuite::parse_list)?,
            None => Vec::new(),
        };
        let tls = if tls_disable {
            None
        } else {
            let (cert_file, key_file) =
                tls_file_pair(&tcp.tls_cert_file, &tcp.tls_key_file, base_dir)
                    .map_err(|problem| ConfigError::at(stanza.line, Some(name), problem))?;
            Some(TlsFiles {
                cert_file,
                key_file,
                min_version,
                cipher_suites,
            })
        };
        let limit = |raw: &Option<Spanned<Value>>, key, default| match raw {
            // Zero means the default, as for lease TTLs: a bound can't be turned off.
            Some(raw) => Ok(duration(raw, Some(name), key)?
                .filter(|d| !d.is_zero())
                .unwrap_or(default)),
            None => Ok::<_, ConfigError>(default),
        };
        let listener = ListenerConfig {
            address,
            tls,
            read_header_timeout: limit(
                &tcp.http_read_header_timeout,
                "http_read_header_timeout",
                DEFAULT_READ_HEADER_TIMEOUT,
            )?,
            read_timeout: limit(
                &tcp.http_read_timeout,
                "http_read_timeout",
                DEFAULT_READ_TIMEOUT,
            )?,
            write_timeout: limit(
                &tcp.http_write_timeout,
                "http_write_timeout",
                DEFAULT_WRITE_TIMEOUT,
            )?,
            idle_timeout: limit(
                &tcp.http_idle_timeout,
                "http_idle_timeout",
                DEFAULT_IDLE_TIMEOUT,
            )?,
            max_connections: match &tcp.max_connections {
                Some(raw) => max_connections(raw)?,
                None => DEFAULT_MAX_CONNECTIONS,
            },
        };
        listeners.push((listener, stanza.line));
    }
    Ok(listeners
        .into_iter()
        .map(|(listener, _)| listener)
        .collect())
}

/// A string setting of `listener "tcp"` parsed by `parse`, whose error becomes the reason.
fn tls_setting<T>(
    raw: &Spanned<Value>,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let stanza = Some("listener \"tcp\"");
    match &raw.value {
        Value::String(s) => parse(s).map_err(|reason| invalid(raw.line, stanza, key, reason)),
        _ => Err(invalid(
            raw.line,
            stanza,
            key,
            "must be a string".to_owned(),
        )),
    }
}

fn max_connections(raw: &Spanned<Value>) -> Result<usize, ConfigError> {
    let n = match &raw.value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match n {
        Some(n @ 1..=MAX_MAX_CONNECTIONS) => Ok(n as usize),
        _ => {
            let reason = format!("must be an integer from 1 to {MAX_MAX_CONNECTIONS}");
            let stanza = Some("listener \"tcp\"");
            Err(invalid(raw.line, stanza, "max_connections", reason))
        }
    }
}

/// A TCP listener's `tls_cert_file` and `tls_key_file`, resolved against `base_dir`; both are
/// required unless TLS is disabled. Like Vault, an empty file name counts as not given.
/// Shared by the server's and the agent's listeners.
pub(crate) fn tls_file_pair(
    cert: &Option<Spanned<String>>,
    key: &Option<Spanned<String>>,
    base_dir: &Path,
) -> Result<(PathBuf, PathBuf), Problem> {
    let given = |file: &Option<Spanned<String>>| {
        file.as_ref()
            .map(|f| f.value.trim())
            .filter(|f| !f.is_empty())
            .map(|f| base_dir.join(f))
    };
    match (given(cert), given(key)) {
        (Some(cert), Some(key)) => Ok((cert, key)),
        (cert, key) => {
            let missing = [
                (cert.is_none(), "tls_cert_file"),
                (key.is_none(), "tls_key_file"),
            ]
            .into_iter()
            .filter_map(|(missing, key)| missing.then_some(key))
            .collect();
            Err(Problem::TlsFilesMissing { missing })
        }
    }
}

fn boolean(raw: &Spanned<Value>, key: &str, stanza: Option<&str>) -> Result<bool, ConfigError> {
    value_to_bool(&raw.value)
        .ok_or_else(|| invalid(raw.line, stanza, key, "must be true or false".to_owned()))
}

fn ttl(raw: Option<&Spanned<Value>>, key: &str) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LEASE_TTL);
    };
    match duration(raw, None, key)? {
        // Zero means "use the default", as in Vault.
        None | Some(Duration::ZERO) => Ok(DEFAULT_LEASE_TTL),
        Some(ttl) => Ok(ttl),
    }
}

/// A duration as seconds (`600`, `"600"`) or in Vault's syntax (`"10m"`); `None` for null.
pub(crate) fn duration(
    raw: &Spanned<Value>,
    stanza: Option<&str>,
    key: &str,
) -> Result<Option<Duration>, ConfigError> {
    // `Duration::from_secs_f64`, which the shared helper uses for fractional seconds, panics
    // on a value past `Duration::MAX`, so a number such as `1e30` stops here.
    if let Value::Number(n) = &raw.value {
        if n.as_f64().is_some_and(|secs| secs >= u64::MAX as f64) {
            let reason = "duration is too large".to_owned();
            return Err(invalid(raw.line, stanza, key, reason));
        }
    }
    opt_duration(&raw.value).map_err(|err| invalid(raw.line, stanza, key, err.to_string()))
}

fn api_addr(raw: Spanned<String>) -> Result<String, ConfigError> {
    let addr = raw.value.trim();
    if addr.starts_with("http://") || addr.starts_with("https://") {
        return Ok(addr.to_owned());
    }
    let reason = "must be a URL such as https://secrethub.example.com:8200".to_owned();
    Err(invalid(raw.line, None, "api_addr", reason))
}

fn log_level(raw: Spanned<String>) -> Result<LogLevel, ConfigError> {
    let wanted = raw.value.trim().to_ascii_lowercase();
    if let Some(level) = LogLevel::ALL.into_iter().find(|l| l.as_str() == wanted) {
        return Ok(level);
    }
    let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
    let reason = format!(
        "unknown level {:?}; supported: {}",
        raw.value,
        names.join(", ")
    );
    Err(invalid(raw.line, None, "log_level", reason))
}
