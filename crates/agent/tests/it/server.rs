//! A real SecretHub server in process for the agent's tests: `Core` over in-memory storage,
//! initialised and unsealed with a random root token, `secret/` as KV v2, AppRole and
//! userpass enabled, served by `secrethub_server` on a real socket at 127.0.0.1:0.
//! The database engine is registered too (for leased answers against the machine's
//! PostgreSQL), and so are the jwt and kubernetes auth methods; those are mounted only by
//! the tests that need them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig, SinkConfig};
use secrethub_core::{Core, CoreConfig, EngineRegistry};
use serde_json::{json, Value};
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
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
        let listener = secrethub_server::Listener::bind(addr, None)
            .await
            .expect("bind");
        let bound = listener.local_addr().expect("local_addr");
        let shutdown = CancellationToken::new();
        tokio::spawn(secrethub_server::serve(
            listener,
            secrethub_server::app(core),
            shutdown.clone(),
        ));
        let server = TestServer {
            addr: format!("http://{bound}"),
            root,
            shutdown,
        };
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
