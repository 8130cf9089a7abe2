//! KV version 1: plain read, write, delete and list.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::json;

use crate::harness::Kv;

#[tokio::test]
async fn crud_and_list() {
    let kv = Kv::v1();
    assert_eq!(kv.exists("app/db").await, Some(false));
    assert_eq!(
        kv.write("app/db", json!({"user": "u", "pass": "p", "ttl": "1h"}))
            .await,
        "204"
    );
    assert_eq!(kv.exists("app/db").await, Some(true));
    expect![[r#"
        {
          "data": {
            "pass": "p",
            "ttl": "1h",
            "user": "u"
          }
        }"#]]
    .assert_eq(&kv.read("app/db").await);
    // A write replaces the whole secret.
    kv.put("app/db", json!({"only": "this"})).await;
    expect![[r#"
        {
          "data": {
            "only": "this"
          }
        }"#]]
    .assert_eq(&kv.read("app/db").await);
    kv.put("app/web/tls", json!({"cert": "c"})).await;
    kv.put("top", json!({"x": 1})).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "app/",
              "top"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("").await);
    expect![[r#"
        {
          "data": {
            "keys": [
              "db",
              "web/"
            ]
          }
        }"#]]
    .assert_eq(&kv.list("app").await);
    expect!["NotFound: not found"].assert_eq(&kv.list("nothing").await);
    assert_eq!(kv.delete("app/db").await, "204");
    expect!["NotFound: not found"].assert_eq(&kv.read("app/db").await);
    assert_eq!(kv.delete("app/db").await, "204", "idempotent");
}

#[tokio::test]
async fn v1_bad_input() {
    let kv = Kv::v1();
    let mut out = String::new();
    for (op, path, body) in [
        (Operation::Update, "k", json!({})),
        (Operation::Patch, "k", json!({"a": 1})),
        (Operation::Read, "", json!({})),
        (Operation::Update, "a/../b", json!({"a": 1})),
    ] {
        out.push_str(&format!(
            "{} {path:?} => {}\n",
            op.as_str(),
            kv.send(op, path, body).await
        ));
    }
    expect![[r#"
        update "k" => BadRequest: missing data fields
        patch "k" => UnsupportedOperation: unsupported operation
        read "" => UnsupportedOperation: unsupported operation
        update "a/../b" => BadRequest: invalid path
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn generic_and_default_kv_are_version_1() {
    for (t, opts) in [("generic", vec![]), ("kv", vec![])] {
        let kv = Kv::mount(t, &opts);
        kv.put("x", json!({"a": 1})).await;
        assert_eq!(kv.stored_keys().await, ["x"]);
    }
    let kv = Kv::mount("kv", &[("version", "2")]);
    kv.put("data/x", json!({"data": {"a": 1}})).await;
    assert_eq!(kv.stored_keys().await, ["metadata/x"]);
}
