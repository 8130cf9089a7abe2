//! Client tests against a scripted HTTP responder on 127.0.0.1: headers, methods, error
//! shapes, 404 handling and the bounded retry of idempotent requests.

use secrethub_client::{Client, ClientConfig, ClientErrorKind, InitRequest};
use secrethub_common::{ErrorKind, Sensitive};
use serde_json::json;

use secrethub_client::testing::MockServer;

mod leases;
mod raw;

pub(crate) fn client(addr: &str, token: Option<&str>) -> Client {
    Client::new(ClientConfig {
        addr: addr.to_string(),
        token: token.map(|t| Sensitive::new(t.to_string())),
        ..ClientConfig::default()
    })
    .expect("a valid address builds a client")
}

#[tokio::test]
async fn sends_token_and_request_headers_and_json_body() {
    let server = MockServer::start(vec![(200, r#"{"data":{"ok":true}}"#)]).await;
    let c = client(&server.addr, Some("hvs.secret-token"));
    let answer = c
        .write("secret/data/app", &json!({"data": {"k": "v"}}))
        .await
        .unwrap();
    assert_eq!(answer, Some(json!({"data": {"ok": true}})));
    let req = server.next_request().await;
    assert_eq!(req.method, "PUT");
    assert_eq!(req.path, "/v1/secret/data/app");
    assert_eq!(
        req.header("x-vault-token").as_deref(),
        Some("hvs.secret-token")
    );
    assert_eq!(req.header("x-vault-request").as_deref(), Some("true"));
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&req.body).unwrap(),
        json!({"data": {"k": "v"}})
    );
}

#[tokio::test]
async fn list_uses_the_list_method_and_patch_a_merge_patch() {
    let server = MockServer::start(vec![(200, r#"{"data":{"keys":["a","b/"]}}"#), (204, "")]).await;
    let c = client(&format!("{}/", server.addr), None);
    let keys = c.list("secret/metadata/").await.unwrap().unwrap();
    assert_eq!(keys["data"]["keys"], json!(["a", "b/"]));
    assert_eq!(
        c.patch("secret/data/x", &json!({"data": {"a": 1}}))
            .await
            .unwrap(),
        None
    );
    let list = server.next_request().await;
    assert_eq!(
        (list.method.as_str(), list.path.as_str()),
        ("LIST", "/v1/secret/metadata/")
    );
    assert_eq!(list.header("x-vault-token"), None);
    let patch = server.next_request().await;
    assert_eq!(patch.method, "PATCH");
    assert_eq!(
        patch.header("content-type").as_deref(),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn api_errors_carry_status_and_messages() {
    let server = MockServer::start(vec![(403, r#"{"errors":["permission denied"]}"#)]).await;
    let c = client(&server.addr, Some("tok-not-in-errors"));
    let err = c.write("sys/mounts/x", &json!({})).await.unwrap_err();
    assert_eq!(err.kind, ClientErrorKind::Api);
    assert_eq!(err.status, Some(403));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let text = err.to_string();
    assert_eq!(
        text,
        format!("Error making API request.\n\nURL: PUT {}/v1/sys/mounts/x\nCode: 403. Errors:\n\n* permission denied", server.addr)
    );
    assert!(!format!("{err:?}{c:?}").contains("tok-not-in-errors"));
}

#[tokio::test]
async fn read_and_list_treat_404_as_nothing_but_keep_deleted_version_metadata() {
    let deleted =
        r#"{"data":{"data":null,"metadata":{"version":2,"deletion_time":"2024-01-01T00:00:00Z"}}}"#;
    let server = MockServer::start(vec![
        (404, r#"{"errors":[]}"#),
        (404, r#"{"errors":[]}"#),
        (404, deleted),
    ])
    .await;
    let c = client(&server.addr, Some("t"));
    assert_eq!(c.read("secret/data/missing").await.unwrap(), None);
    assert_eq!(c.list("secret/metadata/missing").await.unwrap(), None);
    let answer = c.read("secret/data/deleted").await.unwrap().unwrap();
    assert_eq!(answer["data"]["metadata"]["version"], json!(2));
}

#[tokio::test]
async fn get_is_retried_twice_on_5xx_then_succeeds() {
    let server = MockServer::start(vec![
        (500, r#"{"errors":["boom"]}"#),
        (503, r#"{"errors":["busy"]}"#),
        (200, r#"{"data":{"v":1}}"#),
    ])
    .await;
    let c = client(&server.addr, None);
    let answer = c.read("kv/x").await.unwrap().unwrap();
    assert_eq!(answer["data"]["v"], json!(1));
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn get_gives_up_after_three_attempts_and_writes_are_not_retried() {
    let server = MockServer::start(vec![
        (500, "{}"),
        (500, "{}"),
        (500, r#"{"errors":["still down"]}"#),
        (500, "{}"),
    ])
    .await;
    let c = client(&server.addr, None);
    let err = c.read("kv/x").await.unwrap_err();
    assert_eq!(err.errors, vec!["still down".to_string()]);
    assert_eq!(server.request_count(), 3);
    let err = c.write("kv/x", &json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.status, Some(500));
    assert_eq!(server.request_count(), 4);
}

#[tokio::test]
async fn not_implemented_is_not_retried() {
    let server = MockServer::start(vec![(501, r#"{"errors":["unsupported"]}"#)]).await;
    let c = client(&server.addr, None);
    assert_eq!(c.read("kv/x").await.unwrap_err().status, Some(501));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn connection_refused_is_a_connection_error() {
    let addr = MockServer::closed_port_addr().await;
    let c = client(&addr, Some("t"));
    let err = c.seal_status().await.unwrap_err();
    assert_eq!(err.kind, ClientErrorKind::Connection);
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.to_string()
            .starts_with(&format!("Get \"{addr}/v1/sys/seal-status\": ")),
        "{err}"
    );
}

#[tokio::test]
async fn sys_helpers_decode_vault_shapes() {
    let server = MockServer::start(vec![
        (200, r#"{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":1,"nonce":"abc","version":"0.1.0"}"#),
        (200, r#"{"keys":["aa","bb"],"keys_base64":["qq","uw"],"root_token":"hvs.root"}"#),
        (200, r#"{"type":"shamir","initialized":true,"sealed":false,"t":1,"n":1,"progress":0}"#),
        (204, ""),
    ])
    .await;
    let c = client(&server.addr, None);
    let status = c.seal_status().await.unwrap();
    assert!(status.sealed && status.initialized);
    assert_eq!(
        (
            status.t,
            status.n,
            status.progress,
            status.seal_type.as_str()
        ),
        (3, 5, 1, "shamir")
    );
    let init = c
        .init(&InitRequest {
            secret_shares: 2,
            secret_threshold: 2,
        })
        .await
        .unwrap();
    assert_eq!(init.root_token.expose(), "hvs.root");
    assert_eq!(init.keys_base64.len(), 2);
    assert!(!format!("{init:?}").contains("hvs.root"));
    let unsealed = c.unseal(&Sensitive::new("qq".to_string())).await.unwrap();
    assert!(!unsealed.sealed);
    c.seal().await.unwrap();
    let requests = server.drain().await;
    let bodies: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(
        bodies,
        vec![
            ("GET", "/v1/sys/seal-status", ""),
            (
                "PUT",
                "/v1/sys/init",
                r#"{"secret_shares":2,"secret_threshold":2}"#
            ),
            ("PUT", "/v1/sys/unseal", r#"{"key":"qq"}"#),
            ("PUT", "/v1/sys/seal", ""),
        ]
    );
}

#[test]
fn bad_address_and_missing_ca_file_are_config_errors() {
    let err = Client::new(ClientConfig {
        addr: "ftp://x".into(),
        ..ClientConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.kind, ClientErrorKind::Config);
    let dir = tempfile::tempdir().unwrap();
    let err = Client::new(ClientConfig {
        ca_cert: Some(dir.path().join("nope.pem")),
        ..ClientConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.kind, ClientErrorKind::Config);
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[tokio::test]
async fn max_retries_is_configurable() {
    let mut script = vec![(502, "{}"); 5];
    script.push((200, r#"{"data":{"v":2}}"#));
    let server = MockServer::start(script).await;
    let c = client(&server.addr, None).with_max_retries(5);
    let answer = c.read("kv/x").await.unwrap().unwrap();
    assert_eq!(answer["data"]["v"], json!(2));
    assert_eq!(server.request_count(), 6);
}

#[tokio::test]
async fn a_write_is_retried_only_when_it_never_reached_the_server() {
    // Refused connections: the write never left, so it is sent again after 100, 200 and
    // 400 ms before the error comes back.
    let addr = MockServer::closed_port_addr().await;
    let c = client(&addr, None).with_max_retries(3);
    let started = std::time::Instant::now();
    let err = c.write("kv/x", &json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind, ClientErrorKind::Connection);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(700),
        "gave up after {:?}",
        started.elapsed()
    );
    // An answered write is never repeated, even a 5xx with retries to spare.
    let server = MockServer::start(vec![(500, "{}"), (200, "{}")]).await;
    let c = client(&server.addr, None).with_max_retries(3);
    assert_eq!(
        c.write("kv/x", &json!({})).await.unwrap_err().status,
        Some(500)
    );
    assert_eq!(server.request_count(), 1);
}
