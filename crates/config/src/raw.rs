//! The raw layer: the config file's shape as serde structs (`deny_unknown_fields` throughout),
//! before any value is checked. Loosely typed values (Vault accepts `tls_disable = 1`,
//! `"true"` or `true`) stay `serde_json::Value` here; `ServerConfig::from_raw` gives them meaning.
//!
//! Values that validation may complain about are [`Spanned`], so its errors can name the line.

use std::fmt;
use std::marker::PhantomData;

use secrethub_common::Sensitive;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::de::{SPANNED_FIELDS, SPANNED_NAME};

/// Everything a server config file may contain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerConfig {
    /// `storage "<type>" { ... }` stanzas; more than one is an error reported by validation.
    #[serde(default)]
    pub storage: Vec<Spanned<RawStorage>>,
    /// `listener "tcp" { ... }` stanzas.
    #[serde(default)]
    pub listener: Vec<Spanned<RawListener>>,
    /// The URL clients are told to use.
    pub api_addr: Option<Spanned<String>>,
    /// Accepted and kept for Vault configs; nothing clusters over it yet.
    pub cluster_addr: Option<Spanned<String>>,
    /// Seconds or a duration such as `"768h"`.
    pub default_lease_ttl: Option<Spanned<Value>>,
    /// Seconds or a duration such as `"768h"`.
    pub max_lease_ttl: Option<Spanned<Value>>,
    /// Serve the web UI; a boolean or `"true"`.
    pub ui: Option<Spanned<Value>>,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub log_level: Option<Spanned<String>>,
    /// Accepted and ignored: Vault configs carry it and it has no meaning here.
    pub disable_mlock: Option<Value>,
    /// `lease_revocation { ... }`: how failed revocations are retried. Not Vault's (it
    /// hard-codes these); a second stanza is an error.
    pub lease_revocation: Option<Spanned<RawLeaseRevocation>>,
}

/// The body of `lease_revocation { ... }`. Counts are numbers or numeric strings, delays
/// seconds or Vault durations (`"5m"`), as everywhere in Vault's configs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a stanza")]
pub struct RawLeaseRevocation {
    /// Revocations running at once.
    pub workers: Option<Spanned<Value>>,
    /// The first retry delay.
    pub base_delay: Option<Spanned<Value>>,
    /// The cap between fast retries.
    pub max_delay: Option<Spanned<Value>>,
    /// Fast attempts before a lease is irrevocable.
    pub max_attempts: Option<Spanned<Value>>,
    /// The retry interval of irrevocable leases.
    pub irrevocable_retry: Option<Spanned<Value>>,
    /// Consecutive failures of one mount that pause its revocations.
    pub breaker_threshold: Option<Spanned<Value>>,
    /// How long such a pause lasts.
    pub breaker_cooldown: Option<Spanned<Value>>,
}

/// A storage stanza; the variant is its label, the fields its body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawStorage {
    /// `storage "file"`: the embedded database file.
    File(RawFileStorage),
    /// `storage "embedded"`: the same as `file`.
    Embedded(RawFileStorage),
    /// `storage "raft"` (Vault's integrated storage): `path` is a directory holding our file.
    Raft(RawRaftStorage),
    /// `storage "postgresql"`.
    Postgresql(RawPostgresStorage),
    /// `storage "inmem"`: memory only, lost on restart.
    Inmem(RawInmemStorage),
}

/// The body of `storage "file"` and `storage "embedded"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileStorage {
    /// The database file.
    pub path: Spanned<String>,
}

/// The body of `storage "raft"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRaftStorage {
    /// The data directory.
    pub path: Spanned<String>,
    /// Accepted and ignored: there is one node.
    pub node_id: Option<String>,
}

/// The body of `storage "postgresql"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgresStorage {
    /// May hold a password, hence `Sensitive`.
    pub connection_url: Spanned<Sensitive<String>>,
    /// The table of key/value rows.
    pub table: Option<Spanned<String>>,
    /// A number or a numeric string, as Vault writes it (`"16"`).
    pub max_parallel: Option<Spanned<Value>>,
}

/// The body of `storage "inmem"`: nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInmemStorage {}

/// A listener stanza; the variant is its label.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawListener {
    /// `listener "tcp"`.
    Tcp(RawTcpListener),
}

/// The body of `listener "tcp"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTcpListener {
    /// `host:port`; Vault's default is `127.0.0.1:8200`.
    pub address: Option<Spanned<String>>,
    /// A boolean, `"true"` or `1`, as Vault accepts.
    pub tls_disable: Option<Spanned<Value>>,
    /// PEM certificate chain.
    pub tls_cert_file: Option<Spanned<String>>,
    /// PEM private key.
    pub tls_key_file: Option<Spanned<String>>,
    /// `tls12` (the default) or `tls13`.
    pub tls_min_version: Option<Spanned<Value>>,
    /// Go cipher suite names, comma-separated; limits the TLS 1.2 suites.
    pub tls_cipher_suites: Option<Spanned<Value>>,
    /// Seconds or a duration: accept (TLS handshake included) to the end of the first
    /// request's headers, and the first byte to the end of the headers of a later one.
    pub http_read_header_timeout: Option<Spanned<Value>>,
    /// Seconds or a duration: the end of a request's headers to the end of its body.
    pub http_read_timeout: Option<Spanned<Value>>,
    /// Seconds or a duration: a ready response to the client having taken it.
    pub http_write_timeout: Option<Spanned<Value>>,
    /// Seconds or a duration: how long a connection with no request in flight stays open.
    pub http_idle_timeout: Option<Spanned<Value>>,
    /// Connections open at once (ours; Vault has no such setting).
    pub max_connections: Option<Spanned<Value>>,
}

/// A value and the 1-based line it was written on (`None` when not parsed from text).
///
/// Only this crate's deserializer fills in the line, so raw configs come from
/// [`crate::parse_raw`]; other serde formats can't produce a `Spanned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The value.
    pub value: T,
}

impl<T> Spanned<T> {
    /// A value with no known line.
    pub fn new(value: T) -> Self {
        Self { line: None, value }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The magic struct name asks our deserializer for a two-entry map: the line, then the
        // value (the trick the `toml` crate uses for its own `Spanned`).
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, SpannedVisitor(PhantomData))
    }
}

struct SpannedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
    type Value = Spanned<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value with its line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut line = None;
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "line" => line = Some(map.next_value::<usize>()?),
                "value" => value = Some(map.next_value::<T>()?),
                _ => return Err(de::Error::unknown_field(&key, SPANNED_FIELDS)),
            }
        }
        let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
        // Line 0 stands for "unknown": lines are 1-based.
        Ok(Spanned {
            line: line.filter(|l| *l > 0),
            value,
        })
    }
}
