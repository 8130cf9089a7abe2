//! Failure and concurrency: a storage fault mid-write leaves the previous version intact,
//! and concurrent writers of one key never lose a version.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrethub_engine::Operation;
use serde_json::json;

use crate::harness::Kv;

#[tokio::test]
async fn failed_write_leaves_previous_version_readable() {
    let kv = Kv::v2();
    kv.put("metadata/f", json!({"max_versions": 2})).await;
    kv.put("data/f", json!({"data": {"v": 1}})).await;
    kv.put("data/f", json!({"data": {"v": 2}})).await;
    let before_keys = kv.stored_keys().await;
    let before_meta = kv.read("metadata/f").await;

    // This write would move v2 aside, prune v1 and rewrite the record: all in one batch.
    kv.flaky.fail_nth_write(1);
    let err = kv
        .call(Operation::Update, "data/f", json!({"data": {"v": 3}}))
        .await
        .err()
        .expect("the injected fault fails the write");
    assert_eq!(err.kind(), secrethub_common::ErrorKind::Unavailable);
    assert_eq!(kv.stored_keys().await, before_keys);
    assert_eq!(kv.read("metadata/f").await, before_meta);
    assert!(kv.read("data/f").await.contains("\"v\": 2"));
    assert!(kv
        .read_with("data/f", json!({"version": 1}))
        .await
        .contains("\"v\": 1"));

    // Destroy and metadata delete are all-or-nothing too.
    kv.flaky.fail_nth_write(1);
    assert!(kv
        .call(Operation::Update, "destroy/f", json!({"versions": [1, 2]}))
        .await
        .is_err());
    kv.flaky.fail_nth_write(1);
    assert!(kv
        .call(Operation::Delete, "metadata/f", json!({}))
        .await
        .is_err());
    assert_eq!(kv.stored_keys().await, before_keys);
    assert!(kv
        .read_with("data/f", json!({"version": 1}))
        .await
        .contains("\"v\": 1"));

    // Once storage is back, the next write gets the next version number.
    kv.put("data/f", json!({"data": {"v": 3}})).await;
    assert!(kv.read("data/f").await.contains("\"version\": 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_never_lose_a_version() {
    let kv = Arc::new(Kv::v2());
    let writers = 40;
    let mut tasks = Vec::new();
    for i in 0..writers {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let resp = kv
                .call(
                    Operation::Update,
                    "data/hot",
                    json!({"data": {"writer": i}}),
                )
                .await
                .expect("write");
            resp.data.expect("data")["version"]
                .as_u64()
                .expect("version")
        }));
    }
    let mut versions = BTreeSet::new();
    for t in tasks {
        versions.insert(t.await.expect("task"));
    }
    assert_eq!(versions, (1..=writers).collect::<BTreeSet<u64>>());
    let meta = kv.read("metadata/hot").await;
    assert!(
        meta.contains(&format!("\"current_version\": {writers}")),
        "{meta}"
    );
}
