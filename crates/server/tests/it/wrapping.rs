//! Response wrapping: `X-Vault-Wrap-TTL`, single-use unwrap, lookup, rewrap, wrap.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

async fn wrapped(
    t: &TestServer,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let req = Request::builder()
        .method(method)
        .uri(format!("/v1/{path}"))
        .header("x-vault-token", &t.root)
        .header("x-vault-wrap-ttl", "5m")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let (s, v) = t.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn wrap_unwrap_once() {
    let t = TestServer::dev().await;
    t.root(
        "POST",
        "secret/data/w",
        Some(json!({"data": {"k": "wrapped-value"}})),
    )
    .await;
    let v = wrapped(&t, "GET", "secret/data/w", None).await;
    assert_eq!(
        v["data"],
        json!(null),
        "the secret is not in the wrapped response"
    );
    let info = &v["wrap_info"];
    assert_eq!(
        (info["ttl"].clone(), info["creation_path"].clone()),
        (json!(300), json!("secret/data/w"))
    );
    let wtoken = info["token"].as_str().unwrap().to_string();

    let (s, v) = t
        .req(
            "POST",
            "sys/wrapping/lookup",
            None,
            Some(json!({"token": wtoken})),
        )
        .await;
    assert_eq!(
        (s, v["data"]["creation_path"].clone()),
        (StatusCode::OK, json!("secret/data/w"))
    );
    let (s, _) = t.req("GET", "secret/data/w", Some(&wtoken), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a wrapping token can only unwrap");

    let (s, v) = t
        .req("POST", "sys/wrapping/unwrap", Some(&wtoken), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["data"]["k"], "wrapped-value");
    let (s, _) = t
        .req("POST", "sys/wrapping/unwrap", Some(&wtoken), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "single use");
}

#[tokio::test]
async fn wrap_token_creation_rewrap_and_wrap() {
    let t = TestServer::dev().await;
    let v = wrapped(
        &t,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["default"]})),
    )
    .await;
    let info = &v["wrap_info"];
    assert!(!info["wrapped_accessor"].as_str().unwrap().is_empty());
    let w1 = info["token"].as_str().unwrap().to_string();
    let (s, v) = t
        .root("POST", "sys/wrapping/rewrap", Some(json!({"token": w1})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let w2 = v["wrap_info"]["token"].as_str().unwrap().to_string();
    assert_ne!(w1, w2);
    let (s, _) = t
        .root("POST", "sys/wrapping/unwrap", Some(json!({"token": w1})))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "rewrap invalidates the old token"
    );
    let (_, v) = t
        .root("POST", "sys/wrapping/unwrap", Some(json!({"token": w2})))
        .await;
    let inner = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&inner), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let v = wrapped(
        &t,
        "POST",
        "sys/wrapping/wrap",
        Some(json!({"anything": "goes"})),
    )
    .await;
    let w3 = v["wrap_info"]["token"].as_str().unwrap().to_string();
    let (_, v) = t
        .req(
            "POST",
            "sys/wrapping/unwrap",
            None,
            Some(json!({"token": w3})),
        )
        .await;
    assert_eq!(v["data"], json!({"anything": "goes"}));
    let (s, _) = t
        .root("POST", "sys/wrapping/wrap", Some(json!({"a": "b"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "wrap needs the header");
}
