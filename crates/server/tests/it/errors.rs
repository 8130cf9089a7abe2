//! Bad input and faults: malformed JSON, wrong types, unknown paths and methods, traversal,
//! huge bodies, wrong tokens, a storage that fails mid-way. Each answer is Vault's
//! `{"errors": [...]}` with the right status; nothing is half-written.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrethub_storage::{FlakyStorage, MemoryStorage};
use serde_json::json;

use crate::harness::TestServer;

async fn raw_body(
    t: &TestServer,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(format!("/v1/{path}"))
        .header("x-vault-token", &t.root)
        .body(Body::from(body))
        .unwrap();
    t.raw(req).await
}

#[tokio::test]
async fn malformed_input_is_a_clear_400() {
    let t = TestServer::dev().await;
    let (s, v) = raw_body(&t, "POST", "secret/data/x", b"{\"data\": ".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("failed to parse JSON input"),
        "{v}"
    );
    let (s, _) = raw_body(&t, "POST", "secret/data/x", b"[1,2]".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = t
        .root(
            "POST",
            "secret/data/x",
            Some(json!({"data": "not an object"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = t
        .root("POST", "sys/mounts/m", Some(json!({"type": 5})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = t
        .root("POST", "sys/mounts/m", Some(json!({"type": "nosuch"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["errors"][0].as_str().unwrap().contains("nosuch"), "{v}");
}

#[tokio::test]
async fn unknown_paths_methods_and_traversal() {
    let t = TestServer::dev().await;
    let (s, v) = t.root("GET", "nosuchmount/x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _) = t.root("GET", "secret/nosuchpath", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = t.root("DELETE", "secret/config", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{v}");
    let (s, _) = t.root("OPTIONS", "secret/data/x", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, v) = t.root("GET", "secret/data/../../sys/mounts", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = t.root("GET", "secret/data/a%00b", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t.root("GET", "secret/data/%2e%2e/x", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn huge_bodies_get_413() {
    let t = TestServer::dev().await;
    let big = vec![b' '; secrethub_server::MAX_REQUEST_BYTES + 1];
    let (s, v) = raw_body(&t, "POST", "secret/data/big", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(v["errors"][0].as_str().unwrap().contains("too large"));
}

#[tokio::test]
async fn wrong_tokens() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .req("GET", "secret/data/x", Some("hvs.doesnotexist"), None)
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["permission denied"]})
        )
    );
    let (s, _) = t.req("GET", "secret/data/x", Some(""), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn storage_failure_mid_write_leaves_nothing_half_written() {
    let flaky = Arc::new(FlakyStorage::new(Arc::new(MemoryStorage::new())));
    let t = TestServer::over(flaky.clone()).await;
    let (s, _) = t
        .root(
            "POST",
            "secret/data/app",
            Some(json!({"data": {"v": "one"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    flaky.fail_nth_write(1);
    let (s, v) = t
        .root(
            "POST",
            "secret/data/app",
            Some(json!({"data": {"v": "two"}})),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v, json!({"errors": ["storage is unavailable"]}));
    let (_, v) = t.root("GET", "secret/data/app", None).await;
    assert_eq!(
        (
            v["data"]["data"]["v"].clone(),
            v["data"]["metadata"]["version"].clone()
        ),
        (json!("one"), json!(1))
    );
    flaky.set_down(true);
    let (s, _) = t.root("GET", "secret/data/app", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    flaky.set_down(false);
    let (s, _) = t
        .root(
            "POST",
            "secret/data/app",
            Some(json!({"data": {"v": "two"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "recovers once storage is back");
}

/// Every answer, success or error, `/v1`, the seed's `/api/v1` and `/health`, sealed or not,
/// says `Cache-Control: no-store`, as Vault's do.
#[tokio::test]
async fn every_answer_is_marked_no_store() {
    use tower::ServiceExt as _;
    let t = TestServer::dev().await;
    let root = t.root.clone();
    let cases: Vec<(&str, &str, Option<&str>, &str)> = vec![
        ("GET", "/v1/auth/token/lookup-self", Some(&root), ""),
        ("GET", "/v1/auth/token/lookup-self", None, ""),
        ("GET", "/v1/no-such-mount/x", Some(&root), ""),
        ("POST", "/v1/secret/data/x", Some(&root), "{not json"),
        ("BREW", "/v1/secret/data/x", Some(&root), ""),
        ("GET", "/v1/sys/health", None, ""),
        ("GET", "/v1/sys/seal-status", None, ""),
        ("GET", "/health", None, ""),
        ("GET", "/api/v1/secrets/x", None, ""),
        ("POST", "/api/v1/auth/login", None, "{}"),
        ("POST", "/v1/secrets/dynamic/r", None, "{}"),
        ("GET", "/elsewhere", None, ""),
    ];
    let mut sealed = false;
    for round in 0..2 {
        if round == 1 {
            let (s, v) = t.root("PUT", "sys/seal", None).await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
            sealed = true;
        }
        for (method, uri, token, body) in &cases {
            let mut b = Request::builder().method(*method).uri(*uri);
            if let Some(tok) = token {
                b = b.header("x-vault-token", *tok);
            }
            let req = b.body(Body::from(body.to_string())).unwrap();
            let resp = t.app.clone().oneshot(req).await.unwrap();
            assert_eq!(
                resp.headers()
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{method} {uri} (sealed: {sealed}) answered {}",
                resp.status()
            );
        }
    }
}

/// A path under no mount answers 403 "permission denied" to a caller without a valid token
/// or without a grant, as OpenBao does, so mounts cannot be enumerated; 404 only to a caller
/// the ACL lets through. Login paths of mounted auth methods stay open.
#[tokio::test]
async fn unmounted_paths_do_not_reveal_mounts() {
    let t = TestServer::dev().await;
    let default_token = t.token_with(&["default"]).await;
    let denied = json!({"errors": ["permission denied"]});
    for (path, token) in [
        ("no-such-mount/x", None),
        ("no-such-mount/x", Some("hvs.not-a-token")),
        ("no-such-mount/x", Some(default_token.as_str())),
        ("auth/no-such-method/login", None),
        ("secret/data/x", None),
    ] {
        for method in ["GET", "POST", "LIST"] {
            let body = (method == "POST").then(|| json!({"password": "p"}));
            let (s, v) = t.req(method, path, token, body).await;
            assert_eq!(
                (s, &v),
                (StatusCode::FORBIDDEN, &denied),
                "{method} {path} {token:?}"
            );
        }
    }
    let (s, v) = t.root("GET", "no-such-mount/x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    let (s, v) = t
        .root(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "userpass"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .root(
            "POST",
            "auth/userpass/users/bob",
            Some(json!({"password": "pw"})),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = t
        .req(
            "POST",
            "auth/userpass/login/bob",
            None,
            Some(json!({"password": "pw"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a login path needs no token: {v}");
}
