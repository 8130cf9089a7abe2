//! `Client::request_raw`: answers come back as sent (status, headers, body bytes), the request
//! body goes out byte for byte, and the retry rules are those of `Client::request`.

use bytes::Bytes;
use secrethub_client::testing::{MockServer, Reply};
use secrethub_client::ClientErrorKind;

use crate::client;

#[tokio::test]
async fn a_non_json_error_body_comes_back_byte_for_byte() {
    let server = MockServer::start_replies(vec![Reply::new(502, "upstream <b>down</b>\n")
        .header("Content-Type", "text/html; charset=utf-8")])
    .await;
    let c = client(&server.addr, None);
    let answer = c
        .request_raw(
            "PUT",
            "secret/data/app",
            Some(Bytes::from_static(b"{}")),
            &[],
        )
        .await
        .expect("an answer, whatever its status");
    assert_eq!(answer.status, 502);
    assert_eq!(answer.body, Bytes::from_static(b"upstream <b>down</b>\n"));
    assert_eq!(
        answer.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/html; charset=utf-8"[..])
    );
    assert_eq!(
        server.request_count(),
        1,
        "an answered PUT is not sent again"
    );
}

#[tokio::test]
async fn a_429_is_kept_as_is_with_its_headers_and_not_retried() {
    let body = r#"{"errors":["request path \"secret/data/app\": rate limit quota exceeded"]}"#;
    let server = MockServer::start_replies(vec![Reply::new(429, body)
        .header("Retry-After", "7")
        .header("X-Vault-Warning", "quota")])
    .await;
    let c = client(&server.addr, Some("raw-token"));
    let answer = c
        .request_raw("GET", "secret/data/app?version=2", None, &[])
        .await
        .expect("answer");
    assert_eq!(answer.status, 429);
    assert_eq!(answer.body, Bytes::from_static(body.as_bytes()));
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("retry-after").as_deref(), Some("7"));
    assert_eq!(header("x-vault-warning").as_deref(), Some("quota"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(server.request_count(), 1, "a 4xx read is not retried");
    let req = server.next_request().await;
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/v1/secret/data/app?version=2")
    );
    assert_eq!(req.header("x-vault-token").as_deref(), Some("raw-token"));
    assert_eq!(req.header("x-vault-request").as_deref(), Some("true"));
}

#[tokio::test]
async fn the_body_and_extra_headers_go_out_as_given() {
    let server = MockServer::start(vec![(204, "")]).await;
    let c = client(&server.addr, Some("t"));
    let sent = Bytes::from_static(b"{ \"data\" :{\"k\":\"v\"} }");
    let answer = c
        .request_raw(
            "PATCH",
            "/secret/data/app",
            Some(sent.clone()),
            &[
                ("Content-Type", "application/merge-patch+json"),
                ("X-Vault-Wrap-TTL", "60s"),
            ],
        )
        .await
        .expect("answer");
    assert_eq!((answer.status, answer.body.len()), (204, 0));
    let req = server.next_request().await;
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.body.as_bytes(), &sent[..], "not re-encoded");
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(req.header("x-vault-wrap-ttl").as_deref(), Some("60s"));

    // Without a Content-Type from the caller none is made up.
    let server = MockServer::start(vec![(200, "{}")]).await;
    let c = client(&server.addr, None);
    c.request_raw("PUT", "x", Some(Bytes::from_static(b"{}")), &[])
        .await
        .expect("answer");
    let req = server.next_request().await;
    assert_eq!(req.header("content-type"), None);
    assert_eq!(req.header("x-vault-token"), None);
}

#[tokio::test]
async fn reads_are_retried_on_5xx_and_the_last_answer_is_returned() {
    let server = MockServer::start(vec![
        (500, r#"{"errors":["boom"]}"#),
        (200, r#"{"data":{"v":1}}"#),
        (503, r#"{"errors":["sealed"]}"#),
        (503, r#"{"errors":["still sealed"]}"#),
        (503, r#"{"errors":["sealed for good"]}"#),
        (500, r#"{"errors":["write failed"]}"#),
    ])
    .await;
    let c = client(&server.addr, None);
    let ok = c.request_raw("GET", "kv/x", None, &[]).await.expect("ok");
    assert_eq!(ok.status, 200);
    assert_eq!(server.request_count(), 2);
    let down = c
        .request_raw("LIST", "kv/", None, &[])
        .await
        .expect("answer");
    assert_eq!(down.status, 503);
    assert_eq!(
        down.body,
        Bytes::from_static(br#"{"errors":["sealed for good"]}"#)
    );
    assert_eq!(server.request_count(), 5, "three attempts in all");
    let failed = c
        .request_raw("POST", "kv/x", Some(Bytes::from_static(b"{}")), &[])
        .await
        .expect("answer");
    assert_eq!(failed.status, 500);
    assert_eq!(
        server.request_count(),
        6,
        "an answered write is not repeated"
    );
}

#[tokio::test]
async fn no_answer_at_all_is_a_connection_error() {
    let addr = MockServer::closed_port_addr().await;
    let c = client(&addr, None).with_max_retries(0);
    let err = c
        .request_raw("GET", "sys/health", None, &[])
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind, ClientErrorKind::Connection);
    let err = c
        .request_raw("FRO M", "x", None, &[])
        .await
        .expect_err("bad method");
    assert_eq!(err.kind, ClientErrorKind::Config);
}
