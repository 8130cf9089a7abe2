//! What background lease work leaves behind: a log line and an audit entry for every lease
//! the scheduler revokes on its own (expiry, or revocation with its token), every unconfirmed
//! intent it revokes (left by a crash, or past its grace period), and every lease that
//! becomes irrevocable, as the user guide promises ("Log audit events" on expiration).
//!
//! The entry (`system_trace.rs`, shared with the token expiry sweeper) has Vault's request
//! shape: `operation` "revoke" (an irrevocable lease's entry carries the last error in
//! `error`), `path` the lease ID, and an `auth` that names the system. It fails open: a
//! failed entry is logged as an error naming the lease.

use std::sync::{Mutex, MutexGuard};

use super::{now_ms, LeaseManager, LeaseRecord};
use crate::system_trace::{audit_revocation, SystemRevocation};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each mutation under it is a single insert, remove or clear.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LeaseManager {
    /// Logs and audits a lease just deleted, if background work revoked it: a start-up
    /// intent, or a lease a worker took from the due index. A caller's revocation (API,
    /// revoke-prefix, a failed request's own intent) is audited with its request instead.
    pub(crate) async fn trace_revoked(&self, rec: &LeaseRecord) {
        let id = rec.lease_id.as_str();
        let startup = lock(&self.startup_intents).remove(id);
        let what = if startup || (!rec.confirmed && self.scheduler.is_inflight(id)) {
            "unconfirmed intent revoked"
        } else if !self.scheduler.is_inflight(id) {
            return;
        } else if rec.expire_ms <= now_ms() {
            "expired lease revoked"
        } else {
            // Made due early: its token was revoked, or a revocation was queued.
            "lease revoked in the background"
        };
        tracing::info!(lease_id = %id, mount = %rec.mount_accessor, "{what}");
        self.audit_background(rec, None).await;
    }

    /// Audits a lease that just became irrevocable (the scheduler logs it itself).
    pub(crate) async fn trace_irrevocable(&self, rec: &LeaseRecord) {
        let error = format!(
            "lease is irrevocable after {} attempts: {}",
            rec.attempts, rec.last_error
        );
        self.audit_background(rec, Some(error)).await;
    }

    async fn audit_background(&self, rec: &LeaseRecord, error: Option<String>) {
        if !self.audit.is_enabled() {
            return;
        }
        let mount_type = crate::mounts::current(&self.router)
            .all()
            .find(|m| m.entry.accessor == rec.mount_accessor)
            .map(|m| m.entry.engine_type.clone())
            .unwrap_or_default();
        let what = SystemRevocation {
            mount_type,
            mount_accessor: rec.mount_accessor.clone(),
            path: rec.lease_id.clone(),
            data: None,
            error,
        };
        if let Err(e) = audit_revocation(&self.audit, what).await {
            tracing::error!(lease_id = %rec.lease_id, error = %e, "background revocation not audited");
        }
    }
}
