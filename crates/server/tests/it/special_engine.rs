//! What an engine declares on its path table and in its answers, through the real app: a
//! row served without a token, a row that needs `sudo`, and raw bodies (not JSON) that
//! reach the client byte for byte with their content type, are wrapped as Vault wraps them,
//! and never reach an audit device in clear. The engine (`test-special`) is defined here.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use secrethub_engine::{
    Engine, EngineError, MountContext, Operation, PathEntry, PathTable, Paths, Request, Response,
};
use serde_json::{json, Value};

use crate::harness::TestServer;

/// What `ca/pem` answers: text that looks like a certificate, with a canary in it.
const PEM: &str =
    "-----BEGIN CERTIFICATE-----\nspecial-pem-canary-5c1e\n-----END CERTIFICATE-----\n";
const PEM_TYPE: &str = "application/pem-certificate-chain";
/// What `crl` answers: bytes that are not UTF-8, around a canary.
const DER_CANARY: &[u8] = b"special-der-canary-9a4d";
const DER_TYPE: &str = "application/pkix-crl";

fn der() -> Vec<u8> {
    let mut body = vec![0x30, 0x82, 0x00, 0xff, 0xfe, 0x00];
    body.extend_from_slice(DER_CANARY);
    body.extend_from_slice(&[0x80, 0x0d, 0x0a, 0x00]);
    body
}

#[derive(Clone, Copy)]
enum Route {
    CaPem,
    Crl,
    Root,
    Config,
    Created,
    BadType,
}

struct Special {
    paths: PathTable<Route>,
}

pub(crate) fn factory(_: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    use Operation::{Delete, Read, Update};
    let paths = PathTable::new()
        .entry(PathEntry::new("ca/pem", Route::CaPem, &[Read], "the CA as PEM").unauthenticated())
        .add("crl", Route::Crl, &[Read], "a DER body")
        .entry(PathEntry::new("root", Route::Root, &[Update, Delete], "sudo only").sudo())
        .add("config", Route::Config, &[Read], "plain JSON")
        .add("created", Route::Created, &[Update], "a raw 201")
        .add(
            "bad-type",
            Route::BadType,
            &[Read],
            "a content type HTTP cannot carry",
        );
    Ok(Arc::new(Special { paths }))
}

#[async_trait]
impl Engine for Special {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, _) = self.paths.route(&req.path, req.op)?;
        let mut data = secrethub_engine::JsonMap::new();
        Ok(match route {
            Route::CaPem => Response::raw(PEM_TYPE, PEM),
            Route::Crl => Response::raw(DER_TYPE, der()),
            Route::Root => {
                data.insert("op".into(), req.op.as_str().into());
                Response::data(data)
            }
            Route::Config => {
                data.insert("caller".into(), req.caller.display_name.into());
                Response::data(data)
            }
            Route::Created => Response::raw_with_status(201, "application/json", "{\"ok\":1}"),
            Route::BadType => Response::raw("text/plain\r\nx-injected: 1", "no"),
        })
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.paths)
    }
}

