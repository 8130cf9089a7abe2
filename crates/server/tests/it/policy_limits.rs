//! Policies too large or nested too deeply for the HCL/JSON parser's stack are refused with a
//! 400 before parsing, through both policy endpoints, and the server keeps serving: the
//! hardening issue's nine shapes at depth 400 and one past the limit, each also at the limit,
//! where the parser runs and the validator answers.

use axum::http::StatusCode;
use serde_json::{json, Value};

use secrethub_testkit::nesting::{expression, SHAPES};

use crate::harness::{unique, TestServer};

const LIMIT: usize = 32;

/// A policy whose capabilities are one of the nine shapes, `n` levels deep in all (the
/// `path` block is one of them).
fn nested(shape: &str, n: usize) -> String {
    let n = n - 1;
    let expr = expression(shape, n);
    format!("path \"x\" {{ capabilities = {expr} }}")
}

fn too_deep() -> Value {
    json!({"errors": ["failed to parse policy: line 1: policy is nested too deeply (limit 32)"]})
}

async fn put(t: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    t.req("PUT", path, Some(token), Some(body)).await
}

#[tokio::test]
async fn deep_policies_are_refused_before_parsing() {
    let t = TestServer::dev().await;
    // Any token that may write a policy could send one; not only root.
    let writer = unique("writer");
    let (s, v) = put(
        &t,
        &t.root,
        &format!("sys/policies/acl/{writer}"),
        json!({"policy": "path \"sys/policies/acl/*\" { capabilities = [\"create\", \"update\"] }"}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let tok = t.token_with(&[&writer]).await;

    for shape in SHAPES {
        for depth in [400, LIMIT + 1] {
            let policy = nested(shape, depth);
            let acl = put(&t, &tok, "sys/policies/acl/deep", json!({"policy": policy})).await;
            assert_eq!(
                acl,
                (StatusCode::BAD_REQUEST, too_deep()),
                "{shape} at {depth}"
            );
            let legacy = put(&t, &t.root, "sys/policy/deep", json!({"rules": policy})).await;
            assert_eq!(
                legacy,
                (StatusCode::BAD_REQUEST, too_deep()),
                "{shape} at {depth}"
            );
        }
        // At the limit the parser runs and the policy validator answers.
        let (s, v) = put(
            &t,
            &tok,
            "sys/policies/acl/deep",
            json!({"policy": nested(shape, LIMIT)}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{shape} at the limit");
        let msg = v["errors"][0].as_str().unwrap();
        assert!(msg.contains("\"capabilities\" must be"), "{shape}: {msg}");
    }

    // The 845-byte example, as JSON too, and a policy over the size limit.
    let example = format!(
        "path \"x\" {{ capabilities = {}{} }}",
        "[".repeat(400),
        "]".repeat(400)
    );
    assert!(json!({"policy": example}).to_string().len() < 1024);
    let json_policy = format!(
        "{{\"path\": {{\"x\": {{\"capabilities\": {}{}}}}}}}",
        "[".repeat(400),
        "]".repeat(400)
    );
    for policy in [example, json_policy] {
        let (s, v) = put(&t, &tok, "sys/policies/acl/deep", json!({"policy": policy})).await;
        assert_eq!((s, v), (StatusCode::BAD_REQUEST, too_deep()));
    }
    let large = format!("# {}", "x".repeat(128 * 1024));
    let (s, v) = put(&t, &tok, "sys/policies/acl/large", json!({"policy": large})).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"errors": ["failed to parse policy: policy is too large (131074 bytes, limit 131072)"]})
        )
    );

    // Nothing was stored, and the server keeps serving.
    let (s, _) = t.root("GET", "sys/policies/acl/deep", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let name = unique("fine");
    let policy = "path \"secret/data/*\" { capabilities = [\"read\"] }";
    let (s, v) = put(
        &t,
        &tok,
        &format!("sys/policies/acl/{name}"),
        json!({"policy": policy}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .root("GET", &format!("sys/policies/acl/{name}"), None)
        .await;
    assert_eq!(
        (s, v["data"]["policy"].clone()),
        (StatusCode::OK, json!(policy))
    );
}
