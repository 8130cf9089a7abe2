//! `delete/`, `undelete/`, `destroy/`, max_versions pruning and delete_version_after.

use expect_test::expect;
use serde_json::json;

use crate::harness::Kv;

async fn three_versions(kv: &Kv, path: &str) {
    for i in 1..=3 {
        kv.put(&format!("data/{path}"), json!({"data": {"v": i}}))
            .await;
        kv.advance_secs(1);
    }
}

#[tokio::test]
async fn delete_and_undelete_versions() {
    let kv = Kv::v2();
    three_versions(&kv, "dv").await;
    assert_eq!(
        kv.write("delete/dv", json!({"versions": "1,3"})).await,
        "204"
    );
    expect!["NotFound: not found"].assert_eq(&kv.read_with("data/dv", json!({"version": 1})).await);
    expect!["NotFound: not found"].assert_eq(&kv.read("data/dv").await);
    assert!(kv
        .read_with("data/dv", json!({"version": 2}))
        .await
        .contains("\"v\": 2"));
    kv.advance_secs(1);
    // Unknown versions are skipped.
    assert_eq!(
        kv.write("undelete/dv", json!({"versions": [3, 99]})).await,
        "204"
    );
    expect![[r#"
        {
          "data": {
            "data": {
              "v": 3
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:02.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 3
            }
          }
        }"#]]
    .assert_eq(&kv.read("data/dv").await);
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 3,
            "custom_metadata": null,
            "delete_version_after": "0s",
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:02.000000000Z",
            "versions": {
              "1": {
                "created_time": "2024-01-01T00:00:00.000000000Z",
                "deletion_time": "2024-01-01T00:00:03.000000000Z",
                "destroyed": false
              },
              "2": {
                "created_time": "2024-01-01T00:00:01.000000000Z",
                "deletion_time": "",
                "destroyed": false
              },
              "3": {
                "created_time": "2024-01-01T00:00:02.000000000Z",
                "deletion_time": "",
                "destroyed": false
              }
            }
          }
        }"#]]
    .assert_eq(&kv.read("metadata/dv").await);
    // Missing keys are not an error.
    assert_eq!(
        kv.write("delete/none", json!({"versions": [1]})).await,
        "204"
    );
    assert_eq!(
        kv.write("undelete/none", json!({"versions": [1]})).await,
        "204"
    );
}

