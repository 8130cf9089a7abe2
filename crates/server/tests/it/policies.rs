//! Policies through the API: HCL as Vault writes it, default deny, create vs update kept
//! apart by the KV engine's existence check, capabilities-self, built-in policies.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{unique, TestServer};

#[tokio::test]
async fn app_read_policy_grants_exactly_what_it_says() {
    let t = TestServer::dev().await;
    let name = unique("app-read");
    let hcl = r#"
path "secret/data/app/*" { capabilities = ["read", "list"] }
path "secret/metadata/app/*" { capabilities = ["list"] }
path "secret/data/app/create-only" { capabilities = ["create"] }
"#;
    let (s, v) = t
        .root(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({"policy": hcl})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t
        .root("GET", &format!("sys/policies/acl/{name}"), None)
        .await;
    assert_eq!(v["data"]["policy"], json!(hcl));
    let (_, v) = t.root("GET", &format!("sys/policy/{name}"), None).await;
    assert_eq!(v["data"]["rules"], json!(hcl));
    let (_, v) = t.root("LIST", "sys/policies/acl", None).await;
    let keys = v["data"]["keys"].as_array().unwrap();
    assert!(
        keys.contains(&json!(name))
            && keys.contains(&json!("default"))
            && keys.contains(&json!("root"))
    );

    t.root(
        "POST",
        "secret/data/app/db",
        Some(json!({"data": {"password": "s3cret"}})),
    )
    .await;
    t.root(
        "POST",
        "secret/data/other/db",
        Some(json!({"data": {"password": "x"}})),
    )
    .await;
    let tok = t.token_with(&[&name]).await;

    let (s, v) = t.req("GET", "secret/data/app/db", Some(&tok), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["data"]["password"], "s3cret");
    let (s, v) = t.req("GET", "secret/data/other/db", Some(&tok), None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["permission denied"]})
        )
    );
    let (s, _) = t
        .req(
            "POST",
            "secret/data/app/db",
            Some(&tok),
            Some(json!({"data": {"a": "b"}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "read does not grant update");
    let (s, v) = t.req("LIST", "secret/metadata/app", Some(&tok), None).await;
    assert_eq!(
        (s, v["data"]["keys"].clone()),
        (StatusCode::OK, json!(["db"])),
        "LIST checks app/ against app/*"
    );
    let (s, _) = t.req("LIST", "secret/metadata", Some(&tok), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // create-only: the first write creates, the second is an update and is refused.
    let (s, v) = t
        .req(
            "POST",
            "secret/data/app/create-only",
            Some(&tok),
            Some(json!({"data": {"a": "1"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = t
        .req(
            "POST",
            "secret/data/app/create-only",
            Some(&tok),
            Some(json!({"data": {"a": "2"}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, v) = t
        .req(
            "POST",
            "sys/capabilities-self",
            Some(&tok),
            Some(json!({"paths": ["secret/data/app/db", "secret/data/other/x"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["secret/data/app/db"], json!(["list", "read"]));
    assert_eq!(v["data"]["secret/data/other/x"], json!(["deny"]));
    let (_, v) = t
        .root(
            "POST",
            "sys/capabilities-self",
            Some(json!({"path": "anything"})),
        )
        .await;
    assert_eq!(v["capabilities"], json!(["root"]));
}

#[tokio::test]
async fn builtin_policies_and_bad_hcl() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/policies/acl/root",
            Some(json!({"policy": "path \"*\" { capabilities = [\"read\"] }"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = t.root("DELETE", "sys/policies/acl/default", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = t
        .root(
            "PUT",
            "sys/policies/acl/broken",
            Some(json!({"policy": "path \"x\" { capabilities = [\"fly\"] }"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["errors"][0].as_str().unwrap().contains("fly"), "{v}");
    let (s, _) = t
        .root("PUT", "sys/policies/acl/empty", Some(json!({"policy": ""})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t.root("GET", "sys/policies/acl/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A token with only `default` can look itself up and use its cubbyhole, nothing else.
    let tok = t.token_with(&["default"]).await;
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.req("GET", "sys/mounts", Some(&tok), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Deleting a policy takes effect for tokens holding it.
    let name = unique("p");
    t.root(
        "PUT",
        &format!("sys/policy/{name}"),
        Some(json!({"rules": "path \"sys/mounts\" { capabilities = [\"read\"] }"})),
    )
    .await;
    let tok = t.token_with(&[&name]).await;
    let (s, _) = t.req("GET", "sys/mounts", Some(&tok), None).await;
    assert_eq!(s, StatusCode::OK);
    t.root("DELETE", &format!("sys/policy/{name}"), None).await;
    let (s, _) = t.req("GET", "sys/mounts", Some(&tok), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn parameter_constraints_and_deny() {
    let t = TestServer::dev().await;
    let name = unique("params");
    let hcl = r#"
path "secret/data/cfg/*" {
  capabilities = ["create", "update", "read"]
  required_parameters = ["data"]
}
path "secret/data/cfg/locked" { capabilities = ["deny"] }
"#;
    t.root(
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some(json!({"policy": hcl})),
    )
    .await;
    let tok = t.token_with(&[&name]).await;
    let (s, _) = t
        .req(
            "POST",
            "secret/data/cfg/a",
            Some(&tok),
            Some(json!({"options": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "missing required parameter");
    let (s, _) = t
        .req(
            "POST",
            "secret/data/cfg/a",
            Some(&tok),
            Some(json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .req("GET", "secret/data/cfg/locked", Some(&tok), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ui_mounts_shows_only_reachable_mounts() {
    let t = TestServer::dev().await;
    let name = unique("ui");
    let policy = "path \"secret/data/app/*\" { capabilities = [\"read\"] }";
    t.root(
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some(json!({ "policy": policy })),
    )
    .await;
    t.root("POST", "sys/mounts/other", Some(json!({"type": "kv-v2"})))
        .await;
    let tok = t.token_with(&[&name]).await;
    let ui = |p: &str| format!("sys/internal/ui/mounts/{p}");
    let (s, v) = t.req("GET", &ui("secret/app/db"), Some(&tok), None).await;
    assert_eq!(
        (s, v["data"]["path"].clone()),
        (StatusCode::OK, json!("secret/")),
        "{v}"
    );
    let (s, v) = t.req("GET", &ui("other/app/db"), Some(&tok), None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["preflight capability check returned 403, please ensure client's policies grant access to path \"other/app/db/\""]})
        )
    );
    let (_, v) = t
        .req("GET", "sys/internal/ui/mounts", Some(&tok), None)
        .await;
    let secret = v["data"]["secret"].as_object().unwrap();
    assert!(
        secret.contains_key("secret/") && !secret.contains_key("other/"),
        "{v}"
    );
    let (s, _) = t.req("GET", &ui("secret/app/db"), None, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
