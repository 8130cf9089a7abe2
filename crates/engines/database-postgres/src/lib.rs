//! The PostgreSQL plugin of the database secrets engine (`postgresql-database-plugin`).
//! [`POSTGRES`] is what the engine registers; its connection fields are in `fields.rs`.
//!
//! Each opened config has two pools: one of `max_open_connections` (default 4) for issuing,
//! renewing, verifying and rotating, and one of the same size (at least 2) for
//! revocations, so a burst of expiring leases never starves issuance. No lock is held around
//! a connection.
//!
//! Statements go over the simple-query protocol as one multi-statement text: PostgreSQL runs
//! such a text as one implicit transaction, so creating a user is one round trip and one
//! transaction, and a failing statement rolls back everything before it.
//!
//! Passwords: when `password_authentication` is `scram-sha-256` (our default; Vault's is
//! `password`), a `PASSWORD '{{password}}'` literal receives a SCRAM-SHA-256 verifier computed
//! here, so the clear text never reaches the server, its logs or `pg_stat_activity`, and the
//! server does no hashing. PBKDF2 with 4096 rounds costs a millisecond or two, so it runs on
//! the blocking pool.
//!
//! Default revocation, one round trip and one transaction: terminate the user's sessions,
//! `DROP OWNED` (which also revokes its privileges in this database) and `DROP ROLE`.
//! Sessions are found with `pg_stat_get_backend_idset()` rather than the `pg_stat_activity`
//! view, which joins catalogs for every backend. The statements are plain SQL rather than a
//! `DO` block that first checks the role exists: PL/pgSQL compiles and plans a `DO` block on
//! every call, which cost 0.4–0.7 ms of a 2.5 ms revocation measured interleaved on this
//! machine. A user that is already gone makes the statements fail; like custom statements,
//! that failure counts as revoked once the user is confirmed missing. Like Vault, objects in
//! other databases are not touched, so a role owning some there fails to drop and the lease
//! is retried. A caller waiting on one revocation gets it without waiting for the WAL flush,
//! confirmed later (`unflushed.rs`).
//!
//! An admin that is not a superuser (`CREATEROLE`) may terminate a user's sessions and
//! `DROP OWNED` only with the privileges of that user's role, which PostgreSQL 13–15 never
//! give it and 16+ by default only as ADMIN without INHERIT. So creation ends, in the same
//! transaction, with `GRANT "<user>" TO <admin>` unless the admin is a superuser (checked
//! once per opened config): a grant that fails fails the creation, leaving nothing behind.

mod check;
mod connect;
mod fields;
mod unflushed;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};
use secrethub_common::{JsonMap, UnixTime};
use zeroize::Zeroizing;

use secrethub_database_plugin::template::{self, Vars};
use secrethub_database_plugin::{
    scrub, ConnectionDetails, ConnectionReport, DatabaseError, DatabasePlugin, NewUser,
};

pub use fields::POSTGRES;

/// Connections reserved for revocations: as many as the issuing pool, at least 2. Measured
/// with 1,000 leases expiring while credentials are issued at full speed, half the issuing
/// pool let revocations queue behind each other (expiry lag p99 2 s).
fn revoke_pool_size(issue_pool: usize) -> usize {
    issue_pool.max(2)
}
/// A revocation or renewal that takes longer (a lock held by the user's session, say) fails
/// and is retried by the lease manager instead of holding a connection forever.
const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(30);

const DEFAULT_RENEW: &str = "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}'";
const DEFAULT_ROTATE_ROOT: &str = "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}'";

/// Opens the plugin for one connection config (no IO).
fn open(name: &str, details: &ConnectionDetails) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
    let target = connect::target(name, details)?;
    let size = secrethub_database_plugin::pool::pool_size(details);
    Ok(Arc::new(Postgres {
        name: name.to_string(),
        admin_username: target.admin_username.clone(),
        scram: fields::uses_scram(details),
        issue: connect::pool(&target.config, size)?,
        revoke: connect::pool(&target.config, revoke_pool_size(size))?,
        facts: connect::facts(&target.config),
        unflushed: unflushed::Support::default(),
        grantee: tokio::sync::OnceCell::new(),
    }))
}

struct Postgres {
    name: String,
    admin_username: String,
    scram: bool,
    issue: Pool,
    revoke: Pool,
    facts: JsonMap,
    unflushed: unflushed::Support,
    /// Whom a new user is granted to so revocation works: the connection's user when it is
    /// not a superuser, as a quoted identifier; `None` for a superuser. Checked once.
    grantee: tokio::sync::OnceCell<Option<String>>,
}