#[tokio::test]
async fn destroy_removes_data_for_good() {
    let kv = Kv::v2();
    three_versions(&kv, "ds").await;
    assert_eq!(
        kv.write("destroy/ds", json!({"versions": [2, 3]})).await,
        "204"
    );
    expect!["NotFound: not found"].assert_eq(&kv.read("data/ds").await);
    expect!["NotFound: not found"].assert_eq(&kv.read_with("data/ds", json!({"version": 2})).await);
    // Destroyed versions cannot be undeleted; version 1 is untouched.
    kv.put("undelete/ds", json!({"versions": [2, 3]})).await;
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 3,
            "custom_metadata": null,
            "delete_version_after": "0s",
            "max_versions": 0,
            "oldest_version": 0,
            "updated_time": "2024-01-01T00:00:02.000000000Z",
            "versions": {
              "1": {
                "created_time": "2024-01-01T00:00:00.000000000Z",
                "deletion_time": "",
                "destroyed": false
              },
              "2": {
                "created_time": "2024-01-01T00:00:01.000000000Z",
                "deletion_time": "",
                "destroyed": true
              },
              "3": {
                "created_time": "2024-01-01T00:00:02.000000000Z",
                "deletion_time": "",
                "destroyed": true
              }
            }
          }
        }"#]]
    .assert_eq(&kv.read("metadata/ds").await);
    assert!(kv
        .read_with("data/ds", json!({"version": 1}))
        .await
        .contains("\"v\": 1"));
    // No data of a destroyed version stays in storage.
    expect![[r#"
        [
            "metadata/ds",
            "versions/ds/1",
        ]"#]]
    .assert_eq(&format!("{:#?}", kv.stored_keys().await));
    // Soft-deleting a destroyed latest version is a no-op, and writing continues at 4.
    assert_eq!(kv.delete("data/ds").await, "204");
    kv.put("data/ds", json!({"data": {"v": 4}})).await;
    assert!(kv.read("data/ds").await.contains("\"version\": 4"));
    assert_eq!(
        kv.write("destroy/none", json!({"versions": [1]})).await,
        "204"
    );
}

#[tokio::test]
async fn max_versions_prunes_oldest() {
    let kv = Kv::v2();
    kv.put("metadata/pr", json!({"max_versions": 2})).await;
    for i in 1..=4 {
        kv.put("data/pr", json!({"data": {"v": i}})).await;
    }
    expect![[r#"
        {
          "data": {
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "current_version": 4,
            "custom_metadata": null,
            "delete_version_after": "0s",
            "max_versions": 2,
            "oldest_version": 3,
            "updated_time": "2024-01-01T00:00:00.000000000Z",
            "versions": {
              "3": {
                "created_time": "2024-01-01T00:00:00.000000000Z",
                "deletion_time": "",
                "destroyed": false
              },
              "4": {
                "created_time": "2024-01-01T00:00:00.000000000Z",
                "deletion_time": "",
                "destroyed": false
              }
            }
          }
        }"#]]
    .assert_eq(&kv.read("metadata/pr").await);
    expect!["NotFound: not found"].assert_eq(&kv.read_with("data/pr", json!({"version": 2})).await);
    assert!(kv
        .read_with("data/pr", json!({"version": 3}))
        .await
        .contains("\"v\": 3"));
    expect![[r#"
        [
            "metadata/pr",
            "versions/pr/3",
        ]"#]]
    .assert_eq(&format!("{:#?}", kv.stored_keys().await));

    // The mount's setting applies to keys without one; the default is 10.
    kv.put("config", json!({"max_versions": 3})).await;
    for i in 1..=5 {
        kv.put("data/mount", json!({"data": {"v": i}})).await;
    }
    let meta = kv.read("metadata/mount").await;
    assert!(meta.contains("\"oldest_version\": 3"), "{meta}");
    kv.put("config", json!({"max_versions": 0})).await;
    for i in 1..=11 {
        kv.put("data/deflt", json!({"data": {"v": i}})).await;
    }
    let meta = kv.read("metadata/deflt").await;
    assert!(meta.contains("\"oldest_version\": 2"), "{meta}");
}

#[tokio::test]
async fn delete_version_after_expires_versions_lazily() {
    let kv = Kv::v2();
    kv.put("metadata/ttl", json!({"delete_version_after": "60s"}))
        .await;
    kv.put("data/ttl", json!({"data": {"v": 1}})).await;
    expect![[r#"
        {
          "data": {
            "data": {
              "v": 1
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "2024-01-01T00:01:00.000000000Z",
              "destroyed": false,
              "version": 1
            }
          }
        }"#]]
    .assert_eq(&kv.read("data/ttl").await);
    kv.advance_secs(60);
    expect!["NotFound: not found"].assert_eq(&kv.read("data/ttl").await);
    // Undelete gives the version a fresh period.
    kv.put("undelete/ttl", json!({"versions": [1]})).await;
    expect![[r#"
        {
          "data": {
            "data": {
              "v": 1
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "2024-01-01T00:02:00.000000000Z",
              "destroyed": false,
              "version": 1
            }
          }
        }"#]]
    .assert_eq(&kv.read("data/ttl").await);

    // The mount's shorter setting wins; a negative mount setting disables it everywhere.
    kv.put("config", json!({"delete_version_after": "30s"}))
        .await;
    kv.put("data/ttl", json!({"data": {"v": 2}})).await;
    let got = kv.read("data/ttl").await;
    assert!(
        got.contains("\"deletion_time\": \"2024-01-01T00:01:30"),
        "{got}"
    );
    kv.put("config", json!({"delete_version_after": -1})).await;
    kv.put("data/ttl", json!({"data": {"v": 3}})).await;
    let got = kv.read("data/ttl").await;
    assert!(got.contains("\"deletion_time\": \"\""), "{got}");
}
