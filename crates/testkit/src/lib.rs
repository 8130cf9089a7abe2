//! Helpers shared by the integration tests of several crates. Only ever a dev-dependency.
//!
//! - [`pg_cluster`]: a private PostgreSQL cluster with real password authentication.

pub mod pg_cluster;
