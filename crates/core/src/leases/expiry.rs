//! The expiry scheduler and revocation workers. The scheduler pages through the `due/`
//! index (time-ordered), hands due leases to a bounded pool of workers, and sleeps until the
//! next due time or until a new lease is due earlier. Failed revocations are retried with
//! exponential backoff and jitter; after `max_attempts` a lease becomes irrevocable (kept,
//! listed, counted, retried slowly). A circuit breaker per mount and role stops hammering a
//! dead upstream so it cannot starve other mounts; it gates background revocations only,
//! never a caller's explicit `sync` revocation.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use secrethub_storage::{Storage as _, WriteOp};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::record::{due_key, id_key, irrevocable_key, parse_due};
use super::{now_ms, put_json, LeaseManager, LeaseRecord};
use crate::error::CoreResult;

/// Retry policy of revocations.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Workers revoking at once.
    pub workers: usize,
    /// First retry delay; doubles each attempt.
    pub base_delay: Duration,
    /// Longest delay between fast retries.
    pub max_delay: Duration,
    /// Fast attempts before a lease is irrevocable.
    pub max_attempts: u32,
    /// Retry interval of irrevocable leases.
    pub irrevocable_retry: Duration,
    /// Consecutive failures of one mount that open its breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker pauses that mount's revocations.
    pub breaker_cooldown: Duration,
    /// The longest the scheduler sleeps before it looks at the due index again (leases written
    /// by another node, clock jumps); a lease due sooner wakes it on time regardless.
    pub scan_interval: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            workers: 32,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_attempts: 8,
            irrevocable_retry: Duration::from_secs(3600),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            scan_interval: Duration::from_secs(1),
        }
    }
}

/// The delay before attempt `attempts + 1` of background work: `base` doubling each
/// attempt, capped at `max`, with ±20 % jitter so retries of many items spread out. Shared by
/// lease revocations and engine timers.
pub(crate) fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX));
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    exp.min(max).mul_f64(jitter)
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until_ms: i64,
}

/// An open breaker, as a queued revocation's answer names it.
pub(crate) struct OpenBreaker {
    /// The leases it pauses: the lease ID's path without its random suffix
    /// (`database/creds/ro`).
    pub(crate) role: String,
    pub(crate) failures: u32,
    pub(crate) until_ms: i64,
}

/// The breaker of a lease: its mount and its lease path without the random suffix (the
/// engine's role, e.g. `creds/ro`). A whole-mount breaker let one role's failing revocation
/// statements pause every other role's revocations on the same healthy connection. Per role,
/// a database that is really down still opens every role's breaker after `breaker_threshold`
/// failures each, so the protection stays bounded (threshold × roles attempts per cooldown).
fn breaker_key(rec: &LeaseRecord) -> String {
    format!("{}/{}", rec.mount_accessor, rec.path)
}

/// What a breaker is called in answers: the lease ID without its random suffix.
pub(crate) fn role_of(lease_id: &str) -> &str {
    lease_id.rsplit_once('/').map_or(lease_id, |(role, _)| role)
}

/// One revocation attempt over many leases: how many failed, and the first error.
#[derive(Default)]
pub(crate) struct Attempted {
    pub(crate) failures: usize,
    pub(crate) first_error: Option<String>,
}

