//! The proxy's request handler: pick the token, answer from the cache or forward to the
//! server, relay its answer as it came (status, body bytes, the headers that matter), cache
//! it when it qualifies, and apply the evictions a request implies.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrethub_client::{ClientErrorKind, RawAnswer};
use secrethub_common::Sensitive;
use serde_json::{json, Value};
use tracing::{debug, warn};

use super::cache::{self, Entry};
use super::ProxyState;

/// How long a request without a token waits for auto-auth's first login.
const AGENT_TOKEN_WAIT: Duration = Duration::from_secs(30);

/// Where the request's token came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenSource {
    Request,
    Agent,
    None,
}

/// `ANY /v1/*path`.
pub(super) async fn handle(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/v1/")
        .unwrap_or_default()
        .to_string();
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let method_name = method.as_str().to_ascii_uppercase();
    let (token, source) = match request_token(&state, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let token_hash = cache::token_hash(token.as_ref().map(|t| t.expose().as_str()));
    let wrapped = headers.contains_key("x-vault-wrap-ttl");
    let cacheable = state.config.cache
        && !wrapped
        && matches!(method_name.as_str(), "GET" | "PUT" | "POST")
        && !path.starts_with("sys/")
        && !path.starts_with("auth/");

    let key = cache::request_key(&token_hash, &method_name, &path_and_query, &body);
    let _in_flight = if cacheable {
        let guard = state.cache.lock_key(&key).await;
        if let Some(hit) = state.cache.get(&key, Instant::now()) {
            debug!(method = %method_name, path = %path, status = 200, cache = "hit", "proxied");
            let mut resp = Json(hit).into_response();
            resp.headers_mut()
                .insert("x-cache", HeaderValue::from_static("HIT"));
            return resp;
        }
        Some(guard)
    } else {
        None
    };

    let client = match &token {
        Some(t) => state.client.with_token(t.clone()),
        None => state.client.clone(),
    };
    let forwarded = forwarded_headers(&headers);
    let header_refs: Vec<(&str, &str)> = forwarded
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    // The body goes as it came: the server judges it (and answers a malformed one itself).
    let upstream_body = (!body.is_empty()).then(|| body.clone());
    let result = client
        .request_raw(&method_name, &path_and_query, upstream_body, &header_refs)
        .await;
    let answer = match result {
        Ok(answer) => answer,
        Err(e) => {
            warn!(method = %method_name, path = %path, error = %e, "server unreachable");
            if state.config.cache {
                apply_evictions(&state, &method_name, &path, &body, &token_hash, None);
            }
            return errors(
                StatusCode::BAD_GATEWAY,
                vec![format!("error forwarding the request: {e}")],
            );
        }
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    debug!(method = %method_name, path = %path, status = status.as_u16(), "proxied");

    if state.config.cache {
        apply_evictions(
            &state,
            &method_name,
            &path,
            &body,
            &token_hash,
            Some(&answer),
        );
    }
    if status == StatusCode::FORBIDDEN && source == TokenSource::Agent {
        if let Some(t) = &token {
            check_agent_token(&state, t);
        }
    }
    if source == TokenSource::Agent && accepted(&answer) && path == "auth/token/revoke-self" {
        if let Some(auth) = &state.auth {
            auth.reauthenticate();
        }
    }
    // Only a 200 is worth caching, and only then is the body read as JSON.
    if cacheable && answer.status == 200 {
        if let Ok(parsed) = serde_json::from_slice::<Value>(&answer.body) {
            store(&state, key, &method_name, &path, &token_hash, &parsed);
        }
    }
    relay(status, answer)
}

/// Response headers passed back to the caller; the rest (hop-by-hop headers, the length,
/// which is recomputed for the body we send, the server's `Date`, ...) stays behind.
const RELAYED_HEADERS: [&str; 4] = ["content-type", "cache-control", "retry-after", "location"];

/// The server's answer as the caller gets it: same status, same body bytes, the headers of
/// [`RELAYED_HEADERS`] and every `X-Vault-*` one, unless `Connection` names it hop-by-hop.
fn relay(status: StatusCode, answer: RawAnswer) -> Response {
    let hop_by_hop: Vec<String> = answer
        .headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut resp = Response::new(Body::from(answer.body));
    *resp.status_mut() = status;
    let out = resp.headers_mut();
    for (name, value) in &answer.headers {
        let n = name.as_str();
        let relayed = RELAYED_HEADERS.contains(&n) || n.starts_with("x-vault-");
        if relayed && !hop_by_hop.iter().any(|h| h == n) {
            out.append(name.clone(), value.clone());
        }
    }
    resp
}

/// The server accepted the request (Vault's clients treat 2xx and 3xx so).
fn accepted(answer: &RawAnswer) -> bool {
    (200..400).contains(&answer.status)
}

/// `POST /agent/v1/cache-clear {"type", "value"}`, Vault Agent's manual eviction.
pub(super) async fn cache_clear(State(state): State<Arc<ProxyState>>, body: Bytes) -> Response {
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let value = input["value"].as_str().unwrap_or_default();
    let removed = match input["type"].as_str().unwrap_or_default() {
        "all" => state.cache.clear(),
        "lease" if !value.is_empty() => state.cache.evict_lease(value),
        "token" if !value.is_empty() => state.cache.evict_token(&cache::token_hash(Some(value))),
        "request_path" if !value.is_empty() => state
            .cache
            .evict_path_prefix(value.trim_start_matches("/v1/").trim_start_matches('/')),
        _ => {
            return errors(
                StatusCode::BAD_REQUEST,
                vec!["type must be one of all, lease, token, request_path, with a value".into()],
            )
        }
    };
    debug!(removed, "cache cleared by request");
    StatusCode::OK.into_response()
}

/// `GET /agent/v1/health`: each provider's health, probed now. 200 when all are healthy,
/// 503 otherwise, so a load balancer or a readiness probe can use it as is.
pub(super) async fn health(State(state): State<Arc<ProxyState>>) -> Response {
    let Some(providers) = &state.providers else {
        return (
            StatusCode::OK,
            Json(json!({ "healthy": true, "providers": {} })),
        )
            .into_response();
    };
    let report = providers.health().await;
    let healthy = report.iter().all(|(_, h)| h.healthy);
    let providers: serde_json::Map<String, Value> = report
        .into_iter()
        .map(|(name, h)| (name, json!({ "healthy": h.healthy, "detail": h.detail })))
        .collect();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "healthy": healthy, "providers": providers })),
    )
        .into_response()
}

