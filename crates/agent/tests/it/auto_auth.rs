//! Auto-auth against a real server: each method logs in, the sink is written with its mode,
//! the token is renewed past its TTL, replaced at its max TTL, and failed logins are retried
//! without the secret showing up in errors.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use secrethub_agent::auto_auth::{AuthTiming, AutoAuth};
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::server::{approle_config, eventually, sink_path, unique, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);

/// Fast retries, so a test sees several attempts in well under a second.
fn fast() -> AuthTiming {
    AuthTiming {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
    }
}

fn read_sink(dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(sink_path(dir)).ok()
}

#[tokio::test]
async fn approle_login_writes_the_sink_with_mode_0600_and_the_token_works() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role = unique("app");
    let creds = server
        .approle(&role, json!({"token_ttl": "1h", "token_max_ttl": "2h"}))
        .await;
    let config = approle_config(dir.path(), &creds, false);
    let shutdown = CancellationToken::new();
    let (handle, task) = AutoAuth::new(server.client(), config).spawn(shutdown.clone());

    let token = handle.wait_for_token().await.expect("token");
    let sink = eventually(DEADLINE, "the sink", || async { read_sink(dir.path()) }).await;
    assert_eq!(&sink, token.expose());
    let mode = std::fs::metadata(sink_path(dir.path()))
        .expect("sink metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let me = server
        .client_with(&sink)
        .read("auth/token/lookup-self")
        .await
        .expect("lookup-self")
        .expect("answer");
    assert_eq!(me["data"]["path"], json!("auth/approle/login"), "{me}");
    assert!(
        dir.path().join("secret_id").exists(),
        "kept when not asked to remove"
    );

    shutdown.cancel();
    task.await.expect("auto-auth task");
}

#[tokio::test]
async fn a_renewable_token_is_kept_alive_past_its_ttl() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role = unique("renew");
    let creds = server
        .approle(&role, json!({"token_ttl": "3s", "token_max_ttl": "60s"}))
        .await;
    let shutdown = CancellationToken::new();
    let (handle, _task) = AutoAuth::new(server.client(), approle_config(dir.path(), &creds, false))
        .spawn(shutdown.clone());
    let token = handle.wait_for_token().await.expect("token");
    let first = server.lookup(token.expose()).await.expect("token alive");
    let born = first["data"]["creation_time"]
        .as_i64()
        .expect("creation_time");

    // Watch the token until the wall clock is well past its initial TTL: it must stay valid
    // all along (only renewals can explain that).
    eventually(
        DEADLINE,
        "the initial TTL to pass with the token alive",
        || async {
            let data = server.lookup(token.expose()).await;
            assert!(data.is_some(), "the token died");
            (secrethub_common::now_unix() > born + 5).then_some(())
        },
    )
    .await;
    assert_eq!(
        handle.current().as_ref(),
        Some(&token),
        "same token, renewed"
    );
    assert_eq!(
        read_sink(dir.path()).as_deref(),
        Some(token.expose().as_str())
    );
    shutdown.cancel();
}

#[tokio::test]
async fn at_its_max_ttl_the_token_is_replaced_and_the_sink_follows() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role = unique("maxttl");
    let creds = server
        .approle(&role, json!({"token_ttl": "2s", "token_max_ttl": "4s"}))
        .await;
    let shutdown = CancellationToken::new();
    let (handle, _task) = AutoAuth::new(server.client(), approle_config(dir.path(), &creds, false))
        .spawn(shutdown.clone());
    let first = handle.wait_for_token().await.expect("token");

    let second = eventually(DEADLINE, "a new token in the sink", || async {
        read_sink(dir.path()).filter(|t| t != first.expose())
    })
    .await;
    assert_eq!(
        handle.current().map(|t| t.expose().clone()),
        Some(second.clone())
    );
    assert!(
        server.lookup(&second).await.is_some(),
        "the new token is valid"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn the_secret_id_file_is_removed_and_the_value_kept_for_the_next_login() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role = unique("remove");
    let creds = server
        .approle(&role, json!({"token_ttl": "1h", "secret_id_num_uses": 0}))
        .await;
    let shutdown = CancellationToken::new();
    let (handle, _task) = AutoAuth::new(server.client(), approle_config(dir.path(), &creds, true))
        .spawn(shutdown.clone());
    let first = handle.wait_for_token().await.expect("token");
    assert!(
        !dir.path().join("secret_id").exists(),
        "removed after reading"
    );

    handle.reauthenticate();
    let mut rx = handle.token();
    let second = tokio::time::timeout(DEADLINE, rx.wait_for(|t| t.as_ref() != Some(&first)))
        .await
        .expect("a second login in time")
        .expect("auto-auth running")
        .clone()
        .expect("token");
    assert!(server.lookup(second.expose()).await.is_some());
    shutdown.cancel();
}

