//! A transit mount on its own memory store, with the timers it sets recorded as core would
//! keep them, and helpers to send requests and read answers.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrethub_engine::{
    Caller, Engine, EngineError, MountContext, MountInfo, Operation, Request, Response, StorageView,
};
use secrethub_storage::MemoryStorage;
use serde_json::{json, Value};

/// Timers the engine set, as core would keep them.
pub(crate) type RecordedTimers = secrethub_engine::MemoryTimers;

pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
    pub(crate) timers: Arc<RecordedTimers>,
}

pub(crate) fn mount() -> Mount {
    mount_with(&[])
}

pub(crate) fn mount_with(options: &[(&str, &str)]) -> Mount {
    let storage = StorageView::new(Arc::new(MemoryStorage::new()), "logical/transit/");
    let ctx = MountContext {
        engine_type: "transit".into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        storage: storage.clone(),
    };
    Mount {
        engine: secrethub_transit::factory(ctx).unwrap(),
        storage,
        timers: Arc::new(RecordedTimers::default()),
    }
}

impl Mount {
    /// The same mount after a restart: a new engine instance over the same storage and
    /// timers, so nothing the engine kept in memory survives (for records edited in storage
    /// behind the engine's back).
    pub(crate) fn restarted(self) -> Mount {
        let ctx = MountContext {
            engine_type: "transit".into(),
            options: Default::default(),
            storage: self.storage.clone(),
        };
        Mount {
            engine: secrethub_transit::factory(ctx).unwrap(),
            storage: self.storage,
            timers: self.timers,
        }
    }
}

pub(crate) fn b64(s: &[u8]) -> String {
    B64.encode(s)
}

pub(crate) fn unb64(s: &str) -> Vec<u8> {
    B64.decode(s).unwrap()
}

impl Mount {
    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Response, EngineError> {
        let req = Request {
            op,
            path: path.into(),
            body: body.as_object().cloned().unwrap_or_default(),
            storage: self.storage.clone(),
            caller: Caller::default(),
            mount: MountInfo::default(),
            intents: None,
            timers: Some(self.timers.clone()),
            raw_body: None,
        };
        self.engine.handle(req).await
    }

    /// A write that must succeed; its `data`.
    pub(crate) async fn write(&self, path: &str, body: Value) -> Value {
        let resp = self
            .call(Operation::Update, path, body)
            .await
            .unwrap_or_else(|e| panic!("write {path}: {e}"));
        Value::Object(resp.data.unwrap_or_default())
    }

    /// A write that must fail with 400; its message.
    pub(crate) async fn refused(&self, path: &str, body: Value) -> String {
        match self.call(Operation::Update, path, body).await {
            Err(EngineError::BadRequest(m)) => m,
            Err(other) => panic!("write {path}: expected a 400, got {other:?}"),
            Ok(_) => panic!("write {path}: expected a 400, got an answer"),
        }
    }

    pub(crate) async fn read(&self, path: &str) -> Value {
        let resp = self
            .call(Operation::Read, path, json!({}))
            .await
            .unwrap_or_else(|e| panic!("read {path}: {e}"));
        Value::Object(resp.data.unwrap_or_default())
    }

    /// A batch answer: its status and its `batch_results` (a raw 400 or a plain 200).
    pub(crate) async fn batch(&self, path: &str, body: Value) -> (u16, Vec<Value>) {
        let resp = self.call(Operation::Update, path, body).await.unwrap();
        match resp.raw {
            Some(raw) => {
                assert_eq!(raw.content_type, "application/json");
                let v: Value = serde_json::from_slice(&raw.body).unwrap();
                (
                    raw.status,
                    v["data"]["batch_results"].as_array().unwrap().clone(),
                )
            }
            None => (
                200,
                resp.data.unwrap()["batch_results"]
                    .as_array()
                    .unwrap()
                    .clone(),
            ),
        }
    }

    pub(crate) async fn encrypt(&self, key: &str, plaintext: &[u8]) -> String {
        let v = self
            .write(
                &format!("encrypt/{key}"),
                json!({ "plaintext": b64(plaintext) }),
            )
            .await;
        v["ciphertext"].as_str().unwrap().to_string()
    }

    pub(crate) async fn decrypt(&self, key: &str, ciphertext: &str) -> Vec<u8> {
        let v = self
            .write(
                &format!("decrypt/{key}"),
                json!({ "ciphertext": ciphertext }),
            )
            .await;
        unb64(v["plaintext"].as_str().unwrap())
    }
}
