//! [`ConnectionDetails`]: a connection config's plugin-owned fields, as stored.

use std::fmt;

use secrethub_common::JsonMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields of a connection config that belong to its plugin (`connection_url`, `host`,
/// `username`, pool sizes, TLS settings, …), checked by [`crate::DatabaseType::apply_fields`]
/// and stored beside the engine's own fields.
///
/// One key is shared by convention: `password`, the admin password, which the engine sets
/// from the request (it never reaches an error message) and replaces on `rotate-root`.
/// `Debug` lists the keys only, so a stray `{:?}` cannot print a password.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionDetails(JsonMap);

impl ConnectionDetails {
    /// The key of the admin password.
    pub const PASSWORD: &'static str = "password";

    /// The fields as stored.
    pub fn as_map(&self) -> &JsonMap {
        &self.0
    }

    /// A field, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A string field, or `""` when it is missing or not a string.
    pub fn str(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// An unsigned field, or `default` when it is missing or not a number.
    pub fn u64_or(&self, key: &str, default: u64) -> u64 {
        self.0.get(key).and_then(Value::as_u64).unwrap_or(default)
    }

    /// A boolean field, or `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    /// Sets a field.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// Removes a field.
    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// The admin password (`""` when none is set).
    pub fn password(&self) -> &str {
        self.str(Self::PASSWORD)
    }

    /// Replaces the admin password.
    pub fn set_password(&mut self, password: &str) {
        self.set(Self::PASSWORD, password);
    }
}

impl fmt::Debug for ConnectionDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_keys_only() {
        let mut d = ConnectionDetails::default();
        d.set("connection_url", "postgresql://h/d");
        d.set_password("hunter2");
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("password"),
            "{shown}"
        );
        assert_eq!(d.password(), "hunter2");
    }
}
