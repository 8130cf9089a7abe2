//! PostgreSQL storage: one table of key/value rows, created on start.
//!
//! `PostgresStorage` implements `secrethub_storage::Storage` over a small deadpool of
//! tokio-postgres connections. Every operation is one round trip of one prepared statement
//! (cached per connection), including `apply`, which folds a whole batch into a single
//! atomic statement. The `key` column uses the `"C"` collation so PostgreSQL orders keys by
//! bytes, which is the order `list` promises.
//!
//! Connections that break (PostgreSQL restarted, backend terminated) fail the call in flight
//! with `Unavailable`; the pool drops them and later calls reconnect. Reads, being
//! idempotent, are retried once on a fresh connection; writes are not, because the first
//! attempt may have committed and a blind retry could overwrite a newer value.

mod sql;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrethub_storage::{validate_key, Storage, StorageError, WriteOp};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use crate::sql::Statements;

/// Table used when none is configured.
pub const DEFAULT_TABLE: &str = "secrethub_kv";
/// Pool size used when none is configured.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// How long a call waits for a pooled connection (all busy, or reconnecting) before failing.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening one connection (TCP, TLS, authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options beyond the connection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The table holding the key/value rows: a lowercase identifier (`[a-z_][a-z0-9_]*`, at
    /// most 63 bytes), resolved through the connection's `search_path`.
    pub table: String,
    /// Maximum number of pooled connections.
    pub max_connections: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_string(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Key/value storage in one PostgreSQL table.
pub struct PostgresStorage {
    pool: Pool,
    sql: Statements,
    table: String,
}

impl std::fmt::Debug for PostgresStorage {
    // By hand: the pool's configuration holds the connection password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects to `connection_url` (a libpq-style URL or key=value string; `sslmode` may be
    /// `disable`, `prefer` (the default) or `require`, see below) and creates the table
    /// (`table`, or [`DEFAULT_TABLE`]) if it is missing. Uses [`DEFAULT_MAX_CONNECTIONS`].
    ///
    /// TLS: `prefer` and `require` encrypt with rustls but, like libpq, do not verify the
    /// server certificate; `verify-ca`/`verify-full` are rejected as unsupported.
    pub async fn open(connection_url: &str, table: Option<&str>) -> Result<Self, StorageError> {
        let options = PostgresOptions {
            table: table.unwrap_or(DEFAULT_TABLE).to_string(),
            ..PostgresOptions::default()
        };
        Self::open_with(connection_url, &options).await
    }

    /// Like [`PostgresStorage::open`], with every option.
    pub async fn open_with(
        connection_url: &str,
        options: &PostgresOptions,
    ) -> Result<Self, StorageError> {
        sql::validate_table_name(&options.table)?;
        if options.max_connections == 0 {
            return Err(config_error("max_connections must be at least 1"));
        }
        let mut config = tokio_postgres::Config::from_str(connection_url).map_err(|e| {
            // The parser's messages name the option, never its value (the password).
            StorageError::unavailable("invalid postgresql connection url", e)
        })?;
        if config.get_application_name().is_none() {
            config.application_name("secrethub");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager_config = ManagerConfig {
            // `Fast` checks `Client::is_closed` on checkout, which is enough to drop
            // connections whose backend went away; a test query per call would double latency.
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.get_ssl_mode() {
            SslMode::Disable => Manager::from_config(config, NoTls, manager_config),
            _ => {
                let tls = secrethub_postgres_tls::MakeRustlsConnect::new()
                    .map_err(|e| StorageError::unavailable("cannot set up tls", e))?;
                Manager::from_config(config, tls, manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
            .build()
            .map_err(|e| StorageError::unavailable("cannot build postgresql pool", e))?;

        let storage = Self {
            pool,
            sql: Statements::new(&options.table),
            table: options.table.clone(),
        };
        storage.create_table().await?;
        Ok(storage)
    }

    /// The table this store uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn create_table(&self) -> Result<(), StorageError> {
        let client = self.client().await?;
        match client.batch_execute(&self.sql.create_table).await {
            Ok(()) => Ok(()),
            // Two servers starting at once can race inside CREATE TABLE IF NOT EXISTS;
            // the loser sees the winner's catalog rows, which means the table exists.
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    || e.code() == Some(&SqlState::DUPLICATE_TABLE) =>
            {
                Ok(())
            }
            Err(e) => Err(StorageError::unavailable(
                format!("cannot create table {}", self.table),
                e,
            )),
        }
    }

    async fn client(&self) -> Result<Client, StorageError> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::unavailable("cannot get a postgresql connection", e))
    }

    /// Runs a read, retrying once on a fresh connection when the first one turned out to be
    /// dead (e.g. its backend was terminated while it sat idle in the pool). `run` takes the
    /// connection and hands it back with the outcome, so it can be discarded if broken.
    async fn read<T, F, Fut>(&self, what: &'static str, run: F) -> Result<T, StorageError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = (Client, Result<T, tokio_postgres::Error>)>,
    {
        let (client, result) = run(self.client().await?).await;
        let err = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !is_connection_error(&err) {
            return Err(query_error(what, err));
        }
        discard(client);
        tracing::debug!(operation = what, error = %err, "postgresql connection lost, retrying read");
        let (client, result) = run(self.client().await?).await;
        result.map_err(|e| failed(what, client, e))
    }

    async fn write(
        &self,
        what: &'static str,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        let result = async {
            let stmt = client.prepare_cached(statement).await?;
            client.execute(&stmt, params).await
        }
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(failed(what, client, e)),
        }
    }
}

/// Turns a failed statement into `Unavailable`, dropping the connection if it is broken.
fn failed(what: &'static str, client: Client, err: tokio_postgres::Error) -> StorageError {
    if is_connection_error(&err) {
        discard(client);
    }
    query_error(what, err)
}

/// Removes a broken connection from the pool right away instead of waiting for the
/// next checkout to notice it is closed.
fn discard(client: Client) {
    drop(deadpool_postgres::Object::take(client));
}

/// Whether `err` means the connection itself is gone (as opposed to a failed statement).
fn is_connection_error(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    if let Some(code) = err.code() {
        // Class 08 (connection exception) and 57P0x (operator intervention: terminated
        // backend, server shutting down or starting up).
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P0");
    }
    // No SQLSTATE: an IO error on the socket or a protocol-level failure.
    std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
}

async fn fetch_value(
    client: &Client,
    sql: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let stmt = client.prepare_cached(sql).await?;
    match client.query_opt(&stmt, &[&key]).await? {
        Some(row) => row.try_get(0),
        None => Ok(None),
    }
}

async fn fetch_keys(
    client: &Client,
    sql: &Statements,
    range: &sql::ListRange,
    prefix: &str,
    limit: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = match &range.end {
        Some(end) => {
            let stmt = client.prepare_cached(&sql.list_bounded).await?;
            client.query(&stmt, &[&range.start, end, &limit]).await?
        }
        None => {
            let stmt = client.prepare_cached(&sql.list_open).await?;
            client.query(&stmt, &[&range.start, &limit]).await?
        }
    };
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let key: &str = row.try_get(0)?;
        // The range guarantees the prefix; `unwrap_or` only guards a misbehaving server.
        keys.push(key.strip_prefix(prefix).unwrap_or(key).to_string());
    }
    Ok(keys)
}

fn query_error(what: &'static str, err: tokio_postgres::Error) -> StorageError {
    // The source carries PostgreSQL's message; our statements never echo a value into it
    // (no constraint on `value` can fail), and parameters are never part of the message.
    StorageError::unavailable(format!("postgresql {what} failed"), err)
}

fn config_error(message: &'static str) -> StorageError {
    StorageError::unavailable(
        "invalid postgresql storage options",
        anyhow::anyhow!(message),
    )
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        validate_key(key)?;
        let sql = &self.sql.get;
        self.read("get", |client| async move {
            let result = fetch_value(&client, sql, key).await;
            (client, result)
        })
        .await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write("put", &self.sql.put, &[&key, &value]).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write("delete", &self.sql.delete, &[&key]).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        validate_key(prefix)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let range = sql::ListRange::new(prefix, after);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (sql, range) = (&self.sql, &range);
        self.read("list", |client| async move {
            let result = fetch_keys(&client, sql, range, prefix, limit).await;
            (client, result)
        })
        .await
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        for op in &batch {
            validate_key(op.key())?;
        }
        let batch = sql::Batch::new(&batch);
        if batch.is_empty() {
            return Ok(());
        }
        // One statement (a DELETE in a CTE plus an INSERT .. ON CONFLICT) is atomic on its
        // own: no BEGIN/COMMIT round trips.
        self.write(
            "apply",
            &self.sql.apply,
            &[&batch.put_keys, &batch.put_values, &batch.delete_keys],
        )
        .await
    }
}
