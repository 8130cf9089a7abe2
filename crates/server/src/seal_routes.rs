//! Endpoints that answer while sealed: `sys/health`, `sys/seal-status`, `sys/init`,
//! `sys/unseal`. Their bodies are bare JSON objects, not the envelope, as in Vault.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrethub_common::serde_helpers as sh;
use secrethub_core::{Core, CoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::decode;
use crate::envelope::{core_error, error_body};
use crate::routes::read_body;

/// `GET/HEAD sys/health`: 200 active, 429 standby, 501 not initialised, 503 sealed; the
/// codes can be overridden with Vault's query parameters (`sealedcode=200`, ...).
pub(crate) async fn health(State(core): State<Arc<Core>>, req: Request) -> Response {
    let q = decode::query_map(req.uri().query());
    let initialized = match core.is_initialized().await {
        Ok(i) => i,
        Err(e) => return core_error(&e),
    };
    let sealed = core.is_sealed();
    let code = |name: &str, default: u16| {
        q.get(name)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(default)
    };
    let status = if !initialized {
        code("uninitcode", 501)
    } else if sealed {
        code("sealedcode", 503)
    } else {
        code("activecode", 200)
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = health_body(initialized, sealed);
    if req.method() == Method::HEAD {
        return status.into_response();
    }
    (status, Json(body)).into_response()
}

pub(crate) fn health_body(initialized: bool, sealed: bool) -> Value {
    json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": secrethub_common::now_unix(),
        "version": env!("CARGO_PKG_VERSION"),
        "enterprise": false,
        "cluster_name": "secrethub",
        "cluster_id": "",
    })
}

/// `GET sys/leader`: a single node is never in HA mode (`bao status` asks for this).
pub(crate) async fn leader() -> Response {
    Json(json!({
        "ha_enabled": false,
        "is_self": false,
        "active_time": "0001-01-01T00:00:00Z",
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": false,
        "performance_standby_last_remote_wal": 0,
    }))
    .into_response()
}

pub(crate) async fn seal_status(State(core): State<Arc<Core>>) -> Response {
    match core.seal_status().await {
        Ok(s) => Json(s).into_response(),
        Err(e) => core_error(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InitInput {
    #[serde(deserialize_with = "sh::uint")]
    secret_shares: u64,
    #[serde(deserialize_with = "sh::uint")]
    secret_threshold: u64,
    pgp_keys: Option<Value>,
    root_token_pgp_key: Option<String>,
}

/// `GET sys/init` says whether the server is initialised; `PUT` initialises it.
pub(crate) async fn init(State(core): State<Arc<Core>>, req: Request) -> Response {
    if req.method() == Method::GET {
        return match core.is_initialized().await {
            Ok(i) => Json(json!({ "initialized": i })).into_response(),
            Err(e) => core_error(&e),
        };
    }
    if !matches!(req.method().as_str(), "PUT" | "POST") {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            vec!["unsupported operation".into()],
        );
    }
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let input: InitInput = match decode::json_input(&bytes) {
        Ok(i) => i,
        Err(e) => return core_error(&e),
    };
    if input.pgp_keys.is_some()
        || input
            .root_token_pgp_key
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    {
        return core_error(&CoreError::bad_request(
            "PGP-encrypted key shares are not supported",
        ));
    }
    let (Ok(shares), Ok(threshold)) = (
        u8::try_from(input.secret_shares),
        u8::try_from(input.secret_threshold),
    ) else {
        return core_error(&CoreError::bad_request(
            "secret_shares and secret_threshold must be at most 255",
        ));
    };
    match core.initialize(shares, threshold, None).await {
        Ok(r) => Json(json!({
            "keys": r.keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "keys_base64": r.keys_base64.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "root_token": r.root_token.as_str(),
        }))
        .into_response(),
        Err(e) => core_error(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UnsealInput {
    key: Option<String>,
    #[serde(deserialize_with = "sh::boolean")]
    reset: bool,
    #[serde(deserialize_with = "sh::boolean")]
    migrate: bool,
}

/// `PUT sys/unseal` with `key` (hex or base64) or `reset`.
pub(crate) async fn unseal(State(core): State<Arc<Core>>, req: Request) -> Response {
    if !matches!(req.method().as_str(), "PUT" | "POST") {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            vec!["unsupported operation".into()],
        );
    }
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let input: UnsealInput = match decode::json_input(&bytes) {
        Ok(i) => i,
        Err(e) => return core_error(&e),
    };
    if input.migrate {
        return core_error(&CoreError::bad_request("seal migration is not supported"));
    }
    match core.unseal(input.key.as_deref(), input.reset).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => core_error(&e),
    }
}
