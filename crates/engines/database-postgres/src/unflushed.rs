//! Revocations that do not wait for the WAL flush, and how they are confirmed.
//!
//! A revocation for a waiting caller (`sys/leases/revoke`) commits with
//! `synchronous_commit = off`: the user is gone and its sessions are ended for everyone the
//! moment the commit returns, but the commit does not wait for its WAL record to reach the
//! disk, which on a busy machine is a third or more of the whole revocation. PostgreSQL's
//! WAL writer flushes it within `3 × wal_writer_delay` (600 ms by default); only a crash of
//! PostgreSQL inside that window can lose it, and the user would then be back.
//!
//! So the revocation answers a receipt: the WAL position after its commit. Core keeps the
//! receipt until a later check finds the user still gone *and* the server's flushed WAL past
//! that position. A user found back (a crash lost the commit) is revoked again, this time
//! waiting for the flush. When the text fails and the user turns out to be gone, whether it
//! committed is unknown: the receipt then holds the WAL position at the moment the absence
//! was seen, which is past whatever commit made the user go.
//!
//! When synchronous standbys are configured the commit waits as usual, so a failover to one
//! of them cannot lose it either. A server that does not report WAL positions (some managed
//! services refuse the functions) gets revocations that wait for the flush, as before.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use deadpool_postgres::Object;
use tokio_postgres::SimpleQueryMessage;

use super::{connect, default_revocation, Postgres, MAINTENANCE_TIMEOUT};
use secrethub_database_plugin::{DatabaseError, DatabasePlugin};

use serde::{Deserialize, Serialize};

/// What a revocation answers for later confirmation.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Receipt {
    /// `pg_current_wal_insert_lsn()` right after the commit, as PostgreSQL prints it.
    lsn: String,
}

impl Receipt {
    pub(crate) fn new(lsn: String) -> Self {
        Receipt { lsn }
    }

    pub(crate) fn to_json(&self) -> Result<serde_json::Value, DatabaseError> {
        serde_json::to_value(self).map_err(|e| DatabaseError::Internal(e.into()))
    }

    /// Whether the revocation of a user that is gone is durable, given the server's flushed
    /// WAL position `flushed` (as PostgreSQL prints it). The position is where the next
    /// record will start: when the commit ended exactly at a WAL page boundary it lies past
    /// that page's header, and the flushed position reaches it only once more WAL is
    /// written (at the latest by the next checkpoint). A standby promoted with a shorter
    /// history passes it once it has written as much.
    pub(crate) fn settled(&self, flushed: &str) -> bool {
        match (parse_lsn(flushed), parse_lsn(&self.lsn)) {
            (Some(flushed), Some(ours)) => flushed >= ours,
            _ => false,
        }
    }
}

/// Whether the server reports WAL positions: unknown until a probe gets a definite answer.
#[derive(Default)]
pub(crate) struct Support(AtomicU8);

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

impl Support {
    pub(crate) fn known(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            UNKNOWN => None,
            v => Some(v == YES),
        }
    }

    pub(crate) fn set(&self, supported: bool) -> bool {
        self.0
            .store(if supported { YES } else { NO }, Ordering::Relaxed);
        supported
    }
}

/// Both functions the receipts rely on.
pub(crate) const PROBE: &str =
    "SELECT pg_catalog.pg_current_wal_insert_lsn(), pg_catalog.pg_current_wal_flush_lsn()";

/// Whether a failed probe means the functions are unavailable for good: missing, not
/// permitted, or refused by the service; other errors (a standby, a timeout) are asked again.
pub(crate) fn unsupported(sqlstate: &str) -> bool {
    matches!(sqlstate, "42883" | "42501" | "0A000")
}

const INSERT_POSITION: &str = "SELECT pg_catalog.pg_current_wal_insert_lsn()::text";
const FLUSH_POSITION: &str = "SELECT pg_catalog.pg_current_wal_flush_lsn()::text";

/// The WAL position now and whether `$1` (a username) exists: the receipt of a revocation
/// whose commit is in doubt.
pub(crate) const FENCE: &str = "SELECT pg_catalog.pg_current_wal_insert_lsn()::text, \
     EXISTS(SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)";