/// Anything outside `/v1/` and `/agent/v1/`.
pub(super) async fn not_found() -> Response {
    errors(StatusCode::NOT_FOUND, Vec::new())
}

fn errors(status: StatusCode, errors: Vec<String>) -> Response {
    (status, Json(json!({ "errors": errors }))).into_response()
}

/// The request's own token, else the agent's (waiting for its first login), else none.
async fn request_token(
    state: &ProxyState,
    headers: &HeaderMap,
) -> Result<(Option<Sensitive<String>>, TokenSource), Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let own = header("x-vault-token")
        .or_else(|| header("x-agent-token"))
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")));
    if let Some(t) = own {
        return Ok((
            Some(Sensitive::new(t.trim().to_string())),
            TokenSource::Request,
        ));
    }
    if !state.config.use_auto_auth_token {
        return Ok((None, TokenSource::None));
    }
    let mut rx = state.token.clone();
    let waited = tokio::time::timeout(AGENT_TOKEN_WAIT, rx.wait_for(Option::is_some)).await;
    match waited {
        Ok(Ok(token)) => Ok((token.clone(), TokenSource::Agent)),
        _ => Err(errors(
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["the agent has no token yet".into()],
        )),
    }
}

/// `X-Vault-*` headers but the token (the client sets it), and the body's `Content-Type`
/// (a PATCH must say it is a JSON merge patch).
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            (n.starts_with("x-vault-") && n != "x-vault-token") || n == "content-type"
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// Caches `answer` when it is leased, or a KV v2 read.
fn store(
    state: &ProxyState,
    key: String,
    method: &str,
    path: &str,
    token_hash: &str,
    answer: &Value,
) {
    let now = Instant::now();
    let lease_id = answer["lease_id"].as_str().unwrap_or_default();
    let lease_duration = Duration::from_secs(answer["lease_duration"].as_u64().unwrap_or(0));
    let entry = if !lease_id.is_empty() && !lease_duration.is_zero() {
        Entry {
            body: answer.clone(),
            token_hash: token_hash.to_string(),
            path: path.to_string(),
            lease: Some((lease_id.to_string(), now + lease_duration)),
            kv: false,
            fresh_until: now + cache::lease_margin(lease_duration),
        }
    } else if method == "GET" && !state.config.kv_ttl.is_zero() && cache::is_kv_v2_read(answer) {
        Entry {
            body: answer.clone(),
            token_hash: token_hash.to_string(),
            path: path.to_string(),
            lease: None,
            kv: true,
            fresh_until: now + state.config.kv_ttl,
        }
    } else {
        return;
    };
    state.cache.insert(key, entry, now);
}

