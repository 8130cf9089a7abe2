//! The agent while its server is down: the in-process server's HTTP listener is stopped and
//! started again on the same port (the `Core`, with its tokens, secrets and leases, lives on).
//! The proxy keeps serving a cached leased answer, the lease keeper's renewals fail during the
//! outage and succeed after it without replacing the lease, and connecting or reading a
//! secret fails at once with an error that names the server's address.

use std::sync::Arc;
use std::time::Duration;

use secrethub_agent::proxy::{serve, ProxyConfig, ProxyListener, ProxyState};
use secrethub_agent::render::SecretSource;
use secrethub_agent::renewer::LeaseKeeper;
use secrethub_agent::Setup;
use secrethub_client::{Client, ClientConfig, ClientErrorKind};
use secrethub_common::Sensitive;
use secrethub_config::agent::LeaseRenewalConfig;
use secrethub_providers::Providers;
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::server::{eventually, unique, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);

/// Proves the server is down: a direct request cannot connect.
async fn assert_down(server: &TestServer) {
    let err = server
        .root_client()
        .with_max_retries(0)
        .read("sys/mounts")
        .await
        .expect_err("the server is down");
    assert_eq!(err.kind, ClientErrorKind::Connection, "{err}");
}

#[tokio::test]
async fn the_proxy_serves_a_cached_leased_answer_while_the_server_is_down() {
    let server = TestServer::start().await;
    let role = server.database_role("1h", "2h").await;
    let creds = format!("database/creds/{role}");
    let shutdown = CancellationToken::new();
    let (_token, agent_token) =
        watch::channel(Some(Sensitive::new(server.root_token().to_string())));
    let config = ProxyConfig {
        use_auto_auth_token: true,
        cache: true,
        kv_ttl: Duration::from_secs(30),
    };
    let state = Arc::new(ProxyState::new(server.client(), agent_token, config));
    let listener = ProxyListener::bind_tcp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind the proxy");
    let proxy_addr = listener.local_addr().expect("proxy address");
    tokio::spawn(serve(listener, state, shutdown.clone()));
    let proxy = Client::new(ClientConfig {
        addr: format!("http://{proxy_addr}"),
        timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    })
    .expect("proxy client")
    .with_max_retries(0);

    let first = proxy.read(&creds).await.expect("creds").expect("answer");
    let lease = first["lease_id"].as_str().expect("lease_id").to_string();

    server.stop_http().await;
    assert_down(&server).await;
    // Whatever the proxy answers now comes from its cache.
    let cached = proxy
        .read(&creds)
        .await
        .expect("served while the server is down")
        .expect("answer");
    assert_eq!(cached["lease_id"], json!(lease));
    assert_eq!(cached["data"], first["data"], "the same credentials");
    let left = cached["lease_duration"].as_u64().expect("lease_duration");
    assert!(
        left > 3500 && left <= 3600,
        "the time left on the lease: {left}"
    );
    // A request it has not cached reaches nothing: 502.
    let uncached = proxy
        .read("auth/token/lookup-self")
        .await
        .expect_err("nothing to answer with");
    assert_eq!(uncached.status, Some(502), "{uncached}");

    server.start_http().await;
    let back = proxy
        .read("auth/token/lookup-self")
        .await
        .expect("the server is back");
    assert!(back.is_some());
    assert_eq!(
        proxy.read(&creds).await.expect("creds").expect("answer")["lease_id"],
        json!(lease),
        "still the cached lease"
    );
    shutdown.cancel();
    server.revoke_prefix(&creds).await;
}

