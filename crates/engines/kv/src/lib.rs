//! KV secrets engine, versions 1 and 2, with Vault's HTTP API and JSON shapes.
//!
//! [`factory`] builds the engine for a mount: `kv-v2`, or `kv` with `options.version = "2"`,
//! is the versioned engine; `kv` (version 1 or unset) and `generic` are the plain one.
//!
//! # Storage layout
//!
//! Version 1 stores each secret's JSON object at its own path in the mount's view.
//!
//! Version 2 uses three kinds of keys:
//! - `config`: the mount's `ConfigRecord` (`max_versions`, `cas_required`,
//!   `delete_version_after`), cached in memory after the first read. The cache assumes this
//!   engine instance is the mount's only writer, so core must build a fresh engine when a
//!   node becomes active (standbys forward, they do not write).
//! - `metadata/<path>`: one `KeyRecord` per secret: its settings, the metadata of
//!   every retained version, and **the data of the current version inline**.
//! - `versions/<path>/<n>`: the data of version `n` once a newer version has replaced it.
//!   The key exists exactly when `n` is in the record's version map, is not the current
//!   version and is not destroyed, so nothing needs a prefix scan to clean it up (and a
//!   secret named `a/1` can never be confused with version 1 of `a`).
//!
//! Why inline: reading the latest version, by far the most frequent request, is then a single
//! storage get (one decryption in the barrier), and a write is one get plus one atomic batch
//! (the previous current data moves to `versions/`, the record is rewritten, pruned versions
//! are deleted). Every multi-key change goes through one `apply`, so a failed write leaves the
//! previous state intact. Reading an older version costs a second get.
//!
//! # Concurrency
//!
//! The storage contract has no compare-and-swap, so writes to one secret are serialised inside
//! the engine by a sharded set of async mutexes keyed by the secret's path. Reads take no lock:
//! the latest version is a single, self-consistent get.
//!
//! # Differences from Vault
//!
//! - `deletion_time` from `delete_version_after` is fixed when a version is written (as in
//!   Vault) and compared with the clock when read, so no background job is needed.
//! - Negative `version`, `depth` or `max_versions` are rejected with 400 (Vault wraps or
//!   ignores them).
//! - `LIST metadata/…` with `exclude_deleted` leaves out secrets whose latest version is
//!   deleted or destroyed now (Vault also hides ones merely scheduled for deletion).

mod input;
mod json;
mod locks;
mod paths;
mod record;
mod v1;
mod v2;

use std::sync::Arc;

use secrethub_engine::{Engine, EngineError, MountContext};

/// The clock the versioned engine reads: nanoseconds since the Unix epoch.
/// Tests pass a controllable one to [`factory_with_clock`]; production uses the system clock.
pub type Clock = Arc<dyn Fn() -> i128 + Send + Sync>;

/// Which KV version a mount of `engine_type` with `options` runs: 1 or 2.
pub fn version_of(
    engine_type: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<u8, EngineError> {
    match engine_type {
        "kv-v2" => Ok(2),
        "generic" => Ok(1),
        "kv" => match options.get("version").map(|v| v.trim()) {
            None | Some("") | Some("1") => Ok(1),
            Some("2") => Ok(2),
            Some(other) => Err(EngineError::bad_request(format!(
                "invalid kv version {other:?}: expected \"1\" or \"2\""
            ))),
        },
        other => Err(EngineError::bad_request(format!(
            "engine type {other:?} is not a kv engine"
        ))),
    }
}

/// Builds the KV engine for a mount (registered as `kv`, `kv-v2` and `generic`).
pub fn factory(ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    factory_with_clock(ctx, Arc::new(secrethub_common::now_unix_nanos))
}

/// Like [`factory`], with the clock the versioned engine uses for its timestamps.
pub fn factory_with_clock(ctx: MountContext, clock: Clock) -> Result<Arc<dyn Engine>, EngineError> {
    match version_of(&ctx.engine_type, &ctx.options)? {
        2 => Ok(Arc::new(v2::KvV2::new(clock))),
        _ => Ok(Arc::new(v1::KvV1::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn picks_the_version() {
        let none = BTreeMap::new();
        let two = BTreeMap::from([("version".to_string(), "2".to_string())]);
        let one = BTreeMap::from([("version".to_string(), "1".to_string())]);
        let bad = BTreeMap::from([("version".to_string(), "3".to_string())]);
        assert_eq!(version_of("kv-v2", &none).unwrap(), 2);
        assert_eq!(version_of("kv", &two).unwrap(), 2);
        assert_eq!(version_of("kv", &one).unwrap(), 1);
        assert_eq!(version_of("kv", &none).unwrap(), 1);
        assert_eq!(version_of("generic", &none).unwrap(), 1);
        assert!(version_of("kv", &bad).is_err());
        assert!(version_of("database", &none).is_err());
    }
}
