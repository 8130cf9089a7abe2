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

use crate::error::DatabaseError;

use serde::{Deserialize, Serialize};

/// What a revocation answers for later confirmation.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Receipt {
    /// `pg_current_wal_insert_lsn()` right after the commit, as PostgreSQL prints it.
    lsn: String,
}

impl Receipt {
    pub(super) fn new(lsn: String) -> Self {
        Receipt { lsn }
    }

    pub(super) fn to_json(&self) -> Result<serde_json::Value, DatabaseError> {
        serde_json::to_value(self).map_err(|e| DatabaseError::Internal(e.into()))
    }

    /// Whether the revocation of a user that is gone is durable, given the server's flushed
    /// WAL position `flushed` (as PostgreSQL prints it). The position is where the next
    /// record will start: when the commit ended exactly at a WAL page boundary it lies past
    /// that page's header, and the flushed position reaches it only once more WAL is
    /// written (at the latest by the next checkpoint). A standby promoted with a shorter
    /// history passes it once it has written as much.
    pub(super) fn settled(&self, flushed: &str) -> bool {
        match (parse_lsn(flushed), parse_lsn(&self.lsn)) {
            (Some(flushed), Some(ours)) => flushed >= ours,
            _ => false,
        }
    }
}

/// Whether the server reports WAL positions: unknown until a probe gets a definite answer.
#[derive(Default)]
pub(super) struct Support(AtomicU8);

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

impl Support {
    pub(super) fn known(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            UNKNOWN => None,
            v => Some(v == YES),
        }
    }

    pub(super) fn set(&self, supported: bool) -> bool {
        self.0
            .store(if supported { YES } else { NO }, Ordering::Relaxed);
        supported
    }
}

/// Both functions the receipts rely on.
pub(super) const PROBE: &str =
    "SELECT pg_catalog.pg_current_wal_insert_lsn(), pg_catalog.pg_current_wal_flush_lsn()";

/// Whether a failed probe means the functions are unavailable for good: missing, not
/// permitted, or refused by the service; other errors (a standby, a timeout) are asked again.
pub(super) fn unsupported(sqlstate: &str) -> bool {
    matches!(sqlstate, "42883" | "42501" | "0A000")
}

/// The WAL position now and whether `$1` (a username) exists: the receipt of a revocation
/// whose commit is in doubt.
pub(super) const FENCE: &str = "SELECT pg_catalog.pg_current_wal_insert_lsn()::text, \
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
pub(super) fn statements(revocation: &str) -> String {
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
pub(super) const CHECK: &str = "SELECT pg_catalog.pg_current_wal_flush_lsn()::text, \
     ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY($1))";

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
