//! Revocation: the default (`DROP USER IF EXISTS`, then `KILL` of the sessions found in
//! `information_schema.PROCESSLIST`; see the crate docs), the scheduler's lock-now, drop-later
//! revocation on MariaDB, the session kill that follows custom statements, the clean-up after a failed creation, and the retrying runner they share, all
//! on the revocation pool.

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use secrethub_database_plugin::DatabaseError;

use crate::{errors, literal, MysqlPlugin};

/// A revocation or renewal that takes longer fails and is retried by the lease manager
/// instead of holding a connection forever.
const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(30);

/// Each user name as a literal, and the list of their accounts at `'%'` (`'a'@'%', 'b'@'%'`).
fn names_and_accounts(usernames: &[&str]) -> Result<(Vec<String>, String), DatabaseError> {
    let names = usernames
        .iter()
        .map(|u| literal(u))
        .collect::<Result<Vec<_>, _>>()?;
    let accounts: Vec<String> = names.iter().map(|n| format!("{n}@'%'")).collect();
    Ok((names, accounts.join(", ")))
}

/// Appends MariaDB's `KILL CONNECTION USER` of each (literal) name to `sql`, which ends every
/// session of each without a query of `information_schema.PROCESSLIST`.
fn kill_sessions_of(names: &[String], mut sql: String) -> String {
    for n in names {
        sql.push_str(";\nKILL CONNECTION USER ");
        sql.push_str(n);
    }
    sql
}

/// The default revocation's round trip on MySQL: drop every user at `'%'`, then list their
/// sessions.
pub(crate) fn drop_and_list_sessions(usernames: &[&str]) -> Result<String, DatabaseError> {
    let (names, accounts) = names_and_accounts(usernames)?;
    Ok(format!(
        "DROP USER IF EXISTS {accounts};\nSELECT ID FROM information_schema.PROCESSLIST WHERE USER IN ({})",
        names.join(", ")
    ))
}

/// The default revocation's round trip on MariaDB: drop every user at `'%'`, then end every
/// session of each with `KILL CONNECTION USER` (the `PROCESSLIST` look-up fills a temporary
/// table every time: about 0.8 ms per revocation here, 30 % of the `DROP USER` itself;
/// BENCHMARKS "MySQL").
pub(crate) fn drop_and_kill_sessions(usernames: &[&str]) -> Result<String, DatabaseError> {
    let (names, accounts) = names_and_accounts(usernames)?;
    Ok(kill_sessions_of(
        &names,
        format!("DROP USER IF EXISTS {accounts}"),
    ))
}

/// The scheduler's revocation on MariaDB: lock every account at `'%'` and end every session
/// of each, in one round trip. Locking keeps up where dropping cannot: with 10,000 accounts
/// MariaDB drops about 100 users a second under its grant lock (each `DROP USER` edits every
/// privilege table), while one `ACCOUNT LOCK` of 50 accounts takes about 9 ms (BENCHMARKS
/// "MySQL").
pub(crate) fn lock_and_kill_sessions(usernames: &[&str]) -> Result<String, DatabaseError> {
    let (names, accounts) = names_and_accounts(usernames)?;
    Ok(kill_sessions_of(
        &names,
        format!("ALTER USER IF EXISTS {accounts} ACCOUNT LOCK"),
    ))
}

/// What completes locked revocations: a `DROP USER IF EXISTS` per user, each followed by a
/// `KILL CONNECTION USER` for a session that was authenticating while the account was locked.
/// One statement per user, not one naming all, so MariaDB's grant lock is released between
/// drops and the scheduler's locks get through while a long backlog is being dropped.
pub(crate) fn drop_each_and_kill_sessions(usernames: &[&str]) -> Result<String, DatabaseError> {
    let mut statements = Vec::with_capacity(usernames.len() * 2);
    for u in usernames {
        let n = literal(u)?;
        statements.push(format!("DROP USER IF EXISTS {n}@'%'"));
        statements.push(format!("KILL CONNECTION USER {n}"));
    }
    Ok(statements.join(";\n"))
}

/// The receipt of a revocation that locked the accounts: the drop is still to come.
fn locked_receipt() -> serde_json::Value {
    serde_json::json!({ "mysql": "locked" })
}

/// The hosts `sql` creates `username` at besides `%`: every `'<name>'@'<host>'` (or with
/// backticks or double quotes) it names.
pub(crate) fn hosts_named(sql: &str, username: &str) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    for q in ['\'', '`', '"'] {
        let needle = format!("{q}{username}{q}@");
        let mut from = 0;
        while let Some(i) = sql[from..].find(&needle) {
            let rest = &sql[from + i + needle.len()..];
            let host: String = match rest.chars().next() {
                Some(h @ ('\'' | '`' | '"')) => rest[1..].chars().take_while(|c| *c != h).collect(),
                _ => rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '-'))
                    .collect(),
            };
            if !host.is_empty() {
                hosts.insert(host);
            }
            from += i + needle.len();
        }
    }
    hosts
}

