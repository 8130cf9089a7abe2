//! `metadata/`: reading the version history, settings and custom metadata, writing and
//! patching them, and deleting a secret with every version.

use expect_test::expect;
use serde_json::json;

use crate::harness::Kv;

#[tokio::test]
async fn read_shows_versions_and_settings() {
    let kv = Kv::v2();
    kv.put("data/m/one", json!({"data": {"a": 1}})).await;
    kv.advance_secs(60);
    kv.put("data/m/one", json!({"data": {"a": 2}})).await;
    kv.put("delete/m/one", json!({"versions": [1]})).await;
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 2,
            "custom_metadata": null,
            "delete_version_after": "0s",
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:01:00.000000000Z",
            "versions": {
              "1": {
                "created_time": "2024-01-01T00:00:00.000000000Z",
                "deletion_time": "2024-01-01T00:01:00.000000000Z",
                "destroyed": false
              },
              "2": {
                "created_time": "2024-01-01T00:01:00.000000000Z",
                "deletion_time": "",
                "destroyed": false
              }
            }
          }
        }"#]]
    .assert_eq(&kv.read("metadata/m/one").await);
    expect!["NotFound: not found"].assert_eq(&kv.read("metadata/m/none").await);
}

#[tokio::test]
async fn write_creates_and_updates_settings() {
    let kv = Kv::v2();
    // Nothing to set: no record is created.
    assert_eq!(kv.write("metadata/m/empty", json!({})).await, "204");
    assert_eq!(kv.exists("metadata/m/empty").await, Some(false));

    let path = "metadata/m/set";
    let body = json!({
        "max_versions": 5,
        "cas_required": "true",
        "delete_version_after": "1h30m",
        "custom_metadata": {"owner": "ops", "tier": 1},
    });
    assert_eq!(kv.write(path, body).await, "204");
    expect![[r#"
        {
          "data": {
            "cas_required": true,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 0,
            "custom_metadata": {
              "owner": "ops",
              "tier": "1"
            },
            "delete_version_after": "1h30m0s",
            "max_versions": 5,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:00.000000000Z",
            "versions": {}
          }
        }"#]]
    .assert_eq(&kv.read(path).await);
    // The key has metadata but no version yet.
    expect!["NotFound: not found"].assert_eq(&kv.read("data/m/set").await);

    // A later write changes only what it names; custom_metadata is replaced whole.
    kv.advance_secs(1);
    kv.put(
        path,
        json!({"custom_metadata": {"team": "core"}, "cas_required": false}),
    )
    .await;
    kv.put("data/m/set", json!({"data": {"x": "y"}})).await;
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 1,
            "custom_metadata": {
              "team": "core"
            },
            "delete_version_after": "1h30m0s",
            "max_versions": 5,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:01.000000000Z",
            "versions": {
              "1": {
                "created_time": "2024-01-01T00:00:01.000000000Z",
                "deletion_time": "2024-01-01T01:30:01.000000000Z",
                "destroyed": false
              }
            }
          }
        }"#]]
    .assert_eq(&kv.read(path).await);
    expect![[r#"
        {
          "data": {
            "data": {
              "x": "y"
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:01.000000000Z",
              "custom_metadata": {
                "team": "core"
              },
              "deletion_time": "2024-01-01T01:30:01.000000000Z",
              "destroyed": false,
              "version": 1
            }
          }
        }"#]]
    .assert_eq(&kv.read("data/m/set").await);
}

#[tokio::test]
async fn custom_metadata_limits() {
    let kv = Kv::v2();
    let too_many: serde_json::Map<String, serde_json::Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    expect![[r#"
        BadRequest: 1 error occurred:
        	* custom_metadata validation failed: payload must contain at most 64 keys, provided 65

    "#]]
    .assert_eq(
        &kv.write("metadata/cm", json!({"custom_metadata": too_many}))
            .await,
    );
    expect![[r#"
        BadRequest: 2 errors occurred:
        	* custom_metadata validation failed: value for key "ctl" contains unprintable characters
        	* custom_metadata validation failed: length of value for key "long" is 513 but must be 0 < len(value) <= 512

    "#]].assert_eq(
        &kv.write(
            "metadata/cm",
            json!({"custom_metadata": {"ok": "v", "long": "x".repeat(513), "ctl": "a\u{7}b"}}),
        )
        .await,
    );
    expect![[
        r#"BadRequest: custom_metadata validation failed: value for key "nested" must be a string"#
    ]]
    .assert_eq(
        &kv.write(
            "metadata/cm",
            json!({"custom_metadata": {"nested": {"a": "b"}}}),
        )
        .await,
    );
    assert_eq!(kv.exists("metadata/cm").await, Some(false));
}

#[tokio::test]
async fn patch_merges_settings() {
    let kv = Kv::v2();
    let path = "metadata/m/patch";
    expect!["NotFound: not found"].assert_eq(&kv.patch(path, json!({"max_versions": 3})).await);
    kv.put(
        path,
        json!({"max_versions": 4, "custom_metadata": {"a": "1", "b": "2"}}),
    )
    .await;
    assert_eq!(
        kv.patch(
            path,
            json!({"custom_metadata": {"a": null, "c": "3"}, "delete_version_after": "10m"}),
        )
        .await,
        "204"
    );
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 0,
            "custom_metadata": {
              "b": "2",
              "c": "3"
            },
            "delete_version_after": "10m0s",
            "max_versions": 4,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:00.000000000Z",
            "versions": {}
          }
        }"#]]
    .assert_eq(&kv.read(path).await);
    // null resets a setting; a null custom_metadata removes it all.
    kv.patch(path, json!({"max_versions": null, "custom_metadata": null}))
        .await;
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 0,
            "custom_metadata": null,
            "delete_version_after": "10m0s",
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:00.000000000Z",
            "versions": {}
          }
        }"#]]
    .assert_eq(&kv.read(path).await);
}

#[tokio::test]
async fn cas_required_off_is_ignored_when_the_mount_requires_it() {
    let kv = Kv::v2();
    kv.put("config", json!({"cas_required": true})).await;
    expect![[r#"
        {
          "warnings": [
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."
          ]
        }"#]].assert_eq(&kv.write("metadata/w", json!({"cas_required": false})).await);
    expect![[r#"
        {
          "warnings": [
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."
          ]
        }"#]].assert_eq(&kv.patch("metadata/w", json!({"cas_required": false})).await);
}

#[tokio::test]
async fn delete_removes_every_version_and_the_record() {
    let kv = Kv::v2();
    for i in 0..4 {
        kv.put("data/gone", json!({"data": {"i": i}})).await;
    }
    kv.put("destroy/gone", json!({"versions": [2]})).await;
    kv.put("data/kept", json!({"data": {"k": 1}})).await;
    kv.put("data/gone/child", json!({"data": {"c": 1}})).await;
    expect![[r#"
        [
            "metadata/gone",
            "metadata/gone/child",
            "metadata/kept",
            "versions/gone/1",
            "versions/gone/3",
        ]"#]]
    .assert_eq(&format!("{:#?}", kv.stored_keys().await));
    assert_eq!(kv.delete("metadata/gone").await, "204");
    expect!["NotFound: not found"].assert_eq(&kv.read("data/gone").await);
    expect!["NotFound: not found"].assert_eq(&kv.read("metadata/gone").await);
    // Only the deleted secret's keys are gone; `gone/child` is another secret.
    expect![[r#"
        [
            "metadata/gone/child",
            "metadata/kept",
        ]"#]]
    .assert_eq(&format!("{:#?}", kv.stored_keys().await));
    assert_eq!(kv.delete("metadata/gone").await, "204", "idempotent");
    // A new write starts again at version 1.
    expect![[r#"
        {
          "data": {
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 1
          }
        }"#]]
    .assert_eq(
        &kv.write("data/gone", json!({"data": {"again": true}}))
            .await,
    );
}
