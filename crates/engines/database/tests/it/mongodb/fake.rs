//! The MongoDB stand-in (`fake_server.py`, on mockupdb) as a test sees it: started on free
//! ports under testkit's keep-alive wrapper, with the command documents it recorded and the
//! users it knows read over its HTTP side; and a capture of what the plugin logs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use secrethub_testkit::process::{free_port, venv_binary, Process};
use serde_json::{json, Value};

use crate::harness::unique;

/// The venv's Python, where `scripts/test` installs mockupdb.
fn python() -> PathBuf {
    if let Some(venv) = std::env::var_os("SECRETHUB_TEST_VENV").filter(|v| !v.is_empty()) {
        let python = PathBuf::from(venv).join("bin/python");
        assert!(python.is_file(), "{} is not a file", python.display());
        return python;
    }
    venv_binary(
        "SECRETHUB_TEST_PYTHON",
        "python",
        "mockupdb (crates/engines/database/tests/it/mongodb/requirements.txt)",
    )
}

/// A running stand-in with one admin user.
pub(crate) struct Fake {
    pub(crate) port: u16,
    process: Process,
    http: reqwest::Client,
    pub(crate) admin: String,
    pub(crate) admin_password: String,
}

impl Fake {
    pub(crate) async fn start() -> Fake {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/mongodb/fake_server.py");
        let (port, http_port) = (free_port(), free_port());
        let admin = unique("root");
        // Characters a URL must encode, so the percent-encoding is exercised.
        let admin_password = format!("Adm@/:{}", secrethub_common::random_alnum(16));
        let args = [
            script.display().to_string(),
            "--port".into(),
            port.to_string(),
            "--http-port".into(),
            http_port.to_string(),
            "--admin".into(),
            admin.clone(),
            "--admin-password".into(),
            admin_password.clone(),
        ];
        let log = std::env::temp_dir().join(format!("secrethub-mongodb-fake-{port}.log"));
        let process = Process::spawn(&python(), &args, http_port, log, "/ready").await;
        Fake {
            port,
            process,
            http: reqwest::Client::new(),
            admin,
            admin_password,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let text = self
            .http
            .get(format!("{}{path}", self.process.addr))
            .send()
            .await
            .expect("stand-in answers")
            .text()
            .await
            .expect("body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    /// Every command document received so far: `{"db": …, "command": {…}}`.
    pub(crate) async fn commands(&self) -> Vec<Value> {
        match self.get("/commands").await {
            Value::Array(a) => a,
            other => panic!("{other}"),
        }
    }

    /// The commands received after the first `n`.
    pub(crate) async fn commands_after(&self, n: usize) -> Vec<Value> {
        self.commands().await.split_off(n)
    }

    /// `db.user` of every user the stand-in knows.
    pub(crate) async fn users(&self) -> Vec<String> {
        serde_json::from_value(self.get("/users").await).unwrap()
    }

    pub(crate) fn config(&self) -> Value {
        json!({
            "plugin_name": "mongodb-database-plugin",
            "connection_url": format!(
                "mongodb://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/admin?directConnection=true",
                self.port
            ),
            "username": self.admin,
            "password": self.admin_password,
            "allowed_roles": "*",
        })
    }
}

/// What the plugin logs while a test runs, at every level.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures this thread's events (a `#[tokio::test]` runs every task on it) until the
    /// guard is dropped.
    pub(crate) fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
