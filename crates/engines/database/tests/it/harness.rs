//! A database mount on its own memory store with an intent log that records what the engine
//! asks core to persist, plus helpers to send requests and to inspect PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_engine::{
    Caller, Engine, EngineError, IntentLog, JsonMap, LeaseInfo, MountContext, MountInfo, Operation,
    Request, Response, Revocation, StorageView, TimerLog, TimerOutcome, UnconfirmedRevocation,
};
use secrethub_storage::MemoryStorage;
use serde_json::{json, Value};
use tokio_postgres::NoTls;

/// The machine's shared PostgreSQL (trust authentication: passwords are not checked there).
pub(crate) const LOCAL: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

/// Mount defaults used by every test mount.
pub(crate) const MOUNT_DEFAULT_TTL: u64 = 3600;
pub(crate) const MOUNT_MAX_TTL: u64 = 86_400;

/// Records intents in order, as core would persist them.
#[derive(Default)]
pub(crate) struct RecordedIntents(Mutex<Vec<Value>>);

impl RecordedIntents {
    pub(crate) fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl IntentLog for RecordedIntents {
    async fn record(&self, internal: &Value) -> Result<(), EngineError> {
        self.0.lock().unwrap().push(internal.clone());
        Ok(())
    }
}

/// Records the mount's timers as core would keep them.
pub(crate) type RecordedTimers = secrethub_engine::MemoryTimers;

/// Credentials issued by `creds/:role`.
pub(crate) struct Creds {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) data: JsonMap,
    pub(crate) internal: Value,
    pub(crate) ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) warnings: Vec<String>,
}

pub(crate) struct Mount {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) storage: StorageView,
    pub(crate) intents: Arc<RecordedIntents>,
    pub(crate) timers: Arc<RecordedTimers>,
}

impl Mount {
    pub(crate) fn new() -> Self {
        let storage = StorageView::new(Arc::new(MemoryStorage::new()), "logical/db-test/");
        let engine = secrethub_database::factory(MountContext {
            engine_type: "database".into(),
            options: Default::default(),
            storage: storage.clone(),
        })
        .expect("factory");
        Self {
            engine,
            storage,
            intents: Arc::default(),
            timers: Arc::default(),
        }
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
            caller: Caller {
                display_name: "token".into(),
                ..Caller::default()
            },
            mount: MountInfo {
                path: "database/".into(),
                accessor: "database_1234".into(),
                default_lease_ttl: Duration::from_secs(MOUNT_DEFAULT_TTL),
                max_lease_ttl: Duration::from_secs(MOUNT_MAX_TTL),
            },
            intents: Some(self.intents.clone()),
            timers: Some(self.timers.clone()),
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

    /// A write that must succeed.
    pub(crate) async fn write(&self, path: &str, body: Value) {
        if let Err(e) = self.call(Operation::Update, path, body).await {
            panic!("write {path} failed: {e}");
        }
    }

    /// A read that must succeed; its data as JSON.
    pub(crate) async fn read(&self, path: &str) -> Value {
        match self.call(Operation::Read, path, Value::Null).await {
            Ok(r) => Value::Object(r.data.unwrap_or_default()),
            Err(e) => panic!("read {path} failed: {e}"),
        }
    }

    pub(crate) async fn try_creds(&self, role: &str, body: Value) -> Result<Creds, EngineError> {
        let r = self
            .call(Operation::Read, &format!("creds/{role}"), body)
            .await?;
        let data = r.data.expect("creds data");
        let lease = r.lease.expect("creds lease");
        Ok(Creds {
            username: data["username"].as_str().unwrap().to_string(),
            password: data["password"].as_str().unwrap().to_string(),
            data,
            internal: lease.internal,
            ttl: lease.terms.ttl,
            max_ttl: lease.terms.max_ttl,
            warnings: r.warnings,
        })
    }

    pub(crate) async fn creds(&self, role: &str) -> Creds {
        match self.try_creds(role, Value::Null).await {
            Ok(c) => c,
            Err(e) => panic!("creds/{role} failed: {e}"),
        }
    }

    pub(crate) fn lease(&self, internal: &Value, confirmed: bool, expire_time: i64) -> LeaseInfo {
        LeaseInfo {
            lease_id: "database/creds/test/abc".into(),
            path: "creds/test".into(),
            internal: internal.clone(),
            confirmed,
            issue_time: secrethub_common::now_unix(),
            expire_time,
        }
    }

    /// Runs the timer `key` as core does when it falls due; its next due time is recorded.
    pub(crate) async fn fire(&self, key: &str) -> Result<TimerOutcome, EngineError> {
        let outcome = self.engine.on_timer(key, &self.storage).await?;
        let next = match outcome {
            TimerOutcome::NotDue { next } | TimerOutcome::Ran { next } => next,
        };
        match next {
            Some(at) => self.timers.set(key, at).await?,
            None => self.timers.clear(key).await?,
        }
        Ok(outcome)
    }

    pub(crate) async fn revoke(&self, internal: &Value) -> Result<(), EngineError> {
        let lease = self.lease(internal, true, 0);
        self.engine.revoke(&lease, &self.storage).await
    }

    pub(crate) async fn renew(
        &self,
        internal: &Value,
        expire_time: i64,
    ) -> Result<(), EngineError> {
        let lease = self.lease(internal, true, expire_time);
        self.engine.renew(&lease, &self.storage).await
    }

    /// Revokes `leases` as the lease scheduler does (`Engine::revoke_batch_unflushed`); each
    /// must succeed. Returns those answered "unconfirmed", for [`Mount::confirm_all`].
    pub(crate) async fn revoke_scheduled(
        &self,
        leases: &[LeaseInfo],
    ) -> Vec<UnconfirmedRevocation> {
        let results = self
            .engine
            .revoke_batch_unflushed(leases, &self.storage)
            .await;
        let mut pending = Vec::new();
        for (lease, r) in leases.iter().zip(results) {
            match r {
                Ok(Revocation::Durable) => {}
                Ok(Revocation::Unconfirmed(receipt)) => pending.push(UnconfirmedRevocation {
                    lease: lease.clone(),
                    receipt,
                }),
                Err(e) => panic!("revocation failed: {e}"),
            }
        }
        pending
    }

    /// Asks the engine to confirm `pending` as core does; each must be confirmed.
    pub(crate) async fn confirm_all(&self, pending: &[UnconfirmedRevocation]) {
        let confirmed = self
            .engine
            .confirm_revocations(pending, &self.storage)
            .await;
        assert!(
            confirmed.iter().all(|c| matches!(c, Ok(true))),
            "{confirmed:?}"
        );
    }
}

/// The creation statement most tests use: a login role with a password and an expiry.
pub(crate) const CREATE: &str =
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';";

/// A database of its own with connection `main` and role `app` written from `role_body`
/// (`db_name` filled in).
pub(crate) async fn with_app_role(role_body: Value) -> (LocalDb, Mount) {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    db.configure(&mount, "main", "*").await;
    let mut body = role_body;
    body["db_name"] = "main".into();
    mount.write("roles/app", body).await;
    (db, mount)
}

/// A unique lowercase name with a prefix.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        secrethub_common::random_alnum(10).to_ascii_lowercase()
    )
}

