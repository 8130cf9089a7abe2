//! Background lease work leaves a trace in the audit log: an expired lease revoked by the
//! scheduler, a lease that becomes irrevocable, an unconfirmed intent revoked at unseal, and
//! a token the expiry sweeper removes each write an entry naming the lease, with the system
//! as its author.

use std::path::Path;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};
use crate::leases::{creds, upstream, with_engine};

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
    let (_dir, file) = t.audit_to_file().await;
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
    let (_dir, file) = t.audit_to_file().await;
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

#[tokio::test]
async fn an_expired_token_and_its_child_are_audited_when_removed() {
    let t = TestServer::dev().await;
    let (_dir, file) = t.audit_to_file().await;
    let (_, v) = t
        .root("POST", "auth/token/create", Some(json!({"ttl": "1s"})))
        .await;
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    let accessor = v["auth"]["accessor"].as_str().unwrap().to_string();
    let (_, v) = t
        .req(
            "POST",
            "auth/token/create",
            Some(&token),
            Some(json!({"ttl": "1h"})),
        )
        .await;
    let child_accessor = v["auth"]["accessor"].as_str().unwrap().to_string();
    eventually("the expired token and its child are removed", || async {
        system_entries(&file).len() == 2
    })
    .await;
    let (_, v) = t
        .root(
            "POST",
            "auth/token/lookup-accessor",
            Some(json!({"accessor": accessor})),
        )
        .await;
    assert!(v["data"].is_null(), "the token is gone: {v}");
    let entries = system_entries(&file);
    let log = std::fs::read_to_string(&file).unwrap();
    assert!(!log.contains(&token), "the token itself is never logged");
    // The child (revoked with its parent) first, then the expired token.
    for (e, accessor) in entries.iter().zip([child_accessor, accessor]) {
        let (_, hmac) = t
            .root(
                "POST",
                "sys/audit-hash/file",
                Some(json!({"input": accessor})),
            )
            .await;
        let path = e["request"]["path"].as_str().unwrap_or_default();
        assert!(path.starts_with("auth/token/create/"), "{e}");
        assert_eq!(
            (
                e["type"].clone(),
                e["request"]["operation"].clone(),
                e["request"]["mount_type"].clone(),
                e["request"]["data"]["accessor"].clone(),
                e["request"]["remote_address"].clone(),
                e["error"].clone(),
            ),
            (
                json!("request"),
                json!("revoke"),
                json!("token"),
                hmac["data"]["hash"].clone(),
                Value::Null,
                Value::Null,
            ),
            "{e}"
        );
    }
}
