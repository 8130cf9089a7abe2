//! A test server: core + app, with helpers that speak HTTP the way Vault clients do.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrethub_core::{Core, CoreConfig, EngineRegistry};
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::Value;
use tower::ServiceExt as _;

pub(crate) struct TestServer {
    pub(crate) core: Arc<Core>,
    pub(crate) app: axum::Router,
    pub(crate) root: String,
    /// The single unseal key of a dev server (empty when uninitialised).
    pub(crate) unseal_key: String,
}

pub(crate) fn registry() -> EngineRegistry {
    EngineRegistry::new()
        .register("kv", secrethub_kv::factory)
        .register("test-leases", crate::lease_engine::factory)
        .register("test-timers", crate::timers::factory)
        .register("test-raw-input", crate::raw_requests::factory)
        .register("test-special", crate::special_engine::factory)
        .register_auth("test-login", crate::login_engine::factory)
        .register_auth("approle", secrethub_auth_approle::factory)
        .register_auth("userpass", secrethub_auth_userpass::factory)
}

/// Fast revocation retries, so tests see backoff and irrevocability in milliseconds.
pub(crate) fn config() -> CoreConfig {
    CoreConfig {
        lease_retry: secrethub_core::LeaseRetryConfig {
            base_delay: std::time::Duration::from_millis(20),
            max_delay: std::time::Duration::from_millis(100),
            max_attempts: 3,
            breaker_threshold: 1000,
            ..Default::default()
        },
        ..Default::default()
    }
}

impl TestServer {
    /// Initialised, unsealed, `secret/` mounted as KV v2.
    pub(crate) async fn dev() -> TestServer {
        Self::over(Arc::new(MemoryStorage::new())).await
    }

    pub(crate) async fn over(storage: Arc<dyn Storage>) -> TestServer {
        Self::with(storage, config()).await
    }

    /// Like [`TestServer::dev`] with a core configuration of the test's own.
    pub(crate) async fn with(storage: Arc<dyn Storage>, config: CoreConfig) -> TestServer {
        // `SECRETHUB_LOG=debug cargo test ...` shows the server's log for a failing test.
        if let Ok(filter) = std::env::var("SECRETHUB_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let core = Core::new(storage, registry(), config);
        let init = core.init_dev(None).await.expect("init_dev");
        let t = TestServer {
            app: secrethub_server::app(core.clone()),
            core,
            root: init.root_token.to_string(),
            unseal_key: init.keys[0].to_string(),
        };
        let (s, _) = t
            .req(
                "POST",
                "sys/mounts/secret",
                Some(&t.root),
                Some(serde_json::json!({"type": "kv-v2"})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        t
    }

    /// A fresh, uninitialised server.
    pub(crate) fn uninitialized() -> TestServer {
        let core = Core::new(Arc::new(MemoryStorage::new()), registry(), config());
        TestServer {
            app: secrethub_server::app(core.clone()),
            core,
            root: String::new(),
            unseal_key: String::new(),
        }
    }

    pub(crate) async fn raw(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, json)
    }

    /// One request with `headers` and a `body` of bytes, answered as it came: status,
    /// headers and body bytes (for answers that are not JSON).
    pub(crate) async fn exchange(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut b = Request::builder().method(method).uri(format!("/v1/{path}"));
        if let Some(tok) = token {
            b = b.header("x-vault-token", tok);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, bytes.to_vec())
    }

    /// `method` is an HTTP method name (LIST included); `path` is after `/v1/`.
    pub(crate) async fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(format!("/v1/{path}"));
        if let Some(t) = token {
            b = b.header("x-vault-token", t);
        }
        let body = body
            .map(|v| Body::from(v.to_string()))
            .unwrap_or_else(Body::empty);
        self.raw(b.body(body).expect("request")).await
    }

    pub(crate) async fn root(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.req(method, path, Some(&self.root.clone()), body).await
    }

    /// Enables a file audit device (`file/`) writing to a new temporary directory; answers
    /// the directory (keep it alive) and the file.
    pub(crate) async fn audit_to_file(&self) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("audit.log");
        let options = serde_json::json!({"file_path": file.to_str().expect("UTF-8 path")});
        let (s, v) = self
            .root(
                "PUT",
                "sys/audit/file",
                Some(serde_json::json!({"type": "file", "options": options})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        (dir, file)
    }

    /// Creates a token with the given policies (as root) and returns it.
    pub(crate) async fn token_with(&self, policies: &[&str]) -> String {
        let (s, v) = self
            .root(
                "POST",
                "auth/token/create",
                Some(serde_json::json!({"policies": policies})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_string()
    }
}

/// A unique name for things a test creates.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        secrethub_common::random_alnum(8).to_lowercase()
    )
}

/// Polls `cond` until it holds (expiry is real time passing; the deadline bounds the test).
pub(crate) async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