/// Drops what a request made stale: KV reads of a path written, leases revoked, a token's
/// answers when the token is revoked; moves a lease renewed through the proxy. `answer` is
/// `None` when the server could not be reached.
fn apply_evictions(
    state: &ProxyState,
    method: &str,
    path: &str,
    request_body: &[u8],
    token_hash: &str,
    answer: Option<&RawAnswer>,
) {
    if matches!(method, "PUT" | "POST" | "PATCH" | "DELETE") {
        // Dropped whatever the server said: a failed write may still have changed the secret.
        state.cache.evict_kv(&cache::kv_paths_touched_by(path));
    }
    let Some(answer) = answer.filter(|a| accepted(a)) else {
        return;
    };
    if !matches!(method, "PUT" | "POST") {
        return;
    }
    // The server accepted the body, so it was JSON (or empty); only revocations read it.
    let body: Option<Value> = serde_json::from_slice(request_body).ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let tail = |prefixes: &[&str]| {
        prefixes
            .iter()
            .find_map(|p| path.strip_prefix(p))
            .map(str::to_string)
    };
    let removed = if path == "sys/leases/revoke" || path == "sys/revoke" {
        state.cache.evict_lease(field("lease_id"))
    } else if let Some(id) = tail(&["sys/leases/revoke/", "sys/revoke/"]) {
        state.cache.evict_lease(&id)
    } else if let Some(prefix) = tail(&[
        "sys/leases/revoke-prefix/",
        "sys/leases/revoke-force/",
        "sys/revoke-prefix/",
        "sys/revoke-force/",
    ]) {
        state.cache.evict_lease_prefix(&prefix)
    } else if path == "auth/token/revoke" || path == "auth/token/revoke-orphan" {
        let token = field("token");
        if token.is_empty() {
            0
        } else {
            state.cache.evict_token(&cache::token_hash(Some(token)))
        }
    } else if path == "auth/token/revoke-self" {
        state.cache.evict_token(token_hash)
    } else {
        if path == "sys/leases/renew" || path == "sys/renew" {
            let renewed = serde_json::from_slice::<Value>(&answer.body).ok().map(|a| {
                (
                    a["lease_id"].as_str().unwrap_or_default().to_string(),
                    a["lease_duration"].as_u64().unwrap_or(0),
                )
            });
            if let Some((id, secs)) = renewed.filter(|(id, secs)| !id.is_empty() && *secs > 0) {
                state
                    .cache
                    .extend_lease(&id, Duration::from_secs(secs), Instant::now());
            }
        }
        0
    };
    if removed > 0 {
        debug!(path = %path, removed, "cache entries evicted");
    }
}

/// A request sent with the agent's token got 403: if the token itself is dead (rather than
/// denied this path), ask auto-auth for a new one. One check at a time.
fn check_agent_token(state: &Arc<ProxyState>, token: &Sensitive<String>) {
    let Some(auth) = state.auth.clone() else {
        return;
    };
    if state.checking_token.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = state.clone();
    let token = token.clone();
    tokio::spawn(async move {
        let lookup = state
            .client
            .with_token(token.clone())
            .request("GET", "auth/token/lookup-self", None, &[])
            .await;
        let dead = matches!(&lookup, Err(e) if e.kind == ClientErrorKind::Api && matches!(e.status, Some(401 | 403)));
        // Only when the dead token is still the current one: a new login may have happened.
        if dead && state.token.borrow().as_ref() == Some(&token) {
            warn!("the agent's token was refused, logging in again");
            auth.reauthenticate();
        }
        state.checking_token.store(false, Ordering::Release);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_keeps_status_body_and_the_headers_that_matter() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("content-type", "text/plain"),
            ("content-length", "999"),
            ("retry-after", "3"),
            ("cache-control", "no-store"),
            ("location", "/v1/elsewhere"),
            ("x-vault-warning", "one"),
            ("x-vault-hop", "dropped"),
            ("connection", "keep-alive, X-Vault-Hop"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers.append("x-vault-warning", HeaderValue::from_static("two"));
        let answer = RawAnswer {
            status: 429,
            headers,
            body: Bytes::from_static(b"slow down"),
        };
        let resp = relay(StatusCode::TOO_MANY_REQUESTS, answer);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let mut kept: Vec<String> = resp
            .headers()
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                "cache-control: no-store",
                "content-type: text/plain",
                "location: /v1/elsewhere",
                "retry-after: 3",
                "x-vault-warning: one",
                "x-vault-warning: two",
            ]
        );
    }
}