/// `pg_lsn` text (`16/B374D848`: two hexadecimal halves) as a number.
fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// `revocation` in a transaction that commits without waiting for the flush (unless
/// synchronous standbys are configured), then the WAL position after the commit; the
/// position is the last row the text returns.
pub(crate) fn statements(revocation: &str) -> String {
    format!(
        "BEGIN;\n\
         SELECT pg_catalog.set_config('synchronous_commit', 'off', true) \
         WHERE pg_catalog.current_setting('synchronous_standby_names') = '';\n\
         {revocation};\n\
         COMMIT;\n\
         SELECT pg_catalog.pg_current_wal_insert_lsn()::text"
    )
}

/// The flushed WAL position and which of `$1` (usernames) exist, in one query.
pub(crate) const CHECK: &str = "SELECT pg_catalog.pg_current_wal_flush_lsn()::text, \
     ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY($1))";

impl Postgres {
    /// [`DatabasePlugin::revoke_user_unflushed`] (see the module docs).
    pub(crate) async fn revoke_unflushed(
        &self,
        username: &str,
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        if !self.reports_wal_positions().await {
            return self.revoke_user(&[], username).await.map(|()| None);
        }
        let sql = statements(&default_revocation(username));
        match self
            .query_idempotent(&self.revoke, "revoking user", &sql)
            .await
        {
            Ok(messages) => {
                let lsn = messages.iter().rev().find_map(|m| match m {
                    SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                    _ => None,
                });
                let lsn = lsn.ok_or_else(|| {
                    DatabaseError::Internal(anyhow::anyhow!(
                        "the revocation answered no WAL position"
                    ))
                })?;
                Receipt::new(lsn).to_json().map(Some)
            }
            // The user is gone, but whether this text committed before it failed (on the
            // position query, say) is not known: the position now is past that commit.
            Err(e @ DatabaseError::Rejected { .. }) => match self.fence_if_gone(username).await {
                Ok(Some(lsn)) => Receipt::new(lsn).to_json().map(Some),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// [`DatabasePlugin::confirm_revoked`] (see the module docs).
    pub(crate) async fn confirm(
        &self,
        revoked: &[(&str, &serde_json::Value)],
    ) -> Result<Vec<bool>, DatabaseError> {
        let names: Vec<&str> = revoked.iter().map(|(u, _)| *u).collect();
        let rows = self
            .query_maintenance("confirming revocations", CHECK, &[&names])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| DatabaseError::Internal(anyhow::anyhow!("the check answered no row")))?;
        let flushed: String = row.get(0);
        let back: Vec<String> = row.get(1);
        let redone = self.revoke_again(&back).await;
        Ok(revoked
            .iter()
            .map(|(user, receipt)| {
                if back.iter().any(|b| b == user) {
                    return redone.contains(user);
                }
                serde_json::from_value::<Receipt>((*receipt).clone())
                    .is_ok_and(|r| r.settled(&flushed))
            })
            .collect())
    }

    /// Users whose revocation the database lost (it crashed, or failed over, before flushing
    /// it): revoked again, this time waiting for the flush. Answers the ones that went.
    async fn revoke_again<'a>(&self, back: &'a [String]) -> Vec<&'a str> {
        if back.is_empty() {
            return Vec::new();
        }
        tracing::warn!(connection = %self.name, count = back.len(), "revoked users are back after a database crash; revoking them again");
        let again: Vec<&str> = back.iter().map(String::as_str).collect();
        match self.revoke_users_default(&again).await {
            Ok(()) => again,
            // A statement refused for one of them: one at a time, so it holds back only
            // itself.
            Err(DatabaseError::Rejected { .. }) => {
                let mut redone = Vec::new();
                for user in again {
                    match self.revoke_user(&[], user).await {
                        Ok(()) => redone.push(user),
                        Err(e) => {
                            tracing::warn!(connection = %self.name, error = %e, "a user that is back could not be revoked again; asking again later")
                        }
                    }
                }
                redone
            }
            // Unreachable or timed out: one at a time would only wait longer.
            Err(e) => {
                tracing::warn!(connection = %self.name, error = %e, "users that are back could not be revoked again; asking again later");
                Vec::new()
            }
        }
    }

