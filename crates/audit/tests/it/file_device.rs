//! The file device: what lands in the log (HMACed values, Vault's field names, the chain),
//! reopening, permissions, and failing closed when the log cannot be written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use secrethub_audit::{
    hash_value, verify_file, AuditAuth, AuditDevice, AuditEvent, AuditResponse, AuditResponseAuth,
    AuditWrapInfo, EventKind, FileDevice, FileOptions,
};
use secrethub_common::ErrorKind;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::{open_device, read_entries, request_event, KEY};

fn h(value: &str) -> Value {
    Value::String(hash_value(KEY, value))
}

/// A response entry for a login: caller token, request data, minted token, wrapping, lease.
fn login_response_event() -> AuditEvent {
    let mut event = request_event(
        "auth/userpass/login/alice",
        Some(json!({"password": "pw-request-secret", "ttl": 60})),
    );
    event.kind = EventKind::Response;
    event.request.client_token = Some("hvs.caller-token-secret".into());
    event.request.client_token_accessor = Some("caller-accessor-secret".into());
    event.auth = Some(AuditAuth {
        client_token: Some("hvs.caller-token-secret".into()),
        accessor: Some("caller-accessor-secret".into()),
        display_name: "token".into(),
        policies: vec!["root".into()],
        token_policies: vec!["root".into()],
        metadata: BTreeMap::from([("team".to_string(), "ops".to_string())]),
        token_type: "service".into(),
        ..Default::default()
    });
    event.response = Some(AuditResponse {
        mount_type: "userpass".into(),
        data: Some(json!({
            "creds": {"username": "v-user-secret", "port": 5432, "hosts": ["db-secret-1", 7, false]},
            "renewable": true,
        })),
        auth: Some(AuditResponseAuth {
            client_token: Some("hvs.new-token-secret".into()),
            accessor: Some("new-accessor-secret".into()),
            policies: vec!["default".into()],
            token_ttl: 3600,
            ..Default::default()
        }),
        lease_id: Some("database/creds/ro/abc123".into()),
        wrap_info: Some(AuditWrapInfo {
            token: "hvs.wrap-token-secret".into(),
            accessor: "wrap-accessor-secret".into(),
            ttl: 300,
            creation_path: "auth/userpass/login/alice".into(),
            ..Default::default()
        }),
        warnings: vec!["capped".into()],
    });
    event
}

const SECRETS: &[&str] = &[
    "pw-request-secret",
    "hvs.caller-token-secret",
    "caller-accessor-secret",
    "v-user-secret",
    "db-secret-1",
    "hvs.new-token-secret",
    "new-accessor-secret",
    "hvs.wrap-token-secret",
    "wrap-accessor-secret",
];

#[tokio::test]
async fn sensitive_values_are_hmaced_and_never_reach_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let device = open_device(&path, FileOptions::default());
    device.log(&login_response_event()).await.expect("log");

    // The grep an operator would run: no secret, anywhere in the file.
    let text = std::fs::read_to_string(&path).expect("read log");
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked into the audit log");
    }

    let entries = read_entries(&path);
    let e = &entries[0];
    assert_eq!(e["type"], "response");
    assert_eq!(e["auth"]["client_token"], h("hvs.caller-token-secret"));
    assert_eq!(e["auth"]["accessor"], h("caller-accessor-secret"));
    assert_eq!(e["auth"]["metadata"], json!({"team": "ops"}));
    assert_eq!(e["request"]["client_token"], h("hvs.caller-token-secret"));
    assert_eq!(
        e["request"]["client_token_accessor"],
        h("caller-accessor-secret")
    );
    assert_eq!(e["request"]["path"], "auth/userpass/login/alice");
    assert_eq!(
        e["request"]["data"],
        json!({"password": h("pw-request-secret"), "ttl": 60})
    );
    let response = &e["response"];
    assert_eq!(
        response["data"],
        json!({
            "creds": {"username": h("v-user-secret"), "port": 5432, "hosts": [h("db-secret-1"), 7, false]},
            "renewable": true,
        })
    );
    assert_eq!(response["auth"]["client_token"], h("hvs.new-token-secret"));
    assert_eq!(response["auth"]["accessor"], h("new-accessor-secret"));
    assert_eq!(response["auth"]["token_ttl"], 3600);
    assert_eq!(response["wrap_info"]["token"], h("hvs.wrap-token-secret"));
    assert_eq!(response["wrap_info"]["accessor"], h("wrap-accessor-secret"));
    assert_eq!(response["wrap_info"]["ttl"], 300);
    // Vault nests the lease under "secret" and leaves it readable, for correlation.
    assert_eq!(
        response["secret"],
        json!({"lease_id": "database/creds/ro/abc123"})
    );
    assert_eq!(response["warnings"], json!(["capped"]));
    // `hash` is what sys/audit-hash returns: it matches what was written.
    assert_eq!(
        Value::String(device.hash("v-user-secret")),
        h("v-user-secret")
    );
    assert_eq!(device.device_type(), "file");
}

#[tokio::test]
async fn entries_use_vault_field_names_and_leave_out_empty_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let device = open_device(&path, FileOptions::default());
    let mut event = request_event("sys/mounts", None);
    event.request.remote_address = "127.0.0.1".into();
    device.log(&event).await.expect("log");

    let line = std::fs::read_to_string(&path).expect("read log");
    assert_eq!(
        line,
        concat!(
            r#"{"time":"2024-05-01T12:00:00Z","type":"request","#,
            r#""request":{"id":"req-sys/mounts","operation":"update","path":"sys/mounts","remote_address":"127.0.0.1"},"#,
            r#""seq":1,"prev_hash":""}"#,
            "\n"
        )
    );
}

