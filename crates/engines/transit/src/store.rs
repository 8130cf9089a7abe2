//! Where keys live in the mount's storage (`policy/<name>`, behind the barrier) and the
//! mount's write lock: every read-modify-write of a key record (create, config, rotate,
//! trim, delete, restore, a timer's rotation, an encryption that creates its key) holds it,
//! so concurrent writers never lose one another's update. Reads take no lock: a record is
//! one storage get.

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

/// The mount's key records and their write lock.
#[derive(Default)]
pub(crate) struct KeyStore {
    writes: Mutex<()>,
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
        let Some(bytes) = storage.get(&format!("{PREFIX}{name}")).await? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| TransitError::Internal(anyhow::anyhow!("undecodable key record {name:?}")))
    }

    pub(crate) async fn save(&self, storage: &StorageView, rec: &KeyRecord) -> Result<()> {
        // The encoded record holds key material: zeroized once written.
        let bytes =
            Zeroizing::new(serde_json::to_vec(rec).map_err(|e| TransitError::Internal(e.into()))?);
        Ok(storage
            .put(&format!("{PREFIX}{}", rec.name), &bytes)
            .await?)
    }

    pub(crate) async fn delete(&self, storage: &StorageView, name: &str) -> Result<()> {
        Ok(storage.delete(&format!("{PREFIX}{name}")).await?)
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
