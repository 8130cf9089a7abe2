//! Explicit revocations tell the truth: `sync` (default true) revokes before answering, even
//! while a circuit breaker pauses background retries, and fails naming what failed (the
//! leases stay); `sync=false` answers 202, with a warning per open breaker. Breakers are per
//! role, so one role's failing revocations do not hold back another's.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};
use crate::leases::{creds, lookup, upstream, with_engine};

/// The test engine at `database/` with a breaker that opens after 2 failures for a minute
/// (far longer than any test), role `a`'s revocations failing, and three leases each for
/// roles `a` and `b`.
async fn setup() -> (TestServer, Vec<String>, Vec<String>) {
    let mut cfg = crate::harness::config();
    cfg.lease_retry.breaker_threshold = 2;
    cfg.lease_retry.breaker_cooldown = Duration::from_secs(60);
    cfg.lease_retry.max_attempts = 100;
    let t = TestServer::with(Arc::new(secrethub_storage::MemoryStorage::new()), cfg).await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/database",
            Some(json!({"type": "test-leases"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_revoke_roles": ["a"]})),
    )
    .await;
    let root = t.root.clone();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        a.push(creds(&t, &root, "a", json!({"ttl": "1h"})).await.0);
        b.push(creds(&t, &root, "b", json!({"ttl": "1h"})).await.0);
    }
    (t, a, b)
}

async fn revoke_prefix(t: &TestServer, prefix: &str, body: Option<Value>) -> (StatusCode, Value) {
    t.root("PUT", &format!("sys/leases/revoke-prefix/{prefix}"), body)
        .await
}

fn role_users(users: &[String], role: &str) -> usize {
    users
        .iter()
        .filter(|u| u.starts_with(&format!("{role}_")))
        .count()
}

#[tokio::test]
async fn a_failing_explicit_revoke_prefix_names_the_failures_and_keeps_the_leases() {
    let (t, a, _) = setup().await;
    let (s, v) = revoke_prefix(&t, "database/creds/a/", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let error = v["errors"][0].as_str().unwrap();
    assert!(
        error.contains("3 of 3 leases") && error.contains("test upstream"),
        "{v}"
    );
    for id in &a {
        assert_eq!(lookup(&t, id).await, StatusCode::OK, "kept for retry: {id}");
    }
    assert_eq!(role_users(&upstream(&t).await, "a"), 3);

    // The breaker is open now (3 failures ≥ 2), yet an explicit call still gets a real attempt.
    t.root("POST", "database/config", Some(json!({}))).await;
    let (s, v) = revoke_prefix(&t, "database/creds/a/", Some(json!({"sync": true}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(role_users(&upstream(&t).await, "a"), 0);
    for id in &a {
        assert_eq!(
            lookup(&t, id).await,
            StatusCode::BAD_REQUEST,
            "revoked: {id}"
        );
    }
}

#[tokio::test]
async fn another_roles_open_breaker_does_not_hold_back_a_sync_revoke_prefix() {
    let (t, _, b) = setup().await;
    // Role a's failures open its breaker.
    let (s, _) = revoke_prefix(&t, "database/creds/a/", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    // sync defaults to true: b's leases are gone upstream before the answer.
    let (s, v) = revoke_prefix(&t, "database/creds/b/", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(role_users(&upstream(&t).await, "b"), 0);
    for id in &b {
        assert_eq!(
            lookup(&t, id).await,
            StatusCode::BAD_REQUEST,
            "revoked: {id}"
        );
    }

    // Background expiry of role b is not paused by role a's breaker either.
    let root = t.root.clone();
    creds(&t, &root, "b", json!({"ttl": "1s"})).await;
    eventually("role b's expired lease is revoked", || async {
        role_users(&upstream(&t).await, "b") == 0
    })
    .await;
    assert_eq!(role_users(&upstream(&t).await, "a"), 3, "a's leases stay");
}

#[tokio::test]
async fn a_queued_revoke_answers_202_and_names_an_open_breaker() {
    let (t, a, _) = setup().await;
    let (s, _) = revoke_prefix(&t, "database/creds/a/", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    let (s, v) = revoke_prefix(&t, "database/creds/a/", Some(json!({"sync": false}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "one per open breaker: {v}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("\"database/creds/a\"")
            && w.contains("circuit breaker")
            && w.contains("queued until 20"),
        "{w}"
    );
    // Vault's older form and a single lease answer the same.
    let (s, v) = t
        .root(
            "PUT",
            "sys/leases/revoke",
            Some(json!({"lease_id": a[0], "sync": "false"})),
        )
        .await;
    assert_eq!(
        (s, v["warnings"].as_array().map(Vec::len)),
        (StatusCode::ACCEPTED, Some(1)),
        "{v}"
    );
    let (s, v) = t
        .root(
            "PUT",
            "sys/revoke-prefix/database/creds/a/",
            Some(json!({"sync": false})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    for id in &a {
        assert_eq!(
            lookup(&t, id).await,
            StatusCode::OK,
            "queued, not dropped: {id}"
        );
    }

    // Without an open breaker, queued is just queued, and the workers revoke them.
    let (s, v) = revoke_prefix(&t, "database/creds/b/", Some(json!({"sync": false}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["warnings"], Value::Null, "{v}");
    eventually("queued revocations of role b happen", || async {
        role_users(&upstream(&t).await, "b") == 0
    })
    .await;
}

/// Users of the test engine whose revocation for a caller waits on `hold_caller_revoke`.
async fn holding(t: &TestServer) -> Vec<String> {
    let (s, v) = t.root("LIST", "database/holding", None).await;
    if s == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    serde_json::from_value(v["data"]["keys"].clone()).expect("keys")
}

/// A client that goes away while its revocation waits on the upstream does not cut the
/// revocation short: it runs to its end on its own, and the credential and the lease are gone
/// with no second call (a dropped connection drops the request's future, as aborting it does).
#[tokio::test]
async fn a_revocation_whose_caller_goes_away_still_finishes() {
    let t = with_engine().await;
    let root = t.root.clone();
    let (lease, data) = creds(&t, &root, "h", json!({"ttl": "1h"})).await;
    let user = data["data"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    t.root(
        "POST",
        "database/config",
        Some(json!({"hold_caller_revoke": true})),
    )
    .await;

    let caller = {
        use tower::ServiceExt as _;
        let request = axum::http::Request::builder()
            .method("PUT")
            .uri("/v1/sys/leases/revoke")
            .header("x-vault-token", root.as_str())
            .body(axum::body::Body::from(
                json!({"lease_id": lease}).to_string(),
            ))
            .expect("request");
        let app = t.app.clone();
        tokio::spawn(async move { app.oneshot(request).await })
    };
    eventually("the revocation waits on the upstream", || async {
        holding(&t).await.contains(&user)
    })
    .await;
    caller.abort();
    assert!(caller.await.expect_err("aborted").is_cancelled());
    assert!(upstream(&t).await.contains(&user), "not revoked yet");

    t.root("POST", "database/config", Some(json!({}))).await;
    // The revocation the caller started is the one that finished (a dropped one would have
    // left its `holding/` mark behind; the scheduler would revoke the lease again, later).
    eventually(
        "the caller's revocation finished without its caller",
        || async {
            holding(&t).await.is_empty()
                && !upstream(&t).await.contains(&user)
                && lookup(&t, &lease).await == StatusCode::BAD_REQUEST
        },
    )
    .await;
}
