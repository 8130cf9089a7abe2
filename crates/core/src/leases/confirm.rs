//! Revocations that are in effect upstream but not yet known to be durable there
//! ([`Revocation::Unconfirmed`], e.g. a PostgreSQL commit that did not wait for its disk
//! flush). The receipt is kept under `sys/expire/confirm/<lease id>`, written in the same
//! batch that deletes the lease, until the engine confirms it: a background loop asks the
//! engines a moment after each revocation (and again while any wait), a restart picks the
//! receipts up from storage, and disabling a mount confirms its own first. An engine that
//! finds the revocation lost upstream redoes it before confirming, so a crash of the
//! upstream right after the answer still leaves nothing behind.
//!
//! [`Revocation::Unconfirmed`]: secrethub_engine::Revocation::Unconfirmed

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrethub_engine::{Engine, UnconfirmedRevocation};
use secrethub_storage::{list_all, Storage as _, StorageView, WriteOp};
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
    /// Held shared by every revocation for a caller from its engine call until its receipt
    /// is stored, so a mount being disabled can wait for the ones in flight.
    in_flight: tokio::sync::RwLock<()>,
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

    /// Held across a revocation for a caller (engine call and the batch storing its receipt).
    pub(super) async fn caller_revocation(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.confirmer.in_flight.read().await
    }

    /// Tells the loop a receipt was stored.
    pub(super) fn receipt_stored(&self) {
        self.confirmer.wake.notify_one();
    }

    /// Revocations waiting for confirmation (for the stats).
    pub(crate) async fn unconfirmed_count(&self) -> CoreResult<usize> {
        Ok(self.view.count("confirm/").await?)
    }

    /// Asks the engines about every stored receipt (of the mount `only`, or of all) and
    /// deletes the confirmed ones.
    pub(crate) async fn confirm_round(&self, only: Option<&str>) -> CoreResult<Round> {
        self.confirm_round_with(only, None).await
    }

    /// `confirm_round`, with the engine of an unmounted mount (`only`) given explicitly.
    async fn confirm_round_with(
        &self,
        only: Option<&str>,
        unmounted: Option<&(Arc<dyn Engine>, StorageView)>,
    ) -> CoreResult<Round> {
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
            let found = match unmounted {
                Some(given) => Some(given.clone()),
                None => self.engine_for_accessor(&accessor),
            };
            let Some((engine, storage)) = found else {
                // Disabling a mount confirms its receipts before unmounting; one left over
                // cannot be confirmed by anything any more.
                tracing::error!(mount = %accessor, count = items.len(), "revocations whose mount is gone cannot be confirmed; dropping their receipts");
                let ops = items
                    .iter()
                    .map(|(id, _)| WriteOp::Delete {
                        key: confirm_key(id),
                    })
                    .collect();
                self.view.apply(ops).await?;
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
                        Some(Ok(true)) => confirmed.push(WriteOp::Delete {
                            key: confirm_key(id),
                        }),
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
                if !confirmed.is_empty() {
                    self.view.apply(confirmed).await?;
                }
            }
        }
        Ok(round)
    }

    /// Confirms every receipt of one mount, waiting for the engine as long as it answers
    /// "not yet"; used before the mount is disabled.
    pub(crate) async fn confirm_mount(&self, accessor: &str) -> CoreResult<()> {
        self.confirm_mount_with(accessor, None).await
    }

    /// After a mount left the router: waits for revocations for callers still in flight on
    /// it, then confirms what they left with the mount's engine, which nothing else can
    /// reach any more.
    pub(crate) async fn confirm_unmounted(
        &self,
        accessor: &str,
        engine: Arc<dyn Engine>,
        storage: StorageView,
    ) -> CoreResult<()> {
        drop(self.confirmer.in_flight.write().await);
        self.confirm_mount_with(accessor, Some((engine, storage)))
            .await
    }

    async fn confirm_mount_with(
        &self,
        accessor: &str,
        unmounted: Option<(Arc<dyn Engine>, StorageView)>,
    ) -> CoreResult<()> {
        let deadline = tokio::time::Instant::now() + MOUNT_DEADLINE;
        let unconfirmed = |waiting: usize| {
            CoreError::Unavailable(format!(
                "{waiting} revocations are not yet confirmed upstream; try again"
            ))
        };
        loop {
            let round = self.confirm_round_with(Some(accessor), unmounted.as_ref());
            let round = tokio::time::timeout_at(deadline, round)
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