/// Double-quotes an identifier for SQL.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Single-quotes a string literal for SQL.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The default revocation: see the module docs.
fn default_revocation(username: &str) -> String {
    let ident = quote_ident(username);
    // `regrole` parses its input as an identifier, so the literal holds the quoted name.
    let role = quote_literal(&ident);
    format!(
        "SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_stat_get_backend_pid(b)) \
         FROM pg_catalog.pg_stat_get_backend_idset() b \
         WHERE pg_catalog.pg_stat_get_backend_userid(b) = {role}::pg_catalog.regrole \
         AND pg_catalog.pg_stat_get_backend_pid(b) <> pg_catalog.pg_backend_pid();\n\
         DROP OWNED BY {ident};\n\
         DROP ROLE {ident}"
    )
}

/// Statements, or the plugin default when the role has none.
fn or_default(statements: &[String], default: &str) -> Vec<String> {
    if statements.is_empty() {
        vec![default.to_string()]
    } else {
        statements.to_vec()
    }
}

impl Postgres {
    async fn client(&self, pool: &Pool) -> Result<Object, DatabaseError> {
        pool.get().await.map_err(|e| DatabaseError::Unavailable {
            connection: self.name.clone(),
            reason: connect::describe_pool(&e),
        })
    }

    /// The connection's user, quoted, when it is not a superuser (see the module docs); the
    /// answer of the first successful check.
    async fn grantee(&self, client: &Object) -> Result<Option<String>, tokio_postgres::Error> {
        let found = self
            .grantee
            .get_or_try_init(|| async {
                let row = client
                    .query_one(
                        "SELECT current_user::text, rolsuper FROM pg_catalog.pg_roles \
                         WHERE rolname = current_user",
                        &[],
                    )
                    .await?;
                let (name, superuser): (String, bool) = (row.get(0), row.get(1));
                Ok::<_, tokio_postgres::Error>((!superuser).then(|| quote_ident(&name)))
            })
            .await?;
        Ok(found.clone())
    }

    /// A SCRAM-SHA-256 verifier for `password`, when statements have a password literal.
    async fn verifier(
        &self,
        statements: &[String],
        password: &str,
    ) -> Result<Option<Zeroizing<String>>, DatabaseError> {
        if !self.scram || !template::has_password_literal(statements) {
            return Ok(None);
        }
        let password = Zeroizing::new(password.to_string());
        let verifier = tokio::task::spawn_blocking(move || {
            postgres_protocol::password::scram_sha_256(password.as_bytes())
        })
        .await
        .map_err(|e| DatabaseError::Internal(e.into()))?;
        Ok(Some(Zeroizing::new(verifier)))
    }

    /// Turns a failed statement into an error, dropping the connection if it is broken and
    /// otherwise making sure no transaction is left open on it.
    async fn failure(
        &self,
        action: &'static str,
        client: Object,
        err: tokio_postgres::Error,
        secrets: &[&str],
    ) -> DatabaseError {
        // The client learns the kind of failure and its SQLSTATE; the database's message,
        // which maps its schemas, tables and roles, goes to the operator's log only.
        tracing::warn!(
            connection = %self.name,
            action,
            error = %scrub(&connect::describe_for_log(&err), secrets),
            "database statements failed"
        );
        let reason = scrub(&connect::describe_for_client(&err), secrets);
        if connect::is_connection_error(&err) {
            drop(Object::take(client));
            return DatabaseError::Unavailable {
                connection: self.name.clone(),
                reason,
            };
        }
        // A multi-statement text is its own transaction and is already rolled back; this only
        // matters if the statements opened one explicitly. It warns harmlessly otherwise.
        if client.batch_execute("ROLLBACK").await.is_err() {
            drop(Object::take(client));
        }
        DatabaseError::Rejected {
            connection: self.name.clone(),
            action,
            reason,
        }
    }

    /// Runs idempotent SQL, once more on a fresh connection if the first one turned out to be
    /// dead (e.g. the server restarted while it sat in the pool), within a time limit.
    async fn run_idempotent(
        &self,
        pool: &Pool,
        action: &'static str,
        sql: &str,
    ) -> Result<(), DatabaseError> {
        self.query_idempotent(pool, action, sql).await.map(drop)
    }