impl MysqlPlugin {
    /// Runs idempotent SQL on the revocation pool within the time limit, once more on a fresh
    /// connection if the first turned out to be dead (the server restarted while it was
    /// pooled), and again after a deadlock or lock wait timeout. Answers the ids of the rows
    /// of every result set (the sessions found).
    pub(crate) async fn run_idempotent(
        &self,
        action: &'static str,
        sql: &str,
    ) -> Result<Vec<u64>, DatabaseError> {
        let mut retried = false;
        let mut conflicts = 0;
        loop {
            let mut conn = self.conn(&self.revoke).await?;
            let outcome =
                tokio::time::timeout(MAINTENANCE_TIMEOUT, query_ids(&mut conn, sql)).await;
            match outcome {
                Ok(Ok(ids)) => return Ok(ids),
                Ok(Err(e)) if !retried && errors::is_connection_error(&e) => retried = true,
                Ok(Err(e)) if conflicts < CONFLICT_RETRIES && errors::is_transient_conflict(&e) => {
                    conflicts += 1;
                    let _ = conn.query_drop("ROLLBACK").await;
                    conflict_backoff(conflicts).await;
                }
                Ok(Err(e)) => {
                    if !errors::is_connection_error(&e) {
                        // Statements that opened a transaction must not leave it open.
                        let _ = conn.query_drop("ROLLBACK").await;
                    }
                    return Err(self.failure(action, &e, &[]));
                }
                Err(_) => return Err(self.timed_out(action)),
            }
        }
    }

