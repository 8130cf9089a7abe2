//! An AppRole mount on its own memory store with a clock the test moves, plus helpers that
//! send requests (from a chosen client address) and render the answers for snapshots.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, MountContext, MountInfo, Operation, Request, Response,
    StorageView,
};
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::{json, Value};

/// 2024-01-01T00:00:00Z in nanoseconds: every test starts its clock here.
pub(crate) const START: i64 = 1_704_067_200 * 1_000_000_000;

pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
    memory: Arc<MemoryStorage>,
    clock: Arc<AtomicI64>,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let memory = Arc::new(MemoryStorage::new());
        let inner: Arc<dyn Storage> = memory.clone();
        let storage = StorageView::new(inner, "logical/approle-test/");
        let clock = Arc::new(AtomicI64::new(START));
        let tick = clock.clone();
        let ctx = MountContext {
            engine_type: "approle".into(),
            options: BTreeMap::new(),
            storage: storage.clone(),
        };
        let engine = secrethub_auth_approle::factory_with_clock(
            ctx,
            Arc::new(move || i128::from(tick.load(Ordering::SeqCst))),
        )
        .expect("factory");
        Self {
            engine,
            storage,
            memory,
            clock,
        }
    }

    pub(crate) fn advance_secs(&self, secs: i64) {
        self.clock.fetch_add(secs * 1_000_000_000, Ordering::SeqCst);
    }

    pub(crate) fn request_from(
        &self,
        op: Operation,
        path: &str,
        body: Value,
        addr: Option<&str>,
    ) -> Request {
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
            caller: Caller {
                remote_addr: addr.map(|a| a.parse::<IpAddr>().expect("test address")),
                ..Caller::default()
            },
            mount: MountInfo {
                path: "approle/".into(),
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
        self.engine
            .handle(self.request_from(op, path, body, Some("127.0.0.1")))
            .await
    }

    pub(crate) async fn send(&self, op: Operation, path: &str, body: Value) -> String {
        render(self.call(op, path, body).await)
    }

    pub(crate) async fn read(&self, path: &str) -> String {
        self.send(Operation::Read, path, Value::Null).await
    }

    pub(crate) async fn write(&self, path: &str, body: Value) -> String {
        self.send(Operation::Update, path, body).await
    }

    pub(crate) async fn delete(&self, path: &str) -> String {
        self.send(Operation::Delete, path, Value::Null).await
    }

    pub(crate) async fn list(&self, path: &str) -> String {
        self.send(Operation::List, path, Value::Null).await
    }

    /// Writes and returns the data, panicking unless the write succeeded.
    pub(crate) async fn ok(&self, path: &str, body: Value) -> Value {
        match self.call(Operation::Update, path, body).await {
            Ok(r) => r.data.map(Value::Object).unwrap_or(Value::Null),
            Err(e) => panic!("write {path} failed: {e}"),
        }
    }

    /// Reads and returns the data, panicking unless the read succeeded.
    pub(crate) async fn data(&self, op: Operation, path: &str, body: Value) -> Value {
        match self.call(op, path, body).await {
            Ok(r) => r.data.map(Value::Object).unwrap_or(Value::Null),
            Err(e) => panic!("{op:?} {path} failed: {e}"),
        }
    }

    /// Creates a role and returns its role ID.
    pub(crate) async fn role(&self, name: &str, body: Value) -> String {
        self.ok(&format!("role/{name}"), body).await;
        let d = self
            .data(
                Operation::Read,
                &format!("role/{name}/role-id"),
                Value::Null,
            )
            .await;
        d["role_id"].as_str().expect("role_id").to_string()
    }

    /// Issues a secret ID on `role` and returns (secret_id, accessor).
    pub(crate) async fn secret_id(&self, role: &str, body: Value) -> (String, String) {
        let d = self.ok(&format!("role/{role}/secret-id"), body).await;
        (
            d["secret_id"].as_str().expect("secret_id").to_string(),
            d["secret_id_accessor"]
                .as_str()
                .expect("accessor")
                .to_string(),
        )
    }

    /// Logs in from `addr`.
    pub(crate) async fn login_from(
        &self,
        role_id: &str,
        secret_id: &str,
        addr: &str,
    ) -> Result<Response, EngineError> {
        let req = self.request_from(
            Operation::Update,
            "login",
            json!({"role_id": role_id, "secret_id": secret_id}),
            Some(addr),
        );
        self.engine.handle(req).await
    }

    pub(crate) async fn login(
        &self,
        role_id: &str,
        secret_id: &str,
    ) -> Result<Response, EngineError> {
        self.login_from(role_id, secret_id, "127.0.0.1").await
    }

    /// Every key the mount has stored.
    pub(crate) async fn stored_keys(&self) -> Vec<String> {
        secrethub_storage::list_all(&self.storage, "")
            .await
            .expect("list")
    }

    /// Whether `needle` appears in any stored key or value of the whole memory store.
    pub(crate) async fn storage_contains(&self, needle: &str) -> bool {
        let store: &dyn Storage = self.memory.as_ref();
        for key in secrethub_storage::list_all(store, "").await.expect("list") {
            if key.contains(needle) {
                return true;
            }
            let value = store.get(&key).await.expect("get").unwrap_or_default();
            if String::from_utf8_lossy(&value).contains(needle) {
                return true;
            }
        }
        false
    }
}

/// `204`, the data (and warnings, and `"accepted": true` for a 202) as pretty JSON, a login
/// as its parts, or `<ErrorKind>: <message>`.
pub(crate) fn render(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(resp) => {
            if let Some(auth) = resp.auth {
                let mut token = JsonMap::new();
                auth.token.write_to(&mut token);
                return pretty(&json!({
                    "display_name": auth.display_name,
                    "alias": auth.alias,
                    "metadata": auth.metadata,
                    "token": token,
                }));
            }
            if resp.data.is_none() && resp.warnings.is_empty() && !resp.accepted {
                return "204".to_string();
            }
            let mut out = JsonMap::new();
            if resp.accepted {
                out.insert("accepted".into(), Value::Bool(true));
            }
            if let Some(d) = resp.data {
                out.insert("data".into(), Value::Object(d));
            }
            if !resp.warnings.is_empty() {
                out.insert("warnings".into(), Value::from(resp.warnings));
            }
            pretty(&Value::Object(out))
        }
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}

pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("json")
}

/// The error of a failed call, rendered; panics on success.
pub(crate) fn err(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}
