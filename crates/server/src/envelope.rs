//! Rendering: Vault's response envelope, and errors as `{"errors": [...]}` with Vault's
//! status codes. The one place an `ErrorKind` becomes an HTTP status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrethub_common::ErrorKind;
use secrethub_core::{CoreError, CoreResponse};
use serde_json::{json, Value};

/// The status Vault answers for an error kind.
pub(crate) fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest | ErrorKind::Conflict => StatusCode::BAD_REQUEST,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::UnsupportedOperation => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Sealed | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"errors": [...]}` with the given status.
pub(crate) fn error_body(status: StatusCode, errors: Vec<String>) -> Response {
    (status, Json(json!({ "errors": errors }))).into_response()
}

/// A core error as Vault renders it; internal details go to the log, not the client.
pub(crate) fn core_error(e: &CoreError) -> Response {
    if let CoreError::Engine(secrethub_engine::EngineError::NotFoundWith(data)) = e {
        // Vault's 404 for a deleted KV version is a full envelope carrying the metadata.
        let body = json!({
            "request_id": secrethub_common::random_uuid(),
            "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": Value::Object((**data).clone()),
            "wrap_info": null, "warnings": null, "auth": null,
        });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    let status = status_for(e.kind());
    match e.kind() {
        // Expected while sealed, and polling clients would fill the log with one line each.
        ErrorKind::Sealed => tracing::debug!("request refused: sealed"),
        _ if status.is_server_error() => {
            tracing::error!(error = ?anyhow_chain(e), "request failed")
        }
        _ => {}
    }
    error_body(status, e.client_messages())
}

fn anyhow_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Vault's envelope (202 for an operation reported as started), 204 when there is nothing
/// to say, or an engine's raw body as it is.
pub(crate) fn envelope(request_id: &str, resp: CoreResponse) -> Response {
    if let Some(raw) = resp.raw {
        return raw_body(raw);
    }
    if resp.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let status = if resp.accepted {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let lease = resp.lease.unwrap_or_default();
    let mut body = json!({
        "request_id": request_id,
        "lease_id": lease.lease_id,
        "renewable": lease.renewable,
        "lease_duration": lease.duration,
        "data": resp.data.map(Value::Object).unwrap_or(Value::Null),
        "wrap_info": resp.wrap_info.map(|w| serde_json::to_value(w).unwrap_or_default()).unwrap_or(Value::Null),
        "warnings": if resp.warnings.is_empty() { Value::Null } else { json!(resp.warnings) },
        "auth": resp.auth.map(|a| serde_json::to_value(a).unwrap_or_default()).unwrap_or(Value::Null),
        "mount_type": resp.mount_type,
    });
    if let (Some(top), Value::Object(m)) = (resp.top_level, &mut body) {
        for (k, v) in top {
            m.entry(k).or_insert(v);
        }
    }
    (status, Json(body)).into_response()
}

/// Headers an engine's raw answer may not set: the framing and the content type are the
/// server's to set.
const RESERVED_HEADERS: &[header::HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
];

/// An engine's raw answer: its status, its `Content-Type`, its extra headers, its bytes. A
/// status, content type or header HTTP cannot carry (or one the server sets itself) is the
/// engine's bug: a 500, with the reason in the log.
fn raw_body(raw: secrethub_engine::RawBody) -> Response {
    let status = StatusCode::from_u16(raw.status)
        .ok()
        .filter(|s| !s.is_informational());
    let content_type = HeaderValue::from_str(&raw.content_type);
    let mut headers = header::HeaderMap::new();
    let mut headers_ok = true;
    for (name, value) in &raw.headers {
        match (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) if !RESERVED_HEADERS.contains(&n) => {
                headers.append(n, v);
            }
            _ => headers_ok = false,
        }
    }
    match (status, content_type) {
        (Some(status), Ok(content_type)) if headers_ok => {
            headers.insert(header::CONTENT_TYPE, content_type);
            (status, headers, raw.body).into_response()
        }
        _ => {
            tracing::error!(
                status = raw.status,
                content_type = %raw.content_type.escape_debug(),
                headers = raw.headers.len(),
                "an engine answered a raw body HTTP cannot carry"
            );
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec!["internal error".into()],
            )
        }
    }
}
