//! `config`: what is stored and returned (never the reviewer JWT), and which inputs are
//! refused with a message naming the field.

use expect_test::expect;
use serde_json::{json, Value};

use crate::cluster::{unrelated_ca_pem, FakeCluster, REVIEWER_JWT};
use crate::harness::Mount;

#[tokio::test]
async fn read_returns_the_config_without_the_reviewer_jwt() {
    let m = Mount::new();
    assert_eq!(m.read("config").await, "NotFound: not found");
    assert_eq!(m.exists("config").await, Some(false));

    let ca = unrelated_ca_pem();
    m.ok(
        "config",
        json!({
            "kubernetes_host": "https://10.0.0.1:6443",
            "kubernetes_ca_cert": ca,
            "token_reviewer_jwt": REVIEWER_JWT,
            "issuer": "https://kubernetes.default.svc.cluster.local",
        }),
    )
    .await;
    assert_eq!(m.exists("config").await, Some(true));

    let read = m.read("config").await;
    assert!(!read.contains(REVIEWER_JWT), "{read}");
    let mut data: Value = serde_json::from_str(&read).expect("json");
    assert_eq!(data["kubernetes_ca_cert"], json!(ca));
    data["kubernetes_ca_cert"] = json!("<ca>");
    expect![[r#"
        {
          "default_role": "",
          "disable_iss_validation": true,
          "disable_local_ca_jwt": false,
          "issuer": "https://kubernetes.default.svc.cluster.local",
          "kubernetes_ca_cert": "<ca>",
          "kubernetes_host": "https://10.0.0.1:6443",
          "pem_keys": [],
          "token_reviewer_jwt_set": true
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&data).expect("json"));

    // The reviewer JWT is stored (in the mount's storage, under the barrier in a server).
    let raw = secrethub_storage::Storage::get(&m.storage, "config")
        .await
        .expect("get")
        .expect("stored");
    assert!(String::from_utf8_lossy(&raw).contains(REVIEWER_JWT));
}

#[tokio::test]
async fn a_write_replaces_the_whole_config() {
    let m = Mount::new();
    m.ok(
        "config",
        json!({
            "kubernetes_host": "k8s.example:6443",
            "kubernetes_ca_cert": unrelated_ca_pem(),
            "disable_local_ca_jwt": "true",
        }),
    )
    .await;
    m.ok("config", json!({"kubernetes_host": "https://k8s.example"}))
        .await;
    expect![[r#"
        {
          "default_role": "",
          "disable_iss_validation": true,
          "disable_local_ca_jwt": false,
          "issuer": "",
          "kubernetes_ca_cert": "",
          "kubernetes_host": "https://k8s.example",
          "pem_keys": [],
          "token_reviewer_jwt_set": false
        }"#]]
    .assert_eq(&m.read("config").await);
}

#[tokio::test]
async fn bad_fields_are_refused_by_name() {
    let m = Mount::new();
    let cluster = FakeCluster::start().await;
    let cases = [
        (json!({}), "BadRequest: invalid kubernetes_host: is required"),
        (
            json!({"kubernetes_host": "http://10.0.0.1:6443"}),
            r#"BadRequest: invalid kubernetes_host: must be an https URL, not "http""#,
        ),
        (
            json!({"kubernetes_host": "https://[::1"}),
            "BadRequest: invalid kubernetes_host: not a valid URL (invalid IPv6 address)",
        ),
        (
            json!({"kubernetes_host": "https://admin:pw@10.0.0.1"}),
            "BadRequest: invalid kubernetes_host: must not contain credentials",
        ),
        (
            json!({"kubernetes_host": ["a"]}),
            "BadRequest: invalid kubernetes_host: expected a string, got a list",
        ),
        (
            json!({"kubernetes_host": cluster.url, "kubernetes_ca_cert": "not a pem"}),
            "BadRequest: invalid kubernetes_ca_cert: no PEM CERTIFICATE block found",
        ),
        (
            json!({
                "kubernetes_host": cluster.url,
                "kubernetes_ca_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            }),
            "BadRequest: invalid kubernetes_ca_cert: not a valid X.509 certificate (invalid peer certificate: BadEncoding)",
        ),
        (
            json!({"kubernetes_host": cluster.url, "token_reviewer_jwt": {"a": 5}}),
            "BadRequest: invalid token_reviewer_jwt: expected a string",
        ),
        (
            json!({"kubernetes_host": cluster.url, "disable_local_ca_jwt": "maybe"}),
            "BadRequest: invalid disable_local_ca_jwt: expected a boolean",
        ),
        (
            json!({"kubernetes_host": cluster.url, "pem_keys": [cluster.ca_pem]}),
            "BadRequest: invalid pem_keys: local signature verification is not supported; \
             SecretHub always checks tokens with the TokenReview API",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(m.write("config", body.clone()).await, want, "{body}");
    }
    // Nothing was stored by the refused writes.
    assert_eq!(m.read("config").await, "NotFound: not found");
}

#[tokio::test]
async fn config_path_operations() {
    let m = Mount::new();
    let del = m
        .send(secrethub_engine::Operation::Delete, "config", Value::Null)
        .await;
    assert_eq!(del, "UnsupportedOperation: unsupported operation");
    assert_eq!(m.read("nope").await, "NotFound: unsupported path");
}
