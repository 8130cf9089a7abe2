//! Integration tests of the providers against real stores: an OpenBao dev server (the `vault`
//! and `secrethub` types), moto (AWS Secrets Manager), a small local server that follows
//! Azure Key Vault's and Entra ID's documented API, local files; and of [`Providers`]'
//! routing, cache and fallback with a counting provider.
//!
//! OpenBao and moto come from scripts/test's virtualenv (`SECRETHUB_TEST_BAO`,
//! `SECRETHUB_TEST_MOTO`, else `~/.cache/secrethub-test/venv/bin/…`); a test that needs one
//! fails with instructions when it is missing.
//!
//! [`Providers`]: secrethub_providers::Providers

mod aws_sm;
mod azure_kv;
mod external;
mod file;
mod providers;
mod redaction;
mod vault;

use std::sync::atomic::{AtomicU64, Ordering};

/// A name no other test of this run (or of an earlier run against the same server) uses.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        N.fetch_add(1, Ordering::SeqCst),
        secrethub_common::random_alnum(8).to_lowercase()
    )
}
