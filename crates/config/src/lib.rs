//! Server configuration: HCL in Vault's stanzas (`storage`, `listener`, `api_addr`, ...),
//! parsed into raw serde structs, then validated into a [`ServerConfig`].
//!
//! Two layers, as in quickwit: [`RawServerConfig`] is the file's shape (every struct
//! `deny_unknown_fields`); [`ServerConfig::from_raw`] gives values their meaning and applies
//! defaults. The raw layer is read by our own deserializer over hcl-edit's syntax tree rather
//! than `hcl::from_str`, because hcl-rs's serde errors carry no position and every error here
//! names its line: `server.hcl:7: unknown key "listner"`.
//!
//! ```hcl
//! storage "file" { path = "/var/lib/secrethub/data.db" }   # also "embedded"; "raft" takes a directory
//! listener "tcp" {
//!   address       = "127.0.0.1:8200"
//!   tls_cert_file = "tls/server.crt"
//!   tls_key_file  = "tls/server.key"
//! }
//! api_addr          = "https://secrethub.example.com:8200"
//! default_lease_ttl = "768h"
//! lease_revocation { max_attempts = 12 }  # optional: how failed revocations are retried
//! ```
//!
//! The agent's `agent.hcl` goes through the same two layers into an [`AgentConfig`]
//! ([`load_agent`]; see [`agent`]).
//!
//! The user guide's environment variables (`DATABASE_URL`, `LEASE_*`) are checked here too
//! ([`ServerEnv`], [`AgentEnv`]), from text the composition root hands in.
//!
//! API Boundary: `server` and `cli` call [`load`], `agent` and `cli` call [`load_agent`];
//! nothing here opens storage or sockets, or reads the environment.

pub mod agent;
mod de;
mod env;
mod error;
mod lease_revocation;
mod raw;
mod server_config;

use std::path::Path;

pub use agent::AgentConfig;
pub use env::{
    AgentEnv, EnvError, ServerEnv, MAX_LEASE_CLEANUP_INTERVAL, MIN_LEASE_CLEANUP_INTERVAL,
};
pub use error::{ConfigError, Location, Problem};
pub use lease_revocation::{LeaseRevocationConfig, MAX_REVOCATION_DELAY, MAX_REVOCATION_WORKERS};
pub use raw::{
    RawFileStorage, RawInmemStorage, RawLeaseRevocation, RawListener, RawPostgresStorage,
    RawRaftStorage, RawServerConfig, RawStorage, RawTcpListener, Spanned,
};
pub use server_config::{
    ListenerConfig, LogLevel, ServerConfig, StorageConfig, TlsFiles, DEFAULT_LEASE_TTL,
    DEFAULT_LISTENER_ADDRESS, DEFAULT_STORAGE_FILE,
};

/// Reads and validates the config file at `path`. Relative paths in it, and the default
/// storage file `secrethub.db`, are resolved against the file's directory. Errors name the
/// file as given and the line: `server.hcl:7: unknown key "listner"`.
pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    parse(&text, base_dir).map_err(|err| err.in_file(path))
}

/// Parses and validates config text; `base_dir` anchors relative paths.
pub fn parse(text: &str, base_dir: &Path) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_raw(parse_raw(text)?, base_dir)
}

/// Reads and validates the agent config file at `path` (`agent.hcl`). Relative paths in it
/// are resolved against the file's directory; errors name the file as given and the line:
/// `agent.hcl:7: unknown key "listner"`.
pub fn load_agent(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    parse_agent(&text, base_dir).map_err(|err| err.in_file(path))
}

/// Parses and validates agent config text; `base_dir` anchors relative paths.
pub fn parse_agent(text: &str, base_dir: &Path) -> Result<AgentConfig, ConfigError> {
    agent::parse(text, base_dir)
}

/// Parses config text into the raw layer only: the shape is checked (unknown keys, wrong
/// types, unknown stanza types), the values are not.
pub fn parse_raw(text: &str) -> Result<RawServerConfig, ConfigError> {
    de::from_str(text)
}
