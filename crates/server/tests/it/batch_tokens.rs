//! Batch tokens through the API: minted by a login (`token_type=batch`) or by
//! `auth/token/create` (`type=batch`) without being stored, they authorize like service
//! tokens but cannot be renewed, revoked, create tokens or use a cubbyhole; a tampered one is
//! refused; one from a login ends when its auth method is disabled; one with a parent dies
//! with it, and its leases belong to that parent and never
//! outlive the token.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};

const DEV: &str = r#"
path "secret/*" { capabilities = ["create", "read", "update"] }
path "database/creds/*" { capabilities = ["read", "update"] }
path "auth/token/create" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update"] }
"#;

async fn server() -> TestServer {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/policies/acl/dev",
            Some(json!({ "policy": DEV })),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

/// A server with policy `dev` and an engine of `kind` enabled at `path` (`sys/auth/…` or
/// `sys/mounts/…`).
async fn server_with(path: &str, kind: &str) -> TestServer {
    let t = server().await;
    let (s, v) = t.root("POST", path, Some(json!({ "type": kind }))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

fn token_of(v: &Value) -> String {
    v["auth"]["client_token"].as_str().unwrap().to_string()
}

fn error_of(v: &Value) -> String {
    v["errors"][0].as_str().unwrap_or_default().to_string()
}

async fn accessor_count(t: &TestServer) -> usize {
    let (_, v) = t.root("LIST", "auth/token/accessors", None).await;
    v["data"]["keys"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_login_batch_token_authorizes_without_being_stored() {
    let t = server_with("sys/auth/userpass", "test-login").await;
    let user = json!({"password": "pw", "token_type": "batch", "token_policies": "dev", "token_ttl": "10m"});
    let (s, v) = t.root("POST", "auth/userpass/users/bob", Some(user)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let before = accessor_count(&t).await;

    let login = json!({"password": "pw"});
    let (s, v) = t
        .req("POST", "auth/userpass/login/bob", None, Some(login))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = token_of(&v);
    assert!(token.starts_with("hvb."), "{token}");
    let auth = &v["auth"];
    assert_eq!(
        (
            &auth["token_type"],
            &auth["accessor"],
            &auth["renewable"],
            &auth["orphan"]
        ),
        (&json!("batch"), &json!(""), &json!(false), &json!(true))
    );
    assert_eq!(auth["lease_duration"], 600);
    assert_eq!(accessor_count(&t).await, before, "nothing stored");

    let (s, v) = t
        .req(
            "POST",
            "secret/data/bob",
            Some(&token),
            Some(json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = t
        .req(
            "POST",
            "sys/mounts/other",
            Some(&token),
            Some(json!({"type": "kv"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only what its policies allow");
    let (s, v) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["data"]["type"], &v["data"]["id"]),
        (&json!("batch"), &json!(token))
    );
    assert!(v["data"]["ttl"].as_u64().unwrap() > 590);

    for (path, body, error) in [
        ("auth/token/renew-self", json!({}), "cannot be renewed"),
        ("auth/token/revoke-self", json!({}), "cannot be revoked"),
        (
            "auth/token/create",
            json!({"policies": ["dev"]}),
            "cannot create tokens",
        ),
        ("cubbyhole/x", json!({"k": "v"}), "no cubbyhole"),
    ] {
        let (s, v) = t.req("POST", path, Some(&token), Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(error_of(&v).contains(error), "{path}: {v}");
    }
    let (s, v) = t
        .root("POST", "auth/token/revoke", Some(json!({"token": token})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "still valid after the refused revocations"
    );

    // One changed character, or a token sealed by another server, is no token.
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 3;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&tampered), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = server().await;
    let (s, _) = other
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Disabling the auth method that issued it ends it, as it ends the stored tokens.
    let (s, _) = t.root("DELETE", "sys/auth/userpass", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "its auth method is gone");
    let (s, v) = t
        .root(
            "POST",
            "sys/capabilities",
            Some(json!({"token": token, "path": "secret/data/bob"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "nor can its capabilities be read: {v}"
    );
    let (s, _) = t
        .root(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a new mount at the same path is another issuer"
    );

    // A batch role cannot be periodic or limited in uses.
    let bad = json!({"token_type": "batch", "token_period": "1h"});
    let (s, v) = t.root("POST", "auth/userpass/users/bob", Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        error_of(&v).contains("batch tokens cannot be periodic"),
        "{v}"
    );
}

#[tokio::test]
async fn a_child_batch_token_dies_with_its_parent_and_so_do_its_leases() {
    let t = server_with("sys/mounts/database", "test-leases").await;
    // Nothing could revoke a batch token that never expires: no root batch tokens.
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"type": "batch", "policies": ["root"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(error_of(&v).contains("cannot be root tokens"), "{v}");
    // A chosen service token id cannot pass for a batch token.
    let (s, v) = t
        .root("POST", "auth/token/create", Some(json!({"id": "hvb.mine"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let parent = t.token_with(&["dev"]).await;
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create",
            Some(&parent),
            Some(json!({"type": "batch", "ttl": "2m", "policies": ["dev"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["auth"]["token_type"], &v["auth"]["orphan"]),
        (&json!("batch"), &json!(false))
    );
    let batch = token_of(&v);

    // Its lease is capped at the token's remaining TTL.
    let (s, v) = t
        .req("GET", "database/creds/ro?ttl=1h", Some(&batch), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lease_id = v["lease_id"].as_str().unwrap().to_string();
    let duration = v["lease_duration"].as_u64().unwrap();
    assert!((100..=120).contains(&duration), "{duration}");
    let (_, v) = t.root("LIST", "database/upstream", None).await;
    assert_eq!(v["data"]["keys"].as_array().map(Vec::len), Some(1), "{v}");

    let (s, v) = t
        .root("POST", "auth/token/revoke", Some(json!({"token": parent})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&batch), None)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the batch token died with its parent"
    );
    eventually("the lease is revoked with the parent", || async {
        let (_, v) = t.root("LIST", "database/upstream", None).await;
        v["data"]["keys"].is_null()
    })
    .await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/leases/lookup",
            Some(json!({"lease_id": lease_id})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
