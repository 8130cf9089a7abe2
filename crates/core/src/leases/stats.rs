//! Lease counters for `sys/leases/stats`: active and irrevocable counts (recounted from the
//! index keys at start-up, then kept up to date) and created/renewed/revoked totals since
//! this process unsealed.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use secrethub_storage::{Storage, StorageView};

use crate::error::CoreResult;

#[derive(Default)]
pub(crate) struct LeaseStats {
    active: AtomicI64,
    irrevocable: AtomicI64,
    created: AtomicU64,
    renewed: AtomicU64,
    revoked: AtomicU64,
}

/// A snapshot of the counters.
pub(crate) struct StatsSnapshot {
    pub(crate) active: i64,
    pub(crate) irrevocable: i64,
    pub(crate) created: u64,
    pub(crate) renewed: u64,
    pub(crate) revoked: u64,
}

impl LeaseStats {
    pub(crate) fn on_created(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn on_renewed(&self) {
        self.renewed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn on_revoked(&self, was_irrevocable: bool) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        self.revoked.fetch_add(1, Ordering::Relaxed);
        if was_irrevocable {
            self.irrevocable.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn on_irrevocable(&self) {
        self.irrevocable.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            active: self.active.load(Ordering::Relaxed).max(0),
            irrevocable: self.irrevocable.load(Ordering::Relaxed).max(0),
            created: self.created.load(Ordering::Relaxed),
            renewed: self.renewed.load(Ordering::Relaxed),
            revoked: self.revoked.load(Ordering::Relaxed),
        }
    }

    /// Counts confirmed leases and irrevocable ones from the index keys (no record is read
    /// or decrypted; the backend counts a key range natively), before anything can change
    /// them: called during unseal.
    pub(crate) async fn recount(&self, view: &StorageView) -> CoreResult<()> {
        let ids = view.count("id/").await?;
        let pending = view.count("pending/").await?;
        let irrevocable = view.count("irrevocable/").await?;
        self.active
            .fetch_add(ids.saturating_sub(pending) as i64, Ordering::Relaxed);
        self.irrevocable
            .fetch_add(irrevocable as i64, Ordering::Relaxed);
        Ok(())
    }
}