#[tokio::test]
async fn log_raw_writes_values_in_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let options = FileOptions {
        log_raw: true,
        ..FileOptions::default()
    };
    let device = open_device(&path, options);
    device.log(&login_response_event()).await.expect("log");

    let e = &read_entries(&path)[0];
    assert_eq!(e["request"]["client_token"], "hvs.caller-token-secret");
    assert_eq!(e["request"]["data"]["password"], "pw-request-secret");
    assert_eq!(e["response"]["data"]["creds"]["username"], "v-user-secret");
    assert_eq!(e["response"]["wrap_info"]["token"], "hvs.wrap-token-secret");
    // sys/audit-hash still hashes on a raw device.
    assert_eq!(device.hash("x"), hash_value(KEY, "x"));
}

#[tokio::test]
async fn chain_continues_when_the_file_is_opened_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    {
        let device = open_device(&path, FileOptions::default());
        device.log(&request_event("a", None)).await.expect("log");
        device.log(&request_event("b", None)).await.expect("log");
    }
    let device = open_device(&path, FileOptions::default());
    device.log(&request_event("c", None)).await.expect("log");

    let seqs: Vec<Value> = read_entries(&path)
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    assert_eq!(seqs, vec![json!(1), json!(2), json!(3)]);
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.to_string(), "ok: 3 lines verified");
}

#[tokio::test]
async fn reopen_after_rotation_starts_a_new_chain_and_keeps_the_old_one_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let rotated = dir.path().join("audit.log.1");
    let device = open_device(&path, FileOptions::default());
    device.log(&request_event("a", None)).await.expect("log");
    device.log(&request_event("b", None)).await.expect("log");
    std::fs::rename(&path, &rotated).expect("rotate");
    device.reopen().expect("reopen");
    device.log(&request_event("c", None)).await.expect("log");

    assert_eq!(
        verify_file(&rotated).expect("verify").to_string(),
        "ok: 2 lines verified"
    );
    assert_eq!(
        verify_file(&path).expect("verify").to_string(),
        "ok: 1 line verified"
    );
    assert_eq!(read_entries(&path)[0]["request"]["path"], "c");
}

#[tokio::test]
async fn a_torn_last_line_is_closed_off_and_reported_by_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    {
        let device = open_device(&path, FileOptions::default());
        device.log(&request_event("a", None)).await.expect("log");
        device.log(&request_event("b", None)).await.expect("log");
    }
    // What a crash in the middle of a write leaves behind.
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(r#"{"time":"2024-05-01T12:00:00Z","ty"#);
    std::fs::write(&path, text).expect("write");

    let device = open_device(&path, FileOptions::default());
    device.log(&request_event("c", None)).await.expect("log");

    let text = std::fs::read_to_string(&path).expect("read");
    let last: Value = serde_json::from_str(text.lines().nth(3).expect("4 lines")).expect("json");
    assert_eq!(last["request"]["path"], "c");
    assert_eq!(last["seq"], 4);
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.lines, 4);
    assert_eq!(report.to_string(), "line 3: line is not valid JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_entries_form_one_unbroken_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let device = Arc::new(open_device(&path, FileOptions::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let device = Arc::clone(&device);
        tasks.spawn(async move {
            for i in 0..25 {
                let event = request_event(&format!("t{task}/{i}"), Some(json!({"v": "x"})));
                device.log(&event).await.expect("log");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let report = verify_file(&path).expect("verify");
    assert_eq!(report.to_string(), "ok: 200 lines verified");
}

/// `/dev/full` fails every write with ENOSPC, the honest stand-in for a full disk: we run as
/// root, so permission bits would not stop a write, and an open fd keeps working after its path
/// is removed or replaced.
#[tokio::test]
async fn a_write_that_fails_is_an_unavailable_error_without_values() {
    let full = Path::new("/dev/full");
    assert!(full.exists(), "this test needs /dev/full");
    let options = FileOptions {
        log_raw: false,
        mode: 0,
    };
    let device = FileDevice::open(full, Zeroizing::new(KEY.to_vec()), options).expect("open");
    let err = device
        .log(&login_response_event())
        .await
        .expect_err("write to a full device must fail");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(shown.contains("write failed"), "{shown}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked into the error");
    }
    // It keeps failing rather than silently dropping entries.
    assert!(device.log(&request_event("again", None)).await.is_err());
}

#[cfg(unix)]
#[test]
fn the_file_gets_the_configured_mode_even_when_it_exists() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mode_of = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;

    let new = dir.path().join("new.log");
    open_device(&new, FileOptions::default());
    assert_eq!(mode_of(&new), 0o600);

    let existing = dir.path().join("existing.log");
    std::fs::write(&existing, "").expect("create");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let options = FileOptions {
        mode: 0o640,
        ..FileOptions::default()
    };
    open_device(&existing, options);
    assert_eq!(mode_of(&existing), 0o640);
}

#[test]
fn bad_options_are_bad_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = FileOptions {
        mode: 0o4755,
        ..FileOptions::default()
    };
    let key = || Zeroizing::new(KEY.to_vec());
    let err = FileDevice::open(&dir.path().join("a.log"), key(), options).expect_err("mode");
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    let err = FileDevice::open(Path::new(""), key(), FileOptions::default()).expect_err("path");
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    let missing_dir = dir.path().join("no-such-dir").join("a.log");
    let err = FileDevice::open(&missing_dir, key(), FileOptions::default()).expect_err("dir");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
}