#[tokio::test]
async fn renewals_fail_during_an_outage_and_succeed_after_it_without_replacing_the_lease() {
    let server = TestServer::start().await;
    // A 30 s lease renewed when 95% is left (every 1.5 s), retried every 100-200 ms for as
    // long as the lease allows: the outage is far shorter than the lease.
    let role = server.database_role("30s", "1h").await;
    let creds = format!("database/creds/{role}");
    let provider = server.recorded_provider(server.root_token());
    let providers = Arc::new(Providers::new(provider.clone()));
    let policy = LeaseRenewalConfig {
        renew_at: 0.95,
        max_attempts: 1000,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(200),
        grace: Duration::from_secs(1),
        on_failed: None,
    };
    let shutdown = CancellationToken::new();
    let keeper = LeaseKeeper::new(providers, policy, shutdown.clone());
    let mut rotations = keeper.subscribe();
    let fetched = keeper.fetch(None, &creds).await.expect("creds");
    let lease = fetched.secret.lease.expect("leased").id;
    let outcomes = || {
        let renewals = provider.renewals();
        assert!(renewals.iter().all(|r| r.lease_id == lease), "{renewals:?}");
        let ok = renewals.iter().filter(|r| r.outcome.is_ok()).count();
        (ok, renewals.len() - ok)
    };
    eventually(DEADLINE, "a first renewal", || async {
        (outcomes().0 >= 1).then_some(())
    })
    .await;

    server.stop_http().await;
    assert_down(&server).await;
    let (ok_before, failed_before) = outcomes();
    eventually(DEADLINE, "renewals failing during the outage", || async {
        (outcomes().1 >= failed_before + 2).then_some(())
    })
    .await;
    let failure = provider
        .renewals()
        .into_iter()
        .find_map(|r| r.outcome.err())
        .expect("a failure");
    assert!(
        failure.contains(server.addr()),
        "the error names the server: {failure}"
    );

    server.start_http().await;
    // The renewal that was being retried succeeds (it does not wait for the next period).
    let (_, failed_at_restart) = outcomes();
    eventually(DEADLINE, "a renewal after the outage", || async {
        (outcomes().0 > ok_before).then_some(())
    })
    .await;
    assert!(
        outcomes().1 <= failed_at_restart + 1,
        "at most the attempt in flight at the restart failed"
    );
    let renewed = provider
        .renewals()
        .into_iter()
        .rev()
        .find_map(|r| r.outcome.ok())
        .expect("a renewal");
    assert_eq!(renewed, Duration::from_secs(30), "granted in full");
    assert_eq!(
        rotations.try_recv().err(),
        Some(broadcast::error::TryRecvError::Empty),
        "the lease was kept, not replaced"
    );
    assert_eq!(keeper.leases().await[0].1, lease);
    shutdown.cancel();
    server.revoke_prefix(&creds).await;
}

#[tokio::test]
async fn connecting_or_reading_with_the_server_down_fails_at_once_naming_the_address() {
    let server = TestServer::start().await;
    let creds = server
        .approle(&unique("down"), json!({"token_policies": ["default"]}))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("role_id"), &creds.role_id).expect("role_id");
    std::fs::write(dir.path().join("secret_id"), &creds.secret_id).expect("secret_id");
    let config = secrethub_config::parse_agent(
        &format!(
            r#"
            vault {{
              address = "{}"
              retry {{ num_retries = 1 }}
            }}
            auto_auth {{
              method "approle" {{
                config = {{
                  role_id_file_path = "role_id"
                  secret_id_file_path = "secret_id"
                  remove_secret_id_file_after_reading = false
                }}
              }}
            }}
            "#,
            server.addr()
        ),
        dir.path(),
    )
    .expect("agent config");
    let name = unique("app");
    server
        .root_client()
        .write(&format!("secret/data/{name}"), &json!({"data": {"k": "v"}}))
        .await
        .expect("kv write");
    server.stop_http().await;

    // The CLI's default address is elsewhere; the config's `vault {}` wins.
    let base = ClientConfig::default();
    let login = tokio::time::timeout(DEADLINE, Setup::connect(base, Some(&config)))
        .await
        .expect("no hang");
    let err = format!(
        "{:#}",
        login.err().expect("the login cannot reach the server")
    );
    assert!(err.contains(server.addr()), "{err}");
    assert!(err.contains("auto-auth login"), "{err}");
    assert!(
        !err.contains(&creds.secret_id),
        "no secret in errors: {err}"
    );

    let base = ClientConfig {
        addr: server.addr().to_string(),
        token: Some(Sensitive::new(server.root_token().to_string())),
        timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    };
    let setup = Setup::connect(base, None)
        .await
        .expect("no IO without auto_auth");
    let reference = format!("${{secret:secret/{name}#k}}");
    let read = tokio::time::timeout(DEADLINE, secrethub_agent::render_once(&setup, &reference))
        .await
        .expect("no hang");
    let err = read
        .expect_err("the read cannot reach the server")
        .to_string();
    assert!(err.contains(server.addr()), "{err}");
    assert!(
        err.contains(&format!("secret/{name}")),
        "names the reference: {err}"
    );
    // The same through the keeper, as the agent reads.
    let keeper = LeaseKeeper::new(
        setup.providers.clone(),
        LeaseRenewalConfig::default(),
        CancellationToken::new(),
    );
    let fetched = tokio::time::timeout(DEADLINE, keeper.fetch(None, &format!("secret/{name}")))
        .await
        .expect("no hang");
    let err = fetched.expect_err("unreachable").to_string();
    assert!(err.contains(server.addr()), "{err}");

    // Back up, the same calls work: the errors were the outage.
    server.start_http().await;
    let rendered = secrethub_agent::render_once(&setup, &reference)
        .await
        .expect("rendered");
    assert_eq!(rendered.expose(), "v");
    Setup::connect(ClientConfig::default(), Some(&config))
        .await
        .expect("auto-auth login");
}