impl Attempted {
    fn add(&mut self, other: Attempted) {
        self.failures += other.failures;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

pub(crate) struct Scheduler {
    retry: RetryConfig,
    wake: Notify,
    /// When the scheduler will look at the index next (ms), or `i64::MAX` while it is looking:
    /// a new lease due later than this needs no wake-up (each costs an index page read).
    next_look_ms: AtomicI64,
    workers: Arc<Semaphore>,
    inflight: Mutex<HashSet<String>>,
    /// Leases a revocation is under way for outside the due index's dispatch (a caller's,
    /// or a batch); the dispatcher leaves them alone until it ends (`Claim`).
    claimed: Mutex<HashSet<String>>,
    breakers: Mutex<HashMap<String, Breaker>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every mutation under these locks is a single insert/remove/update; a panic elsewhere
    // cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scheduler {
    pub(crate) fn new(retry: RetryConfig) -> Self {
        Scheduler {
            workers: Arc::new(Semaphore::new(retry.workers.max(1))),
            retry,
            wake: Notify::new(),
            next_look_ms: AtomicI64::new(i64::MAX),
            inflight: Mutex::default(),
            claimed: Mutex::default(),
            breakers: Mutex::default(),
        }
    }

    /// Claims `ids` for a revocation under way, so the dispatcher does not start a second
    /// one while they are due; released when the claim is dropped. An ID already claimed
    /// stays with its first claim.
    pub(crate) fn claim<'i>(&self, ids: impl IntoIterator<Item = &'i str>) -> Claim<'_> {
        let mut claimed = lock(&self.claimed);
        let ids = ids
            .into_iter()
            .filter(|id| claimed.insert(id.to_string()))
            .map(str::to_string)
            .collect();
        Claim {
            scheduler: self,
            ids,
        }
    }

    /// Makes the scheduler look at the index again (a lease may now be due earlier than it
    /// is sleeping for). Costs one index page read; the loop recomputes its deadline.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wakes the scheduler if a lease now due at `due_ms` falls before its next look at the
    /// index. The entry must be written before this is called: either the look under way
    /// (`next_look_ms` is `i64::MAX` then) or the next one reads it, or this wakes it.
    pub(crate) fn wake_for(&self, due_ms: i64) {
        if due_ms < self.next_look_ms.load(Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Whether a worker is revoking `lease_id` because it fell due (not for a caller).
    pub(crate) fn is_inflight(&self, lease_id: &str) -> bool {
        lock(&self.inflight).contains(lease_id)
    }

    /// The delay before attempt `attempts + 1` (see [`backoff`]).
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        backoff(self.retry.base_delay, self.retry.max_delay, attempts)
    }

    pub(crate) fn breaker_success(&self, rec: &LeaseRecord) {
        lock(&self.breakers).remove(&breaker_key(rec));
    }

    fn breaker_failure(&self, rec: &LeaseRecord) {
        let mut b = lock(&self.breakers);
        let e = b.entry(breaker_key(rec)).or_default();
        e.consecutive_failures += 1;
        if e.consecutive_failures >= self.retry.breaker_threshold {
            e.open_until_ms = now_ms() + self.retry.breaker_cooldown.as_millis() as i64;
            tracing::warn!(
                mount = %rec.mount_accessor,
                role = role_of(&rec.lease_id),
                failures = e.consecutive_failures,
                "revocations paused for this role (circuit breaker open)"
            );
        }
    }

    fn breaker_open_until(&self, rec: &LeaseRecord) -> Option<i64> {
        lock(&self.breakers)
            .get(&breaker_key(rec))
            .map(|b| b.open_until_ms)
            .filter(|t| *t > now_ms())
    }

    /// The open breaker that pauses `rec`'s background revocation, if any.
    pub(crate) fn open_breaker(&self, rec: &LeaseRecord) -> Option<OpenBreaker> {
        lock(&self.breakers)
            .get(&breaker_key(rec))
            .filter(|b| b.open_until_ms > now_ms())
            .map(|b| OpenBreaker {
                role: role_of(&rec.lease_id).to_string(),
                failures: b.consecutive_failures,
                until_ms: b.open_until_ms,
            })
    }

    /// Records a failed attempt: reschedules with backoff, or marks the lease irrevocable.
    pub(crate) async fn after_failure(
        &self,
        mgr: &LeaseManager,
        mut rec: LeaseRecord,
        error: &str,
    ) -> CoreResult<()> {
        self.breaker_failure(&rec);
        let old_due = rec.due_ms;
        rec.attempts += 1;
        rec.last_error = error.chars().take(500).collect();
        let newly_irrevocable = !rec.irrevocable && rec.attempts >= self.retry.max_attempts;
        if newly_irrevocable {
            rec.irrevocable = true;
            tracing::error!(lease_id = %rec.lease_id, attempts = rec.attempts, error = %rec.last_error, "lease is irrevocable after repeated failures; it is kept and retried hourly");
        } else {
            tracing::warn!(lease_id = %rec.lease_id, attempt = rec.attempts, error = %rec.last_error, "revoke failed");
        }
        let delay = if rec.irrevocable {
            self.retry.irrevocable_retry
        } else {
            self.backoff(rec.attempts - 1)
        };
        rec.due_ms = now_ms() + delay.as_millis() as i64;
        let mut batch = vec![
            put_json(id_key(&rec.lease_id), &rec)?,
            WriteOp::Delete {
                key: due_key(old_due, &rec.lease_id),
            },
            WriteOp::Put {
                key: due_key(rec.due_ms, &rec.lease_id),
                value: Vec::new(),
            },
        ];
        if rec.irrevocable {
            batch.push(WriteOp::Put {
                key: irrevocable_key(&rec.lease_id),
                value: Vec::new(),
            });
        }
        mgr.view.apply(batch).await?;
        if newly_irrevocable && rec.confirmed {
            mgr.stats.on_irrevocable();
        }
        if newly_irrevocable {
            mgr.trace_irrevocable(&rec).await;
        }
        Ok(())
    }

    /// Defers a lease whose mount's breaker is open, without counting an attempt.
    async fn defer(
        &self,
        mgr: &LeaseManager,
        mut rec: LeaseRecord,
        until_ms: i64,
    ) -> CoreResult<()> {
        let old_due = rec.due_ms;
        rec.due_ms = until_ms;
        mgr.store_rescheduled(&rec.lease_id, &rec, old_due).await
    }

    /// One revocation attempt for a batch of leases; failures are recorded, never dropped.
    /// Background attempts (`explicit` false) defer the leases of a role whose breaker is
    /// open; a caller's explicit revocation tries them once regardless, since the caller is
    /// owed the real outcome and one attempt cannot hammer anything.
    async fn attempt_batch(&self, mgr: &LeaseManager, ids: &[String], explicit: bool) -> Attempted {
        let mut due = Vec::with_capacity(ids.len());
        for id in ids {
            match mgr.view.get_json::<LeaseRecord>(&id_key(id)).await {
                Ok(Some(r)) => due.push(r),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(lease_id = %id, error = %e, "cannot read lease for revocation")
                }
            }
        }
        let mut now_due = Vec::with_capacity(due.len());
        for rec in due {
            if let Some(until) = self.breaker_open_until(&rec).filter(|_| !explicit) {
                let id = rec.lease_id.clone();
                if let Err(e) = self.defer(mgr, rec, until).await {
                    tracing::warn!(lease_id = %id, error = %e, "cannot defer lease");
                }
            } else {
                now_due.push(rec);
            }
        }
        let mut out = Attempted::default();
        for (rec, outcome) in mgr.revoke_records(now_due, explicit).await {
            if let Err(e) = outcome {
                out.failures += 1;
                let id = rec.lease_id.clone();
                let error = e.to_string();
                if let Err(e2) = self.after_failure(mgr, rec, &error).await {
                    tracing::warn!(lease_id = %id, error = %e2, "cannot record a failed revocation");
                }
                out.first_error
                    .get_or_insert_with(|| format!("{id}: {error}"));
            }
        }
        out
    }

