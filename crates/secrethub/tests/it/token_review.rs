//! A Kubernetes TokenReview API stand-in for the real-binary tests of the kubernetes auth
//! method (no real cluster can run on this machine): `POST
//! /apis/authentication.k8s.io/v1/tokenreviews` as Kubernetes documents it, over HTTPS with a
//! test CA. It answers 401 unless the caller presents the reviewer's token, and `201 Created`
//! with `status.authenticated` and the `system:serviceaccount:<namespace>:<name>` user for a
//! service account token it knows.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrethub_testkit::https::{serve_https, HttpsServer};
use serde_json::{json, Value};

/// A service account the stand-in knows, by its token.
pub(crate) struct Account {
    pub(crate) token: &'static str,
    pub(crate) namespace: &'static str,
    pub(crate) name: &'static str,
    pub(crate) uid: &'static str,
}

struct Known {
    reviewer: &'static str,
    accounts: &'static [Account],
}

/// Serves the stand-in; `reviewer` is the `token_reviewer_jwt` it accepts as the bearer.
pub(crate) async fn start(
    ca_name: &str,
    reviewer: &'static str,
    accounts: &'static [Account],
) -> HttpsServer {
    let app = Router::new()
        .route("/apis/authentication.k8s.io/v1/tokenreviews", post(review))
        .with_state(std::sync::Arc::new(Known { reviewer, accounts }));
    serve_https(ca_name, app).await
}

async fn review(
    State(known): State<std::sync::Arc<Known>>,
    headers: HeaderMap,
    Json(review): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(known.reviewer) {
        let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        return (StatusCode::UNAUTHORIZED, Json(status));
    }
    let token = review["spec"]["token"].as_str();
    let status = match known.accounts.iter().find(|a| Some(a.token) == token) {
        Some(a) => json!({
            "authenticated": true,
            "user": {"username": format!("system:serviceaccount:{}:{}", a.namespace, a.name),
                "uid": a.uid,
                "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", a.namespace),
                    "system:authenticated"]},
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
        }),
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    let answer = json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null}, "spec": review["spec"].clone(),
        "status": status});
    (StatusCode::CREATED, Json(answer))
}
