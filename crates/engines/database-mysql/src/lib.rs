//! The MySQL/MariaDB plugin of the database secrets engine, under Vault's four names:
//! `mysql-database-plugin` (user names up to 32 characters) and `mysql-legacy-database-plugin`,
//! `mysql-aurora-database-plugin`, `mysql-rds-database-plugin` (16, as Vault gives all three).
//! [`MYSQL`] and [`MYSQL_LEGACY`] are what the engine registers; the connection fields are in
//! `fields.rs`, the DSN in `dsn.rs`.
//!
//! Each opened config has two `mysql_async` pools: one of `max_open_connections` (default 4)
//! for issuing, verifying and rotating, and one of the same size (at least 2) for revocations
//! and renewals, so a burst of expiring leases never starves issuance. Connections are not
//! reset when they go back to a pool (a reset is a round trip per use); statements that
//! change session state would leave it for the next user of the connection, as with Vault's
//! Go driver.
//!
//! Creation runs the role's statements as one multi-statement text inside
//! `START TRANSACTION … COMMIT`: one round trip. MySQL commits implicitly around DDL such as
//! `CREATE USER` and `GRANT`, so the transaction only holds the statements' DML together; a
//! failed creation is made to leave nothing by cleaning up instead: the user the statements
//! may have created is dropped (`'<name>'@'%'` and every other host the statements name for
//! it) before the error is returned. If even that fails, the intent core recorded before the
//! statements ran is revoked later.
//!
//! Default revocation: `DROP USER IF EXISTS '<name>'@'%'` (Vault's default drops the same
//! account), then every session of the user still open is ended with `KILL CONNECTION`
//! (MySQL keeps a dropped user's sessions running; Vault leaves them). Dropping first closes
//! the door before the sessions are looked up, so no new one can start in between. On MariaDB
//! (known from `VERSION()`, asked once) the drop and a `KILL CONNECTION USER '<name>'` per user
//! are one round trip. On MySQL, which has no `KILL … USER`, the drop and a look-up in
//! `information_schema.PROCESSLIST` are one round trip, and a `KILL` by id follows only when a
//! session is found. Several users are revoked with one `DROP USER` naming all of them.
//! The lease scheduler's revocations (expiry) on MariaDB lock the accounts instead
//! (`ALTER USER IF EXISTS … ACCOUNT LOCK` and the session kill, one round trip): the
//! credential stops working at once, and core keeps a receipt until `confirm_revoked` has
//! dropped the users, a moment later and across restarts. `DROP USER` costs about 10 ms per
//! user with 10,000 accounts present, too slow for 10,000 expiries in a minute; a lock of 50
//! accounts takes 9 ms. Ending
//! sessions needs the admin to kill them (`SUPER`, or `CONNECTION ADMIN`) and on MySQL to see
//! them (`PROCESS`); without `PROCESS` the look-up finds nothing and sessions stay open.
//! Custom revocation statements are followed by the same session kill; if they fail (say a
//! `DROP USER` of a user already gone) while the user no longer exists, the revocation counts
//! as done.
//!
//! Renewal runs no SQL unless a role gives `renew_statements`: MySQL users have no expiry.
//! Static roles set an existing user's password with Vault's default
//! `ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'` or the role's
//! `rotation_statements` (`password.rs`). `database/test-connection` reports the version, a
//! round trip and the admin's privileges (`check.rs`).
//! Root rotation's default is `ALTER USER '<user>'@'<host>' IDENTIFIED BY '<password>'` for the
//! account `CURRENT_USER()` names (Vault's default names `'{{username}}'@'%'`, which fails for
//! an admin defined at another host; MariaDB 10.11 answers `ALTER USER CURRENT_USER() …` with
//! success and changes nothing).
//!
//! Passwords and names reach SQL inside single-quoted literals: quotes are doubled, and a
//! backslash (whose meaning depends on the server's `NO_BACKSLASH_ESCAPES`) is refused, which
//! never happens for the engine's names and passwords. Errors carry no password: the server's
//! message is scrubbed and goes to the log; clients get the condition, MySQL error code and
//! SQLSTATE. `mysql_async` is built without its `tracing` feature, so statement text is
//! never logged.

