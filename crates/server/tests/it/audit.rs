//! Audit through the API: a file device records every request and response with
//! sensitive values HMAC'd, `sys/audit-hash` computes the same HMAC, the chain verifies,
//! and a device that cannot write makes requests fail (fail closed).

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::TestServer;

#[tokio::test]
async fn file_device_hmacs_and_chains() {
    let t = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let (s, v) = t
        .root(
            "PUT",
            "sys/audit/file",
            Some(json!({"type": "file", "options": {"file_path": file.to_str().unwrap()}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t.root("GET", "sys/audit", None).await;
    assert_eq!(v["data"]["file/"]["type"], json!("file"));

    let secret = "audit-canary-7f3e9b";
    t.root(
        "POST",
        "secret/data/audited",
        Some(json!({"data": {"password": secret}})),
    )
    .await;
    let (_, v) = t.root("GET", "secret/data/audited", None).await;
    assert_eq!(v["data"]["data"]["password"], secret);
    let user = t.token_with(&["default"]).await;
    let (s, _) = t.req("GET", "secret/data/audited", Some(&user), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(secret),
        "the secret value never reaches the audit log"
    );
    assert!(!text.contains(&t.root), "nor does the token");
    assert!(!text.contains(&user));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let write_resp = lines
        .iter()
        .find(|l| {
            l["type"] == "request"
                && l["request"]["path"] == "secret/data/audited"
                && l["request"]["operation"] == "create"
        })
        .expect("the write is audited");
    let hashed = write_resp["request"]["data"]["data"]["password"]
        .as_str()
        .unwrap();
    let (_, v) = t
        .root(
            "POST",
            "sys/audit-hash/file",
            Some(json!({"input": secret})),
        )
        .await;
    assert_eq!(v["data"]["hash"].as_str().unwrap(), hashed);
    assert!(hashed.starts_with("hmac-sha256:"));
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "response" && l["error"].as_str() == Some("permission denied")),
        "denials are audited"
    );

    let report = secrethub_audit::verify_file(&file).unwrap();
    assert!(report.is_ok(), "{report}");

    let (s, _) = t.root("DELETE", "sys/audit/file", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let before = std::fs::read_to_string(&file).unwrap().len();
    t.root("GET", "secret/data/audited", None).await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().len(),
        before,
        "disabled devices get nothing"
    );
}

#[tokio::test]
async fn failing_device_fails_the_request() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/audit/full",
            Some(json!({"type": "file", "options": {"file_path": "/dev/full"}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .root(
            "POST",
            "secret/data/never",
            Some(json!({"data": {"a": "b"}})),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    let (s, _) = t.root("DELETE", "sys/audit/full", None).await;
    assert_eq!(
        s,
        StatusCode::INTERNAL_SERVER_ERROR,
        "even disabling is audited first and fails"
    );
    let (s, _) = t.root("GET", "secret/data/never", None).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, v) = t
        .root("PUT", "sys/audit/bad", Some(json!({"type": "socket"})))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
}