/// A dev server with `special/` mounted.
async fn server() -> TestServer {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/special",
            Some(json!({"type": "test-special"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

/// One request without a body; the status, headers and body bytes as they came.
async fn bytes(
    t: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    t.exchange(method, path, token, headers, Vec::new()).await
}

fn content_type(h: &HeaderMap) -> &str {
    h.get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn unauthenticated_row_answers_without_a_token() {
    let t = server().await;
    let (s, h, body) = bytes(&t, "GET", "special/ca/pem", None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(content_type(&h), PEM_TYPE);
    assert_eq!(body, PEM.as_bytes());
    // A token that is no token does not make it refused, as on Vault's unauthenticated paths.
    let (s, _, body) = bytes(&t, "GET", "special/ca/pem", Some("hvs.bogus"), &[]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, PEM.as_bytes()));
    // The rows without the flag still need a token.
    for path in ["special/config", "special/crl"] {
        let (s, v) = t.req("GET", path, None, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v, json!({"errors": ["permission denied"]}));
    }
    let (s, v) = t.root("GET", "special/config", None).await;
    assert_eq!(
        (s, &v["data"]),
        (StatusCode::OK, &json!({"caller": "root"}))
    );
}

#[tokio::test]
async fn sudo_row_needs_sudo() {
    let t = server().await;
    let all_but_sudo =
        r#"path "special/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#;
    let with_sudo = r#"path "special/*" { capabilities = ["update", "delete", "sudo"] }"#;
    for (name, policy) in [("no-sudo", all_but_sudo), ("sudo", with_sudo)] {
        let (s, v) = t
            .root(
                "PUT",
                &format!("sys/policies/acl/{name}"),
                Some(json!({ "policy": policy })),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let no_sudo = t.token_with(&["no-sudo"]).await;
    let sudo = t.token_with(&["sudo"]).await;
    for method in ["PUT", "DELETE"] {
        let (s, v) = t.req(method, "special/root", Some(&no_sudo), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} without sudo: {v}");
        assert_eq!(v, json!({"errors": ["permission denied"]}));
        let (s, v) = t.req(method, "special/root", None, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} without a token: {v}");
        for tok in [&t.root, &sudo] {
            let (s, v) = t.req(method, "special/root", Some(tok), None).await;
            assert_eq!(s, StatusCode::OK, "{method} with sudo: {v}");
            assert_eq!(v["data"]["op"], json!(method_op(method)));
        }
    }
    // The same token passes on the rows without the flag.
    let (s, v) = t.req("GET", "special/config", Some(&no_sudo), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, _) = bytes(&t, "GET", "special/crl", Some(&no_sudo), &[]).await;
    assert_eq!(s, StatusCode::OK);
}

fn method_op(method: &str) -> &'static str {
    match method {
        "PUT" => "update",
        _ => "delete",
    }
}

#[tokio::test]
async fn raw_bodies_arrive_byte_exact() {
    let t = server().await;
    let (s, h, body) = bytes(&t, "GET", "special/crl", Some(&t.root), &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(content_type(&h), DER_TYPE);
    assert_eq!(body, der());
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::CONTENT_LENGTH], der().len().to_string().as_str());

    let (s, h, body) = bytes(&t, "PUT", "special/created", Some(&t.root), &[]).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(content_type(&h), "application/json");
    assert_eq!(body, b"{\"ok\":1}");

    // A content type HTTP cannot carry is the engine's bug: a 500, no header injected.
    let (s, h, body) = bytes(&t, "GET", "special/bad-type", Some(&t.root), &[]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(h.get("x-injected").is_none());
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"errors": ["internal error"]})
    );
}

#[tokio::test]
async fn raw_body_is_wrapped_as_its_fields() {
    let t = server().await;
    let (s, _, body) = bytes(
        &t,
        "GET",
        "special/crl",
        Some(&t.root),
        &[("x-vault-wrap-ttl", "5m")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["data"], Value::Null, "{v}");
    let wrapping = v["wrap_info"]["token"].as_str().unwrap().to_string();
    let (s, v) = t
        .req("POST", "sys/wrapping/unwrap", Some(&wrapping), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v["data"]["http_raw_body"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, der());
    assert_eq!(v["data"]["http_content_type"], DER_TYPE);
    assert_eq!(v["data"]["http_status_code"], 200);
}

#[tokio::test]
async fn audit_records_raw_bodies_hmaced() {
    let t = server().await;
    let (_dir, file) = t.audit_to_file().await;
    let (s, _, body) = bytes(&t, "GET", "special/crl", Some(&t.root), &[]).await;
    assert_eq!((s, body), (StatusCode::OK, der()));
    let (s, _, body) = bytes(&t, "GET", "special/ca/pem", None, &[]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, PEM.as_bytes()));

    let text = std::fs::read_to_string(&file).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for (what, clear) in [
        (
            "the DER canary",
            String::from_utf8_lossy(DER_CANARY).into_owned(),
        ),
        ("the DER body in base64", b64(&der())),
        ("the PEM canary", "special-pem-canary-5c1e".into()),
        ("the PEM body in base64", b64(PEM.as_bytes())),
    ] {
        assert!(!text.contains(&clear), "{what} is in the audit log");
    }
    let responses: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "response" && l["request"]["path"] == "special/crl")
        .collect();
    assert_eq!(responses.len(), 1, "{text}");
    let data = &responses[0]["response"]["data"];
    let hashed = data["http_raw_body"].as_str().unwrap();
    assert!(hashed.starts_with("hmac-sha256:"), "{data}");
    assert_eq!(data["http_status_code"], 200);
    // The HMAC is the device's, of the base64 body, so an operator can check a known body.
    let (s, v) = t
        .root(
            "PUT",
            "sys/audit-hash/file",
            Some(json!({ "input": b64(&der()) })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["hash"], hashed);
}