    /// Whether this server reports WAL positions (some managed services do not); asked once.
    /// Without them, revocations wait for the flush as before.
    async fn reports_wal_positions(&self) -> bool {
        if let Some(known) = self.unflushed.known() {
            return known;
        }
        let Ok(client) = self.client(&self.revoke).await else {
            return false;
        };
        let probe = tokio::time::timeout(MAINTENANCE_TIMEOUT, client.simple_query(PROBE));
        match probe.await {
            Ok(Ok(_)) => self.unflushed.set(true),
            Ok(Err(e)) if e.code().is_some_and(|c| unsupported(c.code())) => {
                tracing::info!(connection = %self.name, error = %connect::describe(&e), "the database does not report WAL positions; revocations wait for the flush");
                self.unflushed.set(false)
            }
            // Unknown yet (down, a standby, slow): wait for the flush this time, ask again.
            Ok(Err(_)) => false,
            Err(_) => {
                drop(Object::take(client));
                false
            }
        }
    }

    /// The WAL position now, if `username` does not exist: a receipt for a revocation whose
    /// commit is in doubt. `None` when the user exists.
    async fn fence_if_gone(&self, username: &str) -> Result<Option<String>, DatabaseError> {
        let rows = self
            .query_maintenance("checking the user", FENCE, &[&username])
            .await?;
        Ok(rows
            .first()
            .and_then(|row| (!row.get::<_, bool>(1)).then(|| row.get(0))))
    }

    /// Waits until PostgreSQL has flushed the WAL written so far. A user found already gone
    /// may have gone in one of our commits that did not wait for the flush; this makes its
    /// absence durable before it counts as revoked. Nothing to wait for on a server known
    /// not to report WAL positions: no commit of ours skipped the flush there.
    pub(crate) async fn absence_is_durable(&self) -> Result<(), DatabaseError> {
        // Asked, not just looked up: a plugin reopened after a config write has not probed
        // yet, while the one before it may have committed without the flush.
        self.reports_wal_positions().await;
        match self.unflushed.known() {
            Some(false) => return Ok(()),
            Some(true) => {}
            None => {
                return Err(DatabaseError::Unavailable {
                    connection: self.name.clone(),
                    reason: "cannot tell whether the WAL is flushed".into(),
                })
            }
        }
        let action = "waiting for the WAL flush";
        let position = |sql| async move {
            let rows = self.query_maintenance(action, sql, &[]).await?;
            Ok::<String, DatabaseError>(rows.first().map(|r| r.get(0)).unwrap_or_default())
        };
        let fence = Receipt::new(position(INSERT_POSITION).await?);
        let deadline = tokio::time::Instant::now() + MAINTENANCE_TIMEOUT;
        while !fence.settled(&position(FLUSH_POSITION).await?) {
            if tokio::time::Instant::now() >= deadline {
                return Err(self.timed_out(action));
            }
            // The WAL writer flushes every 200 ms by default.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lsns_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        // The low half is not zero-padded, so text order is not number order.
        assert!(parse_lsn("0/10000000") > parse_lsn("0/F000000"));
        assert_eq!(parse_lsn("nonsense"), None);
        assert_eq!(parse_lsn("1/xyz"), None);
    }

    #[test]
    fn settled_once_flushed_past_the_commit() {
        let r = Receipt::new("1/A0".into());
        assert!(!r.settled("1/9F"));
        assert!(r.settled("1/A0"));
        assert!(r.settled("2/0"));
        assert!(!r.settled("0/5"));
        assert!(!r.settled("garbage"));
        assert!(!Receipt::new(String::new()).settled("9/0"));
    }

    #[test]
    fn the_commit_skips_the_flush_only_without_synchronous_standbys() {
        let sql = statements("DROP ROLE \"u\"");
        assert!(sql.starts_with("BEGIN;"));
        assert!(sql.contains("'synchronous_commit', 'off', true) WHERE"));
        assert!(sql.contains("DROP ROLE \"u\";\nCOMMIT;\n"));
        assert!(sql.ends_with("pg_current_wal_insert_lsn()::text"));
    }
}
