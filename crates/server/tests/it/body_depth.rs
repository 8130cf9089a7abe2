//! The request body depth limit: a body nested exactly `MAX_BODY_DEPTH` levels is stored
//! through every path that keeps request data (KV v2 on `/v1` and the seed's `/api/v1`, KV
//! v1, cubbyhole, `sys/wrapping/wrap`, wrapped reads, audit entries) and reads back, updates,
//! deletes and destroys fine; one level deeper is a 400 on every route that takes a body,
//! and nothing is stored.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrethub_server::MAX_BODY_DEPTH;
use serde_json::{json, Value};

use crate::harness::TestServer;

/// A JSON object nested exactly `levels` levels (the object itself is level 1), mostly
/// arrays as in the original report, with a string at the bottom.
fn deep(levels: usize) -> String {
    let arrays = levels - 1;
    format!(
        r#"{{"k": {}"bottom"{}}}"#,
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

fn value(text: &str) -> Value {
    serde_json::from_str(text).expect("the test's bodies parse")
}

/// Sends `body` as raw text to `uri` (a full path, `/v1/...` or `/api/v1/...`).
async fn send(
    t: &TestServer,
    method: &str,
    uri: &str,
    body: Option<String>,
    wrap_ttl: Option<&str>,
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-vault-token", &t.root);
    if let Some(ttl) = wrap_ttl {
        b = b.header("x-vault-wrap-ttl", ttl);
    }
    let body = body.map(Body::from).unwrap_or_else(Body::empty);
    t.raw(b.body(body).expect("request")).await
}

async fn expect(
    t: &TestServer,
    method: &str,
    uri: &str,
    body: Option<String>,
    status: StatusCode,
) -> Value {
    let (s, v) = send(t, method, uri, body, None).await;
    assert_eq!(s, status, "{method} {uri}: {v}");
    v
}

fn too_deep() -> Value {
    json!({ "errors": [format!("request body is nested too deeply (limit {MAX_BODY_DEPTH})")] })
}

async fn refused(t: &TestServer, method: &str, uri: &str, body: String) {
    let v = expect(t, method, uri, Some(body), StatusCode::BAD_REQUEST).await;
    assert_eq!(v, too_deep(), "{method} {uri}");
}

#[tokio::test]
async fn a_body_at_the_limit_reads_back_and_one_deeper_is_refused() {
    let t = TestServer::dev().await;
    let (_dir, file) = t.audit_to_file().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/kv1",
            Some(json!({"type": "kv", "options": {"version": "1"}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let at = deep(MAX_BODY_DEPTH);
    let over = deep(MAX_BODY_DEPTH + 1);
    // KV v2 takes `{"data": ...}`, so its data is one level shallower than the body.
    let v2_at = format!(r#"{{"data": {}}}"#, deep(MAX_BODY_DEPTH - 1));
    let v2_over = format!(r#"{{"data": {}}}"#, deep(MAX_BODY_DEPTH));
    let ok = StatusCode::OK;
    let none = StatusCode::NO_CONTENT;

    // KV v2 on /v1: write, read, update, wrapped read + unwrap, delete, destroy.
    expect(&t, "PUT", "/v1/secret/data/k", Some(v2_at.clone()), ok).await;
    let v = expect(&t, "GET", "/v1/secret/data/k", None, ok).await;
    assert_eq!(v["data"]["data"], value(&deep(MAX_BODY_DEPTH - 1)));
    expect(&t, "PUT", "/v1/secret/data/k", Some(v2_at.clone()), ok).await;
    let (s, v) = send(&t, "GET", "/v1/secret/data/k", None, Some("5m")).await;
    assert_eq!(s, ok, "{v}");
    let wtoken = v["wrap_info"]["token"].as_str().unwrap().to_string();
    let body = json!({ "token": wtoken }).to_string();
    let v = expect(&t, "POST", "/v1/sys/wrapping/unwrap", Some(body), ok).await;
    assert_eq!(v["data"]["data"], value(&deep(MAX_BODY_DEPTH - 1)));
    expect(&t, "DELETE", "/v1/secret/data/k", None, none).await;
    expect(&t, "GET", "/v1/secret/data/k", None, StatusCode::NOT_FOUND).await;
    let versions = Some(r#"{"versions": [1, 2]}"#.to_string());
    expect(&t, "PUT", "/v1/secret/destroy/k", versions, none).await;
    expect(&t, "DELETE", "/v1/secret/metadata/k", None, none).await;
    // One level deeper: refused, and what was stored stays readable (or absent).
    expect(&t, "PUT", "/v1/secret/data/k", Some(v2_at.clone()), ok).await;
    refused(&t, "PUT", "/v1/secret/data/k", v2_over.clone()).await;
    refused(&t, "PATCH", "/v1/secret/data/k", v2_over.clone()).await;
    let v = expect(&t, "GET", "/v1/secret/data/k", None, ok).await;
    assert_eq!(v["data"]["metadata"]["version"], json!(1));
    refused(&t, "PUT", "/v1/secret/data/absent", v2_over).await;
    expect(
        &t,
        "GET",
        "/v1/secret/data/absent",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect(
        &t,
        "GET",
        "/v1/secret/metadata/absent",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The seed's /api/v1/secrets: the body becomes the data, one level inside the request.
    expect(&t, "PUT", "/api/v1/secrets/s", Some(at.clone()), ok).await;
    let v = expect(&t, "GET", "/api/v1/secrets/s", None, ok).await;
    assert_eq!(v["data"]["data"], value(&at));
    expect(&t, "PUT", "/api/v1/secrets/s", Some(at.clone()), ok).await;
    expect(&t, "DELETE", "/api/v1/secrets/s", None, none).await;
    let versions = Some(r#"{"versions": [1, 2]}"#.to_string());
    expect(&t, "PUT", "/v1/secret/destroy/s", versions, none).await;
    expect(&t, "PUT", "/api/v1/secrets/s", Some(at.clone()), ok).await;
    refused(&t, "PUT", "/api/v1/secrets/s", over.clone()).await;
    let v = expect(&t, "GET", "/api/v1/secrets/s", None, ok).await;
    assert_eq!(v["data"]["metadata"]["version"], json!(3));
    refused(&t, "PUT", "/api/v1/secrets/s-absent", over.clone()).await;
    expect(
        &t,
        "GET",
        "/api/v1/secrets/s-absent",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    // KV v1 and cubbyhole store the body as it came.
    for path in ["/v1/kv1/k", "/v1/cubbyhole/k"] {
        expect(&t, "PUT", path, Some(at.clone()), none).await;
        let v = expect(&t, "GET", path, None, ok).await;
        assert_eq!(v["data"], value(&at), "{path}");
        expect(&t, "PUT", path, Some(at.clone()), none).await;
        expect(&t, "DELETE", path, None, none).await;
        expect(&t, "GET", path, None, StatusCode::NOT_FOUND).await;
        refused(&t, "PUT", path, over.clone()).await;
        expect(&t, "GET", path, None, StatusCode::NOT_FOUND).await;
        expect(&t, "PUT", path, Some(r#"{"k": "v"}"#.into()), none).await;
        refused(&t, "PUT", path, over.clone()).await;
        let v = expect(&t, "GET", path, None, ok).await;
        assert_eq!(v["data"], json!({"k": "v"}), "{path}");
    }

    // sys/wrapping/wrap keeps the body inside a cubbyhole record; unwrap hands it back.
    let (s, v) = send(
        &t,
        "POST",
        "/v1/sys/wrapping/wrap",
        Some(at.clone()),
        Some("5m"),
    )
    .await;
    assert_eq!(s, ok, "{v}");
    let wtoken = v["wrap_info"]["token"].as_str().unwrap().to_string();
    let body = json!({ "token": wtoken }).to_string();
    let v = expect(&t, "POST", "/v1/sys/wrapping/unwrap", Some(body), ok).await;
    assert_eq!(v["data"], value(&at));
    let (s, v) = send(
        &t,
        "POST",
        "/v1/sys/wrapping/wrap",
        Some(over.clone()),
        Some("5m"),
    )
    .await;
    assert_eq!((s, v), (StatusCode::BAD_REQUEST, too_deep()));

    // Every audit entry of all this reads back, and the chain verifies.
    let text = std::fs::read_to_string(&file).unwrap();
    for line in text.lines() {
        serde_json::from_str::<Value>(line).expect("every audit entry reads back");
    }
    secrethub_audit::verify_file(&file).expect("the audit chain verifies");
}

#[tokio::test]
async fn every_route_that_takes_a_body_checks_its_depth() {
    let t = TestServer::dev().await;
    let over = deep(MAX_BODY_DEPTH + 1);
    for (method, uri) in [
        ("POST", "/v1/sys/init"),
        ("POST", "/v1/sys/unseal"),
        ("PUT", "/v1/sys/policies/acl/p"),
        ("PATCH", "/v1/secret/data/k"),
        ("POST", "/v1/auth/token/create"),
        ("POST", "/api/v1/secrets/k"),
        ("POST", "/api/v1/secrets/k/rotate"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/v1/secrets/dynamic/role"),
    ] {
        refused(&t, method, uri, over.clone()).await;
    }
    // Far beyond serde_json's own limit, and unterminated: the same answer, not a 500.
    refused(&t, "PUT", "/v1/secret/data/k", "[".repeat(100_000)).await;
}
