//! The Redis plugin of the database secrets engine (`redis-database-plugin`, and OpenBao's
//! `valkey-database-plugin`: the same code). [`REDIS`] is what the engine registers; its
//! connection fields are in `fields.rs`, its statements (JSON lists of ACL rules) in
//! `rules.rs`.
//!
//! A credential is `ACL SETUSER <name> reset on ><password> <rules…>`: one command, which
//! Redis applies atomically (a bad rule creates nothing); `reset` first means a user is exactly
//! what its role says even if the name existed. Revocation is `ACL DELUSER`, which also closes
//! the user's open connections; a user already gone is success, and expiring leases go in
//! one `ACL DELUSER a b c…`. Renewal only extends the lease (Redis users do not expire). Root
//! rotation is `ACL SETUSER <admin> resetpass ><new>` where the admin is the user `ACL WHOAMI`
//! names, so a misspelt `username` can never create a second user. When the server has an ACL
//! file, every change is followed by `ACL SAVE`, so a restart cannot bring a revoked user back;
//! whether it has one is learnt from the first `ACL SAVE` ("not configured to use an ACL file"
//! means no). A failed save fails the operation: a creation is then rolled back through its
//! intent, a revocation retried.
//!
//! Driver: a small RESP2 client in this crate (`resp.rs`, about 250 lines) over tokio's
//! `TcpStream` and tokio-rustls, rather than the `redis` crate. The plugin sends six
//! commands; `redis` 1.x needs Rust 1.88 (the workspace's floor is 1.85) and brings a dozen
//! crates the tree does not have (`combine`, `sha1_smol`, `arc-swap`, …), minutes of cold
//! build on two cores for features never used, whereas this client adds no crate: tokio,
//! rustls, tokio-rustls, rustls-pemfile and rustls-native-certs are in the tree already.
//!
//! Connections: a pool of 4 for issuing, verifying and rotating and a separate pool of 2 for
//! revocations, so a burst of expiring leases never starves issuance. Each connection is
//! authenticated once (`AUTH`); a pooled one that turns out dead is replaced and the
//! (idempotent) command sent once more. Every command has a time limit.
//!
//! Secrets: errors and logs never carry a password. Commands are built in zeroed-on-drop
//! buffers; the server's error replies (which echo the offending rule) are shown with any
//! password scrubbed out; `Debug` is not derived for anything holding one.

mod check;
mod fields;
mod pool;
mod resp;
mod rules;
mod tls;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::JsonMap;
use secrethub_database_plugin::{
    ConnectionDetails, ConnectionReport, DatabaseError, DatabasePlugin, NewUser,
    DEFAULT_MAX_OPEN_CONNECTIONS,
};
use serde_json::Value;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use pool::{Pool, Pooled, Target, TlsSettings};
use resp::{ConnError, Endpoint, Reply};

pub use fields::REDIS;

/// Connections reserved for revocations.
const REVOKE_POOL_SIZE: usize = 2;
/// How long one command may take on an open connection.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The ACL-file state learnt from the first `ACL SAVE`.
const ACL_FILE_UNKNOWN: u8 = 0;
const ACL_FILE_YES: u8 = 1;
const ACL_FILE_NO: u8 = 2;

/// Opens the plugin for one connection config (no IO).
fn open(name: &str, details: &ConnectionDetails) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
    let host = details.str(fields::HOST).to_string();
    let port = u16::try_from(details.u64_or(fields::PORT, fields::DEFAULT_PORT))
        .map_err(|_| DatabaseError::invalid("port must be from 1 to 65535"))?;
    let tls = if details.bool_or(fields::TLS, false) {
        Some(TlsSettings {
            ca_cert: details.str(fields::CA_CERT).to_string(),
            insecure: details.bool_or(fields::INSECURE_TLS, false),
            name: tls::server_name(&host).map_err(DatabaseError::invalid)?,
            config: OnceCell::new(),
        })
    } else {
        None
    };
    let mut facts = JsonMap::new();
    facts.insert("host".into(), Value::String(host.clone()));
    facts.insert("port".into(), Value::from(port));
    let target = Arc::new(Target {
        endpoint: Endpoint {
            host,
            port,
            username: details.str(fields::USERNAME).to_string(),
            password: Zeroizing::new(details.password().to_string()),
        },
        tls,
    });
    Ok(Arc::new(RedisPlugin {
        name: name.to_string(),
        issue: Pool::new(Arc::clone(&target), DEFAULT_MAX_OPEN_CONNECTIONS as usize),
        revoke: Pool::new(Arc::clone(&target), REVOKE_POOL_SIZE),
        target,
        facts,
        acl_file: AtomicU8::new(ACL_FILE_UNKNOWN),
    }))
}

