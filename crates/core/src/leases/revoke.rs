//! Revoking leases: the one place a lease record is deleted (`delete_record`, which counts
//! and traces it), the revocation a caller waits on (`sys/leases/revoke` and
//! `revoke-prefix` with `sync=true`: tried once, even while a circuit breaker pauses
//! background retries, and answered with the real outcome), the batches the expiry workers
//! revoke (`revoke_records`), queueing (`sync=false`: leases made due now for the workers,
//! with a warning per open breaker), `revoke-force`, and a revoked token's leases.
//!
//! Failures are handed to the scheduler (`expiry.rs`), which retries with backoff and
//! finally marks a lease irrevocable; receipts of revocations not yet durable upstream are
//! kept by `confirm.rs`.
//!
//! Every revocation makes its leases due now, durably, before it goes upstream
//! (`begin_revocation`): a crash between the upstream revocation and the record's deletion
//! then leaves a lease that is due, which the next run's scheduler revokes again at once
//! (idempotent: the credential is already gone) and deletes, with no second revoke call.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrethub_engine::Revocation;
use secrethub_storage::{list_all, Storage as _, WriteOp};

use super::record::{due_key, id_key, irrevocable_key, pending_key, token_key};
use super::{now_ms, LeaseManager, LeaseRecord};
use crate::error::{CoreError, CoreResult};
use crate::run_to_end::run_to_end;

