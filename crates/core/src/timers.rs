//! Engine timers: the one time-ordered index of scheduled engine work (a static role's
//! password rotation, a connection's root rotation, a transit key's auto-rotation), run like
//! lease expiry. An engine sets a timer through its request (`secrethub_engine::TimerLog`);
//! when it falls due a worker calls `Engine::on_timer`, which answers when to fire next.
//!
//! Storage, under `sys/timers/`:
//! - `due/<ms, 20 digits>/<mount accessor>/<key>`: the index the loop pages through, in
//!   due order; empty values.
//! - `id/<mount accessor>/<key>`: the timer itself (`TimerRecord`: its due time and failed
//!   attempts), so setting a timer again moves its `due/` entry instead of adding one.
//!
//! Nothing per timer is held in memory except while a worker runs it. A timer stays in the
//! index until its run's outcome is written, so a crash mid-run runs it again after the
//! restart; engines treat a timer as a reminder and check their own records. A `due/` entry
//! whose record names another time is stale (the timer was moved while it ran) and is
//! dropped without a run. A failed run is retried with capped exponential backoff, forever:
//! unlike a lease there is nothing to give up on, and the engine decides when work stops
//! being due.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::UnixTime;
use secrethub_engine::{EngineError, TimerLog, TimerOutcome};
use secrethub_storage::{Storage, StorageView, WriteOp};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::audit_broker::AuditBroker;
use crate::error::{CoreError, CoreResult};
use crate::leases::now_ms;
use crate::mounts::RouterCell;
use crate::system_trace::{audit_system_event, SystemRevocation, SCHEDULER_NAME};

/// Where timers live under the barrier.
const PREFIX: &str = "sys/timers/";
/// The longest key an engine may use (its path relative to the mount).
const MAX_KEY_LEN: usize = 512;
/// Timers run at once.
const WORKERS: usize = 8;
/// Index entries read per page.
const PAGE: usize = 256;

/// Retry and polling of timer runs.
#[derive(Debug, Clone)]
pub(crate) struct TimerConfig {
    /// First retry delay after a failed run; doubles each attempt.
    pub(crate) base_delay: Duration,
    /// Longest delay between retries.
    pub(crate) max_delay: Duration,
    /// The longest the loop sleeps before it reads the index again; a timer set to fire
    /// sooner wakes it on time regardless.
    pub(crate) scan_interval: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            scan_interval: Duration::from_secs(1),
        }
    }
}

/// A timer as stored at `id/<accessor>/<key>`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct TimerRecord {
    /// When it fires, Unix milliseconds (its `due/` entry's time).
    due: i64,
    /// Failed runs since the last success.
    #[serde(default)]
    attempts: u32,
}

fn due_key(due_ms: i64, accessor: &str, key: &str) -> String {
    format!("due/{:020}/{accessor}/{key}", due_ms.max(0))
}

fn id_key(accessor: &str, key: &str) -> String {
    format!("id/{accessor}/{key}")
}

/// `<ms>/<accessor>/<key>` of a `due/` entry.
fn parse_due(entry: &str) -> Option<(i64, &str, &str)> {
    let (ms, rest) = entry.split_once('/')?;
    let (accessor, key) = rest.split_once('/')?;
    Some((ms.parse().ok()?, accessor, key))
}

fn check_key(key: &str) -> Result<(), EngineError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key.starts_with('/')
        && !key.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(EngineError::Internal(anyhow::anyhow!(
            "invalid timer key {key:?}"
        )))
    }
}