struct RedisPlugin {
    name: String,
    target: Arc<Target>,
    issue: Pool,
    revoke: Pool,
    facts: JsonMap,
    acl_file: AtomicU8,
}

use secrethub_database_plugin::scrub;

/// Whether an `ACL SAVE` error says the server has no ACL file.
fn is_no_acl_file(err: &str) -> bool {
    err.contains("not configured to use an ACL file")
}

impl RedisPlugin {
    fn secrets<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut s = vec![self.target.endpoint.password.as_str()];
        s.extend_from_slice(extra);
        s
    }

    fn unavailable(&self, err: &ConnError, secrets: &[&str]) -> DatabaseError {
        DatabaseError::Unavailable {
            connection: self.name.clone(),
            reason: scrub(&err.to_string(), &self.secrets(secrets)),
        }
    }

    fn rejected(&self, action: &'static str, reply: &str, secrets: &[&str]) -> DatabaseError {
        let reason = scrub(reply, &self.secrets(secrets));
        tracing::warn!(connection = %self.name, action, error = %reason, "redis refused a command");
        DatabaseError::Rejected {
            connection: self.name.clone(),
            action,
            reason,
        }
    }

    async fn get<'p>(
        &self,
        pool: &'p Pool,
        fresh: bool,
        secrets: &[&str],
    ) -> Result<Pooled<'p>, DatabaseError> {
        pool.get(fresh)
            .await
            .map_err(|e| self.unavailable(&e, secrets))
    }

    /// One command on `conn` within the time limit; an `Err` means the connection is gone.
    async fn call(conn: &mut Pooled<'_>, args: &[&[u8]]) -> Result<Reply, ConnError> {
        tokio::time::timeout(COMMAND_TIMEOUT, conn.conn.call(args))
            .await
            .map_err(|_| ConnError::Timeout("waiting for redis"))?
    }

    /// Runs an idempotent command followed by `ACL SAVE` when the server keeps an ACL file,
    /// on a connection of `pool` (taken by the caller: `first`), once more on a fresh
    /// connection if that one turns out dead. Returns the command's reply unless it is an
    /// error reply.
    async fn run_saved<'p>(
        &self,
        pool: &'p Pool,
        first: Pooled<'p>,
        action: &'static str,
        args: &[&[u8]],
        secrets: &[&str],
    ) -> Result<Reply, DatabaseError> {
        let mut conn = first;
        let mut retried = false;
        loop {
            let outcome = async {
                let reply = Self::call(&mut conn, args).await?;
                if let Reply::Error(e) = &reply {
                    return Ok(Err(self.rejected(action, e, secrets)));
                }
                if self.acl_file.load(Ordering::Relaxed) != ACL_FILE_NO {
                    match Self::call(&mut conn, &[b"ACL", b"SAVE"]).await? {
                        Reply::Error(e) if is_no_acl_file(&e) => {
                            self.acl_file.store(ACL_FILE_NO, Ordering::Relaxed);
                        }
                        Reply::Error(e) => {
                            return Ok(Err(self.rejected("saving the ACL file", &e, secrets)));
                        }
                        _ => self.acl_file.store(ACL_FILE_YES, Ordering::Relaxed),
                    }
                }
                Ok::<_, ConnError>(Ok(reply))
            }
            .await;
            match outcome {
                Ok(result) => {
                    conn.done();
                    return result;
                }
                Err(e) if !retried && matches!(e, ConnError::Io(_)) => {
                    drop(conn);
                    retried = true;
                    conn = self.get(pool, true, secrets).await?;
                }
                Err(e) => {
                    tracing::warn!(connection = %self.name, action, error = %scrub(&e.to_string(), &self.secrets(secrets)), "redis command failed");
                    return Err(self.unavailable(&e, secrets));
                }
            }
        }
    }

    /// An issuing connection known to work: one reused from the pool answers a `PING` first
    /// (a new one has just authenticated), so a server that went away is found out before
    /// the intent is recorded, not after.
    async fn live_connection(&self, secrets: &[&str]) -> Result<Pooled<'_>, DatabaseError> {
        let mut conn = self.get(&self.issue, false, secrets).await?;
        if conn.reused && Self::call(&mut conn, &[b"PING"]).await.is_err() {
            drop(conn);
            conn = self.get(&self.issue, true, secrets).await?;
        }
        Ok(conn)
    }

    /// `ACL DELUSER` of every name in one command (a user already gone counts as deleted).
    async fn delete_users(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        if usernames.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&[u8]> = vec![b"ACL", b"DELUSER"];
        args.extend(usernames.iter().map(|u| u.as_bytes()));
        let conn = self.get(&self.revoke, false, &[]).await?;
        self.run_saved(&self.revoke, conn, "revoking users", &args, &[])
            .await
            .map(drop)
    }
}