    /// Revokes `ids` on the worker pool, in batches (see `attempt_batch` for `explicit`).
    pub(crate) async fn revoke_many(
        &self,
        mgr: &Arc<LeaseManager>,
        ids: Vec<String>,
        explicit: bool,
    ) -> Attempted {
        let mut set = tokio::task::JoinSet::new();
        for chunk in ids.chunks(BATCH) {
            let permit = self.workers.clone().acquire_owned().await;
            let mgr = mgr.clone();
            let chunk = chunk.to_vec();
            set.spawn(async move {
                let _permit = permit;
                mgr.scheduler.attempt_batch(&mgr, &chunk, explicit).await
            });
        }
        let mut out = Attempted::default();
        while let Some(r) = set.join_next().await {
            out.add(r.unwrap_or_else(|e| Attempted {
                failures: BATCH,
                first_error: Some(format!("revocation task failed: {e}")),
            }));
        }
        out
    }
}

/// Leases claimed by a revocation under way (`Scheduler::claim`); released on drop, so an
/// error or a panic cannot leave them unclaimable.
pub(crate) struct Claim<'a> {
    scheduler: &'a Scheduler,
    ids: Vec<String>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut claimed = lock(&self.scheduler.claimed);
        for id in &self.ids {
            claimed.remove(id);
        }
    }
}