fn put_json<T: Serialize>(key: String, v: &T) -> CoreResult<WriteOp> {
    Ok(WriteOp::Put {
        key,
        value: serde_json::to_vec(v).map_err(|e| CoreError::Internal(e.into()))?,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each mutation under it is a single insert or remove.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The timers of one unsealed core.
pub(crate) struct Timers {
    view: StorageView,
    barrier: Arc<dyn Storage>,
    router: RouterCell,
    audit: Arc<AuditBroker>,
    config: TimerConfig,
    wake: Notify,
    /// `<accessor>/<key>` of the timers a worker runs now.
    inflight: Mutex<HashSet<String>>,
    workers: Arc<Semaphore>,
    /// Serialises the read-modify-write of a timer's two entries.
    write: tokio::sync::Mutex<()>,
}

impl Timers {
    pub(crate) fn new(
        barrier: Arc<dyn Storage>,
        router: RouterCell,
        audit: Arc<AuditBroker>,
        config: TimerConfig,
    ) -> Arc<Self> {
        Arc::new(Timers {
            view: StorageView::new(barrier.clone(), PREFIX),
            barrier,
            router,
            audit,
            config,
            wake: Notify::new(),
            inflight: Mutex::default(),
            workers: Arc::new(Semaphore::new(WORKERS)),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The handle an engine request of the mount `accessor` sets its timers through.
    pub(crate) fn for_mount(self: &Arc<Self>, accessor: &str) -> Arc<dyn TimerLog> {
        Arc::new(MountTimers {
            timers: self.clone(),
            accessor: accessor.to_string(),
        })
    }

    async fn set(&self, accessor: &str, key: &str, due_ms: i64) -> CoreResult<()> {
        let _write = self.write.lock().await;
        let id = id_key(accessor, key);
        let mut batch = Vec::with_capacity(3);
        if let Some(old) = self.view.get_json::<TimerRecord>(&id).await? {
            if old.due == due_ms {
                return Ok(());
            }
            batch.push(WriteOp::Delete {
                key: due_key(old.due, accessor, key),
            });
        }
        batch.push(WriteOp::Put {
            key: due_key(due_ms, accessor, key),
            value: Vec::new(),
        });
        let rec = TimerRecord {
            due: due_ms,
            attempts: 0,
        };
        batch.push(put_json(id, &rec)?);
        self.view.apply(batch).await?;
        self.wake.notify_one();
        Ok(())
    }

    async fn clear(&self, accessor: &str, key: &str) -> CoreResult<()> {
        let _write = self.write.lock().await;
        let id = id_key(accessor, key);
        if let Some(old) = self.view.get_json::<TimerRecord>(&id).await? {
            self.view
                .apply(vec![
                    WriteOp::Delete {
                        key: due_key(old.due, accessor, key),
                    },
                    WriteOp::Delete { key: id },
                ])
                .await?;
        }
        Ok(())
    }

    /// Drops every timer of a mount being disabled.
    pub(crate) async fn forget_mount(&self, accessor: &str) -> CoreResult<()> {
        let prefix = format!("id/{accessor}/");
        let keys = secrethub_storage::list_all(&self.view, &prefix).await?;
        for key in keys {
            self.clear(accessor, &key).await?;
        }
        Ok(())
    }

    /// Stores what a run answered, unless the timer was set anew while it ran (then the
    /// new setting stands and only this run's entry goes).
    async fn settle(
        &self,
        accessor: &str,
        key: &str,
        ran_due: i64,
        next: Option<(i64, u32)>,
    ) -> CoreResult<()> {
        let _write = self.write.lock().await;
        let id = id_key(accessor, key);
        let mut batch = vec![WriteOp::Delete {
            key: due_key(ran_due, accessor, key),
        }];
        let current = self.view.get_json::<TimerRecord>(&id).await?;
        if current.is_some_and(|c| c.due == ran_due) {
            match next {
                Some((due, attempts)) => {
                    batch.push(WriteOp::Put {
                        key: due_key(due, accessor, key),
                        value: Vec::new(),
                    });
                    batch.push(put_json(id, &TimerRecord { due, attempts })?);
                }
                None => batch.push(WriteOp::Delete { key: id }),
            }
        }
        self.view.apply(batch).await?;
        Ok(())
    }

    /// Runs one due timer and stores its outcome.
    async fn run(&self, accessor: &str, key: &str, due_ms: i64) -> CoreResult<()> {
        let Some(rec) = self
            .view
            .get_json::<TimerRecord>(&id_key(accessor, key))
            .await?
            .filter(|r| r.due == due_ms)
        else {
            // Stale: moved or cleared since this entry was written.
            return self.settle(accessor, key, due_ms, None).await;
        };
        let mount = crate::mounts::current(&self.router)
            .all()
            .find(|m| m.entry.accessor == accessor)
            .and_then(|m| {
                let engine = m.engine.clone()?;
                Some((engine, m.entry.clone()))
            });
        let Some((engine, entry)) = mount else {
            tracing::info!(
                mount = accessor,
                timer = key,
                "timer of a mount that is gone dropped"
            );
            return self.settle(accessor, key, due_ms, None).await;
        };
        let storage = StorageView::new(self.barrier.clone(), entry.storage_prefix());
        let path = format!("{}{key}", entry.api_path());
        let trace = |error: Option<String>| SystemRevocation {
            mount_type: entry.engine_type.clone(),
            mount_accessor: accessor.to_string(),
            path: path.clone(),
            data: None,
            error,
        };
        let to_ms = |t: UnixTime| t.saturating_mul(1000);
        match engine.on_timer(key, &storage).await {
            Ok(TimerOutcome::NotDue { next }) => {
                self.settle(accessor, key, due_ms, next.map(|t| (to_ms(t), 0)))
                    .await
            }
            Ok(TimerOutcome::Ran { next }) => {
                tracing::info!(path = %path, "scheduled work done");
                self.audit(trace(None)).await;
                self.settle(accessor, key, due_ms, next.map(|t| (to_ms(t), 0)))
                    .await
            }
            Err(e) => {
                let attempts = rec.attempts.saturating_add(1);
                let delay = crate::leases::backoff(
                    self.config.base_delay,
                    self.config.max_delay,
                    attempts - 1,
                );
                let error = e.to_string();
                tracing::warn!(path = %path, attempt = attempts, retry_in = ?delay, error = %error, "scheduled work failed");
                self.audit(trace(Some(error))).await;
                let retry = now_ms().saturating_add(delay.as_millis() as i64);
                self.settle(accessor, key, due_ms, Some((retry, attempts)))
                    .await
            }
        }
    }

    async fn audit(&self, what: SystemRevocation) {
        let path = what.path.clone();
        if let Err(e) = audit_system_event(&self.audit, "update", SCHEDULER_NAME, what).await {
            tracing::error!(path = %path, error = %e, "scheduled work not audited");
        }
    }

    /// Hands every due timer to a worker; returns when the first one not yet due fires.
    async fn dispatch_due(self: &Arc<Self>) -> CoreResult<Option<i64>> {
        let mut after: Option<String> = None;
        loop {
            let now = now_ms();
            let page = self.view.list("due/", after.as_deref(), PAGE).await?;
            for entry in &page {
                let Some((due, accessor, key)) = parse_due(entry) else {
                    continue;
                };
                if due > now {
                    return Ok(Some(due));
                }
                let name = format!("{accessor}/{key}");
                if !lock(&self.inflight).insert(name.clone()) {
                    continue;
                }
                let permit = self.workers.clone().acquire_owned().await;
                let timers = self.clone();
                let (accessor, key) = (accessor.to_string(), key.to_string());
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = timers.run(&accessor, &key, due).await {
                        tracing::warn!(mount = %accessor, timer = %key, error = %e, "cannot run a timer; retrying");
                    }
                    lock(&timers.inflight).remove(&name);
                    timers.wake.notify_one();
                });
            }
            if page.len() < PAGE {
                return Ok(None);
            }
            after = page.last().cloned();
        }
    }

    /// Runs the timer loop until `cancel`.
    pub(crate) fn start(self: &Arc<Self>, cancel: CancellationToken) {
        let timers = self.clone();
        tokio::spawn(async move {
            let scan_ms = i64::try_from(timers.config.scan_interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            loop {
                if cancel.is_cancelled() {
                    return;
                }
                let next = match timers.dispatch_due().await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::warn!(error = %e, "timer loop cannot read its index; retrying");
                        None
                    }
                };
                let wait_ms = next.map_or(scan_ms, |t| (t - now_ms()).clamp(0, scan_ms));
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = timers.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
                }
            }
        });
    }
}

/// The timers of one mount, as its engine's requests see them.
struct MountTimers {
    timers: Arc<Timers>,
    accessor: String,
}

#[async_trait]
impl TimerLog for MountTimers {
    async fn set(&self, key: &str, at: UnixTime) -> Result<(), EngineError> {
        check_key(key)?;
        self.timers
            .set(&self.accessor, key, at.saturating_mul(1000))
            .await
            .map_err(|e| EngineError::Internal(e.into()))
    }

    async fn clear(&self, key: &str) -> Result<(), EngineError> {
        check_key(key)?;
        self.timers
            .clear(&self.accessor, key)
            .await
            .map_err(|e| EngineError::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_sort_by_time_and_parse_back() {
        let a = due_key(999, "database_1", "rotate-role/a");
        let b = due_key(1_000, "database_1", "rotate-role/a");
        assert!(a < b);
        let entry = b.strip_prefix("due/").unwrap();
        assert_eq!(
            parse_due(entry),
            Some((1_000, "database_1", "rotate-role/a"))
        );
    }

    #[test]
    fn keys_are_bounded_paths() {
        assert!(check_key("rotate-role/billing").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("/abs").is_err());
        assert!(check_key("a\nb").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }
}