impl LeaseManager {
    /// Revokes one lease now: the engine first, then the record and its indexes.
    /// A missing lease is already revoked.
    /// Runs to its end even if the caller goes away mid-way (a dropped connection cancels
    /// the request), so it is not cut between the upstream revocation and the write that
    /// records it.
    pub(crate) async fn revoke(self: &Arc<Self>, lease_id: &str) -> CoreResult<()> {
        let Some(mut rec) = self.load(lease_id).await? else {
            return Ok(());
        };
        let me = self.clone();
        run_to_end(async move {
            let _claim = me.begin_revocation(std::slice::from_mut(&mut rec)).await?;
            match me.revoke_record(&rec).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = me.scheduler.after_failure(&me, rec, &e.to_string()).await;
                    Err(e)
                }
            }
        })
        .await
    }

    /// Calls the engine for a waiting caller and, on success, deletes the lease (keeping the
    /// engine's receipt when the revocation is yet to be confirmed upstream).
    async fn revoke_record(&self, rec: &LeaseRecord) -> CoreResult<()> {
        // Counted until the receipt is stored; `None` while the mount is being disabled.
        let unflushed = self.begin_unflushed(&rec.mount_accessor);
        let revocation = match self.engine_for(rec) {
            Some((engine, storage)) if unflushed.is_some() => {
                engine.revoke_for_caller(&rec.info(), &storage).await?
            }
            Some((engine, storage)) => {
                engine.revoke(&rec.info(), &storage).await?;
                Revocation::Durable
            }
            None => {
                // Mounts revoke their leases before they are disabled, so this is an anomaly:
                // keep the lease (retried, then irrevocable and visible) rather than drop it.
                return Err(CoreError::Internal(anyhow::anyhow!(
                    "the mount {:?} of lease {:?} is not mounted",
                    rec.mount_accessor,
                    rec.lease_id
                )));
            }
        };
        if self.record_revocation(rec, revocation).await? {
            self.receipt_stored();
        }
        Ok(())
    }

    /// Deletes a revoked lease, keeping the engine's receipt in the same write when the
    /// revocation is yet to be confirmed upstream. Returns whether a receipt was stored.
    async fn record_revocation(
        &self,
        rec: &LeaseRecord,
        revocation: Revocation,
    ) -> CoreResult<bool> {
        let keep = match revocation {
            Revocation::Durable => None,
            Revocation::Unconfirmed(receipt) => Some(self.receipt_op(rec, receipt)?),
        };
        let stored = keep.is_some();
        self.delete_record(rec, keep).await?;
        self.scheduler.breaker_success(rec);
        Ok(stored)
    }

    /// Revokes many leases, a batch per mount (one upstream round trip where the engine can),
    /// and deletes the ones revoked. Returns each record with its outcome. The scheduler's
    /// own batches (`explicit` false: expiry, queued revocations, intents left by a crash)
    /// let the engine answer "in effect, confirmed later" (a MariaDB account locked now and
    /// dropped on confirmation, which keeps up with an expiry backlog that `DROP USER` cannot);
    /// a caller's revoke-prefix, and every revocation of a mount being disabled, is durable.
    pub(crate) async fn revoke_records(
        &self,
        recs: Vec<LeaseRecord>,
        explicit: bool,
    ) -> Vec<(LeaseRecord, CoreResult<()>)> {
        let mut by_mount: BTreeMap<String, Vec<LeaseRecord>> = BTreeMap::new();
        for rec in recs {
            by_mount
                .entry(rec.mount_accessor.clone())
                .or_default()
                .push(rec);
        }
        let mut out = Vec::new();
        for (accessor, group) in by_mount {
            let Some((engine, storage)) = self.engine_for(&group[0]) else {
                for rec in group {
                    let err = CoreError::Internal(anyhow::anyhow!(
                        "the mount {accessor:?} of lease {:?} is not mounted",
                        rec.lease_id
                    ));
                    out.push((rec, Err(err)));
                }
                continue;
            };
            let mut group = group;
            let _claim = match self.begin_revocation(&mut group).await {
                Ok(claim) => claim,
                Err(e) => {
                    let error = e.to_string();
                    for rec in group {
                        let err = CoreError::Internal(anyhow::anyhow!(
                            "cannot mark lease {:?} as being revoked: {error}",
                            rec.lease_id
                        ));
                        out.push((rec, Err(err)));
                    }
                    continue;
                }
            };
            let infos: Vec<_> = group.iter().map(LeaseRecord::info).collect();
            // Counted until the receipts are stored; `None` while the mount is being disabled.
            let unflushed = (!explicit)
                .then(|| self.begin_unflushed(&accessor))
                .flatten();
            let results = if unflushed.is_some() {
                engine.revoke_batch_unflushed(&infos, &storage).await
            } else {
                let durable = engine.revoke_batch(&infos, &storage).await;
                durable
                    .into_iter()
                    .map(|r| r.map(|()| Revocation::Durable))
                    .collect()
            };
            let mut stored = false;
            for (rec, result) in group.into_iter().zip(results) {
                let outcome = match result {
                    Ok(revocation) => self
                        .record_revocation(&rec, revocation)
                        .await
                        .map(|receipt| stored |= receipt),
                    Err(e) => Err(e.into()),
                };
                out.push((rec, outcome));
            }
            drop(unflushed);
            if stored {
                self.receipt_stored();
            }
        }
        out
    }

    /// Claims `recs` for this revocation (the scheduler leaves them alone until the claim is
    /// dropped) and makes those not yet due due now, in one batch written before the engine
    /// is called. If the process dies after the upstream revocation and before
    /// `delete_record`, the lease is left due, so the next run revokes it again straight
    /// away (idempotent: gone upstream is Ok) and deletes its record; without this mark it
    /// kept its old due time and lingered until its expiry (or a second revoke call).
    async fn begin_revocation(
        &self,
        recs: &mut [LeaseRecord],
    ) -> CoreResult<super::expiry::Claim<'_>> {
        let claim = self
            .scheduler
            .claim(recs.iter().map(|r| r.lease_id.as_str()));
        let now = now_ms();
        let mut batch = Vec::new();
        for rec in recs.iter_mut().filter(|r| r.due_ms > now) {
            batch.push(WriteOp::Delete {
                key: due_key(rec.due_ms, &rec.lease_id),
            });
            rec.due_ms = now;
            batch.push(super::put_json(id_key(&rec.lease_id), rec)?);
            batch.push(WriteOp::Put {
                key: due_key(now, &rec.lease_id),
                value: Vec::new(),
            });
        }
        if !batch.is_empty() {
            self.view.apply(batch).await?;
        }
        Ok(claim)
    }

    /// Deletes the lease and its index entries, and writes `also` in the same batch.
    async fn delete_record(&self, rec: &LeaseRecord, also: Option<WriteOp>) -> CoreResult<()> {
        let id = &rec.lease_id;
        // A worker and an API call may revoke the same lease at once (both idempotent);
        // only the one that still finds the record counts it.
        let existed = self.view.get(&id_key(id)).await?.is_some();
        let mut batch = vec![
            WriteOp::Delete { key: id_key(id) },
            WriteOp::Delete {
                key: due_key(rec.due_ms, id),
            },
            WriteOp::Delete {
                key: pending_key(id),
            },
            WriteOp::Delete {
                key: irrevocable_key(id),
            },
        ];
        if let Some(t) = &rec.token_hash {
            batch.push(WriteOp::Delete {
                key: token_key(t, id),
            });
        }
        batch.extend(also);
        self.view.apply(batch).await?;
        if existed && rec.confirmed {
            self.stats.on_revoked(rec.irrevocable);
        }
        if existed {
            self.trace_revoked(rec).await;
        }
        Ok(())
    }

    /// Revokes every lease under `prefix` now, many at a time, for a caller waiting on the
    /// outcome (`sync=true`): one attempt each even where a breaker pauses background
    /// retries. Fails naming how many failed; those stay and are retried in the background.
    pub(crate) async fn revoke_prefix(self: &Arc<Self>, prefix: &str) -> CoreResult<usize> {
        let ids = self.ids_under(prefix).await?;
        let n = ids.len();
        let attempted = self.scheduler.revoke_many(self, ids, true).await;
        if attempted.failures > 0 {
            let first = attempted.first_error.unwrap_or_default();
            return Err(CoreError::Unavailable(format!(
                "{} of {n} leases under {prefix:?} could not be revoked (first: {first}); they are kept and retried",
                attempted.failures
            )));
        }
        Ok(n)
    }

    /// Queues the revocation of every lease under `prefix` (`sync=false`): each is made due
    /// now for the workers. Returns a warning per role whose circuit breaker is open, naming
    /// when its revocations resume.
    pub(crate) async fn queue_prefix(&self, prefix: &str) -> CoreResult<Vec<String>> {
        let ids = self.ids_under(prefix).await?;
        self.queue(ids).await
    }

    /// Queues the revocation of one lease (`sync=false`), as `queue_prefix`.
    pub(crate) async fn queue_lease(&self, lease_id: &str) -> CoreResult<Vec<String>> {
        self.queue(vec![lease_id.to_string()]).await
    }

    async fn queue(&self, ids: Vec<String>) -> CoreResult<Vec<String>> {
        let mut warnings = Vec::new();
        for id in ids {
            let Some(rec) = self.load(&id).await? else {
                continue;
            };
            if let Some(b) = self.scheduler.open_breaker(&rec) {
                let warning = format!(
                    "revocations of leases under {:?} are paused by their circuit breaker after {} consecutive failures; queued until {}",
                    b.role,
                    b.failures,
                    secrethub_common::format_rfc3339(i128::from(b.until_ms) * 1_000_000)
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
            self.make_due_now(rec).await?;
        }
        self.scheduler.wake();
        Ok(warnings)
    }

    /// Moves a lease's due time to now, for the workers to revoke it.
    async fn make_due_now(&self, mut rec: LeaseRecord) -> CoreResult<()> {
        let id = rec.lease_id.clone();
        let old = rec.due_ms;
        let now = now_ms();
        if old <= now {
            return Ok(());
        }
        rec.due_ms = now;
        self.store_rescheduled(&id, &rec, old).await
    }

    /// Deletes every lease under `prefix` without asking the engine (operator's last resort),
    /// and every receipt of a revocation under it still waiting for its engine's
    /// confirmation (a connection deleted since, say).
    pub(crate) async fn revoke_force(&self, prefix: &str) -> CoreResult<usize> {
        let ids = self.ids_under(prefix).await?;
        for id in &ids {
            if let Some(rec) = self.load(id).await? {
                self.delete_record(&rec, None).await?;
            }
        }
        self.drop_receipts_under(prefix.trim_start_matches('/'))
            .await?;
        Ok(ids.len())
    }

    async fn ids_under(&self, prefix: &str) -> CoreResult<Vec<String>> {
        let p = prefix.trim_start_matches('/');
        let mut ids: Vec<String> = list_all(&self.view, &id_key(p))
            .await?
            .into_iter()
            .map(|k| format!("{p}{k}"))
            .collect();
        // A prefix without a trailing slash may also name one lease exactly.
        if !p.is_empty()
            && !p.ends_with('/')
            && self.load(p).await?.is_some()
            && !ids.contains(&p.to_string())
        {
            ids.push(p.to_string());
        }
        Ok(ids)
    }

    /// Makes every lease of a revoked token due now; the workers revoke them.
    pub(crate) async fn revoke_for_token(&self, token_hash: &str) -> CoreResult<()> {
        let ids = list_all(&self.view, &format!("token/{token_hash}/")).await?;
        let now = now_ms();
        for id in ids {
            let Some(mut rec) = self.load(&id).await? else {
                self.view.delete(&token_key(token_hash, &id)).await?;
                continue;
            };
            let old = rec.due_ms;
            rec.due_ms = now;
            self.store_rescheduled(&id, &rec, old).await?;
        }
        self.scheduler.wake();
        Ok(())
    }
}
