//! KV version 2: the engine struct, its path table and the shared plumbing of its handlers
//! (the config cache, record loading, per-secret locks, the clock). The handlers live in
//! `paths/`, one file per resource.

use std::sync::RwLock;

use async_trait::async_trait;
use secrethub_engine::{Engine, EngineError, Operation, PathTable, Request, Response, StorageView};
use secrethub_storage::{validate_key, Storage as _};

use crate::locks::KeyLocks;
use crate::record::{ConfigRecord, KeyRecord};
use crate::Clock;

use Operation::{Delete, List, Patch, Read, Update};

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Config,
    Data,
    MetadataRoot,
    Metadata,
    Delete,
    Undelete,
    Destroy,
    Subkeys,
}

/// The versioned engine (`kv-v2`, or `kv` with `version = "2"`).
pub(crate) struct KvV2 {
    table: PathTable<Route>,
    pub(crate) locks: KeyLocks,
    /// Serialises config writes so the cache and storage agree.
    pub(crate) config_lock: tokio::sync::Mutex<()>,
    /// The mount config, loaded on first use. A std lock: never held across `.await`.
    config_cache: RwLock<Option<ConfigRecord>>,
    clock: Clock,
}

pub(crate) const CONFIG_KEY: &str = "config";

pub(crate) fn metadata_key(path: &str) -> String {
    format!("metadata/{path}")
}

pub(crate) fn version_key(path: &str, n: u64) -> String {
    format!("versions/{path}/{n}")
}

impl KvV2 {
    pub(crate) fn new(clock: Clock) -> Self {
        let table = PathTable::new()
            .add(
                "config",
                Route::Config,
                &[Read, Update],
                "Configures settings for every key of the mount: max_versions, cas_required \
                 and delete_version_after.",
            )
            .add(
                "data/{*path}",
                Route::Data,
                &[Read, Update, Patch, Delete],
                "Writes, patches, reads and soft-deletes versions of a secret. A read returns \
                 the latest version unless `version` is given.",
            )
            .add(
                "metadata",
                Route::MetadataRoot,
                &[List],
                "Lists the secrets at the top of the mount.",
            )
            .add(
                "metadata/{*path}",
                Route::Metadata,
                &[Read, Update, Patch, Delete, List],
                "Reads and configures a secret's metadata and versions; delete removes every \
                 version permanently; list shows the secrets under a folder.",
            )
            .add(
                "delete/{*path}",
                Route::Delete,
                &[Update],
                "Marks the given versions of a secret as deleted; undelete reverses it.",
            )
            .add(
                "undelete/{*path}",
                Route::Undelete,
                &[Update],
                "Restores soft-deleted versions of a secret.",
            )
            .add(
                "destroy/{*path}",
                Route::Destroy,
                &[Update],
                "Permanently removes the data of the given versions of a secret.",
            )
            .add(
                "subkeys/{*path}",
                Route::Subkeys,
                &[Read],
                "Reads the key structure of a secret version with every value replaced by null.",
            );
        Self {
            table,
            locks: KeyLocks::new(),
            config_lock: tokio::sync::Mutex::new(()),
            config_cache: RwLock::new(None),
            clock,
        }
    }

    /// The current time in nanoseconds (clamped into `i64`, which lasts until 2262).
    pub(crate) fn now(&self) -> i64 {
        let n = (self.clock)();
        i64::try_from(n).unwrap_or(if n < 0 { 0 } else { i64::MAX })
    }

    /// The mount config, from the cache or storage.
    pub(crate) async fn config(&self, storage: &StorageView) -> Result<ConfigRecord, EngineError> {
        if let Some(c) = self.read_cache().clone() {
            return Ok(c);
        }
        let loaded: ConfigRecord = storage.get_json(CONFIG_KEY).await?.unwrap_or_default();
        let mut cache = self.write_cache();
        // A config write may have landed meanwhile; its value is newer than what we read.
        Ok(cache.get_or_insert(loaded).clone())
    }

    /// Replaces the cached config after it was written to storage.
    pub(crate) fn set_cached_config(&self, config: ConfigRecord) {
        *self.write_cache() = Some(config);
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Option<ConfigRecord>> {
        // Poisoning only means a panic elsewhere while the lock was held; the Option inside
        // is replaced whole, so it is never half-written.
        self.config_cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Option<ConfigRecord>> {
        self.config_cache.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The record of the secret at `path`, if it exists.
    pub(crate) async fn load(
        &self,
        storage: &StorageView,
        path: &str,
    ) -> Result<Option<KeyRecord>, EngineError> {
        Ok(storage.get_json(&metadata_key(path)).await?)
    }
}

/// Checks a secret path from the request: non-empty and a valid storage key.
pub(crate) fn secret_path(path: &str) -> Result<&str, EngineError> {
    if path.is_empty() {
        return Err(EngineError::bad_request("missing path"));
    }
    validate_key(path).map_err(|_| EngineError::bad_request("invalid path"))?;
    Ok(path)
}

#[async_trait]
impl Engine for KvV2 {
    async fn handle(&self, mut req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let op = req.op;
        if route == Route::Config {
            return match op {
                Read => self.config_read(&req).await,
                _ => self.config_write(&req).await,
            };
        }
        if route == Route::MetadataRoot {
            return self.metadata_list(&req, "").await;
        }
        let path = secret_path(args.get("path"))?;
        match (route, op) {
            (Route::Data, Read) => self.data_read(&req, path).await,
            (Route::Data, Delete) => self.data_delete(&req, path).await,
            (Route::Data, Patch) => self.data_patch(&mut req, path).await,
            (Route::Data, _) => self.data_write(&mut req, path).await,
            (Route::Metadata, Read) => self.metadata_read(&req, path).await,
            (Route::Metadata, List) => self.metadata_list(&req, path).await,
            (Route::Metadata, Delete) => self.metadata_delete(&req, path).await,
            (Route::Metadata, Patch) => self.metadata_patch(&req, path).await,
            (Route::Metadata, _) => self.metadata_write(&req, path).await,
            (Route::Delete, _) => self.versions_delete(&req, path).await,
            (Route::Undelete, _) => self.versions_undelete(&req, path).await,
            (Route::Destroy, _) => self.versions_destroy(&req, path).await,
            (Route::Subkeys, _) => self.subkeys_read(&req, path).await,
            // Config and the metadata root returned above.
            (Route::Config | Route::MetadataRoot, _) => Err(EngineError::UnsupportedPath),
        }
    }

    /// A data or metadata write creates when the secret has no record yet; every other
    /// write is an update.
    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Data | Route::Metadata, args)) => {
                let path = secret_path(args.get("path"))?;
                let found = req.storage.get(&metadata_key(path)).await?;
                Ok(Some(found.is_some()))
            }
            _ => Ok(None),
        }
    }
}
