//! The audit entry of work the server does on its own, with no request behind it: a lease
//! the scheduler revokes or gives up on (`leases/trace.rs`), a token the expiry sweeper
//! removes (`unsealed.rs`), and an engine's timer run, e.g. a scheduled rotation
//! (`timers.rs`, `operation` "update" on the timer's path, by "secrethub-scheduler").
//!
//! The entry has Vault's request shape: `operation` "revoke", `path` the lease ID (a token's
//! is `<creation path>/<token hash>`, as `sys/leases` names it; never the token), no
//! `remote_address`, and an `auth` that names the system (`display_name`
//! "secrethub-expiration"), not a token.
//!
//! Fail open, unlike requests: the entry is written after the revocation happened, so there
//! is nothing left to refuse, and holding back revocations because an audit device is down
//! would leave live credentials behind. Callers log a failed entry as an error naming what
//! was revoked, so the trace survives in the server log.

use secrethub_audit::{AuditAuth, AuditEvent, AuditRequest, EventKind};
use secrethub_common::{format_rfc3339, now_unix_nanos};

use crate::audit_broker::AuditBroker;
use crate::error::CoreResult;

/// The `auth.display_name` of entries written by background work.
pub(crate) const SYSTEM_NAME: &str = "secrethub-expiration";

/// What the system revoked, for its audit entry.
pub(crate) struct SystemRevocation {
    /// Type and accessor of the mount the lease or token belongs to (empty when gone).
    pub(crate) mount_type: String,
    pub(crate) mount_accessor: String,
    /// The lease ID.
    pub(crate) path: String,
    /// Request data; every string leaf is HMACed by the device.
    pub(crate) data: Option<serde_json::Value>,
    /// Why the revocation did not happen (an irrevocable lease).
    pub(crate) error: Option<String>,
}

/// The `auth.display_name` of entries written for an engine's timer (`timers.rs`): a
/// scheduled rotation.
pub(crate) const SCHEDULER_NAME: &str = "secrethub-scheduler";

/// Writes the entry to every audit device; nothing to do when none is enabled.
pub(crate) async fn audit_revocation(
    audit: &AuditBroker,
    what: SystemRevocation,
) -> CoreResult<()> {
    audit_system_event(audit, "revoke", SYSTEM_NAME, what).await
}

/// Writes the entry of background work (`operation` on `what.path`, by the system named
/// `display_name`) to every audit device; nothing to do when none is enabled.
pub(crate) async fn audit_system_event(
    audit: &AuditBroker,
    operation: &str,
    display_name: &str,
    what: SystemRevocation,
) -> CoreResult<()> {
    if !audit.is_enabled() {
        return Ok(());
    }
    let event = AuditEvent {
        time: format_rfc3339(now_unix_nanos()),
        kind: EventKind::Request,
        auth: Some(AuditAuth {
            display_name: display_name.into(),
            ..Default::default()
        }),
        request: AuditRequest {
            operation: operation.into(),
            mount_type: what.mount_type,
            mount_accessor: what.mount_accessor,
            path: what.path,
            data: what.data,
            ..Default::default()
        },
        response: None,
        error: what.error,
    };
    audit.log(&event).await
}
