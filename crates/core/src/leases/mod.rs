//! The lease manager: every lease an engine hands out (and every intent recorded before a
//! side effect) is persisted behind the barrier with three indexes, so nothing depends on
//! holding leases in memory:
//!
//! - `sys/expire/id/<lease id>` → `LeaseRecord` (lease IDs are paths: prefix listing works)
//! - `sys/expire/due/<ms, 15 digits>/<lease id>` → when the scheduler must act (expiry or retry)
//! - `sys/expire/token/<token hash>/<lease id>` → revoke a token's leases with it
//! - `sys/expire/pending/<lease id>` → intents not confirmed yet (revoked on start-up)
//! - `sys/expire/irrevocable/<lease id>` → leases that exhausted their fast retries
//! - `sys/expire/confirm/<lease id>` → revoked leases whose revocation the engine has yet to
//!   confirm durable upstream (`confirm.rs`)
//!
//! - `sys/expire/stats` → the created/renewed/revoked totals (`stats.rs`)
//!
//! Every change to a record and its index entries is one atomic batch. This file holds the
//! manager itself: intents, registration, lookup, listing, renewal, tidy and start-up.
//! Revocations (caller `sync`, queued, forced, per token, and the workers' batches) are in
//! `revoke.rs`, the expiry scheduler with its retries and breakers in `expiry.rs`.
//! Background work (expiry, intent clean-up, irrevocable leases) is logged and audited
//! (`trace.rs`).

mod confirm;
mod expiry;
mod intents;
mod record;
mod revoke;
mod stats;
mod trace;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrethub_common::{format_duration, now_unix_nanos, random_alnum};
use secrethub_engine::{Engine, NewLease};
use secrethub_storage::{list_all, list_children, Storage, StorageView, WriteOp};

use crate::audit_broker::AuditBroker;
use crate::error::{CoreError, CoreResult};
use crate::mounts::{Mounted, RouterCell};

pub(crate) use expiry::backoff;
pub use expiry::RetryConfig;
pub(crate) use intents::PendingIntent;
pub(crate) use record::LeaseRecord;
use record::{due_key, id_key, pending_key, token_key};
pub(crate) use stats::LeaseStats;

/// How long an unconfirmed intent may stay unconfirmed before the scheduler revokes it
/// (the longest a credential creation may take).
const INTENT_GRACE_MS: i64 = 120_000;

pub(crate) fn now_ms() -> i64 {
    (now_unix_nanos() / 1_000_000) as i64
}

/// The lease manager of one unsealed core.
pub(crate) struct LeaseManager {
    view: StorageView,
    barrier: Arc<dyn Storage>,
    router: RouterCell,
    /// Where background revocations are audited (`trace.rs`).
    audit: Arc<AuditBroker>,
    /// Unconfirmed intents of a previous run being revoked at start-up (`trace.rs`).
    startup_intents: Mutex<HashSet<String>>,
    pub(crate) stats: LeaseStats,
    scheduler: expiry::Scheduler,
    confirmer: confirm::Confirmer,
}

/// What a renewal answers.
pub(crate) struct Renewed {
    pub(crate) record: LeaseRecord,
    pub(crate) warnings: Vec<String>,
}

impl LeaseManager {
    pub(crate) fn new(
        barrier: Arc<dyn Storage>,
        router: RouterCell,
        audit: Arc<AuditBroker>,
        retry: RetryConfig,
    ) -> Arc<Self> {
        Arc::new(LeaseManager {
            view: StorageView::new(barrier.clone(), "sys/expire/"),
            barrier,
            router,
            audit,
            startup_intents: Mutex::default(),
            stats: LeaseStats::default(),
            scheduler: expiry::Scheduler::new(retry),
            confirmer: confirm::Confirmer::default(),
        })
    }

    /// A new lease ID for a request path: `<mount path><relative path>/<random>`.
    pub(crate) fn new_lease_id(mount_api_path: &str, rel: &str) -> String {
        format!("{mount_api_path}{rel}/{}", random_alnum(24))
    }

