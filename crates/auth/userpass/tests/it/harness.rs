//! A userpass mount on its own memory store, plus helpers that send requests (from a chosen
//! client address) and render the answers for snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrethub_auth_userpass::Userpass;
use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, MountContext, MountInfo, Operation, Request, Response,
    StorageView,
};
use secrethub_storage::{MemoryStorage, Storage};
use serde_json::{json, Value};

pub(crate) struct Mount {
    pub(crate) engine: Arc<Userpass>,
    pub(crate) storage: StorageView,
    memory: Arc<MemoryStorage>,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let memory = Arc::new(MemoryStorage::new());
        let inner: Arc<dyn Storage> = memory.clone();
        let storage = StorageView::new(inner, "logical/userpass-test/");
        let ctx = MountContext {
            engine_type: "userpass".into(),
            options: BTreeMap::new(),
            storage: storage.clone(),
        };
        Self {
            engine: Arc::new(Userpass::new(ctx)),
            storage,
            memory,
        }
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
                remote_addr: addr.map(|a| a.parse().expect("test address")),
                ..Caller::default()
            },
            mount: MountInfo {
                path: "userpass/".into(),
                ..Default::default()
            },
            intents: None,
            timers: None,
            raw_body: None,
        }
    }

    pub(crate) async fn send(&self, op: Operation, path: &str, body: Value) -> String {
        let req = self.request_from(op, path, body, Some("127.0.0.1"));
        render(self.engine.handle(req).await)
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

    /// Logs in from `addr`.
    pub(crate) async fn login_from(
        &self,
        user: &str,
        password: &str,
        addr: &str,
    ) -> Result<Response, EngineError> {
        let req = self.request_from(
            Operation::Update,
            &format!("login/{user}"),
            json!({ "password": password }),
            Some(addr),
        );
        self.engine.handle(req).await
    }

    pub(crate) async fn login(&self, user: &str, password: &str) -> Result<Response, EngineError> {
        self.login_from(user, password, "127.0.0.1").await
    }

    /// Whether `needle` appears in any stored key or value of the whole memory store.
    pub(crate) async fn storage_contains(&self, needle: &str) -> bool {
        let store: &dyn Storage = self.memory.as_ref();
        for key in secrethub_storage::list_all(store, "").await.expect("list") {
            let value = store.get(&key).await.expect("get").unwrap_or_default();
            if key.contains(needle) || String::from_utf8_lossy(&value).contains(needle) {
                return true;
            }
        }
        false
    }
}

/// `204`, the data as pretty JSON, a login as its parts, or `<ErrorKind>: <message>`.
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
                    "internal": auth.internal,
                }));
            }
            match resp.data {
                None => "204".to_string(),
                Some(d) => pretty(&json!({ "data": d })),
            }
        }
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}

pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("json")
}
