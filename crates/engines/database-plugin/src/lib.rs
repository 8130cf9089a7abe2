//! The contract between the database secrets engine (`secrethub-database`) and its plugins,
//! one crate per kind of database (`secrethub-database-postgres`, …).
//!
//! A plugin crate provides a [`DatabaseType`]: Vault's plugin names it answers to, the
//! connection fields it accepts (it checks them, and it alone knows which are secret and how
//! to show them redacted), how its statements look, and how to open a [`DatabasePlugin`] for
//! one stored connection config. The engine owns everything else: storage, roles, TTLs,
//! usernames, passwords, intents and leases, so every plugin gets the same guarantees
//! (intent recorded before the side effect, nothing orphaned after a crash, batched expiry).
//!
//! [`template`] renders Vault's `{{name}}`/`{{password}}`/`{{expiration}}` statements for the
//! plugins whose statements are text (SQL); [`DatabaseError`] is what every plugin fails with.

mod check;
mod details;
mod error;
mod kind;
mod plugin;
pub mod pool;
mod scrub;
pub mod template;

pub use check::{ConnectionFailure, ConnectionReport, FailureKind, Privilege};
pub use details::ConnectionDetails;
pub use error::DatabaseError;
pub use kind::DatabaseType;
pub use plugin::{BeforeCreate, DatabasePlugin, NewUser};
pub use scrub::scrub;

/// Default pool size for issuing credentials, as Vault's `max_open_connections`.
pub const DEFAULT_MAX_OPEN_CONNECTIONS: u32 = 4;
