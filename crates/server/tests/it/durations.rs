//! Request-supplied durations out of range (`1e20`, `1e300`, `-1`, `"9999999999h"`) answer a
//! clear 400 on every endpoint that takes one, and the server keeps serving; the longest valid
//! duration (about 292 years, Go's limit) is capped, never overflows.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::TestServer;
use crate::leases::{creds, with_engine};

fn bad_values() -> [Value; 4] {
    [json!(1e20), json!(1e300), json!(-1), json!("9999999999h")]
}

/// The messages for [`bad_values`], in order.
fn expected(field: &str) -> Vec<String> {
    [
        "duration out of range",
        "duration out of range",
        "duration cannot be negative",
        "duration out of range",
    ]
    .iter()
    .map(|m| format!("invalid {field}: {m}"))
    .collect()
}

async fn still_serving(t: &TestServer) {
    let (s, v) = t.root("GET", "auth/token/lookup-self", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn renew_self_refuses_increments_out_of_range() {
    let t = TestServer::dev().await;
    // The default policy allows renew-self, so any token holder can send these.
    let tok = t.token_with(&["default"]).await;
    let mut seen = Vec::new();
    for increment in bad_values() {
        let (s, v) = t
            .req(
                "POST",
                "auth/token/renew-self",
                Some(&tok),
                Some(json!({"increment": increment})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{increment}: {v}");
        seen.push(v["errors"][0].as_str().unwrap_or_default().to_string());
        still_serving(&t).await;
    }
    assert_eq!(seen, expected("increment"));
    let (s, v) = t
        .req(
            "POST",
            "auth/token/renew-self",
            Some(&tok),
            Some(json!({"increment": "2562047h"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the longest valid increment is capped: {v}"
    );
    assert!(v["auth"]["lease_duration"].as_u64().unwrap() <= 32 * 24 * 3600);
}

#[tokio::test]
async fn lease_renew_refuses_increments_out_of_range() {
    let t = with_engine().await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "ro", json!({"ttl": "1h"})).await;
    let mut seen = Vec::new();
    for increment in bad_values() {
        let (s, v) = t
            .root(
                "PUT",
                "sys/leases/renew",
                Some(json!({"lease_id": id, "increment": increment})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{increment}: {v}");
        seen.push(v["errors"][0].as_str().unwrap_or_default().to_string());
        still_serving(&t).await;
    }
    assert_eq!(seen, expected("increment"));
    let (s, v) = t
        .root(
            "PUT",
            "sys/leases/renew",
            Some(json!({"lease_id": id, "increment": "2562047h"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the longest valid increment is capped: {v}"
    );
}

#[tokio::test]
async fn seed_dynamic_endpoint_refuses_ttls_out_of_range() {
    let t = with_engine().await;
    let mut seen = Vec::new();
    for ttl in bad_values() {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/secrets/dynamic/ro")
            .header("x-vault-token", &t.root)
            .body(Body::from(json!({"ttl": ttl}).to_string()))
            .unwrap();
        let (s, v) = t.raw(req).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ttl}: {v}");
        seen.push(v["errors"][0].as_str().unwrap_or_default().to_string());
        still_serving(&t).await;
    }
    assert_eq!(seen, expected("ttl"));
}

#[tokio::test]
async fn wrap_ttl_header_out_of_range_is_refused() {
    let t = TestServer::dev().await;
    for (wrap_ttl, message) in [
        ("9999999999h", "invalid X-Vault-Wrap-TTL header"),
        ("2562047h", "wrapping ttl exceeds the maximum of 768h"),
    ] {
        let req = Request::builder()
            .method("GET")
            .uri("/v1/auth/token/lookup-self")
            .header("x-vault-token", &t.root)
            .header("x-vault-wrap-ttl", wrap_ttl)
            .body(Body::empty())
            .unwrap();
        let (s, v) = t.raw(req).await;
        assert_eq!(
            (s, v),
            (StatusCode::BAD_REQUEST, json!({"errors": [message]})),
            "{wrap_ttl}"
        );
        still_serving(&t).await;
    }
}
