//! Leases end to end through the API, with the test engine mounted at `database/`:
//! create, lookup, list, renew (capped), revoke, revoke-prefix, expiry, revocation with the
//! token, retries into the irrevocable state, failed creations leaving nothing behind,
//! unconfirmed intents revoked on unseal, lease-count quotas, and the seed endpoints.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::{eventually, unique, TestServer};

pub(crate) async fn with_engine() -> TestServer {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/database",
            Some(json!({"type": "test-leases"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

pub(crate) async fn upstream(t: &TestServer) -> Vec<String> {
    let (s, v) = t.root("LIST", "database/upstream", None).await;
    if s == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    v["data"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// `sys/leases/revoke` of one lease; its status.
pub(crate) async fn revoke(t: &TestServer, id: &str) -> StatusCode {
    t.root("PUT", "sys/leases/revoke", Some(json!({"lease_id": id})))
        .await
        .0
}

/// `sys/leases/lookup` of one lease; its status.
pub(crate) async fn lookup(t: &TestServer, id: &str) -> StatusCode {
    t.root("PUT", "sys/leases/lookup", Some(json!({"lease_id": id})))
        .await
        .0
}

/// `GET database/creds/<role>?k=v...`, as `vault read database/creds/<role> ttl=1h` sends it.
pub(crate) async fn creds(
    t: &TestServer,
    token: &str,
    role: &str,
    query: Value,
) -> (String, Value) {
    let q: Vec<String> = query
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    let req = Request::builder()
        .method("GET")
        .uri(format!("/v1/database/creds/{role}?{}", q.join("&")))
        .header("x-vault-token", token)
        .body(Body::empty())
        .unwrap();
    let (s, v) = t.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["lease_id"].as_str().unwrap().to_string(), v)
}

#[tokio::test]
async fn lease_lifecycle() {
    let t = with_engine().await;
    t.root("POST", "database/config", Some(json!({"max_ttl": "2h"})))
        .await;
    let root = t.root.clone();
    let (id, v) = creds(&t, &root, "ro", json!({"ttl": "1h"})).await;
    assert!(id.starts_with("database/creds/ro/"), "{id}");
    assert_eq!(
        (v["lease_duration"].clone(), v["renewable"].clone()),
        (json!(3600), json!(true))
    );
    let user = v["data"]["username"].as_str().unwrap().to_string();
    assert_eq!(upstream(&t).await, vec![user.clone()]);

    let (s, v) = t
        .root("PUT", "sys/leases/lookup", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["data"]["id"].clone(), v["data"]["renewable"].clone()),
        (json!(id), json!(true))
    );
    let ttl = v["data"]["ttl"].as_u64().unwrap();
    assert!((3595..=3600).contains(&ttl), "{ttl}");

    let (s, v) = t
        .root("LIST", "sys/leases/lookup/database/creds/ro/", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["keys"], json!([id.rsplit('/').next().unwrap()]));
    let (_, v) = t.root("LIST", "sys/leases/lookup/database/", None).await;
    assert_eq!(v["data"]["keys"], json!(["creds/"]));

    let (s, v) = t
        .root(
            "PUT",
            "sys/leases/renew",
            Some(json!({"lease_id": id, "increment": "90m"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["lease_id"].clone(), v["lease_duration"].clone()),
        (json!(id), json!(5400))
    );
    assert_eq!(v["warnings"], json!(null));
    let (_, v) = t
        .root(
            "PUT",
            "sys/leases/renew",
            Some(json!({"lease_id": id, "increment": "5h"})),
        )
        .await;
    let d = v["lease_duration"].as_u64().unwrap();
    assert!((7190..=7200).contains(&d), "capped at max_ttl: {d}");
    assert!(v["warnings"][0].as_str().unwrap().contains("capped"), "{v}");

    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(upstream(&t).await.is_empty(), "revoked upstream");
    let s = lookup(&t, &id).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "revoking twice is fine");
    let (s, _) = t
        .root("PUT", "sys/leases/renew", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expiry_and_revoke_prefix() {
    let t = with_engine().await;
    let root = t.root.clone();
    for _ in 0..3 {
        creds(&t, &root, "short", json!({"ttl": "1s"})).await;
    }
    for _ in 0..20 {
        creds(&t, &root, "long", json!({"ttl": "1h"})).await;
    }
    eventually("short leases expire and are revoked upstream", || async {
        upstream(&t).await.iter().all(|u| u.starts_with("long_"))
    })
    .await;
    assert_eq!(upstream(&t).await.len(), 20);
    let (s, v) = t
        .root("PUT", "sys/leases/revoke-prefix/database/creds/long", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert!(upstream(&t).await.is_empty());
    let (_, v) = t.root("GET", "sys/leases/stats", None).await;
    assert_eq!(
        (
            v["data"]["active"].clone(),
            v["data"]["revoked_total"].clone()
        ),
        (json!(0), json!(23))
    );
    let user = t.token_with(&["default"]).await;
    let (s, _) = t
        .req(
            "PUT",
            "sys/leases/revoke-prefix/database/",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "revoke-prefix needs sudo");
}

#[tokio::test]
async fn revoking_a_token_revokes_its_leases() {
    let t = with_engine().await;
    let name = unique("creds");
    t.root(
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some(json!({"policy": "path \"database/creds/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    let tok = t.token_with(&[&name]).await;
    creds(&t, &tok, "app", json!({})).await;
    creds(&t, &tok, "app", json!({})).await;
    let root = t.root.clone();
    creds(&t, &root, "other", json!({})).await;
    assert_eq!(upstream(&t).await.len(), 3);
    t.root("POST", "auth/token/revoke", Some(json!({"token": tok})))
        .await;
    eventually("the token's leases are revoked", || async {
        upstream(&t).await.len() == 1
    })
    .await;
    assert!(upstream(&t).await[0].starts_with("other_"));
}

#[tokio::test]
async fn failing_revocations_retry_then_become_irrevocable() {
    let t = with_engine().await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "stuck", json!({})).await;
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_revoke": true})),
    )
    .await;
    let (s, v) = t
        .root("PUT", "sys/leases/revoke", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains("test upstream"),
        "{v}"
    );
    eventually("the lease becomes irrevocable", || async {
        let (_, v) = t.root("GET", "sys/leases?type=irrevocable", None).await;
        v["data"]["lease_count"] == json!(1)
    })
    .await;
    let (_, v) = t.root("GET", "sys/leases?type=irrevocable", None).await;
    let lease = &v["data"]["leases"][0];
    assert_eq!(
        (lease["id"].clone(), lease["irrevocable"].clone()),
        (json!(id), json!(true))
    );
    assert!(lease["revoke_error"]
        .as_str()
        .unwrap()
        .contains("test upstream"));
    let (_, v) = t
        .root("GET", "sys/leases/count?type=irrevocable", None)
        .await;
    assert_eq!(v["data"]["lease_count"], json!(1));
    assert_eq!(
        upstream(&t).await.len(),
        1,
        "never dropped while upstream still has it"
    );

    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_revoke": false})),
    )
    .await;
    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(upstream(&t).await.is_empty());
    let (_, v) = t.root("GET", "sys/leases/stats", None).await;
    assert_eq!(v["data"]["irrevocable"], json!(0));
}

#[tokio::test]
async fn failed_creation_leaves_nothing_and_intents_are_revoked_on_unseal() {
    let t = with_engine().await;
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_create": true})),
    )
    .await;
    let (s, v) = t.root("GET", "database/creds/x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        upstream(&t).await.is_empty(),
        "the recorded intent was revoked at once"
    );

    // Creation and the immediate revocation both fail: the intent stays recorded, like a
    // crash between CREATE ROLE and the response. A restart (seal + unseal) revokes it.
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_create": true, "fail_revoke": true})),
    )
    .await;
    let (s, _) = t.root("GET", "database/creds/x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(upstream(&t).await.len(), 1);
    t.root("POST", "database/config", Some(json!({}))).await;
    let key = t.unseal_key.clone();
    t.core.seal().await.unwrap();
    t.core.unseal(Some(&key), false).await.unwrap();
    eventually("unconfirmed intents are revoked after unseal", || async {
        upstream(&t).await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn lease_count_quota() {
    let t = with_engine().await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/quotas/lease-count/ro",
            Some(json!({"path": "database/creds/ro", "max_leases": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t.root("GET", "sys/quotas/lease-count/ro", None).await;
    assert_eq!(v["data"]["max_leases"], json!(2));
    let root = t.root.clone();
    creds(&t, &root, "ro", json!({})).await;
    creds(&t, &root, "ro", json!({})).await;
    let (s, v) = t.root("GET", "database/creds/ro", None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["errors"][0].as_str().unwrap().contains("quota"), "{v}");
    assert_eq!(upstream(&t).await.len(), 2, "nothing created over quota");
    creds(&t, &root, "rw", json!({})).await;
    let (s, _) = t
        .root(
            "PUT",
            "sys/quotas/lease-count/bad",
            Some(json!({"path": "x", "max_leases": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn seed_dynamic_endpoint_and_lease_listing() {
    let t = with_engine().await;
    let (_dir, audit_file) = t.audit_to_file().await;
    let req = Request::builder()
        .method("POST")
        .uri("/v1/secrets/dynamic/readonly-analytics")
        .header("x-agent-token", &t.root)
        .body(Body::from(
            json!({"ttl": 3600, "metadata": {"purpose": "analytics query"}}).to_string(),
        ))
        .unwrap();
    let (s, v) = t.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["lease_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("database/creds/readonly-analytics/"));
    assert_eq!(
        (v["lease_duration"].clone(), v["renewable"].clone()),
        (json!(3600), json!(true))
    );
    assert!(v["credentials"]["username"]
        .as_str()
        .unwrap()
        .starts_with("readonly-analytics_"));

    let (_, v) = t
        .root("POST", "sys/leases/lookup", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(v["data"]["metadata"]["purpose"], json!("analytics query"));
    let audit = std::fs::read_to_string(&audit_file).unwrap();
    let entry = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| {
            e["type"] == "response" && e["request"]["path"] == "database/creds/readonly-analytics"
        })
        .expect("the seed request is audited");
    assert_eq!(
        entry["request"]["lease_metadata"]["purpose"],
        json!("analytics query")
    );
    let (s, v) = t.root("GET", "sys/leases", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["leases"][0]["id"], json!(id));
    let (_, v) = t.root("GET", "sys/leases/stats", None).await;
    assert_eq!(
        (
            v["data"]["active"].clone(),
            v["data"]["created_total"].clone()
        ),
        (json!(1), json!(1))
    );
    let (s, _) = t
        .root(
            "POST",
            "sys/leases/renew",
            Some(json!({"lease_id": id, "increment": 60})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .root("POST", "sys/leases/revoke", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(upstream(&t).await.is_empty());
}

#[tokio::test]
async fn non_root_tokens_are_leases() {
    let t = TestServer::dev().await;
    let (_, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "1h", "explicit_max_ttl": "2h"})),
        )
        .await;
    let tok = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, v) = t.root("LIST", "sys/leases/lookup/", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!("auth/")),
        "{v}"
    );
    let (_, v) = t
        .root("LIST", "sys/leases/lookup/auth/token/create/", None)
        .await;
    let keys = v["data"]["keys"].as_array().unwrap().clone();
    assert_eq!(
        keys.len(),
        1,
        "only the expiring token; the root token is no lease: {v}"
    );
    let id = format!("auth/token/create/{}", keys[0].as_str().unwrap());

    let (s, v) = t
        .root("PUT", "sys/leases/lookup", Some(json!({"lease_id": id})))
        .await;
    assert_eq!(
        (s, v["data"]["renewable"].clone()),
        (StatusCode::OK, json!(true)),
        "{v}"
    );
    let (s, v) = t
        .root(
            "PUT",
            "sys/leases/renew",
            Some(json!({"lease_id": id, "increment": "90m"})),
        )
        .await;
    assert_eq!(
        (s, v["lease_duration"].clone()),
        (StatusCode::OK, json!(5400)),
        "{v}"
    );

    let (s, _) = t
        .root("PUT", "sys/leases/revoke-prefix/auth/token/create", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the token was revoked as a lease");
    let (s, _) = t.root("GET", "auth/token/lookup-self", None).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the root token is not a lease and survives"
    );
}

#[tokio::test]
async fn a_failing_mount_does_not_starve_another() {
    let mut cfg = crate::harness::config();
    cfg.lease_retry.breaker_threshold = 2;
    cfg.lease_retry.breaker_cooldown = Duration::from_secs(60);
    cfg.lease_retry.max_attempts = 100;
    let t = TestServer::with(
        std::sync::Arc::new(secrethub_storage::MemoryStorage::new()),
        cfg,
    )
    .await;
    for m in ["dead", "alive"] {
        let (s, _) = t
            .root(
                "POST",
                &format!("sys/mounts/{m}"),
                Some(json!({"type": "test-leases"})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    t.root("POST", "dead/config", Some(json!({"fail_revoke": true})))
        .await;
    let mut dead = Vec::new();
    for _ in 0..5 {
        let (_, v) = t.root("GET", "dead/creds/x?ttl=1s", None).await;
        dead.push(v["lease_id"].as_str().unwrap().to_string());
    }
    for _ in 0..5 {
        t.root("GET", "alive/creds/y?ttl=1s", None).await;
    }
    eventually(
        "the healthy mount's leases expire and are revoked",
        || async { t.root("LIST", "alive/upstream", None).await.0 == StatusCode::NOT_FOUND },
    )
    .await;
    // The dead mount's breaker opened after 2 failures: its leases are deferred, not retried
    // in a loop, and nothing was dropped.
    let mut attempts = 0;
    for id in &dead {
        let (_, v) = t
            .root("PUT", "sys/leases/lookup", Some(json!({"lease_id": id})))
            .await;
        attempts += v["data"]["revoke_attempts"].as_u64().unwrap_or(0);
    }
    // Without the breaker, 20 ms backoff would have retried each lease many times by now.
    assert!(
        attempts <= dead.len() as u64,
        "breaker bounds the attempts: {attempts}"
    );
    let (_, v) = t.root("LIST", "dead/upstream", None).await;
    assert_eq!(v["data"]["keys"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn tidy_answers_202_with_openbaos_warning() {
    let t = with_engine().await;
    let (s, v) = t.root("POST", "sys/leases/tidy", None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (v["data"].clone(), v["warnings"].clone()),
        (
            Value::Null,
            json!(["Tidy operation successfully started. Any information from the operation will be printed to SecretHub's server logs."])
        )
    );
    // An engine's tidy gets the same answer through core (approle's `tidy/secret-id`).
    t.root("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
        .await;
    let (s, w) = t.root("POST", "auth/approle/tidy/secret-id", None).await;
    assert_eq!(
        (s, w["warnings"].clone()),
        (StatusCode::ACCEPTED, v["warnings"].clone())
    );
}
