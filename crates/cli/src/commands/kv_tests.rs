//! Tests of KV path building (v1 and v2, with and without `-mount`) and of `kv get` and
//! `kv metadata get` table output.

use super::*;
use serde_json::json;

fn target(preflight: Value, partial: &str) -> KvTarget {
    KvTarget::from_preflight(Some(&preflight), partial.to_string())
}

#[test]
fn v2_paths_get_the_prefix_after_the_mount() {
    let t = target(
        json!({"data": {"path": "secret/", "type": "kv", "options": {"version": "2"}}}),
        "secret/app/db",
    );
    assert!(t.v2);
    assert_eq!(t.api_path("data"), "secret/data/app/db");
    assert_eq!(t.api_path("metadata"), "secret/metadata/app/db");
    assert_eq!(t.api_path("destroy"), "secret/destroy/app/db");
}

#[test]
fn v2_paths_on_nested_mounts_and_the_mount_root() {
    let t = target(
        json!({"data": {"path": "team/kv/", "options": {"version": "2"}}}),
        "team/kv/app",
    );
    assert_eq!(t.api_path("data"), "team/kv/data/app");
    let root = target(
        json!({"data": {"path": "secret/", "options": {"version": "2"}}}),
        "secret",
    );
    assert_eq!(root.api_path("metadata"), "secret/metadata");
}

#[test]
fn v1_paths_are_used_as_given() {
    let t = target(
        json!({"data": {"path": "kv1/", "type": "kv", "options": null}}),
        "kv1/app",
    );
    assert!(!t.v2);
    assert_eq!(t.api_path("data"), "kv1/app");
    let version_one = target(
        json!({"data": {"path": "kv1/", "options": {"version": "1"}}}),
        "kv1/app",
    );
    assert!(!version_one.v2);
    // A 404 preflight (no such endpoint) means an old server: KV v1, path unchanged.
    let old = KvTarget::from_preflight(None, "secret/app".to_string());
    assert_eq!(
        (old.v2, old.api_path("data")),
        (false, "secret/app".to_string())
    );
}

#[test]
fn numeric_version_option_is_accepted() {
    let t = target(
        json!({"data": {"path": "secret/", "options": {"version": 2}}}),
        "secret/x",
    );
    assert!(t.v2);
}

#[test]
fn add_prefix_handles_paths_outside_the_mount() {
    assert_eq!(
        add_prefix_to_kv_path("secret/a", "secret/", "data"),
        "secret/data/a"
    );
    assert_eq!(
        add_prefix_to_kv_path("secret/", "secret/", "data"),
        "secret/data"
    );
    assert_eq!(add_prefix_to_kv_path("other/a", "", "data"), "data/other/a");
}

#[test]
fn kv_get_v2_table_has_path_metadata_and_data_sections() {
    let outer = json!({
        "data": {"password": "hunter2", "user": "app"},
        "metadata": {
            "created_time": "2024-05-01T10:00:00Z", "custom_metadata": null,
            "deletion_time": "", "destroyed": false, "version": 3
        }
    });
    let expected = "\
=== Secret Path ===
secret/data/app/db

======= Metadata =======
Key                Value
---                -----
created_time       2024-05-01T10:00:00Z
custom_metadata    <nil>
deletion_time      n/a
destroyed          false
version            3

====== Data ======
Key         Value
---         -----
password    hunter2
user        app";
    assert_eq!(v2_sections("secret/data/app/db", &outer), expected);
}

#[test]
fn kv_get_v2_of_a_deleted_version_shows_metadata_only() {
    let outer =
        json!({"data": null, "metadata": {"version": 2, "deletion_time": "2024-05-01T10:00:00Z"}});
    let text = v2_sections("secret/data/x", &outer);
    assert!(
        text.contains("Metadata") && !text.contains("Data ="),
        "{text}"
    );
}

#[test]
fn metadata_get_lists_versions_in_numeric_order() {
    let data = json!({
        "current_version": 10, "max_versions": 0, "cas_required": false,
        "versions": {
            "10": {"created_time": "t10", "deletion_time": "", "destroyed": false},
            "9": {"created_time": "t9", "deletion_time": "", "destroyed": true}
        }
    });
    let Value::Object(map) = data else {
        unreachable!("literal is an object")
    };
    let text = metadata_sections("secret/metadata/app", map);
    let v9 = text.find("Version 9").expect("version 9 section");
    let v10 = text.find("Version 10").expect("version 10 section");
    assert!(v9 < v10, "{text}");
    assert!(
        text.starts_with("== Metadata Path ==\nsecret/metadata/app\n\n"),
        "{text}"
    );
    assert!(
        !text.contains("\nversions "),
        "the versions map is shown as sections, not a row: {text}"
    );
}
