//! A kubernetes auth mount on its own memory store, plus helpers that send requests as core
//! would, log in, renew, and render answers as text for snapshots.

use std::sync::{Arc, Mutex};

use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, LoginAuth, LoginRenewal, MountContext, MountInfo,
    Operation, Request, Response, StorageView, TokenParams,
};
use secrethub_storage::MemoryStorage;
use serde_json::{json, Value};

use crate::cluster::{FakeCluster, REVIEWER_JWT};

pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let storage = StorageView::new(Arc::new(MemoryStorage::new()), "auth/k8s-test/");
        let engine = secrethub_auth_kubernetes::factory(MountContext {
            engine_type: "kubernetes".into(),
            options: Default::default(),
            storage: storage.clone(),
        })
        .expect("factory");
        Self { engine, storage }
    }

    /// A mount configured for `cluster` with its CA and the reviewer JWT.
    pub(crate) async fn for_cluster(cluster: &FakeCluster) -> Self {
        let m = Self::new();
        m.ok(
            "config",
            json!({
                "kubernetes_host": cluster.url,
                "kubernetes_ca_cert": cluster.ca_pem,
                "token_reviewer_jwt": REVIEWER_JWT,
            }),
        )
        .await;
        m
    }

    pub(crate) fn request(&self, op: Operation, path: &str, body: Value) -> Request {
        let body = match body {
            Value::Object(m) => m,
            Value::Null => JsonMap::new(),
            other => panic!("test bodies are objects, got {other}"),
        };
        Request {
            op,
            path: path.to_string(),
            body,
            storage: self.storage.clone(),
            caller: Caller::default(),
            mount: MountInfo {
                path: "auth/kubernetes/".into(),
                ..Default::default()
            },
            intents: None,
            timers: None,
            raw_body: None,
        }
    }

    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Response, EngineError> {
        self.engine.handle(self.request(op, path, body)).await
    }

    /// Sends a request and renders the answer (see [`render`]).
    pub(crate) async fn send(&self, op: Operation, path: &str, body: Value) -> String {
        render(self.call(op, path, body).await)
    }

    pub(crate) async fn read(&self, path: &str) -> String {
        self.send(Operation::Read, path, Value::Null).await
    }

    pub(crate) async fn write(&self, path: &str, body: Value) -> String {
        self.send(Operation::Update, path, body).await
    }

    /// Writes and panics unless the write succeeded.
    pub(crate) async fn ok(&self, path: &str, body: Value) {
        if let Err(e) = self.call(Operation::Update, path, body).await {
            panic!("write {path} failed: {e}");
        }
    }

    /// The engine's existence answer for a write to `path`.
    pub(crate) async fn exists(&self, path: &str) -> Option<bool> {
        let req = self.request(Operation::Update, path, Value::Null);
        self.engine.exists(&req).await.expect("exists")
    }

    /// Logs in through `role` with `jwt`; the login, or the error.
    pub(crate) async fn login(&self, role: &str, jwt: &str) -> Result<LoginAuth, EngineError> {
        let path = "login";
        assert!(self.engine.path_flags(path, Operation::Update).login);
        let resp = self
            .call(Operation::Update, path, json!({ "role": role, "jwt": jwt }))
            .await?;
        assert!(resp.data.is_none(), "a login answers only `auth`");
        Ok(*resp.auth.expect("a login answers `auth`"))
    }

    /// Re-checks a login as core does when its token is renewed.
    pub(crate) async fn renew(&self, auth: &LoginAuth) -> Result<TokenParams, EngineError> {
        let renewal = LoginRenewal {
            internal: auth.internal.clone(),
            alias: auth.alias.clone(),
            metadata: auth.metadata.clone(),
            token_policies: auth.token.token_policies.clone(),
            remote_addr: None,
        };
        self.engine.renew_login(&renewal, &self.storage).await
    }
}

/// `204`, the response's `data` as pretty JSON, or `<ErrorKind>: <message>`.
pub(crate) fn render(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(resp) => match resp.data {
            None => "204".to_string(),
            Some(d) => serde_json::to_string_pretty(&Value::Object(d)).expect("json"),
        },
        Err(e) => err(&e),
    }
}

/// `<ErrorKind>: <message>`.
pub(crate) fn err(e: &EngineError) -> String {
    format!("{:?}: {e}", e.kind())
}

/// Everything logged on this thread (every target, down to `trace`) while the guard lives.
/// Tests run on tokio's current-thread runtime, so this covers the engine and hyper.
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(crate) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (Self(buf), tracing::subscriber::set_default(subscriber))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// The `reason` fields of "kubernetes login denied" lines, in order.
    pub(crate) fn denials(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains("kubernetes login denied"))
            .filter_map(|l| {
                let rest = &l[l.find("reason=")? + "reason=".len()..];
                Some(rest.trim().to_string())
            })
            .collect()
    }
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
