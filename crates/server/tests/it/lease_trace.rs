//! Background lease work leaves a trace in the audit log: an expired lease revoked by the
//! scheduler, a lease that becomes irrevocable, and an unconfirmed intent revoked at
//! unseal each write an entry naming the lease, with the system as its author.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};
use crate::leases::{creds, upstream, with_engine};

async fn with_audit_file(t: &TestServer) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let (s, v) = t
        .root(
            "PUT",
            "sys/audit/file",
            Some(json!({"type": "file", "options": {"file_path": file.to_str().unwrap()}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    (dir, file)
}

/// The entries the system wrote (not a request's), in order.
fn system_entries(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["auth"]["display_name"] == "secrethub-expiration")
        .collect()
}

#[tokio::test]
async fn an_expired_lease_is_audited_when_revoked() {
    let t = with_engine().await;
    let (_dir, file) = with_audit_file(&t).await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "short", json!({"ttl": "1s"})).await;
    eventually("the expired lease is revoked upstream", || async {
        upstream(&t).await.is_empty()
    })
    .await;
    let entries = system_entries(&file);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(
        (
            e["type"].clone(),
            e["request"]["operation"].clone(),
            e["request"]["path"].clone(),
            e["request"]["mount_type"].clone(),
            e["request"]["remote_address"].clone(),
            e["error"].clone(),
        ),
        (
            json!("request"),
            json!("revoke"),
            json!(id),
            json!("test-leases"),
            Value::Null,
            Value::Null
        ),
        "{e}"
    );
}

#[tokio::test]
async fn an_irrevocable_lease_and_a_revoked_intent_are_audited() {
    let t = with_engine().await;
    let (_dir, file) = with_audit_file(&t).await;
    let root = t.root.clone();
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_revoke": true})),
    )
    .await;
    let (id, _) = creds(&t, &root, "stuck", json!({"ttl": "1s"})).await;
    eventually("the lease becomes irrevocable", || async {
        let (_, v) = t.root("GET", "sys/leases/stats", None).await;
        v["data"]["irrevocable"] == json!(1)
    })
    .await;
    let entries = system_entries(&file);
    let e = entries
        .iter()
        .find(|e| e["request"]["path"] == json!(id))
        .unwrap_or_else(|| panic!("no entry for {id}: {entries:?}"));
    let error = e["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("lease is irrevocable after 3 attempts"),
        "{e}"
    );
    assert_eq!(upstream(&t).await.len(), 1, "still there upstream");

    // An intent whose creation and revocation failed, revoked at the next unseal.
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_create": true, "fail_revoke": true})),
    )
    .await;
    let (s, _) = t.root("GET", "database/creds/intent", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    t.root("POST", "database/config", Some(json!({}))).await;
    t.core.seal().await.unwrap();
    t.core.unseal(Some(&t.unseal_key), false).await.unwrap();
    eventually("the intent is revoked and audited", || async {
        system_entries(&file).iter().any(|e| {
            e["request"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("database/creds/intent/"))
                && e["error"].is_null()
        })
    })
    .await;
}
