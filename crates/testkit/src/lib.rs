//! Helpers shared by the integration tests of several crates. Only ever a dev-dependency.
//!
//! - [`pg_cluster`]: a private PostgreSQL cluster with real password authentication.
//! - [`https`]: a local HTTPS server (test CA) for an axum app standing in for a provider.

pub mod https;
pub mod pg_cluster;
