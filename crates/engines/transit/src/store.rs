//! Where keys live in the mount's storage (`policy/<name>`, behind the barrier) and the
//! mount's write lock: every read-modify-write of a key record (create, config, rotate,
//! trim, delete, restore, a timer's rotation, an encryption that creates its key) holds it,
//! so concurrent writers never lose one another's update. Reads take no lock.
//!
//! Decoded records are kept in memory, as Vault's transit keeps its keys: an encryption
//! read its key twice (the existence check and the operation), each a barrier decryption
//! and a JSON decode, a fifth of its CPU. Every change of a record goes through
//! [`KeyStore::save`] or [`KeyStore::delete`], which update the cache, so the cache assumes
//! this engine instance is the mount's only writer (the server drops it on seal and on
//! unmount). A generation count keeps a read that raced a write from caching what it read
//! before the write.

use std::collections::HashMap;
use std::sync::Arc;

use secrethub_storage::{list_children, Storage as _, StorageView};
use tokio::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

use crate::error::{Result, TransitError};
use crate::key::KeyRecord;

const PREFIX: &str = "policy/";

/// The timer of a key's auto-rotation.
pub(crate) fn rotate_timer(name: &str) -> String {
    format!("keys/{name}/rotate")
}

/// The key a timer names, if it is a rotation timer.
pub(crate) fn timer_key_name(timer: &str) -> Option<&str> {
    timer
        .strip_prefix("keys/")
        .and_then(|rest| rest.strip_suffix("/rotate"))
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// More keys than a mount uses at once; past it the cache starts over.
const MAX_CACHED: usize = 1024;

/// The mount's key records, their write lock and their cache.
#[derive(Default)]
pub(crate) struct KeyStore {
    writes: Mutex<()>,
    cache: std::sync::Mutex<Cache>,
}

/// Decoded records by name; `generation` counts writes.
#[derive(Default)]
struct Cache {
    records: HashMap<String, Arc<KeyRecord>>,
    generation: u64,
}

impl KeyStore {
    /// Held across one read-modify-write of any key of the mount.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    pub(crate) async fn load(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<Option<KeyRecord>> {
        check_name(name)?;
        let generation = {
            let cache = self.cache();
            if let Some(rec) = cache.records.get(name) {
                return Ok(Some(KeyRecord::clone(rec)));
            }
            cache.generation
        };
        let Some(bytes) = storage.get(&format!("{PREFIX}{name}")).await? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        let rec: KeyRecord = serde_json::from_slice(&bytes).map_err(|_| {
            TransitError::Internal(anyhow::anyhow!("undecodable key record {name:?}"))
        })?;
        let mut cache = self.cache();
        // A write since the read began: what was read may be older than the cache's.
        if cache.generation == generation {
            if cache.records.len() >= MAX_CACHED {
                cache.records.clear();
            }
            cache
                .records
                .insert(name.to_string(), Arc::new(rec.clone()));
        }
        Ok(Some(rec))
    }

    pub(crate) async fn save(&self, storage: &StorageView, rec: &KeyRecord) -> Result<()> {
        // The encoded record holds key material: zeroized once written.
        let bytes =
            Zeroizing::new(serde_json::to_vec(rec).map_err(|e| TransitError::Internal(e.into()))?);
        let written = storage.put(&format!("{PREFIX}{}", rec.name), &bytes).await;
        let mut cache = self.cache();
        cache.generation += 1;
        match written {
            Ok(()) => {
                cache
                    .records
                    .insert(rec.name.clone(), Arc::new(rec.clone()));
                Ok(())
            }
            Err(e) => {
                // Whether the write landed is unknown: the next read goes to storage.
                cache.records.remove(&rec.name);
                Err(e.into())
            }
        }
    }

    pub(crate) async fn delete(&self, storage: &StorageView, name: &str) -> Result<()> {
        let deleted = storage.delete(&format!("{PREFIX}{name}")).await;
        let mut cache = self.cache();
        cache.generation += 1;
        cache.records.remove(name);
        Ok(deleted?)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The map holds no invariant a panicking holder could break.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn list(&self, storage: &StorageView) -> Result<Vec<String>> {
        Ok(list_children(storage, PREFIX).await?)
    }
}

/// A key name: one path segment, printable.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 512 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(TransitError::bad("invalid key name"));
    }
    Ok(())
}
