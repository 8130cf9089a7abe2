//! `PendingIntent`: core's implementation of the engine API's `IntentLog`. An engine calls
//! it before a side effect; the intent is persisted as an unconfirmed lease under the lease
//! ID the response will carry, so a crash at any instant leaves something to revoke.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrethub_engine::{EngineError, IntentLog};

use super::{now_ms, LeaseManager, LeaseRecord};

/// One request's intent log.
pub(crate) struct PendingIntent {
    pub(crate) manager: Arc<LeaseManager>,
    pub(crate) lease_id: String,
    pub(crate) mount_accessor: String,
    pub(crate) path: String,
    pub(crate) token_hash: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    /// The due time of the intent, once the engine recorded one (a failed request must then
    /// revoke it, and a confirmed lease replaces its index entry).
    recorded_due: Mutex<Option<i64>>,
}

impl PendingIntent {
    pub(crate) fn new(
        manager: Arc<LeaseManager>,
        lease_id: String,
        mount_accessor: String,
        path: String,
        token_hash: Option<String>,
        metadata: BTreeMap<String, String>,
    ) -> Self {
        PendingIntent {
            manager,
            lease_id,
            mount_accessor,
            path,
            token_hash,
            metadata,
            recorded_due: Mutex::new(None),
        }
    }

    pub(crate) fn was_recorded(&self) -> bool {
        self.recorded_due().is_some()
    }

    pub(crate) fn recorded_due(&self) -> Option<i64> {
        *self.recorded_due.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl IntentLog for PendingIntent {
    async fn record(&self, internal: &serde_json::Value) -> Result<(), EngineError> {
        let now = now_ms();
        let rec = LeaseRecord {
            version: 1,
            lease_id: self.lease_id.clone(),
            mount_accessor: self.mount_accessor.clone(),
            path: self.path.clone(),
            internal: internal.clone(),
            confirmed: false,
            issue_ms: now,
            expire_ms: now,
            max_expire_ms: 0,
            last_renewal_ms: 0,
            renewable: false,
            token_hash: self.token_hash.clone(),
            metadata: self.metadata.clone(),
            attempts: 0,
            last_error: String::new(),
            irrevocable: false,
            due_ms: 0,
        };
        let due = self.manager.record_intent(rec).await.map_err(|e| match e {
            crate::CoreError::Storage(s) => EngineError::Storage(s),
            other => EngineError::Internal(anyhow::Error::new(other)),
        })?;
        *self.recorded_due.lock().unwrap_or_else(|e| e.into_inner()) = Some(due);
        Ok(())
    }
}
