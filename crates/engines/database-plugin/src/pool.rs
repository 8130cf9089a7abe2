//! Vault's pool fields, which the SQL plugins share: `max_open_connections`,
//! `max_idle_connections` and `max_connection_lifetime` (stored in seconds under
//! `max_connection_lifetime_secs`, the name records had before plugins owned their fields).

use std::time::Duration;

use secrethub_common::{format_duration, JsonMap};
use serde_json::Value;

use crate::{ConnectionDetails, DatabaseError, DEFAULT_MAX_OPEN_CONNECTIONS};

const MAX_OPEN: &str = "max_open_connections";
const MAX_IDLE: &str = "max_idle_connections";
const LIFETIME_SECS: &str = "max_connection_lifetime_secs";

/// The pool fields of a config write, as the plugin's input struct decoded them.
pub struct PoolFields {
    pub max_open_connections: Option<u64>,
    pub max_idle_connections: Option<Value>,
    pub max_connection_lifetime: Option<Duration>,
}

impl PoolFields {
    /// The request keys, for [`crate::DatabaseType::fields`].
    pub const NAMES: [&'static str; 3] = [
        "max_open_connections",
        "max_idle_connections",
        "max_connection_lifetime",
    ];

    /// Checks and stores the fields given; a config without a pool size gets Vault's 4.
    pub fn apply(self, details: &mut ConnectionDetails) -> Result<(), DatabaseError> {
        if let Some(n) = self.max_open_connections {
            let n = u32::try_from(n)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    DatabaseError::invalid("max_open_connections must be from 1 to 1000")
                })?;
            details.set(MAX_OPEN, n);
        }
        if let Some(v) = self.max_idle_connections {
            let n = match &v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| DatabaseError::invalid("max_idle_connections must be an integer"))?;
            details.set(MAX_IDLE, n);
        }
        if let Some(d) = self.max_connection_lifetime {
            details.set(LIFETIME_SECS, d.as_secs());
        }
        if details.get(MAX_OPEN).is_none() {
            details.set(MAX_OPEN, DEFAULT_MAX_OPEN_CONNECTIONS);
        }
        Ok(())
    }

    /// Adds the three fields to a config read's `connection_details`.
    pub fn show(details: &ConnectionDetails, shown: &mut JsonMap) {
        shown.insert(MAX_OPEN.into(), pool_size(details).into());
        let idle = details.get(MAX_IDLE).and_then(Value::as_i64).unwrap_or(0);
        shown.insert(MAX_IDLE.into(), idle.into());
        let lifetime = format_duration(lifetime(details).unwrap_or_default());
        shown.insert("max_connection_lifetime".into(), lifetime.into());
    }
}

/// The issuing pool's size.
pub fn pool_size(details: &ConnectionDetails) -> usize {
    match details.u64_or(MAX_OPEN, 0) {
        0 => DEFAULT_MAX_OPEN_CONNECTIONS as usize,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

/// How long a connection may live, `None` for no limit.
pub fn lifetime(details: &ConnectionDetails) -> Option<Duration> {
    match details.u64_or(LIFETIME_SECS, 0) {
        0 => None,
        s => Some(Duration::from_secs(s)),
    }
}