mod check;
mod dsn;
mod errors;
mod fields;
mod password;
mod revoke;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};
use secrethub_common::{JsonMap, UnixTime};
use zeroize::Zeroizing;

use secrethub_database_plugin::template::{self, Vars};
use secrethub_database_plugin::{
    ConnectionDetails, ConnectionReport, DatabaseError, DatabasePlugin, NewUser,
};

pub use fields::{Mysql, MYSQL, MYSQL_LEGACY};

/// How long one connection attempt may take when the DSN sets no `timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a pooled connection (including making one).
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the plugin for one connection config (no IO: pools connect on first use).
fn open(name: &str, details: &ConnectionDetails) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
    let target = dsn::target(details)?;
    let size = secrethub_database_plugin::pool::pool_size(details);
    let lifetime = secrethub_database_plugin::pool::lifetime(details);
    let pool = |size: usize| pool(&target, size, lifetime);
    Ok(Arc::new(MysqlPlugin {
        name: name.to_string(),
        issue: pool(size)?,
        revoke: pool(size.max(2))?,
        facts: facts(&target),
        loopback: is_loopback(&target.address),
        connect_timeout: target.dial_timeout.unwrap_or(CONNECT_TIMEOUT),
        admin_username: target.user.clone(),
        admin_password: Zeroizing::new(target.password.clone()),
        mariadb: OnceLock::new(),
    }))
}

fn pool(
    target: &dsn::Target,
    size: usize,
    lifetime: Option<Duration>,
) -> Result<Pool, DatabaseError> {
    use mysql_async::{OptsBuilder, PoolConstraints, PoolOpts};
    let constraints = PoolConstraints::new(0, size.max(1))
        .ok_or_else(|| DatabaseError::Internal(anyhow::anyhow!("invalid pool size {size}")))?;
    let pool_opts = PoolOpts::default()
        .with_constraints(constraints)
        .with_reset_connection(false)
        // Keep idle connections for a minute: with mysql_async's default of none, every
        // credential and revocation logged in afresh (BENCHMARKS: creation 1.74x -> 1.30x raw).
        .with_inactive_connection_ttl(Duration::from_secs(60))
        .with_abs_conn_ttl(lifetime);
    let mut opts = OptsBuilder::default()
        .user(Some(target.user.clone()))
        .pass(Some(target.password.clone()))
        .db_name(Some(target.database.clone()).filter(|d| !d.is_empty()))
        .pool_opts(pool_opts)
        .stmt_cache_size(0)
        .connect_attribute("program_name", "secrethub");
    opts = match &target.address {
        // Exactly the address the DSN names: `mysql_async` would otherwise move a loopback
        // connection to the server's unix socket, where other accounts (`@localhost`) match.
        dsn::Address::Tcp { host, port } => opts
            .ip_or_hostname(host.clone())
            .tcp_port(*port)
            .prefer_socket(false),
        dsn::Address::Unix(path) => opts.socket(Some(path.clone())).prefer_socket(true),
    };
    if target.tls.enabled {
        opts = opts.ssl_opts(ssl_opts(&target.tls));
    }
    Ok(Pool::new(opts))
}

fn ssl_opts(tls: &dsn::Tls) -> mysql_async::SslOpts {
    use mysql_async::{ClientIdentity, SslOpts};
    let buf = |pem: &str| pem.as_bytes().to_vec().into();
    let mut ssl = SslOpts::default()
        .with_danger_accept_invalid_certs(tls.skip_verify)
        .with_danger_tls_hostname_override(tls.server_name.clone());
    if let Some(ca) = &tls.ca {
        ssl = ssl
            .with_root_certs(vec![buf(ca)])
            .with_disable_built_in_roots(true);
    }
    if let Some(pair) = &tls.certificate_key {
        ssl = ssl.with_client_identity(Some(ClientIdentity::new(buf(pair), buf(pair))));
    }
    ssl
}