#[tokio::test]
async fn a_wrong_secret_id_is_retried_and_never_shown() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role = unique("wrong");
    let mut creds = server.approle(&role, json!({"token_ttl": "1h"})).await;
    let good = std::mem::replace(&mut creds.secret_id, unique("wrong-secret-id-"));
    let auth = AutoAuth::new(server.client(), approle_config(dir.path(), &creds, true))
        .with_timing(fast());

    let err = auth.login_once().await.expect_err("wrong secret_id");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("auth/approle/login"), "{shown}");
    assert!(!shown.contains(&creds.secret_id), "{shown}");
    assert!(!dir.path().join("secret_id").exists());

    // The agent keeps trying with the value it read; a new secret_id file is picked up.
    let shutdown = CancellationToken::new();
    let (handle, _task) = auth.spawn(shutdown.clone());
    assert!(handle.current().is_none());
    // Written aside and renamed, so the agent never reads half a secret ID.
    std::fs::write(dir.path().join("secret_id.new"), &good).expect("new secret_id");
    std::fs::rename(
        dir.path().join("secret_id.new"),
        dir.path().join("secret_id"),
    )
    .expect("rename");
    let token = tokio::time::timeout(DEADLINE, handle.wait_for_token())
        .await
        .expect("login after the retry")
        .expect("token");
    assert!(server.lookup(token.expose()).await.is_some());
    shutdown.cancel();
}

#[tokio::test]
async fn userpass_logs_in_with_the_password_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let user = unique("user");
    let password = unique("pw with space ");
    server
        .root_client()
        .write(
            &format!("auth/userpass/users/{user}"),
            &json!({"password": password, "token_ttl": "1h"}),
        )
        .await
        .expect("user");
    std::fs::write(dir.path().join("password"), format!("{password}\n")).expect("password");
    let config = AutoAuthConfig {
        method: AuthMethodConfig::Userpass {
            username: user.clone(),
            password_file_path: dir.path().join("password"),
        },
        mount_path: "auth/userpass".into(),
        sinks: vec![SinkConfig {
            path: sink_path(dir.path()),
            mode: 0o640,
        }],
    };
    let auth = AutoAuth::new(server.client(), config);
    let info = auth.login_once().await.expect("login");
    assert!(info.renewable);
    assert_eq!(info.lease_duration, Duration::from_secs(3600));
    let looked = server.lookup(info.token.expose()).await.expect("valid");
    assert_eq!(looked["data"]["accessor"], json!(info.accessor));

    std::fs::write(dir.path().join("password"), "not-it").expect("password");
    let err = auth.login_once().await.expect_err("wrong password");
    assert!(!format!("{err} {err:?}").contains("not-it"), "{err}");
}

#[tokio::test]
async fn token_file_learns_the_ttl_and_writes_the_sink() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let created = server
        .root_client()
        .write(
            "auth/token/create",
            &json!({"ttl": "1h", "policies": ["default"]}),
        )
        .await
        .expect("token create")
        .expect("answer");
    let token = created["auth"]["client_token"].as_str().expect("token");
    std::fs::write(dir.path().join("token"), format!("  {token}\n")).expect("token file");
    let config = AutoAuthConfig {
        method: AuthMethodConfig::TokenFile {
            token_file_path: dir.path().join("token"),
        },
        mount_path: "auth/token".into(),
        sinks: vec![SinkConfig {
            path: sink_path(dir.path()),
            mode: 0o600,
        }],
    };
    let auth = AutoAuth::new(server.client(), config);
    let info = auth.login_once().await.expect("token_file login");
    assert_eq!(info.token.expose(), token);
    assert!(info.renewable);
    assert_eq!(info.original_ttl, Duration::from_secs(3600));
    assert!(info.lease_duration <= Duration::from_secs(3600));
    assert_eq!(json!(info.accessor), created["auth"]["accessor"]);

    let shutdown = CancellationToken::new();
    let (handle, _task) = auth.spawn(shutdown.clone());
    handle.wait_for_token().await.expect("token");
    let sink = eventually(DEADLINE, "the sink", || async { read_sink(dir.path()) }).await;
    assert_eq!(sink, token);
    shutdown.cancel();

    std::fs::write(dir.path().join("token"), "").expect("empty file");
    let err = AutoAuth::new(
        server.client(),
        AutoAuthConfig {
            method: AuthMethodConfig::TokenFile {
                token_file_path: dir.path().join("token"),
            },
            mount_path: "auth/token".into(),
            sinks: Vec::new(),
        },
    )
    .login_once()
    .await
    .expect_err("empty token file");
    assert!(err.to_string().contains("is empty"), "{err}");
}