    /// Ends the given sessions; one that ended meanwhile is fine.
    async fn kill(&self, ids: &[u64]) -> Result<(), DatabaseError> {
        for id in ids {
            match self
                .run_idempotent(
                    "ending the user's sessions",
                    &format!("KILL CONNECTION {id}"),
                )
                .await
            {
                Err(DatabaseError::Rejected { reason, .. })
                    if reason.contains(&format!("error {}", errors::NO_SUCH_THREAD)) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Whether the server is MariaDB (`VERSION()` says so), asked once per connection config.
    async fn is_mariadb(&self) -> Result<bool, DatabaseError> {
        if let Some(known) = self.mariadb.get() {
            return Ok(*known);
        }
        let mut conn = self.conn(&self.revoke).await?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(|e| self.failure("reading the server's version", &e, &[]))?;
        let known = version.is_some_and(|v| v.contains("MariaDB"));
        Ok(*self.mariadb.get_or_init(|| known))
    }

    /// The default revocation of `usernames` (see the module docs).
    pub(crate) async fn revoke_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        if self.is_mariadb().await? {
            // An admin without CONNECTION ADMIN gets no error from `KILL CONNECTION USER`: the
            // sessions stay open, as the connection check warns (tested in
            // mysql_test_connection.rs).
            let sql = drop_and_kill_sessions(usernames)?;
            return self.run_idempotent("revoking users", &sql).await.map(drop);
        }
        let sql = drop_and_list_sessions(usernames)?;
        let sessions = self.run_idempotent("revoking users", &sql).await?;
        self.kill(&sessions).await
    }

    /// The default revocation of `usernames` for the lease scheduler: on MariaDB the accounts
    /// are locked and their sessions ended now, and dropped by [`MysqlPlugin::drop_locked`]
    /// when core confirms the receipt. MySQL keeps the drop: it has no `KILL … USER`, so the
    /// lock would need the session look-up all the same, and MySQL 5.6 (the legacy plugin's
    /// server) has no `ACCOUNT LOCK`.
    pub(crate) async fn revoke_locking(
        &self,
        usernames: &[&str],
    ) -> Result<Option<serde_json::Value>, DatabaseError> {
        if !self.is_mariadb().await? {
            return self.revoke_default(usernames).await.map(|()| None);
        }
        let sql = lock_and_kill_sessions(usernames)?;
        self.run_idempotent("locking users", &sql).await?;
        Ok(Some(locked_receipt()))
    }

    /// Confirms revocations: drops the users whose receipt says they were only locked (those
    /// already gone are fine). Every one is confirmed once the drops succeed.
    pub(crate) async fn drop_locked(
        &self,
        revoked: &[(&str, &serde_json::Value)],
    ) -> Result<Vec<bool>, DatabaseError> {
        let locked: Vec<&str> = revoked
            .iter()
            .filter(|(_, receipt)| **receipt == locked_receipt())
            .map(|(user, _)| *user)
            .collect();
        if !locked.is_empty() {
            let sql = drop_each_and_kill_sessions(&locked)?;
            self.run_idempotent("dropping locked users", &sql).await?;
        }
        Ok(vec![true; revoked.len()])
    }

    /// Ends every session of `username` (after custom revocation statements).
    pub(crate) async fn end_sessions(&self, username: &str) -> Result<(), DatabaseError> {
        let sql = format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = {}",
            literal(username)?
        );
        let sessions = self
            .run_idempotent("finding the user's sessions", &sql)
            .await?;
        self.kill(&sessions).await
    }

    /// Whether any account named `username` exists (at any host).
    pub(crate) async fn user_exists(&self, username: &str) -> Result<bool, DatabaseError> {
        let sql = format!(
            "SELECT 1 FROM mysql.user WHERE User = {} LIMIT 1",
            literal(username)?
        );
        Ok(!self
            .run_idempotent("checking the user", &sql)
            .await?
            .is_empty())
    }

    /// After a failed creation: drops what the statements may have created, on `conn` when it
    /// still works, else on a fresh one. A failure here is logged; the intent core recorded
    /// before the creation is revoked later either way.
    pub(crate) async fn clean_up(&self, conn: Option<Conn>, username: &str, rendered: &str) {
        let mut hosts = hosts_named(rendered, username);
        hosts.insert("%".into());
        let sql = match literal(username).and_then(|name| {
            let accounts: Vec<String> = hosts
                .iter()
                .map(|h| literal(h).map(|h| format!("{name}@{h}")))
                .collect::<Result<_, _>>()?;
            Ok(format!("DROP USER IF EXISTS {}", accounts.join(", ")))
        }) {
            Ok(sql) => sql,
            Err(_) => return,
        };
        let outcome = match conn {
            Some(mut conn) => conn
                .query_drop(&sql)
                .await
                .map_err(|e| self.failure("cleaning up", &e, &[])),
            None => self.run_idempotent("cleaning up", &sql).await.map(drop),
        };
        if let Err(e) = outcome {
            tracing::warn!(connection = %self.name, error = %e, "could not drop a half-created user; its intent will be revoked");
        }
    }
}

/// Runs `sql` and collects the first column of every row of every result set as an id.
async fn query_ids(conn: &mut Conn, sql: &str) -> Result<Vec<u64>, mysql_async::Error> {
    let mut result = conn.query_iter(sql).await?;
    let mut ids = Vec::new();
    while !result.is_empty() {
        let rows: Vec<mysql_async::Row> = result.collect().await?;
        ids.extend(
            rows.iter()
                .filter_map(|r| r.get_opt::<u64, _>(0).and_then(Result::ok)),
        );
    }
    Ok(ids)
}

/// How often statements that lost a race on a lock are run again.
const CONFLICT_RETRIES: u32 = 10;

/// A short, jittered, growing pause before running again after a lock conflict.
async fn conflict_backoff(attempt: u32) {
    use rand::Rng;
    let cap_ms = (1u64 << attempt.min(6)).min(50);
    let ms = rand::thread_rng().gen_range(1..=cap_ms.max(2));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_revocation_quotes_every_name() {
        let sql = drop_and_list_sessions(&["shub_a", "o'b"]).unwrap();
        assert_eq!(
            sql,
            "DROP USER IF EXISTS 'shub_a'@'%', 'o''b'@'%';\n\
             SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN ('shub_a', 'o''b')"
        );
        assert!(drop_and_list_sessions(&["a\\"]).is_err());
    }

    #[test]
    fn mariadb_revocation_kills_each_users_sessions() {
        let sql = drop_and_kill_sessions(&["shub_a", "o'b"]).unwrap();
        assert_eq!(
            sql,
            "DROP USER IF EXISTS 'shub_a'@'%', 'o''b'@'%';\n\
             KILL CONNECTION USER 'shub_a';\n\
             KILL CONNECTION USER 'o''b'"
        );
        assert!(drop_and_kill_sessions(&["a\\"]).is_err());
    }

    #[test]
    fn the_scheduler_locks_first_and_drops_one_user_per_statement() {
        assert_eq!(
            lock_and_kill_sessions(&["shub_a", "o'b"]).unwrap(),
            "ALTER USER IF EXISTS 'shub_a'@'%', 'o''b'@'%' ACCOUNT LOCK;\n\
             KILL CONNECTION USER 'shub_a';\n\
             KILL CONNECTION USER 'o''b'"
        );
        assert_eq!(
            drop_each_and_kill_sessions(&["shub_a", "o'b"]).unwrap(),
            "DROP USER IF EXISTS 'shub_a'@'%';\n\
             KILL CONNECTION USER 'shub_a';\n\
             DROP USER IF EXISTS 'o''b'@'%';\n\
             KILL CONNECTION USER 'o''b'"
        );
        assert!(lock_and_kill_sessions(&["a\\"]).is_err());
        assert!(drop_each_and_kill_sessions(&["a\\"]).is_err());
    }

    #[test]
    fn finds_the_hosts_statements_name() {
        let sql = "CREATE USER 'u1'@'localhost' IDENTIFIED BY 'x'; CREATE USER `u1`@`10.0.0.%`; \
                   GRANT SELECT ON *.* TO \"u1\"@db.internal; CREATE USER 'u10'@'other'";
        let hosts: Vec<String> = hosts_named(sql, "u1").into_iter().collect();
        assert_eq!(hosts, ["10.0.0.%", "db.internal", "localhost"]);
    }
}
