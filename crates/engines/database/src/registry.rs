//! The plugin registry: every kind of database compiled in (each behind its cargo feature),
//! looked up by Vault's `plugin_name`.

use secrethub_database_plugin::{DatabaseError, DatabaseType};

/// The plugins of this build.
const TYPES: &[&dyn DatabaseType] = &[
    #[cfg(feature = "postgres")]
    &secrethub_database_postgres::POSTGRES,
    #[cfg(feature = "redis")]
    &secrethub_database_redis::REDIS,
    #[cfg(feature = "mysql")]
    &secrethub_database_mysql::MYSQL,
    #[cfg(feature = "mysql")]
    &secrethub_database_mysql::MYSQL_LEGACY,
    #[cfg(feature = "mongodb")]
    &secrethub_database_mongodb::MONGODB,
];

/// The plugin registered under `plugin_name`.
pub(crate) fn find(plugin_name: &str) -> Result<&'static dyn DatabaseType, DatabaseError> {
    TYPES
        .iter()
        .copied()
        .find(|t| t.names().contains(&plugin_name))
        .ok_or_else(|| {
            DatabaseError::invalid(format!(
                "unknown plugin_name {plugin_name:?}; supported: {}",
                names().join(", ")
            ))
        })
}

/// Every plugin name this build serves.
pub(crate) fn names() -> Vec<&'static str> {
    TYPES
        .iter()
        .flat_map(|t| t.names().iter().copied())
        .collect()
}
