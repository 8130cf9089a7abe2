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

/// The file's lines.
fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(path: &std::path::Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// What an attacker who can write the log but not read the barrier does after an edit:
/// renumber `seq` and recompute every `prev_hash` with plain SHA-256 (the `mac`s stay).
fn recompute_chain(lines: &[String]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut prev = String::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let at = line.rfind(r#","seq":"#).unwrap();
        let mac = line.rfind(r#","mac":""#).map_or("}", |m| &line[m..]);
        let text = format!(
            r#"{},"seq":{},"prev_hash":"{prev}"{mac}"#,
            &line[..at],
            i + 1
        );
        prev = hex::encode(Sha256::digest(text.as_bytes()));
        out.push(text);
    }
    out
}

async fn enable(t: &TestServer, name: &str, file: &std::path::Path) {
    let (s, v) = t
        .root(
            "PUT",
            &format!("sys/audit/{name}"),
            Some(json!({"type": "file", "options": {"file_path": file.to_str().unwrap()}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

async fn verify(t: &TestServer, name: &str) -> Value {
    let (s, v) = t
        .root("GET", &format!("sys/audit-verify/{name}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn server_verify_detects_every_rewrite_of_the_chain() {
    let t = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        "untouched",
        "tail-cut",
        "last-edited",
        "middle-edited",
        "middle-deleted",
    ];
    for name in cases {
        enable(&t, name, &dir.path().join(format!("{name}.log"))).await;
    }
    for i in 0..4 {
        t.root(
            "POST",
            &format!("secret/data/item-{i}"),
            Some(json!({"data": {"v": i}})),
        )
        .await;
    }
    let path = |name: &str| dir.path().join(format!("{name}.log"));
    let clean = lines_of(&path("untouched"));
    assert!(clean.iter().all(|l| l.contains(r#","mac":""#)));

    // Every tampering at once: each verify call appends to every file afterwards.
    let mut lines = lines_of(&path("tail-cut"));
    lines.truncate(lines.len() - 3);
    rewrite(&path("tail-cut"), &lines);
    let mut lines = lines_of(&path("last-edited"));
    let n = lines.len();
    let last = n - 1;
    lines[last] = lines[last].replace("secret/data/item-3", "secret/data/item-X");
    rewrite(&path("last-edited"), &lines);
    let mut lines = lines_of(&path("middle-edited"));
    lines[4] = lines[4].replacen("\"type\":\"", "\"type\":\"x", 1);
    rewrite(&path("middle-edited"), &recompute_chain(&lines));
    let mut lines = lines_of(&path("middle-deleted"));
    lines.remove(4);
    rewrite(&path("middle-deleted"), &recompute_chain(&lines));
    for name in ["tail-cut", "last-edited", "middle-edited", "middle-deleted"] {
        let report = secrethub_audit::verify_file(&path(name)).unwrap();
        assert!(report.is_ok() || name == "tail-cut", "{name}: {report}");
    }

    let v = verify(&t, "untouched").await;
    assert_eq!(v["ok"], json!(true), "{v}");
    assert_eq!(v["problem"], Value::Null);
    assert_eq!(v["head_seq"], v["last_seq"]);
    assert_eq!(v["keyed_from"], json!(1));
    assert!(v["checkpoint_seq"].as_u64().unwrap() <= v["head_seq"].as_u64().unwrap());

    let problem = |v: &Value| v["problem"].as_str().unwrap_or_default().to_owned();
    let v = verify(&t, "tail-cut").await;
    assert_eq!(v["ok"], json!(false), "{v}");
    // The server went on writing after the cut, so the gap shows in seq.
    assert!(problem(&v).contains("seq jumps from"), "{v}");
    let v = verify(&t, "last-edited").await;
    assert!(
        problem(&v).starts_with(&format!("line {n}: seq {n}: mac does not match")),
        "{v}"
    );
    for name in ["middle-edited", "middle-deleted"] {
        let v = verify(&t, name).await;
        assert_eq!(v["ok"], json!(false), "{v}");
        assert!(
            problem(&v).starts_with("line 5: seq 5: mac does not match"),
            "{name}: {v}"
        );
    }

    // Verification needs sudo, like every sys/audit path.
    for (name, caps) in [
        ("verify-read", r#"["read"]"#),
        ("verify-sudo", r#"["read", "sudo"]"#),
    ] {
        let policy = format!(r#"path "sys/audit-verify/*" {{ capabilities = {caps} }}"#);
        let (s, v) = t
            .root(
                "PUT",
                &format!("sys/policies/acl/{name}"),
                Some(json!({ "policy": policy })),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let reader = t.token_with(&["verify-read"]).await;
    let (s, _) = t
        .req("GET", "sys/audit-verify/untouched", Some(&reader), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let sudoer = t.token_with(&["verify-sudo"]).await;
    let (s, v) = t
        .req("GET", "sys/audit-verify/untouched", Some(&sudoer), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["ok"], json!(true), "{v}");
}

#[tokio::test]
async fn a_tail_cut_while_sealed_is_reported_against_the_checkpoint() {
    let t = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    enable(&t, "file", &file).await;
    for i in 0..3 {
        t.root("GET", &format!("secret/data/item-{i}"), None).await;
    }
    let v = verify(&t, "file").await;
    assert_eq!(v["ok"], json!(true), "{v}");

    // Sealing stores the checkpoint; the cut happens while the server cannot write.
    t.core.seal().await.unwrap();
    let lines = lines_of(&file);
    let written = lines.len();
    rewrite(&file, &lines[..written - 2]);
    t.core.unseal(Some(&t.unseal_key), false).await.unwrap();

    let v = verify(&t, "file").await;
    assert_eq!(v["ok"], json!(false), "{v}");
    let found = v["problems_at_unseal"][0].as_str().unwrap();
    assert_eq!(
        found,
        format!(
            "found at unseal: line {}: file ends at seq {}, checkpoint says {written} (truncated)",
            written - 2,
            written - 2
        )
    );
    // What the server wrote since verifies.
    assert_eq!(v["problem"], Value::Null, "{v}");

    // An untouched restart is clean.
    let other = dir.path().join("other.log");
    enable(&t, "other", &other).await;
    t.root("GET", "secret/data/x", None).await;
    t.core.seal().await.unwrap();
    let at_seal = lines_of(&other).len() as u64;
    t.core.unseal(Some(&t.unseal_key), false).await.unwrap();
    let v = verify(&t, "other").await;
    assert_eq!(v["ok"], json!(true), "{v}");
    // The seal stored the last line; the verify request's own line came after.
    assert!(v["checkpoint_seq"].as_u64().unwrap() >= at_seal, "{v}");
    assert_eq!(v["head_seq"].as_u64().unwrap(), at_seal + 1, "{v}");
}

#[tokio::test]
async fn a_device_without_a_regular_file_has_nothing_to_verify() {
    let t = TestServer::dev().await;
    enable(&t, "null", std::path::Path::new("/dev/null")).await;
    // Reading a device file could never end (/dev/zero); the server does not try.
    let (s, v) = t.root("GET", "sys/audit-verify/null", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = t.root("GET", "sys/audit-verify/missing", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
