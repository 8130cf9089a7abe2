//! The seed product documents' endpoints: `/health`, `/api/v1/secrets/{path}` (GET/PUT
//! mapped to KV v2 at `secret/`; `POST {path}/rotate` in `seed_rotate.rs`) and
//! `/v1/secrets/dynamic/{role}`. `/api/v1/auth/login` is in `seed_login.rs`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrethub_core::{Core, CoreError, CoreRequest};
use serde_json::Value;

use crate::decode;
use crate::envelope::{core_error, envelope, error_body};
use crate::routes::{peer, read_body};
use crate::seal_routes::health_body;
use crate::seed_rotate;

/// `/health`: the same facts and status codes as `sys/health`, plus a `status` word.
pub(crate) async fn health(State(core): State<Arc<Core>>) -> Response {
    let initialized = core.is_initialized().await.unwrap_or(false);
    let sealed = core.is_sealed();
    let (status, word) = match (initialized, sealed) {
        (false, _) => (StatusCode::NOT_IMPLEMENTED, "uninitialized"),
        (true, true) => (StatusCode::SERVICE_UNAVAILABLE, "sealed"),
        (true, false) => (StatusCode::OK, "ok"),
    };
    let mut body = health_body(initialized, sealed);
    if let Value::Object(m) = &mut body {
        m.insert("status".into(), Value::from(word));
    }
    (status, Json(body)).into_response()
}

/// `GET /api/v1/secrets/{path}` reads `secret/data/{path}`; `PUT` (or `POST`) writes the
/// JSON body as the secret's data (or `{"data": ...}` as KV v2 takes it); `POST
/// {path}/rotate` rotates what lives at `{path}`.
pub(crate) async fn secrets(
    State(core): State<Arc<Core>>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
    if *req.method() == Method::POST {
        if let Some(target) = path.strip_suffix("/rotate") {
            return seed_rotate::rotate(core, target.to_string(), req).await;
        }
    }
    let method = match *req.method() {
        Method::GET => secrethub_core::Method::Get,
        Method::PUT | Method::POST => secrethub_core::Method::Write,
        Method::DELETE => secrethub_core::Method::Delete,
        _ => {
            return error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                vec!["unsupported operation".into()],
            )
        }
    };
    let token = decode::token(req.headers());
    let remote = decode::remote(peer(&req));
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut body = match method {
        secrethub_core::Method::Write => match decode::json_body(&bytes) {
            Ok(b) => b,
            Err(e) => return core_error(&e),
        },
        _ => Default::default(),
    };
    if method == secrethub_core::Method::Write && !body.contains_key("data") {
        let mut wrapped = serde_json::Map::new();
        wrapped.insert("data".into(), Value::Object(body));
        body = wrapped;
    }
    if path.split('/').any(|s| s == ".." || s.is_empty()) {
        return core_error(&CoreError::bad_request("invalid secret path"));
    }
    let id = secrethub_common::random_uuid();
    let creq = CoreRequest {
        id: id.clone(),
        method,
        path: format!("secret/data/{path}"),
        body,
        token,
        remote_addr: remote,
        wrap_ttl: None,
        lease_metadata: Default::default(),
        raw_body: None,
    };
    match core.handle(creq).await {
        Ok(resp) => envelope(&id, resp),
        Err(e) => core_error(&e),
    }
}

/// `POST /v1/secrets/dynamic/{role}` with `{"ttl": 3600, "metadata": {...}}`: a credential
/// from the database engine's role of that name (mounted at `database/`), in the seed's shape
/// `{lease_id, credentials{username,password,host,port,database}, lease_duration, renewable}`.
/// The metadata is stored on the lease (shown by `sys/leases/lookup`).
pub(crate) async fn dynamic(
    State(core): State<Arc<Core>>,
    Path(role): Path<String>,
    req: Request,
) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT) {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            vec!["unsupported operation".into()],
        );
    }
    if role.is_empty() || role.contains('/') || role == ".." {
        return core_error(&CoreError::bad_request("invalid role name"));
    }
    let token = decode::token(req.headers());
    let remote = decode::remote(peer(&req));
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let input = match decode::json_body(&bytes) {
        Ok(b) => b,
        Err(e) => return core_error(&e),
    };
    let mut metadata = std::collections::BTreeMap::new();
    match input.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                metadata.insert(k.clone(), s);
            }
        }
        Some(_) => return core_error(&CoreError::bad_request("metadata must be an object")),
    }
    let mut body = serde_json::Map::new();
    if let Some(ttl) = input.get("ttl") {
        body.insert("ttl".into(), ttl.clone());
    }
    body.insert("_seed".into(), Value::Bool(true));
    let id = secrethub_common::random_uuid();
    let creq = CoreRequest {
        id: id.clone(),
        method: secrethub_core::Method::Get,
        path: format!("database/creds/{role}"),
        body,
        token,
        remote_addr: remote,
        wrap_ttl: None,
        lease_metadata: metadata,
        raw_body: None,
    };
    match core.handle(creq).await {
        Ok(resp) => {
            let lease = resp.lease.unwrap_or_default();
            let data = resp.data.unwrap_or_default();
            let field = |k: &str| data.get(k).cloned().unwrap_or(Value::Null);
            Json(serde_json::json!({
                "lease_id": lease.lease_id,
                "credentials": {
                    "username": field("username"),
                    "password": field("password"),
                    "host": field("host"),
                    "port": field("port"),
                    "database": field("database"),
                },
                "lease_duration": lease.duration,
                "renewable": lease.renewable,
            }))
            .into_response()
        }
        Err(e) => core_error(&e),
    }
}
