//! Lease-count quotas (`sys/quotas/lease-count/:name` with `path` and `max_leases`): a
//! request under a quota's path that could create a lease is refused with 429 once the
//! leases under that path (plus creations in flight) reach the maximum. Quotas live behind
//! the barrier at `sys/quotas/lease-count/<name>` and are cached in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use secrethub_engine::Operation;
use secrethub_storage::{list_all, Storage, StorageView};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};
use crate::leases::LeaseManager;

/// A persisted lease-count quota.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseCountQuota {
    pub(crate) version: u32,
    pub(crate) name: String,
    /// API path prefix, e.g. `database/creds/readonly`; empty = everything.
    pub(crate) path: String,
    pub(crate) max_leases: u64,
}

struct Live {
    quota: LeaseCountQuota,
    in_flight: Arc<AtomicUsize>,
}

pub(crate) struct QuotaStore {
    view: StorageView,
    live: RwLock<Vec<Arc<Live>>>,
}

/// Holds a quota slot until the request finishes.
pub(crate) struct Reservation {
    slots: Vec<Arc<AtomicUsize>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        for s in &self.slots {
            s.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl QuotaStore {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        QuotaStore {
            view: StorageView::new(barrier, "sys/quotas/lease-count/"),
            live: RwLock::default(),
        }
    }

    pub(crate) async fn load(&self) -> CoreResult<()> {
        let mut live = Vec::new();
        for name in list_all(&self.view, "").await? {
            if let Some(q) = self.view.get_json::<LeaseCountQuota>(&name).await? {
                live.push(Arc::new(Live {
                    quota: q,
                    in_flight: Arc::default(),
                }));
            }
        }
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
        Ok(())
    }

    pub(crate) async fn write(&self, q: LeaseCountQuota) -> CoreResult<()> {
        self.view.put_json(&q.name, &q).await?;
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        live.retain(|l| l.quota.name != q.name);
        live.push(Arc::new(Live {
            quota: q,
            in_flight: Arc::default(),
        }));
        Ok(())
    }

    pub(crate) fn read(&self, name: &str) -> Option<LeaseCountQuota> {
        self.snapshot()
            .into_iter()
            .find(|l| l.quota.name == name)
            .map(|l| l.quota.clone())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self
            .snapshot()
            .iter()
            .map(|l| l.quota.name.clone())
            .collect();
        n.sort();
        n
    }

    pub(crate) async fn delete(&self, name: &str) -> CoreResult<()> {
        self.view.delete(name).await?;
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|l| l.quota.name != name);
        Ok(())
    }

    fn snapshot(&self) -> Vec<Arc<Live>> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes a slot in every quota covering `api_path`, or answers 429 when one is full.
    /// Lists and deletes never create leases and pass freely.
    pub(crate) async fn reserve(
        &self,
        leases: &LeaseManager,
        api_path: &str,
        op: Operation,
    ) -> CoreResult<Reservation> {
        let mut r = Reservation { slots: Vec::new() };
        if matches!(op, Operation::List | Operation::Delete) {
            return Ok(r);
        }
        for live in self.snapshot() {
            let q = &live.quota;
            if !api_path.starts_with(q.path.trim_end_matches('/')) {
                continue;
            }
            let in_flight = live.in_flight.fetch_add(1, Ordering::SeqCst);
            r.slots.push(live.in_flight.clone());
            let max = q.max_leases as usize;
            let existing = leases.count_under(&q.path, max + 1).await?;
            if existing + in_flight >= max {
                return Err(CoreError::QuotaExceeded(format!(
                    "lease count quota exceeded: quota {:?} allows {} leases under {:?}",
                    q.name, q.max_leases, q.path
                )));
            }
        }
        Ok(r)
    }
}
