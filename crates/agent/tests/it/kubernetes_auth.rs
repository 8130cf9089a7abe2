//! Auto-auth with the kubernetes method against the real in-process server and the real
//! kubernetes auth method crate: service account tokens are checked by a small local HTTPS
//! Kubernetes API (TokenReview only) with a certificate made at test time. Each login reads
//! the token file anew, and a refused login names the cause without the token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrethub_agent::auto_auth::AutoAuth;
use secrethub_common::ErrorKind;
use secrethub_config::agent::AuthMethodConfig;
use secrethub_testkit::https::{serve_https, HttpsServer};
use serde_json::{json, Value};

use crate::jwt_auth::{assert_no_token, config, lookup_self, replace_file};
use crate::server::{unique, TestServer};

/// The bearer token the fake cluster accepts for TokenReviews (`token_reviewer_jwt`).
const REVIEWER_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.agent-test-reviewer.signature";

/// A service account the fake cluster knows.
#[derive(Clone)]
struct Account {
    namespace: String,
    name: String,
    uid: String,
}

type Accounts = Arc<BTreeMap<String, Account>>;

/// A local stand-in for the Kubernetes API server (no cluster runs here): HTTPS with a
/// certificate for 127.0.0.1 signed by a CA made at test time, serving only
/// `POST /apis/authentication.k8s.io/v1/tokenreviews` as documented.
struct FakeCluster(HttpsServer);

impl FakeCluster {
    /// Serves TokenReviews for `accounts` (service account token → account).
    async fn start(accounts: BTreeMap<String, Account>) -> FakeCluster {
        let app = Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                post(token_review),
            )
            .with_state(Arc::new(accounts));
        FakeCluster(serve_https("agent test kubernetes ca", app).await)
    }
}

/// `POST tokenreviews`: the caller must present the reviewer token (401 otherwise, as the
/// API server answers an unknown bearer); the reviewed token is authenticated when known.
async fn token_review(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    Json(review): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(REVIEWER_JWT) {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        return (StatusCode::UNAUTHORIZED, Json(status));
    }
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let status = match accounts.get(token) {
        Some(a) => json!({
            "authenticated": true,
            "user": {
                "username": format!("system:serviceaccount:{}:{}", a.namespace, a.name),
                "uid": a.uid,
                "groups": ["system:serviceaccounts",
                    format!("system:serviceaccounts:{}", a.namespace), "system:authenticated"],
            },
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
        }),
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    (
        StatusCode::CREATED,
        Json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": review["spec"].clone(),
            "status": status,
        })),
    )
}

/// A service account token shaped like a JWT, unique per test.
fn service_account_token(name: &str) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.{}",
        unique(name),
        secrethub_common::random_alnum(24)
    )
}

fn kubernetes_method(role: &str, token_path: PathBuf) -> AuthMethodConfig {
    AuthMethodConfig::Kubernetes {
        role: role.into(),
        token_path,
    }
}

#[tokio::test]
async fn kubernetes_login_with_the_token_file_and_an_unknown_token_is_refused() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (namespace, account) = (unique("ns"), unique("web"));
    let known = service_account_token("known");
    let cluster = FakeCluster::start(BTreeMap::from([(
        known.clone(),
        Account {
            namespace: namespace.clone(),
            name: account.clone(),
            uid: unique("uid-"),
        },
    )]))
    .await;
    let (role, policy) = (unique("k8srole"), unique("k8spolicy"));
    server
        .policy(
            &policy,
            "path \"secret/data/web\" { capabilities = [\"read\"] }",
        )
        .await;
    let root = server.root_client();
    root.write("sys/auth/kubernetes", &json!({"type": "kubernetes"}))
        .await
        .expect("enable kubernetes");
    root.write(
        "auth/kubernetes/config",
        &json!({
            "kubernetes_host": cluster.0.url,
            "kubernetes_ca_cert": cluster.0.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT,
        }),
    )
    .await
    .expect("kubernetes config");
    root.write(
        &format!("auth/kubernetes/role/{role}"),
        &json!({
            "bound_service_account_names": [account],
            "bound_service_account_namespaces": [namespace],
            "token_policies": [policy],
            "token_ttl": "30m",
        }),
    )
    .await
    .expect("kubernetes role");

    let token_path = dir.path().join("token");
    replace_file(&token_path, &format!("{known}\n"));
    let auth = AutoAuth::new(
        server.client(),
        config(
            dir.path(),
            kubernetes_method(&role, token_path.clone()),
            "auth/kubernetes",
        ),
    );
    let info = auth.login_once().await.expect("kubernetes login");
    assert!(info.renewable);
    assert_eq!(info.lease_duration, Duration::from_secs(1800));
    let me = lookup_self(&server, info.token.expose()).await;
    assert_eq!(me["data"]["path"], json!("auth/kubernetes/login"), "{me}");
    assert_eq!(me["data"]["policies"], json!(["default", policy]), "{me}");
    assert_eq!(me["data"]["meta"]["role"], json!(role), "{me}");
    assert_eq!(
        me["data"]["meta"]["service_account_name"],
        json!(account),
        "{me}"
    );
    assert_eq!(
        me["data"]["meta"]["service_account_namespace"],
        json!(namespace),
        "{me}"
    );

    // A token the cluster does not know: refused, named as such, never shown.
    let unknown = service_account_token("unknown");
    replace_file(&token_path, &unknown);
    let err = auth.login_once().await.expect_err("unknown token");
    let shown = format!("{err} {err:?}");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{shown}");
    assert!(shown.contains("auth/kubernetes/login"), "{shown}");
    assert!(
        shown.contains("permission denied") && shown.contains("did not authenticate"),
        "{shown}"
    );
    assert_no_token(&shown, &unknown);
    assert_no_token(&shown, &known);
}
