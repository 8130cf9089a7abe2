//! A real SecretHub server in process for the agent's tests: `Core` over in-memory storage,
//! initialised and unsealed with a random root token, `secret/` as KV v2, AppRole and
//! userpass enabled, `secrethub_server`'s app served on a real socket at 127.0.0.1:0.
//! The database engine is registered too (for leased answers against the machine's
//! PostgreSQL), and so are the jwt and kubernetes auth methods; those are mounted only by
//! the tests that need them.
//!
//! The HTTP listener can be stopped and started again on the same port while the `Core` (and
//! so every token, secret and lease) lives on, for the fault tests ([`TestServer::stop_http`],
//! [`TestServer::start_http`]). It is served by `axum::serve` with graceful shutdown rather
//! than `secrethub_server::serve`, because a stop must wait until every connection is closed:
//! a request on a kept-alive connection must not reach a server that is meant to be down.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use secrethub_core::{Core, CoreConfig, EngineRegistry};
use secrethub_providers::{
    Health, Lease, Provider, ProviderError, Secret, SecretHubProvider, DEFAULT_PROVIDER,
};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The engines and auth methods the tests use, as the composition root registers them.
fn registry() -> EngineRegistry {
    EngineRegistry::new()
        .register("kv", secrethub_kv::factory)
        .register("database", secrethub_database::factory)
        .register_auth("approle", secrethub_auth_approle::factory)
        .register_auth("userpass", secrethub_auth_userpass::factory)
        .register_auth("jwt", secrethub_auth_jwt::factory)
        .register_auth("kubernetes", secrethub_auth_kubernetes::factory)
}

/// A running server; stops when dropped.
pub(crate) struct TestServer {
    addr: String,
    root: String,
    shutdown: CancellationToken,
    /// The port the listener is bound to, again after a restart.
    bound: SocketAddr,
    app: axum::Router,
    /// The listener while it runs: what stops it and its task.
    http: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An AppRole role's credentials.
pub(crate) struct AppRole {
    pub(crate) role_id: String,
    pub(crate) secret_id: String,
}

impl TestServer {
    pub(crate) async fn start() -> TestServer {
        if let Ok(filter) = std::env::var("SECRETHUB_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let core = Core::new(
            Arc::new(secrethub_storage::MemoryStorage::new()),
            registry(),
            CoreConfig::default(),
        );
        let root = unique("root");
        core.init_dev(Some(&root)).await.expect("init_dev");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let bound = listener.local_addr().expect("local_addr");
        let server = TestServer {
            addr: format!("http://{bound}"),
            root,
            shutdown: CancellationToken::new(),
            bound,
            app: secrethub_server::app(core),
            http: Mutex::new(None),
        };
        server.serve(listener);
        let root = server.root_client();
        for (path, body) in [
            (
                "sys/mounts/secret",
                json!({"type": "kv", "options": {"version": "2"}}),
            ),
            ("sys/auth/approle", json!({"type": "approle"})),
            ("sys/auth/userpass", json!({"type": "userpass"})),
        ] {
            root.write(path, &body).await.expect(path);
        }
        server
    }

    /// The address clients use, `http://127.0.0.1:PORT`.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let stop = self.shutdown.child_token();
        let app = self
            .app
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        let signal = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await;
        });
        let previous = self
            .http
            .lock()
            .expect("listener lock")
            .replace((stop, task));
        assert!(previous.is_none(), "the listener was already running");
    }

    /// Stops the HTTP listener and waits until the port is closed and every connection is
    /// gone; the `Core` keeps its state.
    pub(crate) async fn stop_http(&self) {
        let running = self.http.lock().expect("listener lock").take();
        let (stop, task) = running.expect("the listener is running");
        stop.cancel();
        task.await.expect("listener task");
    }

    /// Listens again on the same port (after [`TestServer::stop_http`]).
    pub(crate) async fn start_http(&self) {
        let listener = tokio::net::TcpListener::bind(self.bound)
            .await
            .expect("bind the same port again");
        self.serve(listener);
    }

    /// A client without a token, as the agent is given.
    pub(crate) fn client(&self) -> Client {
        Client::new(ClientConfig {
            addr: self.addr.clone(),
            timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        })
        .expect("client")
    }

    pub(crate) fn root_client(&self) -> Client {
        self.client().with_token(Sensitive::new(self.root.clone()))
    }

    /// A client presenting `token`.
    pub(crate) fn client_with(&self, token: &str) -> Client {
        self.client().with_token(Sensitive::new(token.to_string()))
    }

    /// Writes an ACL policy.
    pub(crate) async fn policy(&self, name: &str, hcl: &str) {
        self.root_client()
            .write(
                &format!("sys/policies/acl/{name}"),
                &json!({ "policy": hcl }),
            )
            .await
            .expect("policy");
    }

    /// Creates an AppRole role with these token settings and returns a role ID and a fresh
    /// secret ID.
    pub(crate) async fn approle(&self, role: &str, settings: Value) -> AppRole {
        let root = self.root_client();
        root.write(&format!("auth/approle/role/{role}"), &settings)
            .await
            .expect("role");
        let role_id = root
            .read(&format!("auth/approle/role/{role}/role-id"))
            .await
            .expect("role-id")
            .expect("role-id answer")["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_string();
        AppRole {
            role_id,
            secret_id: self.secret_id(role).await,
        }
    }

    /// A new secret ID of `role`.
    pub(crate) async fn secret_id(&self, role: &str) -> String {
        self.root_client()
            .write(&format!("auth/approle/role/{role}/secret-id"), &json!({}))
            .await
            .expect("secret-id")
            .expect("secret-id answer")["data"]["secret_id"]
            .as_str()
            .expect("secret_id")
            .to_string()
    }

    /// Mounts `database/` against the machine's PostgreSQL with one new role of these TTLs;
    /// answers the role's name.
    pub(crate) async fn database_role(&self, default_ttl: &str, max_ttl: &str) -> String {
        let root = self.root_client();
        root.write("sys/mounts/database", &json!({"type": "database"}))
            .await
            .expect("mount database");
        let role = unique("agentrole");
        root.write(
            "database/config/pg",
            &json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
                "username": "postgres",
                "password": "trust-ignores-it",
                "allowed_roles": role,
            }),
        )
        .await
        .expect("database config (is PostgreSQL running on 127.0.0.1:5432?)");
        root.write(
            &format!("database/roles/{role}"),
            &json!({
                "db_name": "pg",
                "default_ttl": default_ttl,
                "max_ttl": max_ttl,
                "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            }),
        )
        .await
        .expect("database role");
        role
    }

    /// Revokes every lease under `prefix` at once (dropping the PostgreSQL roles of
    /// `database/creds/…`), as root, and waits until none is left.
    pub(crate) async fn revoke_prefix(&self, prefix: &str) {
        let root = self.root_client();
        root.write(
            &format!("sys/leases/revoke-prefix/{prefix}"),
            &json!({"sync": true}),
        )
        .await
        .expect("revoke-prefix");
        eventually(
            Duration::from_secs(20),
            "the leases to be revoked",
            || async {
                let left = root
                    .list(&format!("sys/leases/lookup/{prefix}/"))
                    .await
                    .expect("list leases");
                left.is_none().then_some(())
            },
        )
        .await;
    }

    /// The built-in provider (`secrethub`) reading with `token`, wrapped to record reads and
    /// renewals.
    pub(crate) fn recorded_provider(&self, token: &str) -> Arc<Recorded> {
        Arc::new(Recorded {
            inner: SecretHubProvider::new(DEFAULT_PROVIDER, self.client_with(token)),
            reads: Mutex::new(Vec::new()),
            renewals: Mutex::new(Vec::new()),
        })
    }

    /// The root token.
    pub(crate) fn root_token(&self) -> &str {
        &self.root
    }

    /// `auth/token/lookup` of `token` as root: `None` once the token is gone.
    pub(crate) async fn lookup(&self, token: &str) -> Option<Value> {
        self.root_client()
            .write("auth/token/lookup", &json!({ "token": token }))
            .await
            .ok()
            .flatten()
    }
}

