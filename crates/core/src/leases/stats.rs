//! Lease counters for `sys/leases/stats`: active and irrevocable counts (recounted from the
//! index keys at unseal, then kept up to date) and the created/renewed/revoked totals.
//!
//! The totals survive seal and restart: they are stored behind the barrier at
//! `sys/expire/stats` (a `LeaseStatsRecord`), loaded at unseal, and written by a background
//! task at most every [`FLUSH_INTERVAL`] when they changed, and on seal. A write per lease
//! would double the writes of every credential; a crash loses at most the last interval's
//! increments, which a counter meant for dashboards can afford.
//!
//! `LeaseManager`'s side of it is here too: restoring the counters at unseal, the flusher
//! task and the flush on seal, and `due_within` for `expiring_soon`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrethub_storage::{list_all, Storage, StorageView};
use serde::{Deserialize, Serialize};

use super::record::parse_due;
use super::{now_ms, LeaseManager};
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

impl LeaseManager {
    /// Confirmed leases due within `window` from now (for stats): the due index without
    /// intents, which are due when their grace period ends but are no leases (not `active`).
    pub(crate) async fn due_within(&self, window: Duration) -> CoreResult<usize> {
        let limit = now_ms() + window.as_millis() as i64;
        // Intents are the requests in flight (or left by a crash): few.
        let pending: HashSet<String> = list_all(&self.view, "pending/")
            .await?
            .into_iter()
            .collect();
        let mut count = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.view.list("due/", after.as_deref(), 1000).await?;
            for e in &page {
                match parse_due(e) {
                    Some((t, id)) if t <= limit => count += usize::from(!pending.contains(id)),
                    _ => return Ok(count),
                }
            }
            if page.len() < 1000 {
                return Ok(count);
            }
            after = page.last().cloned();
        }
    }

    /// Counts leases (keys only, natively by the backend) for the stats and loads the stored
    /// totals; called during unseal, before any request can create or revoke one, so the
    /// count is exact.
    pub(crate) async fn restore(&self) -> CoreResult<()> {
        self.stats.recount(&self.view).await
    }

    /// Stores the stats totals if they changed (on seal, while the barrier is still open).
    pub(crate) async fn flush_stats(&self) {
        if let Err(e) = self.stats.flush(&self.view).await {
            tracing::warn!(error = %e, "lease stats totals not stored");
        }
    }

    /// Stores changed stats totals every `FLUSH_INTERVAL` until `cancel`.
    pub(super) fn spawn_stats_flusher(
        self: &Arc<Self>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                me.flush_stats().await;
            }
        });
    }
}
