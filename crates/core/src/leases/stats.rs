//! Lease counters for `sys/leases/stats`: active and irrevocable counts (recounted from the
//! index keys at unseal, then kept up to date) and the created/renewed/revoked totals.
//!
//! The totals survive seal and restart: they are stored behind the barrier at
//! `sys/expire/stats` (a `LeaseStatsRecord`), loaded at unseal, and written by a background
//! task at most every [`FLUSH_INTERVAL`] when they changed, and on seal. A write per lease
//! would double the writes of every credential; a crash loses at most the last interval's
//! increments, which a counter meant for dashboards can afford.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use secrethub_storage::{Storage, StorageView};
use serde::{Deserialize, Serialize};

use crate::error::CoreResult;

/// How often changed totals are written.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Under the lease manager's view (`sys/expire/`); no lease index starts with it.
const STATS_KEY: &str = "stats";

/// The persisted totals.
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LeaseStatsRecord {
    version: u32,
    created_total: u64,
    renewed_total: u64,
    revoked_total: u64,
}

#[derive(Default)]
pub(crate) struct LeaseStats {
    active: AtomicI64,
    irrevocable: AtomicI64,
    created: AtomicU64,
    renewed: AtomicU64,
    revoked: AtomicU64,
    /// The totals last stored. Held across the write, so writes are serialised and an older
    /// snapshot never overwrites a newer one.
    stored: tokio::sync::Mutex<LeaseStatsRecord>,
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

    fn totals(&self) -> LeaseStatsRecord {
        let s = self.snapshot();
        LeaseStatsRecord {
            version: 1,
            created_total: s.created,
            renewed_total: s.renewed,
            revoked_total: s.revoked,
        }
    }

    /// Counts confirmed leases and irrevocable ones from the index keys (no record is read
    /// or decrypted; the backend counts a key range natively), and loads the stored totals,
    /// before anything can change them: called during unseal.
    pub(crate) async fn recount(&self, view: &StorageView) -> CoreResult<()> {
        let ids = view.count("id/").await?;
        let pending = view.count("pending/").await?;
        let irrevocable = view.count("irrevocable/").await?;
        self.active
            .fetch_add(ids.saturating_sub(pending) as i64, Ordering::Relaxed);
        self.irrevocable
            .fetch_add(irrevocable as i64, Ordering::Relaxed);
        if let Some(stored) = view.get_json::<LeaseStatsRecord>(STATS_KEY).await? {
            self.created
                .fetch_add(stored.created_total, Ordering::Relaxed);
            self.renewed
                .fetch_add(stored.renewed_total, Ordering::Relaxed);
            self.revoked
                .fetch_add(stored.revoked_total, Ordering::Relaxed);
            *self.stored.lock().await = self.totals();
        }
        Ok(())
    }

    /// Stores the totals if they changed since the last write.
    pub(crate) async fn flush(&self, view: &StorageView) -> CoreResult<()> {
        let mut stored = self.stored.lock().await;
        let now = self.totals();
        if now == *stored {
            return Ok(());
        }
        view.put_json(STATS_KEY, &now).await?;
        *stored = now;
        Ok(())
    }
}
