//! `sys/leases/stats` tells the truth: the created/renewed/revoked totals survive seal,
//! unseal and a restart over the same storage; expiring tokens count as leases; and
//! `expiring_soon` never exceeds `active` (intents in flight are no leases).

use std::sync::Arc;

use axum::http::StatusCode;
use secrethub_core::Core;
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::{json, Value};

use crate::harness::{self, TestServer};
use crate::leases::creds;

async fn stats(t: &TestServer) -> Value {
    let (s, v) = t.root("GET", "sys/leases/stats", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].clone()
}

fn totals(v: &Value) -> Value {
    json!([
        v["created_total"],
        v["renewed_total"],
        v["revoked_total"],
        v["active"]
    ])
}

async fn mount_engine(t: &TestServer) {
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/database",
            Some(json!({"type": "test-leases"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

#[tokio::test]
async fn totals_survive_seal_unseal_and_restart() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let t = TestServer::over(storage.clone()).await;
    mount_engine(&t).await;
    let root = t.root.clone();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(creds(&t, &root, "ro", json!({"ttl": "1h"})).await.0);
    }
    let (s, _) = t
        .root("PUT", "sys/leases/renew", Some(json!({"lease_id": ids[0]})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        crate::leases::revoke(&t, &ids[1]).await,
        StatusCode::NO_CONTENT
    );
    let before = totals(&stats(&t).await);
    assert_eq!(before, json!([3, 1, 1, 2]));

    t.core.seal().await.unwrap();
    t.core.unseal(Some(&t.unseal_key), false).await.unwrap();
    assert_eq!(totals(&stats(&t).await), before, "after seal and unseal");

    // A restart: a new core over the same storage (the binary seals on shutdown).
    t.core.seal().await.unwrap();
    let core = Core::new(storage, harness::registry(), harness::config());
    core.unseal(Some(&t.unseal_key), false).await.unwrap();
    let t2 = TestServer {
        app: secrethub_server::app(core.clone()),
        core,
        root: t.root.clone(),
        unseal_key: t.unseal_key.clone(),
    };
    assert_eq!(totals(&stats(&t2).await), before, "after a restart");
    creds(&t2, &root, "ro", json!({"ttl": "1h"})).await;
    assert_eq!(
        totals(&stats(&t2).await),
        json!([4, 1, 1, 3]),
        "counting on"
    );
}

#[tokio::test]
async fn tokens_are_leases_and_expiring_soon_is_a_subset() {
    let t = TestServer::dev().await;
    mount_engine(&t).await;
    for i in 0..50 {
        // Ten expire within the five-minute window, the others in an hour.
        let ttl = if i < 10 { "2m" } else { "1h" };
        let (s, v) = t
            .root("POST", "auth/token/create", Some(json!({"ttl": ttl})))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let root = t.root.clone();
    creds(&t, &root, "ro", json!({"ttl": "1m"})).await;
    creds(&t, &root, "ro", json!({"ttl": "1h"})).await;
    let v = stats(&t).await;
    assert_eq!(
        (v["active"].clone(), v["expiring_soon"].clone()),
        (json!(52), json!(11)),
        "50 tokens and 2 leases (the root token never expires): {v}"
    );

    // An intent left behind (creation and its revocation both failed) is due within the
    // window but is no lease: it counts in neither.
    t.root(
        "POST",
        "database/config",
        Some(json!({"fail_create": true, "fail_revoke": true})),
    )
    .await;
    let (s, _) = t.root("GET", "database/creds/x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v = stats(&t).await;
    assert_eq!(
        (v["active"].clone(), v["expiring_soon"].clone()),
        (json!(52), json!(11)),
        "{v}"
    );
    assert!(v["expiring_soon"].as_i64() <= v["active"].as_i64());
}
