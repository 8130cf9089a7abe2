//! `azure-kv` against a small local server that follows Microsoft's documented shapes: the
//! Entra ID v2.0 token endpoint (client credentials, form body, `{"access_token",
//! "expires_in", "token_type"}`, `{"error": "invalid_client"}` on a bad secret) and Key Vault's
//! `GET /secrets/{name}[/{version}]?api-version=7.4` (`{"value", "id", "attributes"}`,
//! `{"error": {"code": "SecretNotFound"}}`), which checks the bearer token and the API version.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrethub_common::Sensitive;
use secrethub_config::agent::AzureKvConfig;
use secrethub_providers::{AzureKvProvider, Provider, ProviderErrorKind};
use serde_json::json;

use crate::unique;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT_ID: &str = "app-client-id";
const CLIENT_SECRET: &str = "azure-client-secret-value";

/// The fake's state: secrets (name → versions, newest last), issued tokens, counters.
#[derive(Default)]
struct Fake {
    base_url: Mutex<String>,
    secrets: Mutex<HashMap<String, Vec<(String, String)>>>,
    tokens: Mutex<Vec<String>>,
    token_requests: AtomicUsize,
    secret_requests: AtomicUsize,
}

impl Fake {
    fn put(&self, name: &str, value: &str) -> String {
        let version = secrethub_common::random_alnum(32).to_lowercase();
        self.secrets
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default()
            .push((version.clone(), value.to_string()));
        version
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

/// `application/x-www-form-urlencoded` pairs.
fn form(body: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).expect("UTF-8 form")
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

async fn token(
    State(fake): State<Arc<Fake>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    fake.token_requests.fetch_add(1, Ordering::SeqCst);
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if tenant != TENANT || !content_type.starts_with("application/x-www-form-urlencoded") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    let form = form(&body);
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials")
        || field("scope") != Some("https://vault.azure.net/.default")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        let body = json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
        });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let token = format!("eyJ0eXAi.{}", secrethub_common::random_alnum(24));
    fake.tokens.lock().unwrap().push(token.clone());
    Json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": token,
    }))
    .into_response()
}

/// The checks every Key Vault call passes first.
fn check_call(
    fake: &Fake,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Response> {
    if query.get("api-version").map(String::as_str) != Some("7.4") {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The specified version is not supported.",
        ));
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let known = bearer.is_some_and(|t| fake.tokens.lock().unwrap().iter().any(|k| k == t));
    if !known {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        ));
    }
    None
}

async fn secret(
    State(fake): State<Arc<Fake>>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    fake.secret_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(refusal) = check_call(&fake, &headers, &query) {
        return refusal;
    }
    let (name, version) = match path.split_once('/') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (path.clone(), None),
    };
    let secrets = fake.secrets.lock().unwrap();
    let found = secrets.get(&name).and_then(|versions| match &version {
        Some(v) => versions.iter().find(|(id, _)| id == v),
        None => versions.last(),
    });
    let Some((id, value)) = found else {
        let message = format!("A secret with (name/id) {path} was not found in this key vault.");
        return error(StatusCode::NOT_FOUND, "SecretNotFound", &message);
    };
    let base = fake.base_url.lock().unwrap().clone();
    Json(json!({
        "value": value,
        "id": format!("{base}/secrets/{name}/{id}"),
        "attributes": {"enabled": true, "created": 1_700_000_000, "updated": 1_700_000_000, "recoveryLevel": "Recoverable+Purgeable"},
        "tags": {},
    }))
    .into_response()
}

async fn list(
    State(fake): State<Arc<Fake>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = check_call(&fake, &headers, &query) {
        return refusal;
    }
    Json(json!({"value": [], "nextLink": null})).into_response()
}

/// Starts the fake on 127.0.0.1; it serves until the test's runtime ends.
async fn start() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/secrets", get(list))
        .route("/secrets/{*path}", get(secret))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    *fake.base_url.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, base)
}

fn provider(base: &str, client_secret: &str) -> AzureKvProvider {
    AzureKvProvider::new(
        "azure",
        &AzureKvConfig {
            vault_url: format!("{base}/"),
            tenant_id: TENANT.into(),
            client_id: CLIENT_ID.into(),
            client_secret: Sensitive::new(client_secret.to_string()),
            authority_host: Some(base.to_string()),
        },
    )
    .expect("provider")
}

#[tokio::test]
async fn reads_values_and_versions_with_one_token() {
    let (fake, base) = start().await;
    let name = unique("db-password");
    let first = fake.put(&name, "azure-pw-1");
    let provider = provider(&base, CLIENT_SECRET);
    let secret = provider.read(&name).await.expect("read");
    assert_eq!(secret.fields.keys().collect::<Vec<_>>(), vec!["value"]);
    assert_eq!(secret.fields["value"].expose(), "azure-pw-1");
    assert_eq!(secret.version.as_deref(), Some(first.as_str()));

    let second = fake.put(&name, r#"{"user":"app"}"#);
    let latest = provider.read(&name).await.expect("read latest");
    assert_eq!(latest.fields["value"].expose(), r#"{"user":"app"}"#);
    assert_eq!(latest.version.as_deref(), Some(second.as_str()));
    let pinned = provider
        .read(&format!("{name}/{first}"))
        .await
        .expect("read a version");
    assert_eq!(pinned.fields["value"].expose(), "azure-pw-1");
    assert!(provider.health().await.healthy);

    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fake.secret_requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrent_first_reads_share_one_token_request() {
    let (fake, base) = start().await;
    let name = unique("shared");
    fake.put(&name, "v");
    let provider = provider(&base, CLIENT_SECRET);
    let reads = (0..5).map(|_| provider.read(&name));
    for answer in futures::future::join_all(reads).await {
        assert_eq!(answer.expect("read").fields["value"].expose(), "v");
    }
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn missing_secrets_are_not_found() {
    let (_fake, base) = start().await;
    let err = provider(&base, CLIENT_SECRET)
        .read(&unique("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("SecretNotFound"), "{err}");
}

#[tokio::test]
async fn a_bad_client_secret_is_denied_and_unhealthy() {
    let (fake, base) = start().await;
    let name = unique("denied");
    fake.put(&name, "v");
    let provider = provider(&base, "wrong-client-secret");
    let err = provider.read(&name).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Denied, "{err}");
    assert!(!err.to_string().contains("wrong-client-secret"), "{err}");
    let health = provider.health().await;
    assert!(!health.healthy, "{health:?}");
    assert_eq!(fake.secret_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once() {
    let (fake, base) = start().await;
    let name = unique("revoked");
    fake.put(&name, "v");
    let provider = provider(&base, CLIENT_SECRET);
    provider.read(&name).await.expect("first read");
    // The vault forgets every token it issued: the next read gets a 401, then a new token.
    fake.tokens.lock().unwrap().clear();
    let secret = provider.read(&name).await.expect("read with a fresh token");
    assert_eq!(secret.fields["value"].expose(), "v");
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn names_that_are_not_key_vault_names_are_refused() {
    let (fake, base) = start().await;
    let err = provider(&base, CLIENT_SECRET)
        .read("../keys/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Invalid, "{err}");
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 0);
}
