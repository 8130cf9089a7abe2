//! The seed documents' `/api/v1` endpoints against the real binary: the Quick Start's
//! kubernetes login (`{"method":"kubernetes","jwt":…}`) against a local TokenReview stand-in,
//! then its PUT/GET of a secret with the token as a bearer; and the rotation of a database
//! connection's root credentials on the private password-checking PostgreSQL cluster, where the
//! old password must stop working.

use serde_json::{json, Value};

use crate::agent::private_cluster;
use crate::harness::{self, json_of, ServerProcess};
use crate::token_review::{self, Account};

/// The bearer token the stand-in accepts for TokenReviews (`token_reviewer_jwt`).
const REVIEWER_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.seed-api-reviewer.signature";

/// The pod's service account token (shaped like a JWT).
const SA_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.seed-api-web-prod.c2lnbmF0dXJl";

/// The one service account the stand-in knows: `web` in `prod`.
const ACCOUNTS: &[Account] = &[Account {
    token: SA_JWT,
    namespace: "prod",
    name: "web",
    uid: "6f9c2d1e-0000-4000-8000-000000000001",
}];

async fn send(
    server: &ServerProcess,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = server
        .http()
        .request(method, format!("{}{path}", server.addr()));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    json_of(req.send().await.expect("request")).await
}

async fn root_write(server: &ServerProcess, root: &str, path: &str, body: Value) {
    let resp = server
        .http()
        .post(server.url(path))
        .header("X-Vault-Token", root)
        .json(&body)
        .send()
        .await
        .expect("request");
    let (status, v) = json_of(resp).await;
    assert!((200..300).contains(&status), "{path}: {status} {v}");
}

#[tokio::test]
async fn quick_start_with_a_kubernetes_login() {
    let cluster = token_review::start("seed api kubernetes ca", REVIEWER_JWT, ACCOUNTS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    root_write(
        &server,
        &root,
        "sys/auth/kubernetes",
        json!({"type": "kubernetes"}),
    )
    .await;
    root_write(
        &server,
        &root,
        "auth/kubernetes/config",
        json!({"kubernetes_host": cluster.url, "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT}),
    )
    .await;
    root_write(
        &server,
        &root,
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/data/database/*\" { capabilities = [\"create\", \"read\", \"update\"] }"}),
    )
    .await;
    root_write(
        &server,
        &root,
        "auth/kubernetes/role/app",
        json!({"bound_service_account_names": "web", "bound_service_account_namespaces": "prod",
            "token_policies": "app"}),
    )
    .await;

    // The Quick Start's body names no role, which Vault's kubernetes method requires: without
    // a default role configured, its answer is Vault's, as on /v1/auth/kubernetes/login.
    let (status, v) = send(
        &server,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"method": "kubernetes", "jwt": SA_JWT})),
    )
    .await;
    assert_eq!((status, v), (400, json!({"errors": ["missing role"]})));
    let (status, v) = send(
        &server,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(
            json!({"method": "kubernetes", "role": "app", "jwt": "eyJhbGciOiJSUzI1NiJ9.unknown.x"}),
        ),
    )
    .await;
    assert_eq!(status, 403, "{v}");

    // With `default_role` in the mount's config, the Quick Start's body works as written.
    root_write(
        &server,
        &root,
        "auth/kubernetes/config",
        json!({"kubernetes_host": cluster.url, "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT, "default_role": "app"}),
    )
    .await;
    let (status, login) = send(
        &server,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"method": "kubernetes", "jwt": SA_JWT})),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(
        login["auth"]["policies"],
        json!(["app", "default"]),
        "{login}"
    );
    assert_eq!(
        login["auth"]["metadata"]["service_account_name"],
        json!("web")
    );
    let token = login["auth"]["client_token"]
        .as_str()
        .expect("client_token");

    let secret = json!({"username": "admin", "password": "secure123"});
    let (status, v) = send(
        &server,
        reqwest::Method::PUT,
        "/api/v1/secrets/database/postgres",
        Some(token),
        Some(secret.clone()),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = send(
        &server,
        reqwest::Method::GET,
        "/api/v1/secrets/database/postgres",
        Some(token),
        None,
    )
    .await;
    assert_eq!((status, &v["data"]["data"]), (200, &secret), "{v}");
    let (status, v) = send(&server, reqwest::Method::GET, "/health", None, None).await;
    assert_eq!((status, &v["status"]), (200, &json!("ok")));

    let log = server.log();
    assert!(!log.contains(SA_JWT) && !log.contains("secure123"), "{log}");
}

async fn rotate(server: &ServerProcess, token: &str, path: &str) -> (u16, Value) {
    send(
        server,
        reqwest::Method::POST,
        path,
        Some(token),
        Some(json!({})),
    )
    .await
}

#[tokio::test]
async fn rotate_a_database_connections_root_credentials() {
    let cluster = private_cluster().await;
    // A superuser of its own, so rotating its password disturbs no other test.
    let admin = harness::unique_name("seedadm");
    let old = secrethub_common::random_alnum(20);
    cluster.admin_psql(&format!(
        "CREATE ROLE {admin} WITH LOGIN SUPERUSER PASSWORD '{old}'"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    root_write(
        &server,
        &root,
        "sys/mounts/database",
        json!({"type": "database"}),
    )
    .await;
    root_write(
        &server,
        &root,
        "database/config/pg",
        json!({"plugin_name": "postgresql-database-plugin", "connection_url": cluster.url(),
            "username": admin, "password": old, "verify_connection": true}),
    )
    .await;
    cluster
        .psql_as(&admin, &old, "SELECT 1")
        .expect("the old password works before");

    // Without update on database/rotate-root/pg, refused before anything changes.
    root_write(
        &server,
        &root,
        "sys/policies/acl/reader",
        json!({"policy": "path \"database/config/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    let resp = server
        .http()
        .post(server.url("auth/token/create"))
        .header("X-Vault-Token", &root)
        .json(&json!({"policies": ["reader"]}))
        .send()
        .await
        .expect("token create");
    let (_, created) = json_of(resp).await;
    let reader = created["auth"]["client_token"].as_str().expect("token");
    let (status, v) = rotate(&server, reader, "/api/v1/secrets/database/config/pg/rotate").await;
    assert_eq!((status, v), (403, json!({"errors": ["permission denied"]})));
    cluster
        .psql_as(&admin, &old, "SELECT 1")
        .expect("still the old password");

    let (status, v) = rotate(&server, &root, "/api/v1/secrets/database/config/pg/rotate").await;
    assert_eq!(status, 204, "{v}");
    let refused = cluster.psql_as(&admin, &old, "SELECT 1").unwrap_err();
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );

    let (status, v) = rotate(
        &server,
        &root,
        "/api/v1/secrets/database/config/nope/rotate",
    )
    .await;
    assert_eq!(
        (status, v),
        (
            400,
            json!({"errors": ["nothing to rotate at database/config/nope: connection \"nope\" does not exist"]})
        )
    );
    let (status, v) = rotate(&server, &root, "/api/v1/secrets/database/creds/x/rotate").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("nothing to rotate at database/creds/x"),
        "{v}"
    );
    cluster.admin_psql(&format!("DROP ROLE IF EXISTS {admin}"));
}