/// An approle auto-auth configuration reading `dir/role_id` and `dir/secret_id`, with one
/// sink at `dir/sink` (mode 0600).
pub(crate) fn approle_config(dir: &Path, role: &AppRole, remove_secret_id: bool) -> AutoAuthConfig {
    std::fs::write(dir.join("role_id"), &role.role_id).expect("role_id file");
    std::fs::write(dir.join("secret_id"), format!("{}\n", role.secret_id)).expect("secret_id file");
    AutoAuthConfig {
        method: AuthMethodConfig::AppRole {
            role_id_file_path: dir.join("role_id"),
            secret_id_file_path: Some(dir.join("secret_id")),
            remove_secret_id_file_after_reading: remove_secret_id,
        },
        mount_path: "auth/approle".into(),
        sinks: vec![SinkConfig {
            path: sink_path(dir),
            mode: 0o600,
        }],
    }
}

pub(crate) fn sink_path(dir: &Path) -> PathBuf {
    dir.join("sink")
}

/// A unique name for things a test creates.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        secrethub_common::random_alnum(8).to_lowercase()
    )
}

/// Polls `probe` every 50 ms until it answers `Some`, failing the test after `deadline`.
pub(crate) async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One read through [`Recorded`]: the path, and the version answered (`None`: no version, or
/// the read failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadRecord {
    pub(crate) path: String,
    pub(crate) ok: bool,
    pub(crate) version: Option<String>,
}

/// One renewal through [`Recorded`]: the lease and the granted duration, or the error text.
#[derive(Debug, Clone)]
pub(crate) struct RenewRecord {
    pub(crate) lease_id: String,
    pub(crate) outcome: Result<Duration, String>,
}

/// A [`SecretHubProvider`] that records every read and renewal (never a value).
pub(crate) struct Recorded {
    inner: SecretHubProvider,
    reads: Mutex<Vec<ReadRecord>>,
    renewals: Mutex<Vec<RenewRecord>>,
}

impl Recorded {
    pub(crate) fn reads(&self) -> Vec<ReadRecord> {
        self.reads.lock().expect("reads lock").clone()
    }

    pub(crate) fn renewals(&self) -> Vec<RenewRecord> {
        self.renewals.lock().expect("renewals lock").clone()
    }
}

#[async_trait]
impl Provider for Recorded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        let answer = self.inner.read(path).await;
        self.reads.lock().expect("reads lock").push(ReadRecord {
            path: path.to_string(),
            ok: answer.is_ok(),
            version: answer.as_ref().ok().and_then(|s| s.version.clone()),
        });
        answer
    }

    async fn renew(&self, lease_id: &str, increment: Duration) -> Result<Lease, ProviderError> {
        let answer = self.inner.renew(lease_id, increment).await;
        self.renewals
            .lock()
            .expect("renewals lock")
            .push(RenewRecord {
                lease_id: lease_id.to_string(),
                outcome: match &answer {
                    Ok(lease) => Ok(lease.duration),
                    Err(err) => Err(err.to_string()),
                },
            });
        answer
    }

    async fn revoke(&self, lease_id: &str) -> Result<(), ProviderError> {
        self.inner.revoke(lease_id).await
    }

    async fn health(&self) -> Health {
        self.inner.health().await
    }
}