    async fn load(&self, lease_id: &str) -> CoreResult<Option<LeaseRecord>> {
        if lease_id.is_empty() || lease_id.split('/').any(|s| s == ".." || s == ".") {
            return Ok(None);
        }
        Ok(self.view.get_json::<LeaseRecord>(&id_key(lease_id)).await?)
    }

    /// Persists an intent (unconfirmed lease) before the engine's side effect. It is due
    /// after a grace period, so an intent whose request never completes gets revoked.
    /// Returns that due time, which `register` needs to replace the intent's index entry.
    pub(crate) async fn record_intent(&self, mut rec: LeaseRecord) -> CoreResult<i64> {
        rec.confirmed = false;
        rec.due_ms = now_ms() + INTENT_GRACE_MS;
        let mut batch = vec![
            put_json(id_key(&rec.lease_id), &rec)?,
            WriteOp::Put {
                key: due_key(rec.due_ms, &rec.lease_id),
                value: Vec::new(),
            },
            WriteOp::Put {
                key: pending_key(&rec.lease_id),
                value: Vec::new(),
            },
        ];
        if let Some(t) = &rec.token_hash {
            batch.push(WriteOp::Put {
                key: token_key(t, &rec.lease_id),
                value: Vec::new(),
            });
        }
        self.view.apply(batch).await?;
        Ok(rec.due_ms)
    }

