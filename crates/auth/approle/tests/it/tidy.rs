//! `tidy/secret-id`: expired secret IDs, secret IDs of deleted roles and accessors that
//! point nowhere are removed; live ones stay.

use expect_test::expect;
use secrethub_engine::Operation;
use secrethub_storage::Storage;
use serde_json::{json, Value};

use crate::harness::Mount;

#[tokio::test]
async fn tidy_removes_expired_and_dangling_entries() {
    let m = Mount::new();
    let role_id = m.role("r", json!({})).await;
    let (_, short) = m.secret_id("r", json!({"ttl": 60})).await;
    let (live, live_accessor) = m.secret_id("r", json!({"ttl": 3600})).await;
    let (_, forever) = m.secret_id("r", json!({})).await;
    // An accessor whose secret ID is gone, and a secret ID left by a role deleted long ago
    // (as an interrupted role deletion of an older version could leave them).
    m.storage
        .put(
            "accessor/r/00000000-0000-4000-8000-000000000000",
            br#"{"version":1,"secret_id_hmac":"00"}"#,
        )
        .await
        .unwrap();
    m.storage
        .put(
            "secret-id/gone/11",
            br#"{"version":1,"accessor":"a","num_uses":0,"ttl_secs":0,"creation_time":0,"expiration_time":0,"last_updated_time":0}"#,
        )
        .await
        .unwrap();
    m.storage
        .put("accessor/gone/a", br#"{"version":1,"secret_id_hmac":"11"}"#)
        .await
        .unwrap();

    m.advance_secs(61);
    // Done before it answers, but answered as OpenBao answers a tidy it started (202).
    expect![[r#"
        {
          "accepted": true,
          "warnings": [
            "Tidy operation successfully started. Any information from the operation will be printed to SecretHub's server logs."
          ]
        }"#]]
    .assert_eq(&m.write("tidy/secret-id", json!({})).await);

    let listed = m
        .data(Operation::List, "role/r/secret-id", Value::Null)
        .await;
    let mut want = vec![live_accessor, forever];
    want.sort();
    assert_eq!(listed["keys"], json!(want));
    assert!(!listed["keys"].as_array().unwrap().contains(&json!(short)));
    let keys = m.stored_keys().await;
    assert!(!keys.iter().any(|k| k.contains("gone")), "{keys:?}");
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("secret-id/r/"))
            .count(),
        2
    );
    assert!(m.login(&role_id, &live).await.is_ok());
}

#[tokio::test]
async fn tidy_reports_records_it_cannot_read() {
    let m = Mount::new();
    m.role("r", json!({})).await;
    m.storage.put("secret-id/r/ab", b"not json").await.unwrap();
    expect![[r#"
        {
          "accepted": true,
          "warnings": [
            "Tidy operation successfully started. Any information from the operation will be printed to SecretHub's server logs.",
            "skipped an undecodable secret ID record of role \"r\""
          ]
        }"#]]
    .assert_eq(&m.write("tidy/secret-id", json!({})).await);
}
