//! A KV engine on its own memory store with a clock the test moves, plus helpers that send
//! requests and render the answers as text for snapshots.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use secrethub_engine::{
    Caller, Engine, EngineError, JsonMap, MountContext, MountInfo, Operation, Request, Response,
    StorageView,
};
use secrethub_storage::{FlakyStorage, MemoryStorage, Storage};
use serde_json::Value;

/// 2024-01-01T00:00:00Z in nanoseconds: every test starts its clock here.
pub(crate) const START: i64 = 1_704_067_200 * 1_000_000_000;

pub(crate) struct Kv {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
    pub(crate) flaky: Arc<FlakyStorage>,
    clock: Arc<AtomicI64>,
}

impl Kv {
    /// A kv-v2 mount.
    pub(crate) fn v2() -> Self {
        Self::mount("kv-v2", &[])
    }

    /// A kv (version 1) mount.
    pub(crate) fn v1() -> Self {
        Self::mount("kv", &[("version", "1")])
    }

    pub(crate) fn mount(engine_type: &str, options: &[(&str, &str)]) -> Self {
        let flaky = Arc::new(FlakyStorage::new(Arc::new(MemoryStorage::new())));
        let inner: Arc<dyn Storage> = flaky.clone();
        let storage = StorageView::new(inner, "logical/kv-test/");
        let clock = Arc::new(AtomicI64::new(START));
        let tick = clock.clone();
        let ctx = MountContext {
            engine_type: engine_type.to_string(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            storage: storage.clone(),
        };
        let engine = secrethub_kv::factory_with_clock(
            ctx,
            Arc::new(move || i128::from(tick.load(Ordering::SeqCst))),
        )
        .expect("factory");
        Self {
            engine,
            storage,
            flaky,
            clock,
        }
    }

    /// Moves the clock forward.
    pub(crate) fn advance_secs(&self, secs: i64) {
        self.clock.fetch_add(secs * 1_000_000_000, Ordering::SeqCst);
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
                path: "secret/".into(),
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

    pub(crate) async fn read_with(&self, path: &str, query: Value) -> String {
        self.send(Operation::Read, path, query).await
    }

    pub(crate) async fn write(&self, path: &str, body: Value) -> String {
        self.send(Operation::Update, path, body).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> String {
        self.send(Operation::Patch, path, body).await
    }

    pub(crate) async fn delete(&self, path: &str) -> String {
        self.send(Operation::Delete, path, Value::Null).await
    }

    pub(crate) async fn list(&self, path: &str) -> String {
        self.send(Operation::List, path, Value::Null).await
    }

    /// Writes and panics unless the write succeeded.
    pub(crate) async fn put(&self, path: &str, body: Value) {
        let r = self.call(Operation::Update, path, body).await;
        if let Err(e) = r {
            panic!("write {path} failed: {e}");
        }
    }

    /// The engine's existence answer for a write to `path`.
    pub(crate) async fn exists(&self, path: &str) -> Option<bool> {
        let req = self.request(Operation::Update, path, Value::Null);
        self.engine.exists(&req).await.expect("exists")
    }

    /// Every key the mount has stored, for checks that nothing is left behind.
    pub(crate) async fn stored_keys(&self) -> Vec<String> {
        secrethub_storage::list_all(&self.storage, "")
            .await
            .expect("list")
    }
}

/// `204`, the response as pretty JSON (`data`, plus `warnings` when there are some), or
/// `<ErrorKind>: <message>`.
pub(crate) fn render(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(resp) => {
            if resp.data.is_none() && resp.warnings.is_empty() {
                return "204".to_string();
            }
            let mut out = JsonMap::new();
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

/// Replaces every RFC 3339 time string with `<time>`, for answers from the real clock.
pub(crate) fn mask_times(v: &mut Value) {
    match v {
        Value::String(s) if looks_like_time(s) => *s = "<time>".into(),
        Value::Array(items) => items.iter_mut().for_each(mask_times),
        Value::Object(m) => m.values_mut().for_each(mask_times),
        _ => {}
    }
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && s.ends_with('Z')
}
