//! Revocations that are in effect upstream but not yet known to be durable or complete there
//! ([`Revocation::Unconfirmed`], e.g. a PostgreSQL commit that did not wait for its disk
//! flush, or a MariaDB account the scheduler locked and whose drop follows). The receipt is kept under `sys/expire/confirm/<lease id>`, written in the same
//! batch that deletes the lease, until the engine confirms it: a background loop asks the
//! engines a moment after each revocation (and again while any wait), and a restart picks
//! the receipts up from storage. Disabling a mount first closes it (its revocations wait
//! for the flush from then on), waits for the unflushed ones still running, and confirms
//! every receipt it has before it unmounts. An engine that
//! finds the revocation lost upstream redoes it before confirming, so a crash of the
//! upstream right after the answer still leaves nothing behind.
//!
//! [`Revocation::Unconfirmed`]: secrethub_engine::Revocation::Unconfirmed

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrethub_engine::UnconfirmedRevocation;
use secrethub_storage::{list_all, Storage as _, WriteOp};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::record::confirm_key;
use super::{put_json, LeaseManager, LeaseRecord};
use crate::error::{CoreError, CoreResult};

/// The pause between a revocation and its first check, and between checks while some wait:
/// long enough for PostgreSQL's WAL writer (every 200 ms by default) to have flushed, so
/// the first check usually confirms, and so a stream of revocations costs a few checks a
/// second rather than one each.
const ROUND_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between rounds while an engine keeps failing to answer.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// Receipts sent to an engine at once.
const CHUNK: usize = 50;
/// How long disabling a mount waits for its revocations to be confirmed.
const MOUNT_DEADLINE: Duration = Duration::from_secs(45);

/// A receipt as stored: the revocation and the mount whose engine must confirm it.
#[derive(Serialize, Deserialize)]
struct ConfirmRecord {
    #[serde(rename = "m")]
    mount_accessor: String,
    #[serde(flatten)]
    pending: UnconfirmedRevocation,
}

#[derive(Default)]
pub(crate) struct Confirmer {
    wake: Notify,
    mounts: Mutex<MountStates>,
    /// Notified whenever an unflushed revocation finishes.
    finished: Notify,
}

#[derive(Default)]
struct MountStates {
    /// Mounts being disabled: their revocations are durable (no receipts).
    closed: HashSet<String>,
    /// Unflushed revocations running (engine call until the receipt is stored),
    /// per mount accessor.
    running: HashMap<String, usize>,
}

fn lock(m: &Mutex<MountStates>) -> std::sync::MutexGuard<'_, MountStates> {
    // Each change under the lock is a single insert, remove or counter step.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An unflushed revocation (or scheduler batch) in progress; counted until dropped.
pub(crate) struct Running<'a> {
    confirmer: &'a Confirmer,
    accessor: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut states = lock(&self.confirmer.mounts);
        if let Some(n) = states.running.get_mut(&self.accessor) {
            *n -= 1;
            if *n == 0 {
                states.running.remove(&self.accessor);
            }
        }
        drop(states);
        self.confirmer.finished.notify_waiters();
    }
}

/// A mount closed for disabling; reopened when dropped (the disable is over, or failed).
pub(crate) struct Closed<'a> {
    confirmer: &'a Confirmer,
    accessor: String,
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        lock(&self.confirmer.mounts).closed.remove(&self.accessor);
    }
}

/// What one round found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Round {
    /// Receipts still waiting (not yet confirmed, or their engine failed).
    pub(crate) waiting: usize,
    /// Receipts whose engine failed to answer.
    pub(crate) failed: usize,
}

impl LeaseManager {
    /// The write that keeps `rec`'s receipt, for the batch that deletes `rec`.
    pub(super) fn receipt_op(
        &self,
        rec: &LeaseRecord,
        receipt: serde_json::Value,
    ) -> CoreResult<WriteOp> {
        let stored = ConfirmRecord {
            mount_accessor: rec.mount_accessor.clone(),
            pending: UnconfirmedRevocation {
                lease: rec.info(),
                receipt,
            },
        };
        put_json(confirm_key(&rec.lease_id), &stored)
    }

