//! Integration tests of the audit crate: the file device as a user sees its log, and
//! `verify_file` against logs tampered with in every way the chain is meant to catch.

mod file_device;
mod keyed;
mod verify;

use std::path::Path;

use secrethub_audit::{AuditEvent, AuditRequest, EventKind, FileDevice, FileOptions};
use serde_json::Value;
use zeroize::Zeroizing;

/// The per-device HMAC key used by the tests.
pub(crate) const KEY: &[u8] = b"test-device-hmac-key";

fn open_device(path: &Path, options: FileOptions) -> FileDevice {
    FileDevice::open(path, Zeroizing::new(KEY.to_vec()), options).expect("open audit device")
}

/// A request entry for `path` carrying `data`.
fn request_event(path: &str, data: Option<Value>) -> AuditEvent {
    AuditEvent {
        time: "2024-05-01T12:00:00Z".into(),
        kind: EventKind::Request,
        request: AuditRequest {
            id: format!("req-{path}"),
            operation: "update".into(),
            path: path.into(),
            data,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The file's lines parsed as JSON.
fn read_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("log line is JSON"))
        .collect()
}