/// Leases revoked together: one engine call (and, for databases, one round trip) per mount.
const BATCH: usize = 50;

/// Due index entries read per page: the first look's page, then the rest.
const FIRST_PAGE: usize = 32;
const PAGE: usize = 512;

/// Runs the scheduler until `cancel`.
pub(crate) fn spawn(mgr: Arc<LeaseManager>, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            // A sealed core's scheduler must not act, even once, after it is cancelled.
            if cancel.is_cancelled() {
                return;
            }
            let scan_ms = i64::try_from(mgr.scheduler.retry.scan_interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            mgr.scheduler.next_look_ms.store(i64::MAX, Ordering::SeqCst);
            let next = match dispatch_due(&mgr).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "lease scheduler cannot read its index; retrying");
                    Some(now_ms() + scan_ms.min(1000))
                }
            };
            // Sleep until the next due lease (at most `scan_interval`, so clock jumps and leases
            // written by another node are noticed), or until woken by an earlier lease.
            let now = now_ms();
            let wait_ms = next.map_or(scan_ms, |t| (t - now).clamp(0, scan_ms));
            mgr.scheduler
                .next_look_ms
                .store(now.saturating_add(wait_ms), Ordering::SeqCst);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = mgr.scheduler.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            }
        }
    });
}

/// Hands every due lease to the workers, in batches; returns the due time of the first lease
/// not yet due.
async fn dispatch_due(mgr: &Arc<LeaseManager>) -> CoreResult<Option<i64>> {
    let mut after: Option<String> = None;
    let mut batch: Vec<String> = Vec::new();
    let mut next = None;
    // Most looks find a few leases due, or none: a small first page, then full ones.
    let mut page_size = FIRST_PAGE;
    'pages: loop {
        let now = now_ms();
        let page = mgr.view.list("due/", after.as_deref(), page_size).await?;
        for entry in &page {
            let Some((due, lease_id)) = parse_due(entry) else {
                continue;
            };
            if due > now {
                next = Some(due);
                break 'pages;
            }
            if lock(&mgr.scheduler.claimed).contains(lease_id) {
                continue;
            }
            if lock(&mgr.scheduler.inflight).insert(lease_id.to_string()) {
                batch.push(lease_id.to_string());
                if batch.len() == BATCH {
                    spawn_batch(mgr, std::mem::take(&mut batch)).await;
                }
            }
        }
        if page.len() < page_size {
            break;
        }
        after = page.last().cloned();
        page_size = PAGE;
    }
    if !batch.is_empty() {
        spawn_batch(mgr, batch).await;
    }
    Ok(next)
}

async fn spawn_batch(mgr: &Arc<LeaseManager>, ids: Vec<String>) {
    let permit = mgr.scheduler.workers.clone().acquire_owned().await;
    let mgr = mgr.clone();
    tokio::spawn(async move {
        let _permit = permit;
        mgr.scheduler.attempt_batch(&mgr, &ids, false).await;
        {
            let mut inflight = lock(&mgr.scheduler.inflight);
            for id in &ids {
                inflight.remove(id);
            }
        }
        mgr.scheduler.wake.notify_one();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a wake-up is pending (the permit `notify_one` leaves when no one waits).
    async fn woken(s: &Scheduler) -> bool {
        tokio::time::timeout(Duration::ZERO, s.wake.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_lease_wakes_the_scheduler_only_when_due_before_its_next_look() {
        let s = Scheduler::new(RetryConfig::default());
        // While it reads the index, any new lease wakes it: the read may have missed it.
        s.wake_for(i64::MAX - 1);
        assert!(woken(&s).await);

        s.next_look_ms.store(10_000, Ordering::SeqCst);
        s.wake_for(10_000);
        s.wake_for(20_000);
        assert!(
            !woken(&s).await,
            "due at or after the next look: no wake-up"
        );
        s.wake_for(9_999);
        assert!(woken(&s).await);
    }
}
