//! `data/`: write, read (latest and by version), check-and-set, patch, soft delete, and the
//! create-versus-update existence answer.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::json;

use crate::harness::{mask_times, pretty, render, Kv};

#[tokio::test]
async fn write_then_read_latest_and_by_version() {
    let kv = Kv::v2();
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
        &kv.write(
            "data/app/db",
            json!({"data": {"user": "admin", "pass": "s3cret"}}),
        )
        .await,
    );
    kv.advance_secs(1);
    kv.put(
        "data/app/db",
        json!({"data": {"user": "admin", "pass": "rotated"}}),
    )
    .await;
    expect![[r#"
        {
          "data": {
            "data": {
              "pass": "rotated",
              "user": "admin"
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:01.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 2
            }
          }
        }"#]]
    .assert_eq(&kv.read("data/app/db").await);
    expect![[r#"
        {
          "data": {
            "data": {
              "pass": "s3cret",
              "user": "admin"
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            }
          }
        }"#]]
    .assert_eq(&kv.read_with("data/app/db", json!({"version": "1"})).await);
    // Version 0 means the latest, like no version at all.
    let latest = kv.read_with("data/app/db", json!({"version": 0})).await;
    assert_eq!(latest, kv.read("data/app/db").await);
    expect!["NotFound: not found"]
        .assert_eq(&kv.read_with("data/app/db", json!({"version": 3})).await);
    expect!["NotFound: not found"].assert_eq(&kv.read("data/app/nothing").await);
}

#[tokio::test]
async fn existence_tells_create_from_update() {
    let kv = Kv::v2();
    assert_eq!(kv.exists("data/svc/key").await, Some(false));
    assert_eq!(kv.exists("metadata/svc/key").await, Some(false));
    kv.put("data/svc/key", json!({"data": {"a": "b"}})).await;
    assert_eq!(kv.exists("data/svc/key").await, Some(true));
    assert_eq!(kv.exists("metadata/svc/key").await, Some(true));
    assert_eq!(kv.exists("config").await, None);
    assert_eq!(kv.exists("destroy/svc/key").await, None);
    // The engine serves create like update.
    let created = kv
        .call(
            Operation::Create,
            "data/svc/other",
            json!({"data": {"x": 1}}),
        )
        .await;
    assert!(created.is_ok());
}

#[tokio::test]
async fn check_and_set() {
    let kv = Kv::v2();
    let path = "data/cas/key";
    // cas 0 only succeeds while the key does not exist.
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
        &kv.write(path, json!({"data": {"v": 1}, "options": {"cas": 0}}))
            .await,
    );
    expect!["BadRequest: check-and-set parameter did not match the current version"].assert_eq(
        &kv.write(path, json!({"data": {"v": 2}, "options": {"cas": 0}}))
            .await,
    );
    expect![[r#"
        {
          "data": {
            "created_time": "2024-01-01T00:00:00.000000000Z",
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 2
          }
        }"#]]
    .assert_eq(
        &kv.write(path, json!({"data": {"v": 2}, "options": {"cas": "1"}}))
            .await,
    );
    expect!["BadRequest: error parsing check-and-set parameter"].assert_eq(
        &kv.write(path, json!({"data": {"v": 3}, "options": {"cas": "two"}}))
            .await,
    );

    // Required by the mount.
    kv.put("config", json!({"cas_required": true})).await;
    expect!["BadRequest: check-and-set parameter required for this call"]
        .assert_eq(&kv.write(path, json!({"data": {"v": 3}})).await);
    kv.put(path, json!({"data": {"v": 3}, "options": {"cas": 2}}))
        .await;
    kv.put("config", json!({"cas_required": false})).await;

    // Required by the key's metadata.
    kv.put("metadata/cas/key", json!({"cas_required": true}))
        .await;
    expect!["BadRequest: check-and-set parameter required for this call"]
        .assert_eq(&kv.write(path, json!({"data": {"v": 4}})).await);
    kv.put(path, json!({"data": {"v": 4}, "options": {"cas": 3}}))
        .await;
    // Other keys are not affected.
    kv.put("data/cas/free", json!({"data": {"v": 1}})).await;
}

#[tokio::test]
async fn bad_input() {
    let kv = Kv::v2();
    kv.put("data/k", json!({"data": {"a": 1}})).await;
    let cases = [
        (Operation::Update, "data/k", json!({})),
        (Operation::Update, "data/k", json!({"data": null})),
        (Operation::Update, "data/k", json!({"data": "a string"})),
        (
            Operation::Update,
            "data/k",
            json!({"data": {}, "options": "cas=1"}),
        ),
        (Operation::Read, "data/k", json!({"version": "latest"})),
        (Operation::Read, "data/k", json!({"version": -1})),
        (Operation::Update, "data/a/../b", json!({"data": {}})),
        (Operation::Patch, "data/k", json!({"data": [1]})),
        (Operation::List, "data/k", json!({})),
        (Operation::Read, "nope/k", json!({})),
        (Operation::Read, "data", json!({})),
        (Operation::Read, "", json!({})),
        (Operation::Update, "delete/k", json!({})),
        (Operation::Update, "destroy/k", json!({"versions": []})),
        (Operation::Update, "undelete/k", json!({"versions": ["x"]})),
        (Operation::Update, "metadata/k", json!({"max_versions": -1})),
        (
            Operation::Update,
            "metadata/k",
            json!({"delete_version_after": "-1h"}),
        ),
        (
            Operation::Update,
            "metadata/k",
            json!({"cas_required": "maybe"}),
        ),
        (Operation::Update, "config", json!({"max_versions": "many"})),
        (Operation::Read, "subkeys/k", json!({"depth": -2})),
    ];
    let mut out = String::new();
    for (op, path, body) in cases {
        let got = render(kv.call(op, path, body.clone()).await);
        out.push_str(&format!("{} {path} {body} => {got}\n", op.as_str()));
    }
    expect![[r#"
        update data/k {} => BadRequest: no data provided
        update data/k {"data":null} => BadRequest: no data provided
        update data/k {"data":"a string"} => BadRequest: invalid data: expected a JSON object
        update data/k {"data":{},"options":"cas=1"} => BadRequest: invalid options: expected a JSON object
        read data/k {"version":"latest"} => BadRequest: invalid version: expected an integer
        read data/k {"version":-1} => BadRequest: version must be a non-negative integer
        update data/a/../b {"data":{}} => BadRequest: invalid path
        patch data/k {"data":[1]} => BadRequest: invalid data: expected a JSON object
        list data/k {} => UnsupportedOperation: unsupported operation
        read nope/k {} => NotFound: unsupported path
        read data {} => NotFound: unsupported path
        read  {} => NotFound: unsupported path
        update delete/k {} => BadRequest: No version number provided
        update destroy/k {"versions":[]} => BadRequest: no version number provided
        update undelete/k {"versions":["x"]} => BadRequest: invalid versions[0]: expected an integer
        update metadata/k {"max_versions":-1} => BadRequest: max_versions must be a non-negative integer no larger than 4294967295
        update metadata/k {"delete_version_after":"-1h"} => BadRequest: invalid delete_version_after: duration cannot be negative
        update metadata/k {"cas_required":"maybe"} => BadRequest: invalid cas_required: expected a boolean
        update config {"max_versions":"many"} => BadRequest: invalid max_versions: expected an integer
        read subkeys/k {"depth":-2} => BadRequest: depth must be a non-negative integer
    "#]].assert_eq(&out);
}

#[tokio::test]
async fn patch_merges_into_latest() {
    let kv = Kv::v2();
    let path = "data/patch/me";
    expect!["NotFound: not found"].assert_eq(&kv.patch(path, json!({"data": {"a": 1}})).await);
    kv.put(
        path,
        json!({"data": {"keep": "x", "drop": "y", "nested": {"a": 1, "b": 2}}}),
    )
    .await;
    kv.advance_secs(5);
    expect![[r#"
        {
          "data": {
            "created_time": "2024-01-01T00:00:05.000000000Z",
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 2
          }
        }"#]]
    .assert_eq(
        &kv.patch(
            path,
            json!({"data": {"drop": null, "nested": {"b": null, "c": 3}, "new": true}}),
        )
        .await,
    );
    expect![[r#"
        {
          "data": {
            "data": {
              "keep": "x",
              "nested": {
                "a": 1,
                "c": 3
              },
              "new": true
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:05.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 2
            }
          }
        }"#]]
    .assert_eq(&kv.read(path).await);
    // The previous version is kept unchanged.
    expect![[r#"
        {
          "data": {
            "data": {
              "drop": "y",
              "keep": "x",
              "nested": {
                "a": 1,
                "b": 2
              }
            },
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            }
          }
        }"#]]
    .assert_eq(&kv.read_with(path, json!({"version": 1})).await);
    // cas applies to patches too.
    expect!["BadRequest: check-and-set parameter did not match the current version"].assert_eq(
        &kv.patch(path, json!({"data": {"z": 1}, "options": {"cas": 1}}))
            .await,
    );
    expect!["BadRequest: no data provided"]
        .assert_eq(&kv.patch(path, json!({"options": {"cas": 2}})).await);
    // A deleted latest version cannot be patched.
    kv.delete(path).await;
    expect!["NotFound: not found"].assert_eq(&kv.patch(path, json!({"data": {"z": 1}})).await);
}

#[tokio::test]
async fn soft_delete_of_latest() {
    let kv = Kv::v2();
    let path = "data/soft/del";
    assert_eq!(kv.delete(path).await, "204", "deleting nothing is fine");
    kv.put(path, json!({"data": {"v": 1}})).await;
    kv.put(path, json!({"data": {"v": 2}})).await;
    kv.advance_secs(10);
    assert_eq!(kv.delete(path).await, "204");
    expect!["NotFound: not found"].assert_eq(&kv.read(path).await);
    // Earlier versions stay readable, and a new write makes the key readable again.
    assert!(kv
        .read_with(path, json!({"version": 1}))
        .await
        .contains("\"v\": 1"));
    kv.put(path, json!({"data": {"v": 3}})).await;
    assert!(kv.read(path).await.contains("\"v\": 3"));
}

#[tokio::test]
async fn real_clock_answers_have_vault_shape() {
    let storage = secrethub_storage::StorageView::new(
        std::sync::Arc::new(secrethub_storage::MemoryStorage::new()),
        "logical/real/",
    );
    let engine = secrethub_kv::factory(secrethub_engine::MountContext {
        engine_type: "kv".into(),
        options: [("version".to_string(), "2".to_string())].into(),
        storage: storage.clone(),
    })
    .expect("factory");
    let req = |op, path: &str, body: serde_json::Value| secrethub_engine::Request {
        op,
        path: path.into(),
        body: body.as_object().cloned().unwrap_or_default(),
        storage: storage.clone(),
        caller: Default::default(),
        mount: Default::default(),
        intents: None,
        timers: None,
        raw_body: None,
    };
    let w = engine
        .handle(req(
            Operation::Update,
            "data/real",
            json!({"data": {"k": "v"}}),
        ))
        .await
        .expect("write");
    let r = engine
        .handle(req(Operation::Read, "data/real", json!({})))
        .await
        .expect("read");
    let mut both = json!({"write": w.data, "read": r.data});
    mask_times(&mut both);
    expect![[r#"
        {
          "read": {
            "data": {
              "k": "v"
            },
            "metadata": {
              "created_time": "<time>",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            }
          },
          "write": {
            "created_time": "<time>",
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 1
          }
        }"#]]
    .assert_eq(&pretty(&both));
}