#[async_trait]
impl DatabasePlugin for RedisPlugin {
    async fn verify(&self) -> Result<(), DatabaseError> {
        let check = async {
            let mut conn = self.issue.get(true).await?;
            match Self::call(&mut conn, &[b"PING"]).await? {
                Reply::Status(s) if s == "PONG" => {
                    conn.done();
                    Ok(())
                }
                Reply::Error(e) => Err(ConnError::Auth(e)),
                _ => Err(ConnError::Protocol("unexpected reply to PING")),
            }
        };
        match check.await {
            Ok(()) => Ok(()),
            Err(e) => Err(DatabaseError::Verify {
                connection: self.name.clone(),
                reason: scrub(&e.to_string(), &self.secrets(&[])),
            }),
        }
    }

    async fn check_connection(&self) -> ConnectionReport {
        self.check().await
    }

    async fn create_user(&self, user: &NewUser<'_>) -> Result<(), DatabaseError> {
        // Checked before anything else: a bad statement leaves no intent behind.
        let rules = rules::creation_rules(user.statements)?;
        let secrets = [user.password];
        let conn = self.live_connection(&secrets).await?;
        user.before_create.ready().await?;
        let password_rule = Zeroizing::new(format!(">{}", user.password));
        let mut args: Vec<&[u8]> = vec![
            b"ACL",
            b"SETUSER",
            user.username.as_bytes(),
            b"reset",
            b"on",
            password_rule.as_bytes(),
        ];
        args.extend(rules.iter().map(|r| r.as_bytes()));
        self.run_saved(&self.issue, conn, "creating user", &args, &secrets)
            .await
            .map(drop)
    }

    async fn revoke_user(
        &self,
        statements: &[String],
        username: &str,
    ) -> Result<(), DatabaseError> {
        if !statements.is_empty() {
            // Refused when roles are written; a role written before its connection existed may
            // still carry some. Revocation must remove the user whatever they say.
            tracing::debug!(connection = %self.name, "revocation_statements ignored by the redis plugin");
        }
        self.delete_users(&[username]).await
    }

    async fn revoke_users_default(&self, usernames: &[&str]) -> Result<(), DatabaseError> {
        self.delete_users(usernames).await
    }

    async fn rotate_root(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError> {
        rules::check_unused("root_rotation_statements", statements)?;
        let secrets = [new_password];
        let mut conn = self.get(&self.issue, true, &secrets).await?;
        // The user this connection is authenticated as: rotating a misspelt name would
        // create a new user instead.
        let admin = match Self::call(&mut conn, &[b"ACL", b"WHOAMI"]).await {
            Ok(Reply::Bulk(Some(name))) => String::from_utf8(name).map_err(|_| {
                self.rejected(
                    "rotating the root password",
                    "user name is not UTF-8",
                    &secrets,
                )
            })?,
            Ok(Reply::Error(e)) => {
                return Err(self.rejected("rotating the root password", &e, &secrets))
            }
            Ok(_) => {
                return Err(self.unavailable(
                    &ConnError::Protocol("unexpected reply to ACL WHOAMI"),
                    &secrets,
                ))
            }
            Err(e) => return Err(self.unavailable(&e, &secrets)),
        };
        let password_rule = Zeroizing::new(format!(">{new_password}"));
        let args: [&[u8]; 5] = [
            b"ACL",
            b"SETUSER",
            admin.as_bytes(),
            b"resetpass",
            password_rule.as_bytes(),
        ];
        self.run_saved(
            &self.issue,
            conn,
            "rotating the root password",
            &args,
            &secrets,
        )
        .await
        .map(drop)
    }

    fn connection_facts(&self) -> JsonMap {
        self.facts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_no_acl_file_error() {
        assert!(is_no_acl_file(
            "ERR This Redis instance is not configured to use an ACL file. You may want…"
        ));
    }
}
