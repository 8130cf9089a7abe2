//! The seed documents' `/api/v1/auth/login` (with the real approle and userpass methods) and
//! `/api/v1/secrets/{path}/rotate` of KV secrets, through the real app. The kubernetes login
//! and the database root rotation run against the real binary (crates/secrethub/tests/it).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::{unique, TestServer};

/// `POST /api/v1/...` with an optional bearer token, as the seed's curl examples send it.
async fn seed(t: &TestServer, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/{path}"))
        .header("content-type", "application/json");
    if let Some(tok) = token {
        b = b.header("authorization", format!("Bearer {tok}"));
    }
    t.raw(b.body(Body::from(body.to_string())).unwrap()).await
}

async fn ok(t: &TestServer, method: &str, path: &str, body: Value) -> Value {
    let (s, v) = t.root(method, path, Some(body)).await;
    assert!(s.is_success(), "{method} {path}: {s} {v}");
    v
}

#[tokio::test]
async fn login_with_approle_and_userpass() {
    let t = TestServer::dev().await;
    let approle = unique("approle");
    ok(
        &t,
        "POST",
        &format!("sys/auth/{approle}"),
        json!({"type": "approle"}),
    )
    .await;
    ok(&t, "POST", "sys/auth/userpass", json!({"type": "userpass"})).await;
    ok(
        &t,
        "POST",
        &format!("auth/{approle}/role/app"),
        json!({"token_policies": "reader"}),
    )
    .await;
    let role_id = ok(
        &t,
        "GET",
        &format!("auth/{approle}/role/app/role-id"),
        json!({}),
    )
    .await["data"]["role_id"]
        .clone();
    let secret_id = ok(
        &t,
        "POST",
        &format!("auth/{approle}/role/app/secret-id"),
        json!({}),
    )
    .await["data"]["secret_id"]
        .clone();
    ok(
        &t,
        "POST",
        "auth/userpass/users/alice",
        json!({"password": "correct horse", "token_policies": "reader"}),
    )
    .await;

    // The mount path (with a trailing slash), then the type of the only userpass mount.
    let logins = [
        (
            json!({"method": format!("{approle}/"), "role_id": role_id, "secret_id": secret_id}),
            format!("auth/{approle}/login"),
        ),
        (
            json!({"method": "userpass", "username": "alice", "password": "correct horse"}),
            "auth/userpass/login/alice".to_string(),
        ),
    ];
    for (body, login_path) in logins {
        let (s, v) = seed(&t, "auth/login", None, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{body}: {v}");
        assert_eq!(v["auth"]["policies"], json!(["default", "reader"]), "{v}");
        let token = v["auth"]["client_token"].as_str().expect("client_token");
        let (s, me) = t
            .req("GET", "auth/token/lookup-self", Some(token), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{me}");
        assert_eq!(me["data"]["path"], json!(login_path), "{me}");
    }

    // Refusals are the method's own, and never echo the secret sent.
    let (s, v) = seed(
        &t,
        "auth/login",
        None,
        json!({"method": "userpass", "username": "alice", "password": "wrong-pw-123"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(!v.to_string().contains("wrong-pw-123"), "{v}");
    let (s, v) = seed(
        &t,
        "auth/login",
        None,
        json!({"method": approle, "role_id": role_id, "secret_id": "00000000-bad"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(!v.to_string().contains("00000000-bad"), "{v}");

    let cases = [
        (
            json!({"method": "kubernetes", "jwt": "x"}),
            r#"{"errors":["unknown login method \"kubernetes\": no auth method is enabled at auth/kubernetes/ and none has that type"]}"#,
        ),
        (
            json!({"jwt": "x"}),
            r#"{"errors":["missing method: name the auth method to log in with, e.g. \"kubernetes\""]}"#,
        ),
        (
            json!({"method": "userpass", "password": "x"}),
            r#"{"errors":["missing username"]}"#,
        ),
        (
            json!({"method": "token"}),
            r#"{"errors":["the token auth method has no login: send the token itself in X-Vault-Token"]}"#,
        ),
    ];
    for (body, want) in cases {
        let (s, v) = seed(&t, "auth/login", None, body).await;
        assert_eq!(
            (s, v.to_string()),
            (StatusCode::BAD_REQUEST, want.to_string())
        );
    }
    ok(&t, "POST", "sys/auth/people", json!({"type": "userpass"})).await;
    let (s, v) = seed(
        &t,
        "auth/login",
        None,
        json!({"method": "userpass", "username": "alice", "password": "correct horse"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the mount named userpass wins over the type: {v}"
    );
    ok(
        &t,
        "POST",
        &format!("sys/auth/{}", unique("approle")),
        json!({"type": "approle"}),
    )
    .await;
    let (s, v) = seed(&t, "auth/login", None, json!({"method": "approle"})).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"errors": ["login method \"approle\" is ambiguous: 2 auth methods of that type are enabled; name the mount path instead"]})
        )
    );
}

async fn write(t: &TestServer, path: &str, data: Value) {
    ok(
        t,
        "POST",
        &format!("secret/data/{path}"),
        json!({ "data": data }),
    )
    .await;
}

async fn read(t: &TestServer, path: &str, version: u64) -> Value {
    ok(
        t,
        "GET",
        &format!("secret/data/{path}?version={version}"),
        json!({}),
    )
    .await["data"]["data"]
        .clone()
}

#[tokio::test]
async fn rotate_named_fields_of_a_kv_secret() {
    let t = TestServer::dev().await;
    let path = format!("{}/db", unique("app"));
    let old = json!({
        "username": "admin",
        "password": "secure123",
        "api_key": "9f86d081884c7d659a2feaa0c55ad015",
        "port": 5432,
    });
    write(&t, &path, old.clone()).await;
    let (s, v) = seed(
        &t,
        &format!("secrets/{path}/rotate"),
        Some(&t.root),
        json!({"fields": {"password": {"length": 32}, "api_key": {}}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["version"], json!(2), "{v}");
    assert!(v["data"]["created_time"].is_string(), "{v}");
    assert_eq!(v["data"]["rotated_fields"], json!(["api_key", "password"]));
    let new = read(&t, &path, 2).await;
    for field in ["password", "api_key"] {
        assert!(!v.to_string().contains(new[field].as_str().unwrap()), "{v}");
        assert_ne!(new[field], old[field]);
    }
    let password = new["password"].as_str().unwrap();
    assert_eq!(password.len(), 32);
    assert!(password
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    let key = new["api_key"].as_str().unwrap();
    assert!(
        key.len() == 32
            && key
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(
        (&new["username"], &new["port"]),
        (&old["username"], &old["port"])
    );
    assert_eq!(
        read(&t, &path, 1).await,
        old,
        "the old version stays readable"
    );

    // Through the seed's own read too.
    let get = Request::builder()
        .uri(format!("/api/v1/secrets/{path}"))
        .header("authorization", format!("Bearer {}", t.root))
        .body(Body::empty())
        .unwrap();
    let (_, v) = t.raw(get).await;
    assert_eq!(v["data"]["data"]["password"], json!(password));
}

#[tokio::test]
async fn rotate_every_field() {
    let t = TestServer::dev().await;
    let path = unique("svc");
    let old = json!({"user": "svc", "token": "AbC123xYz", "retries": 3});
    write(&t, &path, old.clone()).await;
    let (s, v) = seed(
        &t,
        &format!("secrets/{path}/rotate"),
        Some(&t.root),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["rotated_fields"], json!(["token", "user"]));
    let new = read(&t, &path, 2).await;
    assert_ne!(new["user"], old["user"]);
    assert_eq!(new["user"].as_str().unwrap().len(), 3);
    assert!(new["token"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(new["retries"], json!(3), "not a string: kept");
}

#[tokio::test]
async fn rotate_refusals() {
    let t = TestServer::dev().await;
    let path = unique("app");
    write(&t, &path, json!({"password": "pw", "n": 1})).await;
    let rotate = format!("secrets/{path}/rotate");
    let cases = [
        (
            format!("secrets/{path}-missing/rotate"),
            json!({}),
            format!("nothing to rotate at secret/{path}-missing: no secret there"),
        ),
        (
            rotate.clone(),
            json!({"fields": {"nope": {}}}),
            format!("no field \"nope\" in the secret at secret/{path}"),
        ),
        (
            rotate.clone(),
            json!({"fields": ["n"]}),
            format!(
                "field \"n\" of the secret at secret/{path} is not a string and cannot be rotated"
            ),
        ),
        (
            rotate.clone(),
            json!({"password": {"length": 32}}),
            "unknown parameter \"password\": a rotation takes only \"fields\"".to_string(),
        ),
    ];
    for (url, body, want) in cases {
        let (s, v) = seed(&t, &url, Some(&t.root), body).await;
        assert_eq!(
            (s, v),
            (StatusCode::BAD_REQUEST, json!({ "errors": [want] }))
        );
    }
    let (s, v) = seed(&t, "secrets/rotate", Some(&t.root), json!({})).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a secret named rotate is written as before: {v}"
    );

    // Read alone is not enough: the rotation is a write, checked by the ACL like any other.
    let policy = unique("read-only");
    ok(
        &t,
        "PUT",
        &format!("sys/policies/acl/{policy}"),
        json!({"policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}")}),
    )
    .await;
    let reader = t.token_with(&[&policy]).await;
    for token in [Some(reader.as_str()), None] {
        let (s, v) = seed(&t, &rotate, token, json!({})).await;
        assert_eq!(
            (s, v),
            (
                StatusCode::FORBIDDEN,
                json!({"errors": ["permission denied"]})
            )
        );
    }
    assert_eq!(read(&t, &path, 1).await["password"], json!("pw"));
    let (s, _) = t
        .root("GET", &format!("secret/data/{path}?version=2"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no version was written");
}