    /// Registers a confirmed lease (replacing its intent, if one was recorded). The lease is
    /// durable before this returns, i.e. before the response carrying it leaves the process.
    /// `intent_due` is the due time of the recorded intent, if the engine recorded one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn register(
        &self,
        lease_id: &str,
        mounted: &Mounted,
        rel: &str,
        new: NewLease,
        token_hash: Option<String>,
        metadata: BTreeMap<String, String>,
        (mount_default, mount_max): (Duration, Duration),
        intent_due: Option<i64>,
    ) -> CoreResult<LeaseRecord> {
        let now = now_ms();
        let max = if new.terms.max_ttl.is_zero() {
            mount_max
        } else {
            new.terms.max_ttl.min(mount_max)
        };
        let ttl = if new.terms.ttl.is_zero() {
            mount_default
        } else {
            new.terms.ttl
        }
        .min(max);
        let rec = LeaseRecord {
            version: 1,
            lease_id: lease_id.to_string(),
            mount_accessor: mounted.entry.accessor.clone(),
            path: rel.to_string(),
            internal: new.internal,
            confirmed: true,
            issue_ms: now,
            expire_ms: now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
            max_expire_ms: now.saturating_add(i64::try_from(max.as_millis()).unwrap_or(i64::MAX)),
            last_renewal_ms: 0,
            renewable: new.terms.renewable,
            token_hash,
            metadata,
            attempts: 0,
            last_error: String::new(),
            irrevocable: false,
            due_ms: now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
        };
        let mut batch = vec![
            put_json(id_key(lease_id), &rec)?,
            WriteOp::Put {
                key: due_key(rec.due_ms, lease_id),
                value: Vec::new(),
            },
        ];
        if let Some(t) = &rec.token_hash {
            batch.push(WriteOp::Put {
                key: token_key(t, lease_id),
                value: Vec::new(),
            });
        }
        if let Some(due) = intent_due {
            batch.push(WriteOp::Delete {
                key: due_key(due, lease_id),
            });
            batch.push(WriteOp::Delete {
                key: pending_key(lease_id),
            });
        }
        self.view.apply(batch).await?;
        self.stats.on_created();
        self.scheduler.wake_for(rec.due_ms);
        Ok(rec)
    }

    pub(crate) async fn lookup(&self, lease_id: &str) -> CoreResult<LeaseRecord> {
        match self.load(lease_id).await? {
            Some(r) if r.confirmed => Ok(r),
            _ => Err(CoreError::bad_request("invalid lease")),
        }
    }

    /// Lease IDs (or sub-prefixes ending in `/`) directly under `prefix`.
    pub(crate) async fn list(&self, prefix: &str) -> CoreResult<Vec<String>> {
        let p = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        Ok(list_children(&self.view, &id_key(&p)).await?)
    }

    fn engine_for(&self, rec: &LeaseRecord) -> Option<(Arc<dyn Engine>, StorageView)> {
        self.engine_for_accessor(&rec.mount_accessor)
    }

    fn engine_for_accessor(&self, accessor: &str) -> Option<(Arc<dyn Engine>, StorageView)> {
        let router = crate::mounts::current(&self.router);
        let found = router
            .all()
            .find(|m| m.entry.accessor == accessor)
            .and_then(|m| {
                let view = StorageView::new(self.barrier.clone(), m.entry.storage_prefix());
                m.engine.clone().map(|e| (e, view))
            });
        found
    }

    /// Renews a lease by `increment` (0 = its original TTL), capped at its max expiry with
    /// a warning. The engine extends the credential upstream before the record changes.
    pub(crate) async fn renew(&self, lease_id: &str, increment: Duration) -> CoreResult<Renewed> {
        // OpenBao's words for renewing what is not there (its lookup says "invalid lease").
        let mut rec = match self.load(lease_id).await? {
            Some(r) if r.confirmed => r,
            _ => return Err(CoreError::bad_request("lease not found")),
        };
        if !rec.renewable {
            return Err(CoreError::bad_request("lease is not renewable"));
        }
        let now = now_ms();
        if rec.expire_ms <= now {
            return Err(CoreError::bad_request("lease expired"));
        }
        let original = rec.expire_ms - rec.issue_ms.max(rec.last_renewal_ms);
        let wanted = if increment.is_zero() {
            original
        } else {
            i64::try_from(increment.as_millis()).unwrap_or(i64::MAX)
        };
        let mut warnings = Vec::new();
        let mut new_expire = now.saturating_add(wanted);
        if rec.max_expire_ms > 0 && new_expire > rec.max_expire_ms {
            new_expire = rec.max_expire_ms;
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                format_duration(Duration::from_millis(u64::try_from(wanted).unwrap_or(0))),
                format_duration(Duration::from_millis(
                    u64::try_from(new_expire.saturating_sub(now)).unwrap_or(0)
                ))
            ));
        }
        let (engine, storage) = self
            .engine_for(&rec)
            .ok_or_else(|| CoreError::bad_request("the mount of this lease is gone"))?;
        let mut info = rec.info();
        info.expire_time = new_expire / 1000;
        engine.renew(&info, &storage).await?;
        let old_due = rec.due_ms;
        rec.expire_ms = new_expire;
        rec.last_renewal_ms = now;
        rec.due_ms = new_expire;
        self.store_rescheduled(lease_id, &rec, old_due).await?;
        // A renewal may shorten the lease (an increment below what is left).
        self.scheduler.wake_for(rec.due_ms);
        self.stats.on_renewed();
        Ok(Renewed {
            record: rec,
            warnings,
        })
    }

    /// Writes lease `id`'s record `rec` and moves its due index entry from `old_due` to
    /// `rec.due_ms`, in one batch (renewal, deferral, revocations made due now).
    async fn store_rescheduled(&self, id: &str, rec: &LeaseRecord, old_due: i64) -> CoreResult<()> {
        self.view
            .apply(vec![
                put_json(id_key(id), rec)?,
                WriteOp::Delete {
                    key: due_key(old_due, id),
                },
                WriteOp::Put {
                    key: due_key(rec.due_ms, id),
                    value: Vec::new(),
                },
            ])
            .await?;
        Ok(())
    }

    /// `sys/leases/tidy`: removes index entries whose lease record is gone (left by a crash
    /// between two writes of an older version, or by manual storage surgery). Returns how
    /// many entries were removed. Records themselves are never touched.
    pub(crate) async fn tidy(&self) -> CoreResult<usize> {
        let mut removed = 0;
        for prefix in ["due/", "token/", "pending/", "irrevocable/"] {
            for key in list_all(&self.view, prefix).await? {
                let lease_id = match prefix {
                    "due/" => record::parse_due(&key).map(|(_, id)| id.to_string()),
                    "token/" => key.split_once('/').map(|(_, id)| id.to_string()),
                    _ => Some(key.clone()),
                };
                let orphaned = match lease_id {
                    Some(id) => self.view.get(&id_key(&id)).await?.is_none(),
                    None => true,
                };
                if orphaned {
                    self.view.delete(&format!("{prefix}{key}")).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Irrevocable leases, for `GET sys/leases?type=irrevocable`.
    pub(crate) async fn irrevocable(&self) -> CoreResult<Vec<LeaseRecord>> {
        let ids = list_all(&self.view, "irrevocable/").await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = self.load(&id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Confirmed lease IDs in order, one page (for `GET sys/leases`).
    pub(crate) async fn page(&self, after: Option<&str>, limit: usize) -> CoreResult<Vec<String>> {
        Ok(self.view.list("id/", after, limit).await?)
    }

    /// How many leases (or intents) exist under `prefix`, counting at most `limit`.
    pub(crate) async fn count_under(&self, prefix: &str, limit: usize) -> CoreResult<usize> {
        Ok(self
            .view
            .list(&id_key(prefix.trim_start_matches('/')), None, limit)
            .await?
            .len())
    }

    /// Starts the scheduler and revokes unconfirmed intents left by a crash, in the
    /// background: unseal does not wait for either.
    pub(crate) fn start(self: &Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        let me = self.clone();
        let sealed = cancel.clone();
        tokio::spawn(async move {
            let outcome = me.revoke_pending_intents().await;
            // Those not revoked now are retried by the scheduler, which traces them itself.
            trace::lock(&me.startup_intents).clear();
            // Initialisation unseals only to write the root token and seals again at once:
            // that is no failure to report.
            if sealed.is_cancelled() {
                return;
            }
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "revoking unconfirmed intents failed; the scheduler retries them");
            }
            tracing::info!("lease restore complete");
        });
        confirm::spawn(self.clone(), cancel.clone());
        self.spawn_stats_flusher(cancel.clone());
        expiry::spawn(self.clone(), cancel);
    }

    async fn revoke_pending_intents(self: &Arc<Self>) -> CoreResult<()> {
        let ids = list_all(&self.view, "pending/").await?;
        if ids.is_empty() {
            return Ok(());
        }
        trace::lock(&self.startup_intents).extend(ids.iter().cloned());
        tracing::info!(
            count = ids.len(),
            "revoking unconfirmed intents left by a previous run"
        );
        let failures = self.scheduler.revoke_many(self, ids, false).await.failures;
        if failures > 0 {
            tracing::warn!(
                failures,
                "some unconfirmed intents could not be revoked yet"
            );
        }
        Ok(())
    }
}

fn put_json<T: serde::Serialize>(key: String, v: &T) -> CoreResult<WriteOp> {
    Ok(WriteOp::Put {
        key,
        value: serde_json::to_vec(v).map_err(|e| CoreError::Internal(e.into()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrethub_storage::MemoryStorage;

    #[tokio::test]
    async fn tidy_removes_only_orphaned_index_entries() {
        let barrier: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let audit = Arc::new(AuditBroker::new(barrier.clone()));
        let mgr = LeaseManager::new(barrier, Default::default(), audit, Default::default());
        let v = &mgr.view;
        v.put("id/db/creds/ro/live", b"{}").await.unwrap();
        for key in [
            "due/000000000000001/db/creds/ro/live",
            "due/000000000000002/db/creds/ro/gone",
            "token/abc/db/creds/ro/live",
            "token/abc/db/creds/ro/gone",
            "pending/db/creds/ro/gone",
            "irrevocable/db/creds/ro/gone",
        ] {
            v.put(key, b"").await.unwrap();
        }
        assert_eq!(mgr.tidy().await.unwrap(), 4);
        let left = list_all(v, "").await.unwrap();
        assert_eq!(
            left,
            [
                "due/000000000000001/db/creds/ro/live",
                "id/db/creds/ro/live",
                "token/abc/db/creds/ro/live"
            ]
        );
    }
}
