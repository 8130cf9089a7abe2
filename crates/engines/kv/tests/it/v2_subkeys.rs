//! `subkeys/`: the structure of a version without its values.

use expect_test::expect;
use serde_json::json;

use crate::harness::Kv;

#[tokio::test]
async fn subkeys_by_depth_and_version() {
    let kv = Kv::v2();
    kv.put(
        "data/sk",
        json!({"data": {"foo": "abc", "bar": {"baz": "def", "deep": {"x": 1}}, "quux": {}}}),
    )
    .await;
    kv.put("data/sk", json!({"data": {"only": "one"}})).await;
    expect![[r#"
        {
          "data": {
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            },
            "subkeys": {
              "bar": {
                "baz": null,
                "deep": {
                  "x": null
                }
              },
              "foo": null,
              "quux": null
            }
          }
        }"#]]
    .assert_eq(&kv.read_with("subkeys/sk", json!({"version": 1})).await);
    expect![[r#"
        {
          "data": {
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            },
            "subkeys": {
              "bar": null,
              "foo": null,
              "quux": null
            }
          }
        }"#]]
    .assert_eq(
        &kv.read_with("subkeys/sk", json!({"version": "1", "depth": "1"}))
            .await,
    );
    expect![[r#"
        {
          "data": {
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 1
            },
            "subkeys": {
              "bar": {
                "baz": null,
                "deep": null
              },
              "foo": null,
              "quux": null
            }
          }
        }"#]]
    .assert_eq(
        &kv.read_with("subkeys/sk", json!({"version": 1, "depth": 2}))
            .await,
    );
    expect![[r#"
        {
          "data": {
            "metadata": {
              "created_time": "2024-01-01T00:00:00.000000000Z",
              "custom_metadata": null,
              "deletion_time": "",
              "destroyed": false,
              "version": 2
            },
            "subkeys": {
              "only": null
            }
          }
        }"#]]
    .assert_eq(&kv.read("subkeys/sk").await);
    kv.delete("data/sk").await;
    expect!["NotFound: not found"].assert_eq(&kv.read("subkeys/sk").await);
    expect!["NotFound: not found"].assert_eq(&kv.read("subkeys/missing").await);
}
