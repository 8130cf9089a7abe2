//! `config`: defaults, updates and validation of the mount-wide settings.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::json;

use crate::harness::Kv;

#[tokio::test]
async fn read_defaults_then_update() {
    let kv = Kv::v2();
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "delete_version_after": "0s",
            "max_versions": 0
          }
        }"#]]
    .assert_eq(&kv.read("config").await);
    assert_eq!(kv.write("config", json!({})).await, "204");
    assert_eq!(
        kv.write(
            "config",
            json!({"max_versions": "7", "cas_required": true, "delete_version_after": 3600}),
        )
        .await,
        "204"
    );
    expect![[r#"
        {
          "data": {
            "cas_required": true,
            "delete_version_after": "1h0m0s",
            "max_versions": 7
          }
        }"#]]
    .assert_eq(&kv.read("config").await);
    // Fields left out keep their value; zero resets delete_version_after, negative disables.
    kv.put("config", json!({"delete_version_after": "0s"}))
        .await;
    expect![[r#"
        {
          "data": {
            "cas_required": true,
            "delete_version_after": "0s",
            "max_versions": 7
          }
        }"#]]
    .assert_eq(&kv.read("config").await);
    kv.put("config", json!({"delete_version_after": "-5m"}))
        .await;
    expect![[r#"
        {
          "data": {
            "cas_required": true,
            "delete_version_after": "-1s",
            "max_versions": 7
          }
        }"#]]
    .assert_eq(&kv.read("config").await);
    expect!["UnsupportedOperation: unsupported operation"]
        .assert_eq(&kv.send(Operation::Delete, "config", json!({})).await);
}

#[tokio::test]
async fn config_survives_a_new_engine_on_the_same_storage() {
    let kv = Kv::v2();
    kv.put("config", json!({"max_versions": 2})).await;
    let ctx = secrethub_engine::MountContext {
        engine_type: "kv-v2".into(),
        options: Default::default(),
        storage: kv.storage.clone(),
    };
    let again = secrethub_kv::factory(ctx).expect("factory");
    let resp = again
        .handle(kv.request(Operation::Read, "config", json!({})))
        .await
        .expect("read");
    assert_eq!(resp.data.expect("data")["max_versions"], json!(2));
}