    /// `run_idempotent` that answers what the statements returned.
    async fn query_idempotent(
        &self,
        pool: &Pool,
        action: &'static str,
        sql: &str,
    ) -> Result<Vec<tokio_postgres::SimpleQueryMessage>, DatabaseError> {
        let mut retried = false;
        let mut conflicts = 0;
        loop {
            let client = self.client(pool).await?;
            let outcome = tokio::time::timeout(MAINTENANCE_TIMEOUT, client.simple_query(sql)).await;
            match outcome {
                Ok(Ok(messages)) => return Ok(messages),
                Ok(Err(e)) if !retried && connect::is_connection_error(&e) => {
                    drop(Object::take(client));
                    retried = true;
                }
                Ok(Err(e))
                    if conflicts < CONFLICT_RETRIES && connect::is_transient_conflict(&e) =>
                {
                    conflicts += 1;
                    // Statements that opened a transaction left it aborted.
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(client));
                    }
                    conflict_backoff(conflicts).await;
                }
                Ok(Err(e)) => return Err(self.failure(action, client, e, &[]).await),
                Err(_) => {
                    drop(Object::take(client));
                    return Err(self.timed_out(action));
                }
            }
        }
    }

    fn timed_out(&self, action: &str) -> DatabaseError {
        DatabaseError::Unavailable {
            connection: self.name.clone(),
            reason: format!("{action} timed out"),
        }
    }

    async fn role_exists(&self, username: &str) -> Result<bool, DatabaseError> {
        Ok(!self.existing_roles(&[username]).await?.is_empty())
    }

    /// Which of `usernames` exist as roles.
    async fn existing_roles(&self, usernames: &[&str]) -> Result<Vec<String>, DatabaseError> {
        let sql = "SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY($1)";
        let rows = self
            .query_maintenance("checking the users", sql, &[&usernames])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// One query on a revocation connection, within the maintenance time limit.
    async fn query_maintenance(
        &self,
        action: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, DatabaseError> {
        let client = self.client(&self.revoke).await?;
        match tokio::time::timeout(MAINTENANCE_TIMEOUT, client.query(sql, params)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(self.failure(action, client, e, &[]).await),
            Err(_) => {
                drop(Object::take(client));
                Err(self.timed_out(action))
            }
        }
    }

    /// Runs statements that set `username`'s password (a password literal gets the SCRAM
    /// verifier), on an issuing connection; errors carry neither the password nor its
    /// verifier.
    async fn alter_password(
        &self,
        action: &'static str,
        field: &str,
        statements: &[String],
        username: &str,
        password: &str,
    ) -> Result<(), DatabaseError> {
        let literal = self.verifier(statements, password).await?;
        let vars = Vars {
            name: username,
            password,
            password_literal: literal.as_deref().map(String::as_str),
            expiration: "",
        };
        let sql = Zeroizing::new(template::render_all(field, statements, &vars)?);
        let client = self.client(&self.issue).await?;
        match client.batch_execute(&sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let verifier = literal.as_deref().map(String::as_str).unwrap_or_default();
                Err(self.failure(action, client, e, &[password, verifier]).await)
            }
        }
    }

    /// Default revocation of several users as one multi-statement text, which is one implicit
    /// transaction: every user goes, or none.
    async fn revoke_all_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        let sql: Vec<String> = usernames.iter().map(|u| default_revocation(u)).collect();
        self.run_idempotent(&self.revoke, "revoking users", &sql.join(";\n"))
            .await
    }
}

