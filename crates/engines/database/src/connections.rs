//! Opened plugins (with their pools), kept in memory per connection name.
//!
//! A config's `revision` changes on every write, so an entry opened from an older revision is
//! replaced on the next use: rewriting, rotating or resetting a config rebuilds its pools,
//! even when another node wrote it. The map's lock is held only to look up or swap an `Arc`,
//! never across an `.await` or around a database connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secrethub_storage::StorageView;

use secrethub_database_plugin::{DatabaseError, DatabasePlugin};

use crate::records::ConnectionRecord;
use crate::registry;

struct Entry {
    revision: String,
    plugin: Arc<dyn DatabasePlugin>,
}

/// The in-memory cache of opened plugins.
#[derive(Default)]
pub(crate) struct Connections {
    open: Mutex<HashMap<String, Entry>>,
}

/// Storage key of a connection config.
pub(crate) fn config_key(name: &str) -> String {
    format!("config/{name}")
}

impl Connections {
    /// The plugin for `record` (stored as `name`), opened now if needed.
    pub(crate) fn plugin(
        &self,
        name: &str,
        record: &ConnectionRecord,
    ) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
        if let Some(e) = self.lock().get(name) {
            if e.revision == record.revision {
                return Ok(e.plugin.clone());
            }
        }
        let plugin = registry::find(&record.plugin_name)?.open(name, &record.details)?;
        // Two requests may open the same revision at once; the later insert wins and the other
        // plugin is dropped after its request, which is harmless.
        self.insert(name, &record.revision, plugin.clone());
        Ok(plugin)
    }

    /// Caches a plugin already opened (and verified) for `revision`.
    pub(crate) fn insert(&self, name: &str, revision: &str, plugin: Arc<dyn DatabasePlugin>) {
        self.lock().insert(
            name.to_string(),
            Entry {
                revision: revision.to_string(),
                plugin,
            },
        );
    }

    /// Forgets the plugin for `name`; its pools close once in-flight requests finish.
    pub(crate) fn evict(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding this lock can only happen inside HashMap operations; the map
        // is still consistent then, so poisoning is ignored.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads the config `name` and its plugin, finishing an interrupted root rotation first.
    pub(crate) async fn load(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<Option<(ConnectionRecord, Arc<dyn DatabasePlugin>)>, DatabaseError> {
        let Some(mut record) = storage
            .get_json::<ConnectionRecord>(&config_key(name))
            .await?
        else {
            return Ok(None);
        };
        if record.pending_password.is_some() {
            record = self.resolve_pending_root(storage, name, record).await?;
        }
        let plugin = self.plugin(name, &record)?;
        Ok(Some((record, plugin)))
    }

    /// `rotate-root` stores the new password as pending before changing it in the database.
    /// If it was interrupted, find out which password works and keep that one.
    async fn resolve_pending_root(
        &self,
        storage: &StorageView,
        name: &str,
        mut record: ConnectionRecord,
    ) -> Result<ConnectionRecord, DatabaseError> {
        let Some(pending) = record.pending_password.take() else {
            return Ok(record);
        };
        let mut candidate = record.clone();
        candidate.details.set_password(pending.expose());
        let opened = registry::find(&candidate.plugin_name)?.open(name, &candidate.details)?;
        let chosen = match opened.verify().await {
            Ok(()) => candidate,
            Err(DatabaseError::Verify { .. }) => match self.plugin(name, &record)?.verify().await {
                // The old password still works: the rotation never reached the database.
                Ok(()) => record,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let mut chosen = chosen;
        chosen.revision = secrethub_common::random_uuid();
        storage.put_json(&config_key(name), &chosen).await?;
        tracing::info!(connection = name, "finished an interrupted root rotation");
        Ok(chosen)
    }
}
