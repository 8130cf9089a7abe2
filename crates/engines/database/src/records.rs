//! What the engine persists in its mount's storage, and the lease's internal data.
//!
//! Keys: `config/<name>` holds a [`ConnectionRecord`], `role/<name>` a [`RoleRecord`] (the
//! same layout as Vault's database engine). Leases and intents carry a [`LeaseData`].

use std::time::Duration;

use secrethub_common::Sensitive;
use secrethub_database_plugin::ConnectionDetails;
use serde::{Deserialize, Deserializer, Serialize};

/// The version written into every record.
pub(crate) const RECORD_VERSION: u32 = 1;

/// A connection config (`database/config/:name`): the engine's fields, and the plugin's
/// (`connection_url`, `username`, `password`, pool sizes, …) stored flat beside them, which is
/// the layout records had before plugins owned their fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConnectionRecord {
    pub(crate) version: u32,
    pub(crate) plugin_name: String,
    /// A new root password while `rotate-root` runs: if the process dies between changing it
    /// in the database and storing it as the password, the next use tries this one (see
    /// `connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_password: Option<Sensitive<String>>,
    #[serde(default)]
    pub(crate) allowed_roles: Vec<String>,
    #[serde(default)]
    pub(crate) verify_connection: bool,
    #[serde(default)]
    pub(crate) root_rotation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) password_policy: String,
    #[serde(default)]
    pub(crate) username_template: String,
    /// When the root password rotates on its own (`rotation_period` or
    /// `rotation_schedule` on the config; Enterprise-only in Vault).
    #[serde(default, skip_serializing_if = "RootRotation::is_default")]
    pub(crate) root_rotation: RootRotation,
    /// Random, changed on every write: in-memory pools are rebuilt when it differs.
    pub(crate) revision: String,
    /// The plugin's fields, checked and redacted by its [`secrethub_database_plugin::DatabaseType`].
    #[serde(flatten)]
    pub(crate) details: ConnectionDetails,
}

/// A connection's scheduled root rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RootRotation {
    #[serde(flatten)]
    pub(crate) plan: crate::schedule::RotationPlan,
    /// Vault's `disable_automated_rotation`: the plan is kept but does not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) disabled: bool,
    /// Unix seconds of the last root rotation (or of the plan's start).
    #[serde(default)]
    pub(crate) last: secrethub_common::UnixTime,
}

impl RootRotation {
    fn is_default(&self) -> bool {
        *self == RootRotation::default()
    }

    /// When the scheduled rotation runs next; `None` when it does not run.
    pub(crate) fn next(
        &self,
        now: secrethub_common::UnixTime,
    ) -> Option<secrethub_common::UnixTime> {
        if self.disabled {
            return None;
        }
        self.plan.next(self.last, now)
    }
}

impl ConnectionRecord {
    /// Whether the role named `role` may use this connection (`*` globs, as Vault).
    pub(crate) fn allows(&self, role: &str) -> bool {
        self.allowed_roles.iter().any(|p| glob_match(p, role))
    }
}

/// A role (`database/roles/:name`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleRecord {
    pub(crate) version: u32,
    pub(crate) db_name: String,
    pub(crate) creation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) revocation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) renew_statements: Vec<String>,
    #[serde(default)]
    pub(crate) rollback_statements: Vec<String>,
    #[serde(default)]
    pub(crate) default_ttl_secs: u64,
    #[serde(default)]
    pub(crate) max_ttl_secs: u64,
}

impl RoleRecord {
    pub(crate) fn default_ttl(&self) -> Duration {
        Duration::from_secs(self.default_ttl_secs)
    }

    pub(crate) fn max_ttl(&self) -> Duration {
        Duration::from_secs(self.max_ttl_secs)
    }
}

/// A lease's internal data, recorded as the intent before the user is created and returned as
/// `NewLease::internal`: everything `revoke` needs, even if the role is deleted meanwhile.
///
/// JSON: `{"v":1,"db_name":"analytics","role":"ro","username":"shub_ro_…",
/// "revocation_statements":[…]}`; `revocation_statements` is left out when the role uses
/// the plugin's default revocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeaseData {
    pub(crate) v: u32,
    pub(crate) db_name: String,
    pub(crate) role: String,
    pub(crate) username: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) revocation_statements: Vec<String>,
}

/// Vault's `TypeStringSlice` for SQL: a JSON array of statements, or one string kept whole
/// (commas in SQL are not separators, unlike `allowed_roles`). Blank items are dropped.
pub(crate) fn opt_statements<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error as _;
    let keep = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(keep(&s).into_iter().collect())),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(keep(&s)),
                _ => Err(D::Error::custom("statements must be strings")),
            })
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(D::Error::custom(
            "expected a list of statements or a single string",
        )),
    }
}

pub(crate) use secrethub_common::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("readonly-*", "readonly-analytics"));
        assert!(glob_match("*-ro", "app-ro"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(!glob_match("readonly-*", "admin"));
        assert!(!glob_match("a*a", "a"));
        assert!(!glob_match("a*b*c", "acb"));
    }

    #[test]
    fn statements_input() {
        #[derive(Deserialize)]
        struct In {
            #[serde(default, deserialize_with = "opt_statements")]
            s: Option<Vec<String>>,
        }
        let parse = |v: serde_json::Value| serde_json::from_value::<In>(v).map(|i| i.s);
        assert_eq!(
            parse(serde_json::json!({"s": "GRANT a, b ON t TO x; SELECT 1"})).unwrap(),
            Some(vec!["GRANT a, b ON t TO x; SELECT 1".to_string()])
        );
        assert_eq!(
            parse(serde_json::json!({"s": ["a", " ", "b"]})).unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(parse(serde_json::json!({})).unwrap(), None);
        assert!(parse(serde_json::json!({"s": 5})).is_err());
    }

    #[test]
    fn lease_data_json() {
        let d = LeaseData {
            v: 1,
            db_name: "analytics".into(),
            role: "ro".into(),
            username: "shub_ro_abcdefgh_1".into(),
            revocation_statements: vec![],
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"v":1,"db_name":"analytics","role":"ro","username":"shub_ro_abcdefgh_1"}"#
        );
    }
}
