//! The axum application: the seal endpoints that work while sealed, the seed's `/health`,
//! `/api/v1/secrets/*` and `/api/v1/auth/login`, and `/v1/*` for everything else through the
//! core pipeline. Every answer carries `Cache-Control: no-store`, as Vault's do.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use secrethub_core::{Core, CoreError, CoreRequest};
use secrethub_engine::RawInput;
use tower_http::catch_panic::CatchPanicLayer;

use crate::envelope::{core_error, envelope, error_body};
use crate::{decode, seal_routes, seed_login, seed_routes, MAX_REQUEST_BYTES};

/// The whole HTTP application over `core`.
pub fn app(core: Arc<Core>) -> Router {
    Router::new()
        .route(
            "/v1/sys/health",
            get(seal_routes::health).head(seal_routes::health),
        )
        .route("/v1/sys/seal-status", get(seal_routes::seal_status))
        .route("/v1/sys/init", any(seal_routes::init))
        .route("/v1/sys/unseal", any(seal_routes::unseal))
        .route("/v1/sys/leader", get(seal_routes::leader))
        .route("/health", get(seed_routes::health))
        .route("/api/v1/secrets/{*path}", any(seed_routes::secrets))
        .route("/api/v1/auth/login", any(seed_login::login))
        .route("/v1/secrets/dynamic/{role}", any(seed_routes::dynamic))
        .fallback(api)
        .layer(CatchPanicLayer::custom(|_| {
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec!["internal error".into()],
            )
        }))
        // Outermost, so panics and every error answer carry it too.
        .layer(axum::middleware::map_response(no_store))
        .with_state(core)
}

/// Vault marks every API answer `Cache-Control: no-store`: tokens and secrets must not be
/// kept by a proxy or a browser cache.
async fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// Reads a body up to the limit; a larger one is a 413 in Vault's error shape.
pub(crate) async fn read_body(body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                vec![format!(
                    "request body too large: the limit is {MAX_REQUEST_BYTES} bytes"
                )],
            )
        })
}

pub(crate) fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// Decodes any `/v1/...` request and runs it through the core pipeline.
async fn api(State(core): State<Arc<Core>>, req: Request) -> Response {
    let Some(path) = req.uri().path().strip_prefix("/v1/").map(str::to_string) else {
        return error_body(StatusCode::NOT_FOUND, Vec::new());
    };
    let query = decode::query_map(req.uri().query());
    let Some(method) = decode::method(req.method(), &query) else {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            vec!["unsupported operation".into()],
        );
    };
    let remote = decode::remote(peer(&req));
    let token = decode::token(req.headers());
    let wrap_ttl = match decode::wrap_ttl(req.headers()) {
        Ok(w) => w,
        Err(e) => return core_error(&e),
    };
    let raw_type = decode::raw_content_type(req.headers());
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut raw_body = None;
    let body = match method {
        secrethub_core::Method::Write if raw_type.is_some() && !bytes.is_empty() => {
            raw_body = raw_type.map(|content_type| RawInput {
                content_type,
                bytes: bytes.to_vec(),
            });
            secrethub_common::JsonMap::new()
        }
        secrethub_core::Method::Write | secrethub_core::Method::Patch => {
            match decode::json_body(&bytes) {
                Ok(b) => b,
                Err(e) => return core_error(&e),
            }
        }
        _ => {
            let mut q = query;
            q.remove("list");
            q
        }
    };
    let path = match percent_decode_path(&path) {
        Some(p) => p,
        None => return core_error(&CoreError::bad_request("invalid request path")),
    };
    let id = secrethub_common::random_uuid();
    let creq = CoreRequest {
        id: id.clone(),
        method,
        path,
        body,
        token,
        remote_addr: remote,
        wrap_ttl,
        lease_metadata: Default::default(),
        raw_body,
    };
    match core.handle(creq).await {
        Ok(resp) => envelope(&id, resp),
        Err(e) => core_error(&e),
    }
}

/// The URL path is percent-decoded once, as Vault does.
fn percent_decode_path(p: &str) -> Option<String> {
    if !p.contains('%') {
        return Some(p.to_string());
    }
    let bytes = p.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = p.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
