//! Request bodies that are not JSON (an OCSP request in DER, say) and answer headers (ACME's
//! `Replay-Nonce`), through the real app with an engine of the tests' own (`test-raw-input`):
//! a row flagged `raw_body` gets the bytes and their content type as sent; any other row
//! refuses such a body with a 400 and the engine never sees it; JSON, form and text bodies are
//! read as JSON everywhere, as Vault reads them; the bytes reach audit devices only HMACed;
//! an answer header the server sets itself is refused with a 500.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use secrethub_engine::{
    Engine, EngineError, JsonMap, MountContext, Operation, PathEntry, PathTable, Paths, Request,
    Response,
};
use serde_json::{json, Value};

use crate::harness::TestServer;

/// An OCSP-request-like body: not UTF-8, around a canary the audit file must not show.
const CANARY: &[u8] = b"raw-input-canary-71f3";

fn der() -> Vec<u8> {
    let mut body = vec![0x30, 0x81, 0xff, 0x00];
    body.extend_from_slice(CANARY);
    body.extend_from_slice(&[0xfe, 0x0a]);
    body
}

#[derive(Clone, Copy)]
enum Route {
    Ocsp,
    Plain,
    BadHeader,
}

struct RawInputEngine {
    paths: PathTable<Route>,
}

pub(crate) fn factory(_: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    use Operation::Update;
    let paths = PathTable::new()
        .entry(
            PathEntry::new("ocsp", Route::Ocsp, &[Update], "takes DER")
                .unauthenticated()
                .raw_body(),
        )
        .add("plain", Route::Plain, &[Update], "takes JSON only")
        .entry(
            PathEntry::new(
                "bad-header",
                Route::BadHeader,
                &[Update],
                "a framing header",
            )
            .raw_body(),
        );
    Ok(Arc::new(RawInputEngine { paths }))
}

#[async_trait]
impl Engine for RawInputEngine {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, _) = self.paths.route(&req.path, req.op)?;
        Ok(match (route, &req.raw_body) {
            // The bytes back, reversed, with the content type they came with.
            (Route::Ocsp, Some(raw)) => {
                let mut body = raw.bytes.clone();
                body.reverse();
                Response::raw("application/ocsp-response", body)
                    .with_header("Replay-Nonce", "nonce-1")
                    .with_header("Link", "<https://example.test/dir>;rel=\"index\"")
                    .with_header("X-Seen-Type", raw.content_type.clone())
            }
            (_, None) => {
                let mut data = JsonMap::new();
                data.insert("json".into(), Value::Object(req.body.clone()));
                Response::data(data)
            }
            (Route::Plain, Some(_)) => {
                return Err(EngineError::Internal(anyhow::anyhow!(
                    "a raw body reached a JSON-only row"
                )))
            }
            (Route::BadHeader, Some(_)) => {
                Response::raw("text/plain", "x").with_header("Content-Length", "1")
            }
        })
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.paths)
    }
}

async fn server() -> TestServer {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/rawin",
            Some(json!({"type": "test-raw-input"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

/// A POST with `content_type` and `body`; the status, headers and body bytes as they came.
async fn post(
    t: &TestServer,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let headers = [("content-type", content_type)];
    t.exchange("POST", path, token, &headers, body).await
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"))
}

#[tokio::test]
async fn a_raw_body_row_gets_the_bytes_and_answers_with_headers() {
    let t = server().await;
    let (_dir, audit_file) = t.audit_to_file().await;

    // No token needed on this row; the body arrives as sent.
    let (s, h, body) = post(&t, "rawin/ocsp", None, "application/ocsp-request", der()).await;
    assert_eq!(s, StatusCode::OK, "{:?}", String::from_utf8_lossy(&body));
    let mut expected = der();
    expected.reverse();
    assert_eq!(body, expected);
    assert_eq!(h[header::CONTENT_TYPE], "application/ocsp-response");
    assert_eq!(h["replay-nonce"], "nonce-1");
    assert_eq!(h["link"], "<https://example.test/dir>;rel=\"index\"");
    assert_eq!(h["x-seen-type"], "application/ocsp-request");

    // The same row still reads a JSON body as JSON.
    let (s, _, body) = post(
        &t,
        "rawin/ocsp",
        None,
        "application/json",
        br#"{"a":"b"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&body)["data"]["json"], json!({"a": "b"}));

    // The request's bytes reach the audit file HMACed, never in clear nor as base64.
    let audit = std::fs::read_to_string(&audit_file).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der());
    assert!(
        !audit.contains(&b64),
        "the raw request body is in the audit file"
    );
    assert!(!audit.contains(std::str::from_utf8(CANARY).unwrap()));
    let entry = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "request" && e["request"]["path"] == "rawin/ocsp")
        .expect("the raw request is audited");
    let data = &entry["request"]["data"];
    assert!(data["http_raw_body"]
        .as_str()
        .is_some_and(|v| v.starts_with("hmac-sha256:")));
    assert!(data["http_content_type"]
        .as_str()
        .is_some_and(|v| v.starts_with("hmac-sha256:")));
}

#[tokio::test]
async fn other_rows_refuse_a_raw_body_and_read_json_form_and_text_as_json() {
    let t = server().await;
    let root = t.root.clone();
    let (s, _, body) = post(&t, "rawin/plain", Some(&root), "application/pkcs10", der()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        json_of(&body),
        json!({"errors": ["this path takes a JSON body, not \"application/pkcs10\""]})
    );
    // Built-in paths too.
    let (s, _, _) = post(
        &t,
        "sys/policies/acl/x",
        Some(&root),
        "application/octet-stream",
        b"policy".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/jose+json",
        "application/x-www-form-urlencoded",
        "text/plain",
    ] {
        let (s, _, body) = post(
            &t,
            "rawin/plain",
            Some(&root),
            content_type,
            br#"{"k":"v"}"#.to_vec(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{content_type}");
        assert_eq!(json_of(&body)["data"]["json"], json!({"k": "v"}));
    }

    // An answer header only the server may set is the engine's bug: a 500.
    let (s, _, body) = post(
        &t,
        "rawin/bad-header",
        Some(&root),
        "application/x-raw",
        der(),
    )
    .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_of(&body), json!({"errors": ["internal error"]}));
}
