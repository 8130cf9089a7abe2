//! The `vaultrs` crate, a Rust client written for Vault, used unchanged against a real
//! `secrethub server -dev`: KV v2, `sys/mounts`, `sys/auth`, the database engine on the
//! machine's PostgreSQL, token calls, AppRole and userpass logins, leases, and the status codes
//! its `ClientError::APIError` reports.
//!
//! vaultrs 0.7 has no lease module and no KV v2 patch; leases go through `vaultrs::api` with a
//! small `rustify` endpoint of our own (`database::Raw`), the way a vaultrs user reaches an
//! endpoint the crate does not wrap. This file holds the helpers the submodules share.

mod database;
mod kv;
mod tokens;

use std::fmt::Debug;
use std::time::Duration;

use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use crate::harness::ServerProcess;

/// A vaultrs client for `server` holding `token` (empty: no token, as before a login).
fn client(server: &ServerProcess, token: &str) -> VaultClient {
    let settings = VaultClientSettingsBuilder::default()
        .address(server.addr())
        .token(token)
        .timeout(Some(Duration::from_secs(15)))
        .ca_certs(Vec::new())
        .identity(None)
        .verify(true)
        .build()
        .expect("valid vaultrs settings");
    VaultClient::new(settings).expect("building the vaultrs client")
}

/// Starts a dev server in a fresh temporary directory (kept alive by the returned guard).
async fn dev_server(root: &str) -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::dev(dir.path(), root, &[]).await;
    (dir, server)
}

/// The status code of an `APIError` (Vault's `{"errors": [...]}`), failing on anything else.
fn api_code<T: Debug>(result: Result<T, ClientError>) -> u16 {
    match result {
        Err(ClientError::APIError { code, .. }) => code,
        other => panic!("expected ClientError::APIError, got {other:?}"),
    }
}

/// The HTTP status of a failed call, also when the body is not `{"errors": [...]}` (a KV v2
/// read of a deleted version answers 404 with the version's metadata, as Vault does).
fn status<T: Debug>(result: Result<T, ClientError>) -> u16 {
    match result {
        Err(ClientError::APIError { code, .. }) => code,
        Err(ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError { code, .. },
        }) => code,
        other => panic!("expected an HTTP error status, got {other:?}"),
    }
}