    /// Starts an unflushed revocation (for a caller, or a scheduler batch) on a mount, unless
    /// the mount is being disabled (`None`: revoke durably). Hold the answer until the
    /// receipt is stored.
    pub(super) fn begin_unflushed(&self, accessor: &str) -> Option<Running<'_>> {
        let mut states = lock(&self.confirmer.mounts);
        if states.closed.contains(accessor) {
            return None;
        }
        *states.running.entry(accessor.to_string()).or_default() += 1;
        Some(Running {
            confirmer: &self.confirmer,
            accessor: accessor.to_string(),
        })
    }

    /// Closes a mount that is about to be disabled: revocations on it are durable from now
    /// on, and this returns once the unflushed ones still running have
    /// stored their receipts.
    pub(crate) async fn close_mount(&self, accessor: &str) -> CoreResult<Closed<'_>> {
        lock(&self.confirmer.mounts)
            .closed
            .insert(accessor.to_string());
        let closed = Closed {
            confirmer: &self.confirmer,
            accessor: accessor.to_string(),
        };
        let deadline = tokio::time::Instant::now() + MOUNT_DEADLINE;
        loop {
            let finished = self.confirmer.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if !lock(&self.confirmer.mounts).running.contains_key(accessor) {
                return Ok(closed);
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                return Err(CoreError::Unavailable(
                    "revocations still running on this mount; try again".into(),
                ));
            }
        }
    }

    /// Tells the loop a receipt was stored.
    pub(super) fn receipt_stored(&self) {
        self.confirmer.wake.notify_one();
    }

    /// Deletes the receipts of these lease IDs.
    async fn delete_receipts<'a>(&self, ids: impl Iterator<Item = &'a String>) -> CoreResult<()> {
        let ops: Vec<WriteOp> = ids
            .map(|id| WriteOp::Delete {
                key: confirm_key(id),
            })
            .collect();
        if !ops.is_empty() {
            self.view.apply(ops).await?;
        }
        Ok(())
    }

    /// `revoke-force`: drops the receipts under `prefix` (a connection deleted since, say,
    /// leaves receipts nothing can confirm). Returns how many.
    pub(super) async fn drop_receipts_under(&self, prefix: &str) -> CoreResult<usize> {
        let ids: Vec<String> = list_all(&self.view, &confirm_key(prefix))
            .await?
            .into_iter()
            .map(|k| format!("{prefix}{k}"))
            .collect();
        if !ids.is_empty() {
            tracing::warn!(
                prefix,
                count = ids.len(),
                "unconfirmed revocations dropped by revoke-force"
            );
        }
        self.delete_receipts(ids.iter()).await?;
        Ok(ids.len())
    }

    /// Revocations waiting for confirmation (for the stats).
    pub(crate) async fn unconfirmed_count(&self) -> CoreResult<usize> {
        Ok(self.view.count("confirm/").await?)
    }

    /// Asks the engines about every stored receipt (of the mount `only`, or of all) and
    /// deletes the confirmed ones.
    pub(crate) async fn confirm_round(&self, only: Option<&str>) -> CoreResult<Round> {
        let mut by_mount: BTreeMap<String, Vec<(String, UnconfirmedRevocation)>> = BTreeMap::new();
        for id in list_all(&self.view, "confirm/").await? {
            let Some(rec) = self
                .view
                .get_json::<ConfirmRecord>(&confirm_key(&id))
                .await?
            else {
                continue;
            };
            if only.is_none_or(|a| a == rec.mount_accessor) {
                by_mount
                    .entry(rec.mount_accessor)
                    .or_default()
                    .push((id, rec.pending));
            }
        }
        let mut round = Round::default();
        for (accessor, items) in by_mount {
            let Some((engine, storage)) = self.engine_for_accessor(&accessor) else {
                // Disabling a mount confirms all its receipts before unmounting, and no new
                // ones are made once it is closed: these come from storage edited by hand
                // or an older version, and nothing can confirm them any more.
                tracing::error!(mount = %accessor, count = items.len(), "revocations whose mount is gone cannot be confirmed; dropping their receipts");
                self.delete_receipts(items.iter().map(|(id, _)| id)).await?;
                continue;
            };
            for chunk in items.chunks(CHUNK) {
                let pending: Vec<UnconfirmedRevocation> =
                    chunk.iter().map(|(_, p)| p.clone()).collect();
                let mut answers = engine
                    .confirm_revocations(&pending, &storage)
                    .await
                    .into_iter();
                let mut confirmed = Vec::new();
                let mut first_error = None;
                for (id, _) in chunk {
                    match answers.next() {
                        Some(Ok(true)) => confirmed.push(id),
                        Some(Ok(false)) => round.waiting += 1,
                        // An engine that answers fewer than asked failed for the rest.
                        failed => {
                            round.waiting += 1;
                            round.failed += 1;
                            if first_error.is_none() {
                                first_error = Some(match failed {
                                    Some(Err(e)) => e.to_string(),
                                    _ => "the engine gave no answer".to_string(),
                                });
                            }
                        }
                    }
                }
                if let Some(error) = first_error {
                    tracing::warn!(mount = %accessor, %error, "confirming revocations failed; asking again later");
                }
                self.delete_receipts(confirmed.into_iter()).await?;
            }
        }
        Ok(round)
    }

    /// Confirms every receipt of one mount, waiting for the engine as long as it answers
    /// "not yet"; used before the mount is disabled.
    pub(crate) async fn confirm_mount(&self, accessor: &str) -> CoreResult<()> {
        let deadline = tokio::time::Instant::now() + MOUNT_DEADLINE;
        let unconfirmed = |waiting: usize| {
            CoreError::Unavailable(format!(
                "{waiting} revocations are not yet confirmed upstream; try again"
            ))
        };
        loop {
            let round = tokio::time::timeout_at(deadline, self.confirm_round(Some(accessor)))
                .await
                .map_err(|_| CoreError::Unavailable("confirming revocations timed out".into()))??;
            if round.waiting == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(unconfirmed(round.waiting));
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }
}

/// Runs the confirmation loop until `cancel`. Receipts left by a previous run are checked
/// at once.
pub(crate) fn spawn(mgr: Arc<LeaseManager>, cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut pause = ROUND_PAUSE;
        let mut waiting = true;
        loop {
            if !waiting {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = mgr.confirmer.wake.notified() => {}
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            match mgr.confirm_round(None).await {
                Ok(round) => {
                    waiting = round.waiting > 0;
                    pause = if round.failed > 0 {
                        (pause * 2).min(MAX_PAUSE)
                    } else {
                        ROUND_PAUSE
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the revocations waiting for confirmation; retrying");
                    waiting = true;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    });
}
