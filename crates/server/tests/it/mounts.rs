//! `sys/mounts`: enable, list, tune, disable (which deletes the data), and the UI lookup
//! the `vault`/`bao` CLI makes before every `kv` command.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn enable_tune_disable() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root("POST", "sys/mounts/team", Some(json!({"type": "kv-v2", "description": "team secrets", "config": {"default_lease_ttl": "1h", "max_lease_ttl": "2h"}})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .root("POST", "sys/mounts/team", Some(json!({"type": "kv"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["errors"][0].as_str().unwrap().contains("already in use"));

    let (_, v) = t.root("GET", "sys/mounts", None).await;
    let m = &v["data"]["team/"];
    assert_eq!(
        (m["type"].clone(), m["options"]["version"].clone()),
        (json!("kv"), json!("2"))
    );
    assert_eq!(m["config"]["default_lease_ttl"], json!(3600));
    assert_eq!(
        v["team/"]["type"],
        json!("kv"),
        "also at the top level, as Vault answers"
    );
    assert!(v["data"]["sys/"].is_object() && v["data"]["cubbyhole/"].is_object());

    let (s, _) = t
        .root(
            "POST",
            "sys/mounts/team/tune",
            Some(json!({"max_lease_ttl": "3h", "description": "tuned"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = t.root("GET", "sys/mounts/team/tune", None).await;
    assert_eq!(
        (
            v["data"]["max_lease_ttl"].clone(),
            v["data"]["description"].clone()
        ),
        (json!(10800), json!("tuned"))
    );
    let (s, _) = t
        .root(
            "POST",
            "sys/mounts/team/tune",
            Some(json!({"default_lease_ttl": "5h"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "default above max");
    // Above the system's 768h, as Vault's PKI quick start tunes its mount.
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/team/tune",
            Some(json!({"max_lease_ttl": "87600h"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t.root("GET", "sys/mounts/team/tune", None).await;
    assert_eq!(v["data"]["max_lease_ttl"], json!(315_360_000));

    let (_, v) = t
        .root("GET", "sys/internal/ui/mounts/team/app/db", None)
        .await;
    assert_eq!(
        (
            v["data"]["path"].clone(),
            v["data"]["options"]["version"].clone()
        ),
        (json!("team/"), json!("2"))
    );

    t.root("POST", "team/data/x", Some(json!({"data": {"a": "b"}})))
        .await;
    let (s, _) = t.root("DELETE", "sys/mounts/team", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.root("GET", "team/data/x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    t.root("POST", "sys/mounts/team", Some(json!({"type": "kv-v2"})))
        .await;
    let (s, _) = t.root("GET", "team/data/x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a re-enabled mount starts empty");

    for bad in [
        "sys/mounts/sys",
        "sys/mounts/auth/x",
        "sys/mounts/a%2F..%2Fb",
    ] {
        let (s, v) = t.root("POST", bad, Some(json!({"type": "kv"}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (s, _) = t.root("DELETE", "sys/mounts/cubbyhole", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reads_of_missing_mounts_answer_as_openbao() {
    let t = TestServer::dev().await;
    let (s, v) = t.root("GET", "sys/mounts/nope/x/", None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"errors": ["No secret engine mount at nope/x/"]})
        )
    );
    let (s, v) = t.root("GET", "sys/auth/nope", None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"errors": ["No auth engine at nope/"]})
        )
    );
}

#[tokio::test]
async fn ui_mounts_answer_as_openbao() {
    let t = TestServer::dev().await;
    // The UI lookup of a path under no mount is the 403 a hidden mount gets, so it cannot be
    // used to discover mounts.
    let (s, v) = t.root("GET", "sys/internal/ui/mounts/nope/x/y", None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["preflight capability check returned 403, please ensure client's policies grant access to path \"nope/x/y/\""]})
        )
    );
    // Auth mounts are keyed as in sys/auth.
    let (_, v) = t.root("GET", "sys/internal/ui/mounts", None).await;
    assert_eq!(v["data"]["auth"]["token/"]["type"], json!("token"), "{v}");
    assert!(v["data"]["auth"].get("auth/token/").is_none(), "{v}");
}