#[async_trait]
impl DatabasePlugin for Postgres {
    async fn verify(&self) -> Result<(), DatabaseError> {
        let check = async {
            let client = self
                .issue
                .get()
                .await
                .map_err(|e| connect::describe_pool(&e))?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| connect::describe(&e))
        };
        let limit = connect::CONNECT_TIMEOUT * 2;
        let reason = match tokio::time::timeout(limit, check).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(reason)) => reason,
            Err(_) => "timed out connecting".to_string(),
        };
        Err(DatabaseError::Verify {
            connection: self.name.clone(),
            reason,
        })
    }

    async fn check_connection(&self) -> ConnectionReport {
        self.check().await
    }

    async fn create_user(&self, user: &NewUser<'_>) -> Result<(), DatabaseError> {
        let literal = self.verifier(user.statements, user.password).await?;
        let expiration = template::format_expiration(user.expiration);
        let vars = Vars {
            name: user.username,
            password: user.password,
            password_literal: literal.as_deref().map(String::as_str),
            expiration: &expiration,
        };
        let mut sql = Zeroizing::new(template::render_all(
            "creation_statements",
            user.statements,
            &vars,
        )?);
        let client = self.client(&self.issue).await?;
        let grantee = match self.grantee(&client).await {
            Ok(g) => g,
            Err(e) => {
                return Err(self
                    .failure("checking the admin user", client, e, &[])
                    .await)
            }
        };
        if let Some(admin) = grantee {
            // Appended to the same multi-statement text: one transaction with the creation.
            sql.push_str(&format!("GRANT {} TO {admin}", quote_ident(user.username)));
        }
        user.before_create.ready().await?;
        let mut attempt = 0;
        loop {
            match client.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < CONFLICT_RETRIES && connect::is_transient_conflict(&e) => {
                    attempt += 1;
                    conflict_backoff(attempt).await;
                }
                Err(e) => {
                    let verifier = literal.as_deref().map(String::as_str).unwrap_or_default();
                    return Err(self
                        .failure("creating user", client, e, &[user.password, verifier])
                        .await);
                }
            }
        }
    }

    async fn renew_user(
        &self,
        statements: &[String],
        username: &str,
        expiration: UnixTime,
    ) -> Result<(), DatabaseError> {
        let expiration = template::format_expiration(expiration);
        let vars = Vars {
            name: username,
            expiration: &expiration,
            ..Vars::default()
        };
        let statements = or_default(statements, DEFAULT_RENEW);
        let sql = template::render_all("renew_statements", &statements, &vars)?;
        self.run_idempotent(&self.issue, "renewing user", &sql)
            .await
    }

    async fn revoke_user(
        &self,
        statements: &[String],
        username: &str,
    ) -> Result<(), DatabaseError> {
        let sql = if statements.is_empty() {
            default_revocation(username)
        } else {
            let vars = Vars {
                name: username,
                ..Vars::default()
            };
            template::render_all("revocation_statements", statements, &vars)?
        };
        match self
            .run_idempotent(&self.revoke, "revoking user", &sql)
            .await
        {
            // Revocation statements need not be idempotent: whatever failed, a user that no
            // longer exists is revoked.
            Err(e @ DatabaseError::Rejected { .. }) => match self.role_exists(username).await {
                Ok(false) => self.absence_is_durable().await,
                _ => Err(e),
            },
            other => other,
        }
    }

    async fn revoke_user_unflushed(
        &self,
        username: &str,
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        self.revoke_unflushed(username).await
    }

    async fn confirm_revoked(
        &self,
        revoked: &[(&str, &serde_json::Value)],
    ) -> Result<Vec<bool>, DatabaseError> {
        self.confirm(revoked).await
    }

    async fn revoke_users_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        match self.revoke_all_default(usernames).await {
            // Users already gone (dropped by hand, or intents never created) fail the batch:
            // once more with the ones that still exist.
            Err(e @ DatabaseError::Rejected { .. }) => {
                let existing = self.existing_roles(usernames).await?;
                if existing.len() == usernames.len() {
                    return Err(e);
                }
                self.absence_is_durable().await?;
                if existing.is_empty() {
                    return Ok(());
                }
                let existing: Vec<&str> = existing.iter().map(String::as_str).collect();
                self.revoke_all_default(&existing).await
            }
            other => other,
        }
    }

    async fn rotate_root(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError> {
        if self.admin_username.is_empty() {
            return Err(DatabaseError::invalid(format!(
                "connection {:?} has no username to rotate",
                self.name
            )));
        }
        let statements = or_default(statements, DEFAULT_ROTATE_ROOT);
        self.alter_password(
            "rotating the root password",
            "root_rotation_statements",
            &statements,
            &self.admin_username,
            new_password,
        )
        .await
    }

    async fn set_password(
        &self,
        statements: &[String],
        username: &str,
        password: &str,
    ) -> Result<(), DatabaseError> {
        let statements = or_default(statements, DEFAULT_ROTATE_ROOT);
        self.alter_password(
            "rotating a static role's password",
            "rotation_statements",
            &statements,
            username,
            password,
        )
        .await
    }

    fn connection_facts(&self) -> JsonMap {
        self.facts.clone()
    }
}

/// How often a statement batch that lost a race on a catalog row is run again.
const CONFLICT_RETRIES: u32 = 25;

/// A short, jittered, growing pause before re-running after a catalog conflict, so the
/// contenders spread out instead of colliding again.
async fn conflict_backoff(attempt: u32) {
    use rand::Rng;
    let cap_ms = (1u64 << attempt.min(6)).min(50);
    let ms = rand::thread_rng().gen_range(1..=cap_ms.max(2));
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_revocation_quotes_the_name() {
        let sql = default_revocation("shub_a\"b'c");
        assert!(
            sql.contains("= '\"shub_a\"\"b''c\"'::pg_catalog.regrole"),
            "{sql}"
        );
        assert!(sql.contains("DROP OWNED BY \"shub_a\"\"b'c\";"), "{sql}");
        assert!(sql.ends_with("DROP ROLE \"shub_a\"\"b'c\""), "{sql}");
    }
}