/// `host`, `port` and `database` for the seed endpoint.
fn facts(target: &dsn::Target) -> JsonMap {
    let mut m = JsonMap::new();
    let (host, port) = match &target.address {
        dsn::Address::Tcp { host, port } => (host.clone(), *port),
        dsn::Address::Unix(path) => (path.clone(), 0),
    };
    m.insert("host".into(), host.into());
    m.insert("port".into(), port.into());
    m.insert("database".into(), target.database.clone().into());
    m
}

fn is_loopback(address: &dsn::Address) -> bool {
    match address {
        dsn::Address::Tcp { host, .. } => {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        dsn::Address::Unix(_) => true,
    }
}

/// Single-quotes a string for SQL: quotes doubled; a backslash or NUL, whose meaning depends
/// on the server's `sql_mode`, is refused.
fn literal(s: &str) -> Result<String, DatabaseError> {
    if s.contains(['\\', '\0']) {
        return Err(DatabaseError::invalid(
            "user names and passwords for MySQL may not contain a backslash",
        ));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// `literal` without the quotes, for `'{{password}}'` in statements.
fn escaped(s: &str) -> Result<String, DatabaseError> {
    let quoted = literal(s)?;
    Ok(quoted[1..quoted.len() - 1].to_string())
}

struct MysqlPlugin {
    name: String,
    issue: Pool,
    revoke: Pool,
    facts: JsonMap,
    /// The server is on this machine (loopback or a unix socket): plain text stays local.
    loopback: bool,
    connect_timeout: Duration,
    /// `{{username}}` of root rotation statements.
    admin_username: String,
    /// Scrubbed from every message, like the passwords of the statements.
    admin_password: Zeroizing<String>,
    /// Whether the server is MariaDB (its default revocation differs), once known.
    mariadb: OnceLock<bool>,
}

impl MysqlPlugin {
    async fn conn(&self, pool: &Pool) -> Result<Conn, DatabaseError> {
        match tokio::time::timeout(WAIT_TIMEOUT, pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(DatabaseError::Unavailable {
                connection: self.name.clone(),
                reason: errors::describe_for_client(&e, &[&self.admin_password]),
            }),
            Err(_) => Err(self.timed_out("waiting for a connection")),
        }
    }

    fn scrubbed(&self, message: &str, secrets: &[&str]) -> String {
        let mut all = secrets.to_vec();
        all.push(&self.admin_password);
        errors::scrub(message, &all)
    }

    fn timed_out(&self, action: &str) -> DatabaseError {
        DatabaseError::Unavailable {
            connection: self.name.clone(),
            reason: format!("{action} timed out"),
        }
    }

    /// Logs a failed statement in full (scrubbed) and describes it for the client.
    fn failure(
        &self,
        action: &'static str,
        err: &mysql_async::Error,
        secrets: &[&str],
    ) -> DatabaseError {
        tracing::warn!(
            connection = %self.name,
            action,
            error = %self.scrubbed(&errors::describe(err), secrets),
            "database statements failed"
        );
        let mut all = secrets.to_vec();
        all.push(&self.admin_password);
        let reason = errors::describe_for_client(err, &all);
        if errors::is_connection_error(err) {
            DatabaseError::Unavailable {
                connection: self.name.clone(),
                reason,
            }
        } else {
            DatabaseError::Rejected {
                connection: self.name.clone(),
                action,
                reason,
            }
        }
    }
}

#[async_trait]
impl DatabasePlugin for MysqlPlugin {
    async fn verify(&self) -> Result<(), DatabaseError> {
        let check = async {
            let mut conn = self.issue.get_conn().await?;
            conn.query_drop("SELECT 1").await
        };
        let reason = match tokio::time::timeout(self.connect_timeout * 2, check).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => errors::describe_for_client(&e, &[&self.admin_password]),
            Err(_) => "timed out connecting".to_string(),
        };
        Err(DatabaseError::Verify {
            connection: self.name.clone(),
            reason,
        })
    }

    async fn create_user(&self, user: &NewUser<'_>) -> Result<(), DatabaseError> {
        let expiration = template::format_expiration(user.expiration);
        let password = Zeroizing::new(escaped(user.password)?);
        literal(user.username)?;
        let vars = Vars {
            name: user.username,
            password: &password,
            password_literal: None,
            expiration: &expiration,
        };
        let rendered = Zeroizing::new(template::render_all(
            "creation_statements",
            user.statements,
            &vars,
        )?);
        let sql = Zeroizing::new(format!("START TRANSACTION;\n{}COMMIT", rendered.as_str()));
        let mut conn = self.conn(&self.issue).await?;
        user.before_create.ready().await?;
        let Err(e) = conn.query_drop(sql.as_str()).await else {
            return Ok(());
        };
        let err = self.failure("creating user", &e, &[user.password]);
        let conn = if errors::is_connection_error(&e) {
            None
        } else {
            let _ = conn.query_drop("ROLLBACK").await;
            Some(conn)
        };
        self.clean_up(conn, user.username, &rendered).await;
        Err(err)
    }

    async fn renew_user(
        &self,
        statements: &[String],
        username: &str,
        expiration: UnixTime,
    ) -> Result<(), DatabaseError> {
        if statements.is_empty() {
            return Ok(());
        }
        let expiration = template::format_expiration(expiration);
        let vars = Vars {
            name: username,
            expiration: &expiration,
            ..Vars::default()
        };
        let sql = template::render_all("renew_statements", statements, &vars)?;
        self.run_idempotent("renewing user", &sql).await.map(drop)
    }

    async fn revoke_user(
        &self,
        statements: &[String],
        username: &str,
    ) -> Result<(), DatabaseError> {
        if statements.is_empty() {
            return self.revoke_default(&[username]).await;
        }
        let vars = Vars {
            name: username,
            ..Vars::default()
        };
        let sql = template::render_all("revocation_statements", statements, &vars)?;
        match self.run_idempotent("revoking user", &sql).await {
            Ok(_) => {}
            // Revocation statements need not be idempotent: whatever failed, a user that no
            // longer exists is revoked.
            Err(e @ DatabaseError::Rejected { .. }) => {
                if self.user_exists(username).await.unwrap_or(true) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        self.end_sessions(username).await
    }

    async fn revoke_users_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        if usernames.is_empty() {
            return Ok(());
        }
        self.revoke_default(usernames).await
    }

    async fn revoke_users_unflushed(
        &self,
        usernames: &[&str],
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        if usernames.is_empty() {
            return Ok(None);
        }
        self.revoke_locking(usernames).await
    }

    async fn confirm_revoked(
        &self,
        revoked: &[(&str, &serde_json::Value)],
    ) -> Result<Vec<bool>, DatabaseError> {
        self.drop_locked(revoked).await
    }

    async fn check_connection(&self) -> ConnectionReport {
        self.check().await
    }

    async fn rotate_root(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError> {
        self.rotate_root_password(statements, new_password).await
    }

    async fn set_password(
        &self,
        statements: &[String],
        username: &str,
        password: &str,
    ) -> Result<(), DatabaseError> {
        self.set_user_password(statements, username, password).await
    }

    fn connection_facts(&self) -> JsonMap {
        self.facts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(literal("it's").unwrap(), "'it''s'");
        assert_eq!(escaped("a'b").unwrap(), "a''b");
        assert!(escaped("a\\b").is_err());
    }
}
