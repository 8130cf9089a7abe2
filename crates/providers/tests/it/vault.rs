//! The `vault`/`secrethub` provider against a real OpenBao dev server: KV v2 (versions), KV v1,
//! dynamic database credentials with a lease (on the machine's PostgreSQL), refusals, token
//! changes and an unreachable server. Secrets are written through `secrethub_client`.

use std::time::Duration;

use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_config::agent::RemoteVault;
use secrethub_providers::{Provider, ProviderErrorKind, SecretHubProvider};
use serde_json::{json, Value};

use crate::external::bao;
use crate::unique;

async fn write(client: &Client, path: &str, body: Value) -> Option<Value> {
    client
        .write(path, &body)
        .await
        .unwrap_or_else(|e| panic!("writing {path}: {e}"))
}

async fn root_provider() -> SecretHubProvider {
    SecretHubProvider::new("vault", bao().await.root_client())
}

/// A token of the dev server with only the `default` policy (no secrets).
async fn weak_token() -> String {
    let root = bao().await.root_client();
    // Without `policies` a child token would inherit the root token's.
    let body = json!({"policies": ["default"], "ttl": "1h"});
    let answer = write(&root, "auth/token/create", body)
        .await
        .expect("answer");
    answer["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// OpenBao answers 403 to the preflight of a path no mount holds: with a default KV mount the
/// path is read there (the integration story's `${secret:ai/anthropic/api-key}`).
#[tokio::test]
async fn paths_outside_every_mount_are_read_under_the_default_kv_mount() {
    let root = bao().await.root_client();
    let base = unique("ai");
    write(
        &root,
        &format!("secret/data/{base}/anthropic/api-key"),
        json!({"data": {"value": "sk-bao-1"}}),
    )
    .await;
    let bare = format!("{base}/anthropic/api-key");
    let provider = root_provider()
        .await
        .with_default_kv_mount(Some("/secret/"));
    let secret = provider.read(&bare).await.expect("read under secret/");
    assert_eq!(secret.fields["value"].expose(), "sk-bao-1");
    assert_eq!(secret.version.as_deref(), Some("1"));
    // The same path under its mount, and a missing one (named where it was looked for).
    let secret = provider
        .read(&format!("secret/{bare}"))
        .await
        .expect("read");
    assert_eq!(secret.fields["value"].expose(), "sk-bao-1");
    let err = provider.read(&format!("{base}/missing")).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains(&format!("secret/{base}/missing")),
        "{err}"
    );
    // Without a default mount the path is read as is, as before: nothing there.
    let err = root_provider().await.read(&bare).await.unwrap_err();
    assert_ne!(err.kind, ProviderErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn kv2_reads_follow_new_versions() {
    let root = bao().await.root_client();
    let base = unique("app");
    write(
        &root,
        &format!("secret/data/{base}/db"),
        json!({"data": {"user": "app", "password": "bao-pw-1", "port": 5432}}),
    )
    .await;
    let provider = root_provider().await;
    let path = format!("secret/{base}/db");
    let secret = provider.read(&path).await.expect("read");
    assert_eq!(secret.fields["user"].expose(), "app");
    assert_eq!(secret.fields["password"].expose(), "bao-pw-1");
    assert_eq!(secret.fields["port"].expose(), "5432");
    assert_eq!(secret.version.as_deref(), Some("1"));
    assert!(secret.lease.is_none());

    write(
        &root,
        &format!("secret/data/{base}/db"),
        json!({"data": {"user": "app", "password": "bao-pw-2"}}),
    )
    .await;
    let secret = provider.read(&path).await.expect("read again");
    assert_eq!(secret.fields["password"].expose(), "bao-pw-2");
    assert_eq!(secret.version.as_deref(), Some("2"));
    assert!(!secret.fields.contains_key("port"));

    // A second secret on the same mount (the mount is known now) and a missing one.
    write(
        &root,
        &format!("secret/data/{base}/other"),
        json!({"data": {"k": "v"}}),
    )
    .await;
    let other = provider
        .read(&format!("/secret/{base}/other/"))
        .await
        .expect("other");
    assert_eq!(other.fields["k"].expose(), "v");
    let err = provider
        .read(&format!("secret/{base}/missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn a_deleted_latest_version_is_not_found() {
    let root = bao().await.root_client();
    let base = unique("deleted");
    write(
        &root,
        &format!("secret/data/{base}"),
        json!({"data": {"k": "v"}}),
    )
    .await;
    root.delete(&format!("secret/data/{base}"))
        .await
        .expect("delete");
    let err = root_provider()
        .await
        .read(&format!("secret/{base}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn kv1_mounts_are_read_as_is() {
    let root = bao().await.root_client();
    let mount = unique("kv1");
    write(
        &root,
        &format!("sys/mounts/{mount}"),
        json!({"type": "kv", "options": {"version": "1"}}),
    )
    .await;
    write(
        &root,
        &format!("{mount}/app/config"),
        json!({"api_key": "kv1-key", "retries": 3}),
    )
    .await;
    let provider = root_provider().await;
    let secret = provider
        .read(&format!("{mount}/app/config"))
        .await
        .expect("read");
    assert_eq!(secret.fields["api_key"].expose(), "kv1-key");
    assert_eq!(secret.fields["retries"].expose(), "3");
    assert_eq!(secret.version, None);
    assert!(secret.lease.is_none());
    let err = provider
        .read(&format!("{mount}/app/missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
    let err = provider
        .read(&format!("{}/app", unique("nomount")))
        .await
        .unwrap_err();
    // OpenBao's preflight answers 403 for a path no mount holds; the read tells the truth.
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn database_credentials_carry_a_lease_that_renews_and_revokes() {
    let root = bao().await.root_client();
    let mount = unique("db");
    let role = unique("ro").replace('-', "_");
    write(
        &root,
        &format!("sys/mounts/{mount}"),
        json!({"type": "database"}),
    )
    .await;
    // The machine's PostgreSQL trusts local connections; the password is not checked.
    write(
        &root,
        &format!("{mount}/config/pg"),
        json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
            "username": "postgres",
            "password": "unused",
            "allowed_roles": [role],
        }),
    )
    .await;
    write(
        &root,
        &format!("{mount}/roles/{role}"),
        json!({
            "db_name": "pg",
            "creation_statements": [
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
            ],
            "default_ttl": "10m",
            "max_ttl": "1h",
        }),
    )
    .await;
    let provider = root_provider().await;
    let secret = provider
        .read(&format!("{mount}/creds/{role}"))
        .await
        .expect("credentials");
    assert!(secret.fields.contains_key("username"), "{secret:?}");
    assert!(secret.fields.contains_key("password"), "{secret:?}");
    let lease = secret.lease.clone().expect("a lease");
    assert!(
        lease.id.starts_with(&format!("{mount}/creds/{role}/")),
        "{lease:?}"
    );
    assert!(lease.renewable);
    assert_eq!(lease.duration, Duration::from_secs(600));

    let renewed = provider
        .renew(&lease.id, Duration::from_secs(300))
        .await
        .expect("renew");
    assert_eq!(renewed.id, lease.id);
    assert_eq!(renewed.duration, Duration::from_secs(300));

    provider.revoke(&lease.id).await.expect("revoke");
    let lookup = root.lease_lookup(&lease.id).await;
    assert!(
        lookup.is_err(),
        "the lease is gone after revoke: {lookup:?}"
    );
    let err = provider
        .renew(&lease.id, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_ne!(err.kind, ProviderErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn refusals_are_denied_until_the_token_changes() {
    let root = bao().await.root_client();
    let base = unique("denied");
    write(
        &root,
        &format!("secret/data/{base}"),
        json!({"data": {"k": "v"}}),
    )
    .await;
    let weak = weak_token().await;
    let provider = SecretHubProvider::new("vault", root.with_token(Sensitive::new(weak.clone())));
    let err = provider.read(&format!("secret/{base}")).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Denied, "{err}");
    assert!(!err.to_string().contains(&weak), "{err}");

    provider.set_token(Sensitive::new(bao().await.root_token.clone()));
    let secret = provider
        .read(&format!("secret/{base}"))
        .await
        .expect("read with the new token");
    assert_eq!(secret.fields["k"].expose(), "v");
}

#[tokio::test]
async fn a_token_file_is_read_again_after_a_refusal() {
    let bao = bao().await;
    let root = bao.root_client();
    let base = unique("tokenfile");
    write(
        &root,
        &format!("secret/data/{base}"),
        json!({"data": {"k": "v"}}),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", weak_token().await)).expect("write token");
    let provider = SecretHubProvider::from_remote(
        "remote",
        &RemoteVault {
            address: bao.server.addr.clone(),
            token: None,
            token_file: Some(token_file.clone()),
            ca_cert: None,
            tls_skip_verify: false,
            default_kv_mount: Some("secret".into()),
        },
    )
    .expect("provider");
    let path = format!("secret/{base}");
    let err = provider.read(&path).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Denied, "{err}");

    // Someone (the agent's sink) writes a better token: the next refusal picks it up.
    std::fs::write(&token_file, &bao.root_token).expect("write token");
    let secret = provider
        .read(&path)
        .await
        .expect("read after the token file changed");
    assert_eq!(secret.fields["k"].expose(), "v");
}

#[tokio::test]
async fn health_reports_the_server_and_the_token() {
    let bao = bao().await;
    let good = root_provider().await.health().await;
    assert!(good.healthy, "{good:?}");
    let bad = SecretHubProvider::new(
        "vault",
        bao.root_client()
            .with_token(Sensitive::new("not-a-token".to_string())),
    )
    .health()
    .await;
    assert!(!bad.healthy, "{bad:?}");
    assert!(!bad.detail.contains("not-a-token"), "{bad:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = Client::new(ClientConfig {
        addr: format!("http://127.0.0.1:{port}"),
        token: Some(Sensitive::new("t".to_string())),
        ..ClientConfig::default()
    })
    .expect("client");
    let provider = SecretHubProvider::new("vault", client);
    let err = provider.read("secret/app").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unavailable, "{err}");
    let health = provider.health().await;
    assert!(!health.healthy, "{health:?}");
}
