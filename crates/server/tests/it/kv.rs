//! KV v2 and v1 through the HTTP layer (the engine's own tests cover every endpoint), plus
//! the seed's `/api/v1/secrets` and `/health` and cubbyhole isolation.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn kv_v2_envelope_and_cas() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "secret/data/app/db",
            Some(json!({"data": {"password": "s3cret"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["version"], json!(1));
    assert_eq!(v["mount_type"], json!("kv"));
    for key in [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    ] {
        assert!(v.get(key).is_some(), "envelope has {key}: {v}");
    }
    let (s, v) = t
        .root(
            "POST",
            "secret/data/app/db",
            Some(json!({"data": {"password": "new"}, "options": {"cas": 0}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains("check-and-set"),
        "{v}"
    );
    let (_, v) = t.root("GET", "secret/data/app/db?version=1", None).await;
    assert_eq!(v["data"]["data"]["password"], "s3cret");
    let (s, v) = t.root("LIST", "secret/metadata/app", None).await;
    assert_eq!(
        (s, v["data"]["keys"].clone()),
        (StatusCode::OK, json!(["db"]))
    );
    let (s, v) = t.root("GET", "secret/metadata/app?list=true", None).await;
    assert_eq!(
        (s, v["data"]["keys"].clone()),
        (StatusCode::OK, json!(["db"]))
    );
    let (s, v) = t.root("GET", "secret/data/missing", None).await;
    assert_eq!((s, v), (StatusCode::NOT_FOUND, json!({"errors": []})));

    // A deleted version is a 404 that still carries its metadata, as Vault answers.
    let (s, _) = t.root("DELETE", "secret/data/app/db", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = t.root("GET", "secret/data/app/db", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["data"]["data"], json!(null));
    assert!(
        v["data"]["metadata"]["deletion_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{v}"
    );
}

#[tokio::test]
async fn kv_v1_mount() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/mounts/kv1",
            Some(json!({"type": "kv", "options": {"version": "1"}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _) = t.root("POST", "kv1/a/b", Some(json!({"k": "v"}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = t.root("GET", "kv1/a/b", None).await;
    assert_eq!(v["data"], json!({"k": "v"}));
    let (_, v) = t.root("LIST", "kv1/", None).await;
    assert_eq!(v["data"]["keys"], json!(["a/"]));
}

#[tokio::test]
async fn seed_api_and_health() {
    let t = TestServer::dev().await;
    let put = Request::builder()
        .method("PUT")
        .uri("/api/v1/secrets/database/postgres")
        .header("x-vault-token", &t.root)
        .body(Body::from(json!({"password": "pw1"}).to_string()))
        .unwrap();
    let (s, v) = t.raw(put).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let get = Request::builder()
        .uri("/api/v1/secrets/database/postgres")
        .header("x-agent-token", &t.root)
        .body(Body::empty())
        .unwrap();
    let (s, v) = t.raw(get).await;
    assert_eq!(
        (s, v["data"]["data"]["password"].clone()),
        (StatusCode::OK, json!("pw1"))
    );
    let (_, v) = t.root("GET", "secret/data/database/postgres", None).await;
    assert_eq!(
        v["data"]["data"]["password"], "pw1",
        "the seed API is KV v2 at secret/"
    );
    let no_token = Request::builder()
        .uri("/api/v1/secrets/database/postgres")
        .body(Body::empty())
        .unwrap();
    assert_eq!(t.raw(no_token).await.0, StatusCode::FORBIDDEN);
    let (s, v) = t
        .raw(
            Request::builder()
                .uri("/health")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((s, v["status"].clone()), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn cubbyhole_is_private_per_token() {
    let t = TestServer::dev().await;
    let a = t.token_with(&["default"]).await;
    let b = t.token_with(&["default"]).await;
    let (s, v) = t
        .req(
            "POST",
            "cubbyhole/note",
            Some(&a),
            Some(json!({"msg": "for a only"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t.req("GET", "cubbyhole/note", Some(&a), None).await;
    assert_eq!(v["data"]["msg"], "for a only");
    let (s, _) = t.req("GET", "cubbyhole/note", Some(&b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = t.req("LIST", "cubbyhole", Some(&a), None).await;
    assert_eq!(v["data"]["keys"], json!(["note"]));
    t.req("POST", "auth/token/revoke-self", Some(&a), None)
        .await;
    let (s, _) = t.req("GET", "cubbyhole/note", Some(&a), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
