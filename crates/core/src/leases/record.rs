//! `LeaseRecord`: one lease as persisted behind the barrier, and the storage keys of its
//! indexes. Times are Unix milliseconds so expiry is not rounded to whole seconds.

use std::collections::BTreeMap;

use secrethub_common::format_rfc3339;
use secrethub_engine::LeaseInfo;
use serde::{Deserialize, Serialize};

/// A persisted lease (or an unconfirmed intent, `confirmed == false`). Field names are
/// short and defaults are left out: a million of these sit in storage (and, in dev mode, in
/// memory), so every byte counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    #[serde(rename = "v")]
    pub(crate) version: u32,
    #[serde(rename = "id")]
    pub(crate) lease_id: String,
    /// The accessor of the mount whose engine created it.
    #[serde(rename = "m")]
    pub(crate) mount_accessor: String,
    /// The request path, relative to the mount.
    #[serde(rename = "p")]
    pub(crate) path: String,
    /// The engine's own revocation data.
    #[serde(rename = "i")]
    pub(crate) internal: serde_json::Value,
    /// False while only the intent is recorded.
    #[serde(rename = "c")]
    pub(crate) confirmed: bool,
    #[serde(rename = "t0")]
    pub(crate) issue_ms: i64,
    #[serde(rename = "te")]
    pub(crate) expire_ms: i64,
    /// Renewals never go past this (0 = no limit).
    #[serde(rename = "tm", default, skip_serializing_if = "is_zero")]
    pub(crate) max_expire_ms: i64,
    #[serde(rename = "tr", default, skip_serializing_if = "is_zero")]
    pub(crate) last_renewal_ms: i64,
    #[serde(rename = "r")]
    pub(crate) renewable: bool,
    /// Hash of the token that created the lease; revoking that token revokes the lease.
    #[serde(rename = "tk", default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_hash: Option<String>,
    /// Caller-supplied labels (the seed endpoint's `metadata`).
    #[serde(rename = "md", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) metadata: BTreeMap<String, String>,
    /// Failed revocation attempts so far.
    #[serde(rename = "a", default, skip_serializing_if = "is_zero_u32")]
    pub(crate) attempts: u32,
    /// The last revocation error, for operators (never contains secret values).
    #[serde(rename = "e", default, skip_serializing_if = "String::is_empty")]
    pub(crate) last_error: String,
    /// Gave up on fast retries; kept, listed and retried slowly.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) irrevocable: bool,
    /// When the scheduler acts next: `expire_ms`, or a retry time after a failure.
    #[serde(rename = "td")]
    pub(crate) due_ms: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl LeaseRecord {
    pub(crate) fn info(&self) -> LeaseInfo {
        LeaseInfo {
            lease_id: self.lease_id.clone(),
            path: self.path.clone(),
            internal: self.internal.clone(),
            confirmed: self.confirmed,
            issue_time: self.issue_ms / 1000,
            expire_time: self.expire_ms / 1000,
        }
    }

    /// Remaining seconds at `now_ms`.
    pub(crate) fn ttl_secs(&self, now_ms: i64) -> u64 {
        ((self.expire_ms - now_ms).max(0) / 1000) as u64
    }

    /// `sys/leases/lookup` data.
    pub(crate) fn lookup_json(&self, now_ms: i64) -> serde_json::Map<String, serde_json::Value> {
        let t = |ms: i64| format_rfc3339(ms as i128 * 1_000_000);
        let mut m = serde_json::Map::new();
        m.insert("id".into(), self.lease_id.clone().into());
        m.insert("path".into(), request_path(&self.lease_id).into());
        m.insert("issue_time".into(), t(self.issue_ms).into());
        m.insert("expire_time".into(), t(self.expire_ms).into());
        m.insert(
            "last_renewal".into(),
            if self.last_renewal_ms == 0 {
                serde_json::Value::Null
            } else {
                t(self.last_renewal_ms).into()
            },
        );
        m.insert("renewable".into(), self.renewable.into());
        m.insert("ttl".into(), self.ttl_secs(now_ms).into());
        if !self.metadata.is_empty() {
            m.insert(
                "metadata".into(),
                serde_json::to_value(&self.metadata).unwrap_or_default(),
            );
        }
        if self.irrevocable || self.attempts > 0 {
            m.insert("irrevocable".into(), self.irrevocable.into());
            m.insert("revoke_attempts".into(), self.attempts.into());
            m.insert("revoke_error".into(), self.last_error.clone().into());
        }
        m
    }
}

/// The request path that created a lease: its ID without the random suffix
/// (`database/creds/readonly/<suffix>` → `database/creds/readonly`), as `sys/leases/lookup`
/// answers it in Vault.
pub(crate) fn request_path(lease_id: &str) -> &str {
    lease_id.rsplit_once('/').map_or("", |(path, _)| path)
}

pub(crate) fn id_key(lease_id: &str) -> String {
    format!("id/{lease_id}")
}

/// Time-ordered: zero-padded milliseconds sort as numbers.
pub(crate) fn due_key(due_ms: i64, lease_id: &str) -> String {
    format!("due/{:015}/{lease_id}", due_ms.max(0))
}

pub(crate) fn token_key(token_hash: &str, lease_id: &str) -> String {
    format!("token/{token_hash}/{lease_id}")
}

pub(crate) fn pending_key(lease_id: &str) -> String {
    format!("pending/{lease_id}")
}

pub(crate) fn irrevocable_key(lease_id: &str) -> String {
    format!("irrevocable/{lease_id}")
}

pub(crate) fn confirm_key(lease_id: &str) -> String {
    format!("confirm/{lease_id}")
}

/// Splits a `due/` listing entry (relative to `due/`) into its time and lease ID.
pub(crate) fn parse_due(entry: &str) -> Option<(i64, &str)> {
    let (t, id) = entry.split_once('/')?;
    Some((t.parse().ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_compactly() {
        let rec = LeaseRecord {
            version: 1,
            lease_id: "database/creds/ro/abc".into(),
            mount_accessor: "database_12345678".into(),
            path: "creds/ro".into(),
            internal: serde_json::json!({"u": "shub_ro_x"}),
            confirmed: true,
            issue_ms: 1,
            expire_ms: 2,
            max_expire_ms: 0,
            last_renewal_ms: 0,
            renewable: true,
            token_hash: None,
            metadata: BTreeMap::new(),
            attempts: 0,
            last_error: String::new(),
            irrevocable: false,
            due_ms: 2,
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert!(json.len() < 200, "{json}");
        let back: LeaseRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.lease_id, rec.lease_id);
        assert!(!back.irrevocable && back.attempts == 0);
    }

    #[test]
    fn request_path_drops_the_suffix() {
        assert_eq!(
            request_path("database/creds/readonly/Ab12"),
            "database/creds/readonly"
        );
        assert_eq!(request_path("no-slash"), "");
    }

    #[test]
    fn due_keys_sort_by_time() {
        let a = due_key(999, "x/1");
        let b = due_key(1_000, "a/2");
        assert!(a < b);
        let rel = b.strip_prefix("due/").unwrap();
        assert_eq!(parse_due(rel), Some((1_000, "a/2")));
    }
}
