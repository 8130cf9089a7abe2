//! Audit devices (file), HMAC of sensitive values, hash-chained lines and their verification.
//!
//! Core builds an [`AuditEvent`] with raw values for every request and every response and hands
//! it to each enabled [`AuditDevice`]. A device replaces tokens, accessors and every string in
//! `data` by `hmac-sha256:<hex>` keyed with its own key (as Vault does), then writes one JSON line.
//! The file device chains its lines with `seq` and `prev_hash` so [`verify_file`] can tell when a
//! line was edited, deleted or moved, and with a per-line `mac` under a chain key kept behind
//! the barrier, so [`verify_keyed`] (run by the server, which holds the key and the checkpoint)
//! also catches a rewritten chain and, given the last line written, a cut or edited tail.
//!
//! API Boundary: core depends on the types re-exported here; nothing here knows about core.

mod chain;
mod error;
mod event;
mod file_device;
mod hashing;
mod verify;

use async_trait::async_trait;

pub use error::AuditError;
pub use event::{
    AuditAuth, AuditEvent, AuditRequest, AuditResponse, AuditResponseAuth, AuditWrapInfo, EventKind,
};
pub use file_device::{FileDevice, FileOptions, DISCARD_PATH, STDOUT_PATH};
pub use hashing::{hash_event, hash_value};
pub use verify::{
    verify_file, verify_keyed, ChainHead, ExpectedChain, VerifyProblem, VerifyReport,
};

/// A place audit entries go. Core holds `Arc<dyn AuditDevice>` and fails a request when no
/// device could record it.
#[async_trait]
pub trait AuditDevice: Send + Sync {
    /// Vault's device type name, e.g. `"file"`.
    fn device_type(&self) -> &'static str;

    /// Records one entry, HMACing sensitive values unless the device logs raw.
    async fn log(&self, event: &AuditEvent) -> Result<(), AuditError>;

    /// `hmac-sha256:<hex>` of `value` with this device's key (for `sys/audit-hash/:path`).
    fn hash(&self, value: &str) -> String;

    /// Reopens the destination after log rotation (SIGHUP); devices without one do nothing.
    fn reopen(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// The last line of the device's keyed chain, `None` for devices without one.
    fn chain_head(&self) -> Option<ChainHead> {
        None
    }

    /// Verifies the device's own log with its chain key against `expected` (blocking file IO:
    /// call it off the async workers). `None` for devices without a keyed chain.
    fn verify_chain(&self, _expected: &ExpectedChain) -> Result<Option<VerifyReport>, AuditError> {
        Ok(None)
    }
}
