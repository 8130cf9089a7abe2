//! Helpers shared by the integration tests of several crates. Only ever a dev-dependency.
//!
//! - [`pg_cluster`]: a private PostgreSQL cluster with real password authentication.
//! - [`https`]: a local HTTPS server (test CA) for an axum app standing in for a provider.
//! - [`process`]: an external server process (moto, OpenBao) that dies with the test binary.
//! - [`moto`]: a local moto server (AWS, mocked) with IAM bootstrap and signed-call helpers.
//! - [`nesting`]: the deeply nested HCL shapes that overflowed the parser's stack.

pub mod https;
pub mod moto;
pub mod nesting;
pub mod pg_cluster;
pub mod process;
