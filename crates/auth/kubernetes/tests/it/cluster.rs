//! A local stand-in for a Kubernetes API server, since no real cluster can run here: HTTPS with
//! a certificate for 127.0.0.1/localhost signed by a CA made at test time, serving the
//! documented `POST /apis/authentication.k8s.io/v1/tokenreviews`.
//!
//! As the real API server does, it authenticates the bearer token (401 when unknown),
//! authorises it to create TokenReviews (403 unless it is the reviewer token or an account
//! allowed to review, like one bound to `system:auth-delegator`), then looks the reviewed
//! token up in its table and answers `status.authenticated`, `status.user` (username
//! `system:serviceaccount:<ns>:<name>`, uid, groups) and `status.audiences`: the intersection
//! of the requested audiences with the token's, or the API server's own audience when none
//! was requested.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrethub_testkit::https::{new_ca, serve_https, HttpsServer};
use serde_json::{json, Value};

/// The bearer token the cluster accepts for TokenReviews (`token_reviewer_jwt`).
pub(crate) const REVIEWER_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.reviewer-sa.signature";

/// The API server's own audience, which tokens get by default.
pub(crate) const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// A service account token the cluster knows.
#[derive(Clone)]
pub(crate) struct Account {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) audiences: Vec<String>,
    /// May create TokenReviews itself (bound to `system:auth-delegator`).
    pub(crate) can_review: bool,
    /// A user that is not a service account (e.g. from an OIDC provider), when set.
    pub(crate) username: Option<String>,
}

impl Account {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("uid-{namespace}-{name}"),
            audiences: vec![API_AUDIENCE.into()],
            can_review: false,
            username: None,
        }
    }

    /// A user that is not a service account.
    pub(crate) fn user(username: &str) -> Self {
        Self {
            username: Some(username.into()),
            uid: format!("uid-user-{username}"),
            ..Self::new("", "")
        }
    }

    pub(crate) fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences.iter().map(|a| a.to_string()).collect();
        self
    }

    fn username(&self) -> String {
        match &self.username {
            Some(u) => u.clone(),
            None => format!("system:serviceaccount:{}:{}", self.namespace, self.name),
        }
    }

    pub(crate) fn can_review(mut self) -> Self {
        self.can_review = true;
        self
    }
}

/// A TokenReview the cluster received.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeenReview {
    pub(crate) bearer: String,
    pub(crate) audiences: Vec<String>,
}

#[derive(Default)]
struct ClusterState {
    accounts: BTreeMap<String, Account>,
    reviews: Vec<SeenReview>,
    /// Like API servers older than audience support: `spec.audiences` is ignored, tokens
    /// are checked against the API's own audience and `status.audiences` is left out.
    ignores_audiences: bool,
}

type Shared = Arc<Mutex<ClusterState>>;

/// A running fake API server; stops accepting connections when dropped.
pub(crate) struct FakeCluster {
    /// `https://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// The CA that signed the server's certificate.
    pub(crate) ca_pem: String,
    state: Shared,
    /// Serving while the cluster lives.
    _server: HttpsServer,
}

impl FakeCluster {
    pub(crate) async fn start() -> Self {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                post(token_reviews),
            )
            .with_state(state.clone());
        let server = serve_https("fake-kubernetes-ca", app).await;
        Self {
            url: server.url.clone(),
            ca_pem: server.ca_pem.clone(),
            state,
            _server: server,
        }
    }

    /// Makes `token` a valid service account token of `account`.
    pub(crate) fn add(&self, token: &str, account: Account) {
        self.lock().accounts.insert(token.to_string(), account);
    }

    /// Forgets a token, as when its service account is deleted.
    pub(crate) fn remove(&self, token: &str) {
        self.lock().accounts.remove(token);
    }

    /// Behaves like an API server that does not know about audiences.
    pub(crate) fn ignore_audiences(&self) {
        self.lock().ignores_audiences = true;
    }

    /// The TokenReviews received so far.
    pub(crate) fn reviews(&self) -> Vec<SeenReview> {
        self.lock().reviews.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClusterState> {
        self.state.lock().expect("cluster state")
    }
}

/// A CA certificate that did not sign the fake cluster's certificate.
pub(crate) fn unrelated_ca_pem() -> String {
    new_ca("some-other-ca").0.pem()
}

/// A Kubernetes `Status` error body.
fn status_error(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Json<Value>) {
    (
        code,
        Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        })),
    )
}

async fn token_reviews(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(review): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut st = state.lock().expect("cluster state");
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let caller = if bearer == REVIEWER_JWT {
        Some("system:serviceaccount:kube-system:token-reviewer".to_string())
    } else {
        st.accounts
            .get(&bearer)
            .filter(|a| a.can_review)
            .map(Account::username)
    };
    let known = bearer == REVIEWER_JWT || st.accounts.contains_key(&bearer);
    if !known {
        return status_error(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    if caller.is_none() {
        return status_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "tokenreviews.authentication.k8s.io is forbidden: User cannot create resource \
             \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope",
        );
    }
    if review["apiVersion"] != "authentication.k8s.io/v1" || review["kind"] != "TokenReview" {
        return status_error(StatusCode::BAD_REQUEST, "BadRequest", "not a TokenReview");
    }
    let token = review["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let requested: Vec<String> = review["spec"]["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    st.reviews.push(SeenReview {
        bearer,
        audiences: requested.clone(),
    });

    let wanted = if requested.is_empty() || st.ignores_audiences {
        vec![API_AUDIENCE.to_string()]
    } else {
        requested
    };
    let status = match st.accounts.get(&token) {
        None => json!({ "user": {}, "error": "[invalid bearer token, token lookup failed]" }),
        Some(a) => {
            let common: Vec<&String> = wanted.iter().filter(|w| a.audiences.contains(w)).collect();
            if common.is_empty() {
                json!({ "user": {}, "error": "[invalid bearer token, token audiences is invalid for the target audiences]" })
            } else {
                let mut status = json!({
                    "authenticated": true,
                    "user": {
                        "username": a.username(),
                        "uid": a.uid,
                        "groups": [
                            "system:serviceaccounts",
                            format!("system:serviceaccounts:{}", a.namespace),
                            "system:authenticated",
                        ],
                    },
                    "audiences": common,
                });
                if st.ignores_audiences {
                    status.as_object_mut().expect("object").remove("audiences");
                }
                status
            }
        }
    };
    (
        StatusCode::CREATED,
        Json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": null },
            "spec": review["spec"].clone(),
            "status": status,
        })),
    )
}
