//! Listing `metadata/`: one level at a time, folders with a trailing slash.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::json;

use crate::harness::Kv;

async fn tree(kv: &Kv) {
    for p in ["a", "b/c", "b/d/e", "b/d/f", "z", "b"] {
        kv.put(&format!("data/{p}"), json!({"data": {"p": p}}))
            .await;
    }
}

#[tokio::test]
async fn lists_children_and_folders() {
    let kv = Kv::v2();
    expect!["NotFound: not found"].assert_eq(&kv.list("metadata").await);
    tree(&kv).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "a",
              "b",
              "b/",
              "z"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("metadata").await);
    expect![[r#"
        {
          "data": {
            "keys": [
              "c",
              "d/"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("metadata/b").await);
    expect![[r#"
        {
          "data": {
            "keys": [
              "e",
              "f"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("metadata/b/d").await);
    expect!["NotFound: not found"].assert_eq(&kv.list("metadata/a").await);
    // Metadata written without data is listed too.
    kv.put("metadata/b/meta-only", json!({"max_versions": 1}))
        .await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "c",
              "d/",
              "meta-only"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("metadata/b").await);
}

#[tokio::test]
async fn paging_and_exclude_deleted() {
    let kv = Kv::v2();
    tree(&kv).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "b",
              "b/"
            ]
          }
        }"#]]
    .assert_eq(
        &kv.send(
            Operation::List,
            "metadata",
            json!({"after": "a", "limit": "2"}),
        )
        .await,
    );
    kv.delete("data/z").await;
    kv.put("destroy/a", json!({"versions": [1]})).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "b",
              "b/"
            ]
          }
        }"#]]
    .assert_eq(
        &kv.send(
            Operation::List,
            "metadata",
            json!({"exclude_deleted": true}),
        )
        .await,
    );
}
