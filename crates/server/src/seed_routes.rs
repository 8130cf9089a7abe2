//! The seed product documents' endpoints: `/health` and `/api/v1/secrets/{path}`
//! (GET/PUT mapped to KV v2 at `secret/`).

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
/// JSON body as the secret's data (or `{"data": ...}` as KV v2 takes it).
pub(crate) async fn secrets(
    State(core): State<Arc<Core>>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
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
    };
    match core.handle(creq).await {
        Ok(resp) => envelope(&id, resp),
        Err(e) => core_error(&e),
    }
}
