//! The versioned engine's handlers, one file per resource, plus what they share: reading a
//! live version, committing a new one in one atomic batch, and check-and-set.

mod config;
mod data;
mod metadata;
mod subkeys;
mod versions;

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, StorageView};
use secrethub_storage::{Storage as _, WriteOp};
use serde::Serialize;

use crate::input::version_param;
use crate::record::{ConfigRecord, KeyRecord, VersionRecord, RECORD_VERSION};
use crate::v2::{metadata_key, version_key, KvV2};

/// The answer for a version that exists but is deleted or destroyed. Vault sends a 404 whose
/// body still carries the version's `metadata`; the engine API has no 404 with a body yet,
/// so the metadata is dropped here, the only place to change once it has.
pub(crate) fn not_found_with(metadata: JsonMap) -> EngineError {
    let mut data = JsonMap::new();
    data.insert("data".into(), serde_json::Value::Null);
    data.insert("metadata".into(), serde_json::Value::Object(metadata));
    EngineError::NotFoundWith(Box::new(data))
}

/// JSON bytes of a record for a batch.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
    // Records are plain structs with string or integer map keys, so this does not fail in
    // practice; if it ever did, it is a bug rather than bad input.
    serde_json::to_vec(value).map_err(|e| EngineError::Internal(e.into()))
}

/// A readable version: its `metadata` object and its data.
pub(crate) struct LiveVersion {
    pub(crate) metadata: JsonMap,
    pub(crate) data: JsonMap,
}

/// Enforces `options.cas` and the mount's or key's `cas_required`.
pub(crate) fn check_cas(
    cas: Option<u64>,
    config: &ConfigRecord,
    record: &KeyRecord,
) -> Result<(), EngineError> {
    match cas {
        Some(c) if c != record.current_version => Err(EngineError::bad_request(
            "check-and-set parameter did not match the current version",
        )),
        Some(_) => Ok(()),
        None if config.cas_required || record.cas_required => Err(EngineError::bad_request(
            "check-and-set parameter required for this call",
        )),
        None => Ok(()),
    }
}

impl KvV2 {
    /// The version named by `?version=` (default: the current one), if it can be read.
    /// Takes no lock: the latest version is one get; an older one is a second get, and if a
    /// concurrent destroy or prune removed it in between, the answer is simply 404.
    pub(crate) async fn live_version(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<LiveVersion, EngineError> {
        let version = version_param(&req.body)?;
        let mut rec = self
            .load(&req.storage, path)
            .await?
            .ok_or(EngineError::NotFound)?;
        let n = version.unwrap_or(rec.current_version);
        let vm = *rec.versions.get(&n).ok_or(EngineError::NotFound)?;
        let metadata = rec.version_json(n, &vm);
        if !vm.is_live(self.now()) {
            return Err(not_found_with(metadata));
        }
        let data = if n == rec.current_version {
            rec.current_data.take()
        } else {
            let stored: Option<VersionRecord> = req.storage.get_json(&version_key(path, n)).await?;
            stored.map(|r| r.data)
        };
        let data = data.ok_or(EngineError::NotFound)?;
        Ok(LiveVersion { metadata, data })
    }

    /// Adds `data` as the next version of `rec` in one atomic batch: the previous current
    /// data moves to `versions/`, versions beyond `max_versions` are deleted, and the record
    /// is rewritten. Returns the record as stored. The caller holds the secret's lock.
    pub(crate) async fn commit_version(
        &self,
        storage: &StorageView,
        path: &str,
        mut rec: KeyRecord,
        data: JsonMap,
        now: i64,
        config: &ConfigRecord,
    ) -> Result<KeyRecord, EngineError> {
        let previous = rec.current_version;
        let previous_data = rec.current_data.take();
        let dropped = rec.add_version(now, config);
        let mut batch = Vec::with_capacity(dropped.len() + 2);
        if let Some(old) = previous_data {
            if rec.versions.contains_key(&previous) {
                let record = VersionRecord {
                    version: RECORD_VERSION,
                    data: old,
                };
                batch.push(WriteOp::Put {
                    key: version_key(path, previous),
                    value: encode(&record)?,
                });
            }
        }
        // The previous current version's data was inline, never under `versions/`.
        for n in dropped.into_iter().filter(|n| *n != previous) {
            batch.push(WriteOp::Delete {
                key: version_key(path, n),
            });
        }
        rec.current_data = Some(data);
        batch.push(WriteOp::Put {
            key: metadata_key(path),
            value: encode(&rec)?,
        });
        storage.apply(batch).await?;
        Ok(rec)
    }

    /// Rewrites the record of `path` alone.
    pub(crate) async fn store_record(
        &self,
        storage: &StorageView,
        path: &str,
        rec: &KeyRecord,
    ) -> Result<(), EngineError> {
        storage.put(&metadata_key(path), &encode(rec)?).await?;
        Ok(())
    }
}