/// Connects with a libpq-style connection string and drives the connection in the background.
pub(crate) async fn connect(conn: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A database of its own on the shared cluster, dropped (with any role a test's intents
/// named) when the value is dropped, even if the test failed half-way.
pub(crate) struct LocalDb {
    pub(crate) name: String,
    intents: Option<Arc<RecordedIntents>>,
}

impl LocalDb {
    pub(crate) async fn create() -> Self {
        let name = unique("it_db");
        let admin = connect(LOCAL)
            .await
            .expect("connect to the shared postgresql");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        Self {
            name,
            intents: None,
        }
    }

    /// Roles named by these intents are dropped at the end.
    pub(crate) fn track(&mut self, mount: &Mount) {
        self.intents = Some(mount.intents.clone());
    }

    /// The templated URL a config would use.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{}?sslmode=disable",
            self.name
        )
    }

    /// An admin connection to this database.
    pub(crate) async fn admin(&self) -> tokio_postgres::Client {
        connect(&format!(
            "host=127.0.0.1 port=5432 user=postgres dbname={}",
            self.name
        ))
        .await
        .expect("connect to the test database")
    }

    /// A connection as `user` (any password works on the shared cluster).
    pub(crate) async fn login(
        &self,
        user: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        connect(&format!(
            "host=127.0.0.1 port=5432 user={user} password=x dbname={}",
            self.name
        ))
        .await
    }

    /// Writes `config/<name>` for this database, allowing `allowed_roles`.
    pub(crate) async fn configure(&self, mount: &Mount, name: &str, allowed_roles: &str) {
        mount
            .write(
                &format!("config/{name}"),
                json!({
                    "plugin_name": "postgresql-database-plugin",
                    "connection_url": self.url(),
                    "username": "postgres",
                    "password": "not-checked-here",
                    "allowed_roles": allowed_roles,
                }),
            )
            .await;
    }
}

impl Drop for LocalDb {
    fn drop(&mut self) {
        // Synchronous clean-up with psql, so it also runs when a test panics.
        let mut sql = String::new();
        for intent in self.intents.iter().flat_map(|i| i.all()) {
            if let Some(u) = intent["username"].as_str() {
                sql.push_str(&format!("DROP OWNED BY \"{u}\"; DROP ROLE \"{u}\";\n"));
            }
        }
        let run = |db: &str, sql: &str| {
            let _ = std::process::Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    "5432",
                    "-U",
                    "postgres",
                    "-d",
                    db,
                    "-q",
                    "-c",
                    sql,
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        // One statement per psql call: a role already dropped must not stop the others.
        for stmt in sql.lines() {
            run(&self.name, stmt);
        }
        run(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// `rolvaliduntil` as unix seconds, `None` when the role does not exist.
pub(crate) async fn valid_until(client: &tokio_postgres::Client, role: &str) -> Option<i64> {
    client
        .query_opt(
            "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await
        .expect("query pg_roles")
        .map(|row| row.get::<_, i64>(0))
}

pub(crate) async fn role_exists(client: &tokio_postgres::Client, role: &str) -> bool {
    client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await
        .expect("query pg_roles")
        .is_some()
}

/// PostgreSQL's message for a failed call, or the client's error with its causes.
pub(crate) fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => format!("{e}: {:?}", std::error::Error::source(e)),
    }
}
