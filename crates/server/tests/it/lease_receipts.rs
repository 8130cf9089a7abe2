//! Revocations an engine answers as not yet durable upstream (`Revocation::Unconfirmed`):
//! the receipt is kept, survives a restart and is asked about until the engine confirms
//! it; the scheduler's batches (expiry) may be answered so too, a caller's revoke-prefix
//! never; disabling a mount confirms its receipts first; revoke-force drops them.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};
use crate::leases::{creds, lookup, revoke, upstream, with_engine};

async fn unconfirmed_revocations(t: &TestServer) -> u64 {
    let (s, v) = t.root("GET", "sys/leases/stats", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"]["unconfirmed_revocations"].as_u64().unwrap()
}

async fn confirmations(t: &TestServer) -> Value {
    let (s, v) = t.root("GET", "database/confirmations", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn unconfirmed_revocations_are_kept_until_the_engine_confirms_them() {
    let t = with_engine().await;
    let hold = json!({"unconfirmed_revoke": true, "hold_confirm": true});
    t.root("POST", "database/config", Some(hold)).await;
    let root = t.root.clone();
    let (id, v) = creds(&t, &root, "ro", json!({})).await;
    let user = v["data"]["username"].as_str().unwrap().to_string();

    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Revoked for everyone at once: the lease is gone and so is the credential.
    let s = lookup(&t, &id).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(upstream(&t).await.is_empty());
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    // While the engine answers "not yet", core keeps asking and keeps the receipt.
    eventually("core asks again", || async {
        confirmations(&t).await["asked"].as_u64().unwrap() >= 2
    })
    .await;
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    // The receipt survives a restart, and is confirmed once the engine can.
    let key = t.unseal_key.clone();
    t.core.seal().await.unwrap();
    t.core.unseal(Some(&key), false).await.unwrap();
    assert_eq!(unconfirmed_revocations(&t).await, 1);
    t.root("POST", "database/config", Some(json!({}))).await;
    eventually("the revocation is confirmed", || async {
        confirmations(&t).await["confirmed"] == json!([user])
    })
    .await;
    assert_eq!(unconfirmed_revocations(&t).await, 0);
}

#[tokio::test]
async fn disabling_a_mount_confirms_its_revocations_first() {
    let t = with_engine().await;
    let hold = json!({"unconfirmed_revoke": true, "hold_confirm": true});
    t.root("POST", "database/config", Some(hold)).await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "ro", json!({})).await;
    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    let release = json!({"unconfirmed_revoke": true});
    t.root("POST", "database/config", Some(release)).await;
    let (s, v) = t.root("DELETE", "sys/mounts/database", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(unconfirmed_revocations(&t).await, 0);
}

#[tokio::test]
async fn durable_revocations_leave_nothing_to_confirm() {
    let t = with_engine().await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "ro", json!({})).await;
    let s = revoke(&t, &id).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(upstream(&t).await.is_empty());
    assert_eq!(unconfirmed_revocations(&t).await, 0);
    assert_eq!(confirmations(&t).await["asked"], json!(0));
}

#[tokio::test]
async fn revoke_force_drops_receipts_no_engine_will_confirm() {
    let t = with_engine().await;
    let hold = json!({"unconfirmed_revoke": true, "hold_confirm": true});
    t.root("POST", "database/config", Some(hold)).await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "ro", json!({})).await;
    assert_eq!(revoke(&t, &id).await, StatusCode::NO_CONTENT);
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    let (s, v) = t
        .root("PUT", "sys/leases/revoke-force/database/creds/", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(unconfirmed_revocations(&t).await, 0);
}

#[tokio::test]
async fn expiry_keeps_the_receipts_of_unconfirmed_batches_and_revoke_prefix_stays_durable() {
    let t = with_engine().await;
    let hold = json!({"unconfirmed_batch": true, "hold_confirm": true});
    t.root("POST", "database/config", Some(hold)).await;
    let root = t.root.clone();
    let (expiring, v) = creds(&t, &root, "ro", json!({"ttl": "1s"})).await;
    let user = v["data"]["username"].as_str().unwrap().to_string();
    let (kept, _) = creds(&t, &root, "rw", json!({})).await;

    // The scheduler revokes the expired lease in a batch the engine answers "unconfirmed":
    // the lease and its credential are gone, the receipt is kept until confirmed.
    eventually("the lease expires", || async {
        lookup(&t, &expiring).await == StatusCode::BAD_REQUEST
    })
    .await;
    assert_eq!(upstream(&t).await.len(), 1);
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    // A caller's revoke-prefix is answered once the revocation is durable: no receipt.
    let (s, v) = t
        .root("PUT", "sys/leases/revoke-prefix/database/creds/rw", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(lookup(&t, &kept).await, StatusCode::BAD_REQUEST);
    assert!(upstream(&t).await.is_empty());
    assert_eq!(unconfirmed_revocations(&t).await, 1);

    t.root(
        "POST",
        "database/config",
        Some(json!({"unconfirmed_batch": true})),
    )
    .await;
    eventually("the expiry's revocation is confirmed", || async {
        confirmations(&t).await["confirmed"] == json!([user])
    })
    .await;
    assert_eq!(unconfirmed_revocations(&t).await, 0);
}
