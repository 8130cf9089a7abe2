//! The MongoDB plugin of the database secrets engine (`mongodb-database-plugin`). [`MONGODB`]
//! is what the engine registers; its connection fields (Vault's `connection_url`, `username`,
//! `password`, `write_concern`, `tls_ca`, `tls_certificate_key`) are in `fields.rs`, its
//! statements (JSON documents) in `statements.rs`.
//!
//! A credential is one `createUser` command on the statement's database (`admin` by default)
//! with the generated password, the statement's roles and `mechanisms: ["SCRAM-SHA-256"]`.
//! Vault sends no `mechanisms`, so its users also get SCRAM-SHA-1 credentials; ours get the
//! SHA-256 ones only (every driver since MongoDB 4.0 speaks it). `createUser` is atomic: a
//! refused one (unknown role, say) creates nothing. Before it, a `ping` on the same client
//! proves the server is reachable and the admin credentials work, and only then is the intent
//! recorded (the driver pools connections itself, so the `ping` stands for "a connection is
//! held").
//!
//! Revocation is `dropUser`, with the configured write concern or, like Vault, `w: majority`.
//! With a revocation statement `{"db": …}` the user is dropped from that database; without
//! one from `admin` (Vault's default), and when it is not there (a role that created its users
//! in another database) the user is looked up with `usersInfo` across databases and dropped
//! where found, so no user is orphaned because a role forgot its revocation statement. A user
//! already gone (`UserNotFound`, code 11) is success. Renewal only extends the lease (MongoDB
//! users do not expire). Root rotation is `updateUser` of the admin user in its
//! authentication database.
//!
//! Connections: the official `mongodb` driver (3.6, the last release within rust-version
//! 1.85), two clients per connection config, made on first use: one with a pool of 4 for
//! issuing, verifying and rotating, one with a pool of 2 for revocations, so a burst of
//! expiring leases never starves issuance. Server selection and connecting time out after 5 s
//! unless the URL says otherwise, and every command within 30 s. `tls_ca` and
//! `tls_certificate_key` are PEM texts; the driver only reads files, so they are written to a
//! private temporary directory (mode 0700, removed when the plugin is dropped). With
//! `tls_certificate_key` and no username the admin authenticates with MONGODB-X509, as in
//! Vault.
//!
//! Driver features: `rustls-tls` (ring, our rustls 0.23: no OpenSSL, no aws-lc), `bson-2` and
//! `compat-3-3-0` (required); no DNS resolver, so `mongodb+srv://` URLs are refused with a
//! clear message (that feature alone brings hickory's resolver stack). `mongodb` 3.7 and later
//! need Rust 1.88, so the root `Cargo.toml` holds it at 3.6 and its macros crate at `=3.6.0`.
//! Cost, measured with `cargo build --timings` (debug, 2 cores, `-j2`, the machine busy with
//! other builds): building this crate from a tree where the rest of the workspace was built
//! took 3 min 27 s wall (69 crates compiled, some of them tokio and serde again with other
//! features); the 40 crates the driver adds took 186 s of compile time between them, `mongodb`
//! itself 79 s, `darling_core` 0.24 27 s, `bson` 16 s, the builder and derive macros
//! (`typed-builder`, `derive_more`, `serde_with`, `derive-where`) about 30 s. New second
//! versions in the tree: `rand`/`rand_core`/`rand_chacha` 0.9 (beside 0.8 and 0.10), `md-5`
//! 0.10 (beside 0.11), `darling` 0.24 (beside 0.14, a proc-macro dependency).
//!
//! Secrets: errors and logs never carry a password. Commands are built in memory only; the
//! server's error text is logged scrubbed and clients see the code name and number.

mod client;
mod errors;
mod fields;
mod statements;
mod url;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{HostInfo, ServerAddress};
use mongodb::Client;
use secrethub_common::JsonMap;
use secrethub_database_plugin::{
    ConnectionDetails, ConnectionReport, DatabaseError, DatabasePlugin, FailureKind, NewUser,
    Privilege, DEFAULT_MAX_OPEN_CONNECTIONS,
};
use serde_json::Value;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use errors::Failure;
pub use fields::MONGODB;

/// Connections reserved for revocations.
const REVOKE_POOL_SIZE: u32 = 2;
/// How long one command may take, server selection included.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the plugin for one connection config (no IO).
fn open(name: &str, details: &ConnectionDetails) -> Result<Arc<dyn DatabasePlugin>, DatabaseError> {
    let checked = fields::check(details)?;
    let mut facts = JsonMap::new();
    if let HostInfo::HostIdentifiers(hosts) = &checked.connection.host_info {
        if let Some(ServerAddress::Tcp { host, port }) = hosts.first() {
            facts.insert("host".into(), Value::String(host.clone()));
            facts.insert("port".into(), Value::from(port.unwrap_or(27017)));
        }
    }
    let auth_db = fields::auth_db(&checked.connection);
    facts.insert("database".into(), Value::String(auth_db.clone()));
    let raw_url = details.str(fields::CONNECTION_URL);
    let mut secrets = vec![Zeroizing::new(details.password().to_string())];
    if let Some(p) = url::password_in(raw_url) {
        secrets.push(Zeroizing::new(p.to_string()));
    }
    Ok(Arc::new(MongoPlugin {
        name: name.to_string(),
        settings: client::Settings {
            url: url::render(raw_url, details.str(fields::USERNAME), details.password()),
            username: details.str(fields::USERNAME).to_string(),
            password: Zeroizing::new(details.password().to_string()),
            auth_db,
            tls_ca: details.str(fields::TLS_CA).to_string(),
            tls_certificate_key: Zeroizing::new(
                details.str(fields::TLS_CERTIFICATE_KEY).to_string(),
            ),
        },
        write_concern: checked.write_concern,
        secrets,
        facts,
        tls_files: OnceCell::new(),
        issue: OnceCell::new(),
        revoke: OnceCell::new(),
    }))
}

struct MongoPlugin {
    name: String,
    settings: client::Settings,
    write_concern: Option<Document>,
    /// The admin password (and one written literally into the URL), scrubbed from messages.
    secrets: Vec<Zeroizing<String>>,
    facts: JsonMap,
    tls_files: OnceCell<Option<client::TlsFiles>>,
    issue: OnceCell<Client>,
    revoke: OnceCell<Client>,
}

/// Which client a command runs on.
#[derive(Clone, Copy)]
enum Pool {
    Issue,
    Revoke,
}

impl MongoPlugin {
    fn secrets<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut s: Vec<&str> = self.secrets.iter().map(|s| s.as_str()).collect();
        s.extend_from_slice(extra);
        s
    }

    fn unavailable(&self, reason: String) -> DatabaseError {
        DatabaseError::Unavailable {
            connection: self.name.clone(),
            reason,
        }
    }

    async fn tls_files(&self) -> Result<&Option<client::TlsFiles>, DatabaseError> {
        self.tls_files
            .get_or_try_init(|| async {
                let ca = self.settings.tls_ca.clone();
                let key = self.settings.tls_certificate_key.clone();
                if ca.is_empty() && key.is_empty() {
                    return Ok(None);
                }
                // File IO: on the blocking pool.
                tokio::task::spawn_blocking(move || client::write_tls_files(&ca, &key))
                    .await
                    .map_err(|e| DatabaseError::Internal(e.into()))?
                    .map(Some)
                    .map_err(|e| {
                        DatabaseError::Internal(anyhow::anyhow!(
                            "writing the TLS files for the driver: {e}"
                        ))
                    })
            })
            .await
    }

    async fn client(&self, pool: Pool) -> Result<&Client, DatabaseError> {
        let (cell, size) = match pool {
            Pool::Issue => (&self.issue, DEFAULT_MAX_OPEN_CONNECTIONS),
            Pool::Revoke => (&self.revoke, REVOKE_POOL_SIZE),
        };
        cell.get_or_try_init(|| async {
            let files = self.tls_files().await?.as_ref();
            client::connect(&self.settings, files, size)
                .await
                .map_err(|e| DatabaseError::invalid(self.scrubbed(&e, &[])))
        })
        .await
    }

    fn scrubbed(&self, err: &mongodb::error::Error, extra: &[&str]) -> String {
        errors::scrub(&errors::describe(err), &self.secrets(extra))
    }

    /// Runs `command` on `db` within the time limit. A refused command is logged (scrubbed)
    /// and returned as its code; anything else is the connection's fault.
    async fn run(
        &self,
        pool: Pool,
        db: &str,
        command: Document,
        action: &'static str,
        extra_secrets: &[&str],
    ) -> Result<Document, RunError> {
        let client = self.client(pool).await.map_err(RunError::Engine)?;
        let outcome =
            tokio::time::timeout(COMMAND_TIMEOUT, client.database(db).run_command(command)).await;
        let secrets = self.secrets(extra_secrets);
        match outcome {
            Err(_) => Err(RunError::Engine(self.unavailable(format!(
                "{action}: timed out after {COMMAND_TIMEOUT:?}"
            )))),
            Ok(Ok(reply)) => match reply.get_document("writeConcernError") {
                Ok(wce) => {
                    let code = wce.get_i32("code").unwrap_or_default();
                    let name = wce.get_str("codeName").unwrap_or("WriteConcernFailed");
                    tracing::warn!(connection = %self.name, action, code, code_name = name, "mongodb write concern not satisfied");
                    Err(RunError::Refused {
                        code,
                        reason: format!("write concern not satisfied: {name} (code {code})"),
                    })
                }
                Err(_) => Ok(reply),
            },
            Ok(Err(e)) => {
                let error = errors::scrub(&errors::describe(&e), &secrets);
                if errors::code(&e) == Some(errors::USER_NOT_FOUND) {
                    // Expected when revoking a user already gone.
                    tracing::debug!(connection = %self.name, action, %error, "mongodb: no such user");
                } else {
                    tracing::warn!(connection = %self.name, action, %error, "mongodb command failed");
                }
                Err(match errors::for_client(&e, &secrets) {
                    Failure::Refused(reason) => RunError::Refused {
                        code: errors::code(&e).unwrap_or_default(),
                        reason,
                    },
                    Failure::Invalid(reason) => RunError::Engine(DatabaseError::invalid(reason)),
                    Failure::Connection(reason) => RunError::Engine(self.unavailable(reason)),
                })
            }
        }
    }

    fn rejected(&self, action: &'static str, reason: String) -> DatabaseError {
        DatabaseError::Rejected {
            connection: self.name.clone(),
            action,
            reason,
        }
    }

    /// `run`, with a refused command turned into `Rejected`.
    async fn run_or_reject(
        &self,
        pool: Pool,
        db: &str,
        command: Document,
        action: &'static str,
        extra_secrets: &[&str],
    ) -> Result<Document, DatabaseError> {
        self.run(pool, db, command, action, extra_secrets)
            .await
            .map_err(|e| e.into_database_error(self, action))
    }

    fn with_write_concern(&self, mut command: Document, default: Option<Document>) -> Document {
        if let Some(wc) = self.write_concern.clone().or(default) {
            command.insert("writeConcern", wc);
        }
        command
    }

    /// `dropUser` of `username` on `db`; `Ok(false)` when there was no such user.
    async fn drop_user(&self, db: &str, username: &str) -> Result<bool, DatabaseError> {
        let action = "revoking user";
        let command =
            self.with_write_concern(doc! {"dropUser": username}, Some(doc! {"w": "majority"}));
        match self.run(Pool::Revoke, db, command, action, &[]).await {
            Ok(_) => Ok(true),
            Err(RunError::Refused { code, .. }) if code == errors::USER_NOT_FOUND => Ok(false),
            Err(e) => Err(e.into_database_error(self, action)),
        }
    }

    /// The databases holding a user named `username` (`usersInfo` across databases).
    async fn user_databases(&self, username: &str) -> Result<Vec<String>, DatabaseError> {
        let reply = self
            .run_or_reject(
                Pool::Revoke,
                statements::DEFAULT_DB,
                doc! {"usersInfo": {"forAllDBs": true}, "filter": {"user": username}},
                "finding the user to revoke",
                &[],
            )
            .await?;
        let users = reply
            .get_array("users")
            .map(|a| a.as_slice())
            .unwrap_or_default();
        Ok(users
            .iter()
            .filter_map(Bson::as_document)
            .filter(|u| u.get_str("user").is_ok_and(|n| n == username))
            .filter_map(|u| u.get_str("db").ok().map(str::to_string))
            .collect())
    }

    /// Whether the admin user holds `action` on any resource, from `connectionStatus`.
    fn holds(privileges: &[Bson], action: &str) -> bool {
        privileges.iter().filter_map(Bson::as_document).any(|p| {
            p.get_array("actions")
                .is_ok_and(|a| a.iter().any(|x| x.as_str() == Some(action)))
        })
    }
}

/// A failed command: refused by the server (with its code), or anything else, already
/// described for the client.
enum RunError {
    Refused { code: i32, reason: String },
    Engine(DatabaseError),
}

impl RunError {
    fn into_database_error(self, plugin: &MongoPlugin, action: &'static str) -> DatabaseError {
        match self {
            RunError::Refused { reason, .. } => plugin.rejected(action, reason),
            RunError::Engine(e) => e,
        }
    }
}

#[async_trait]
impl DatabasePlugin for MongoPlugin {
    async fn verify(&self) -> Result<(), DatabaseError> {
        match self
            .run(
                Pool::Issue,
                &self.settings.auth_db,
                doc! {"ping": 1},
                "ping",
                &[],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(RunError::Refused { reason, .. }) => Err(DatabaseError::Verify {
                connection: self.name.clone(),
                reason,
            }),
            Err(RunError::Engine(DatabaseError::Unavailable { reason, .. })) => {
                Err(DatabaseError::Verify {
                    connection: self.name.clone(),
                    reason,
                })
            }
            Err(RunError::Engine(e)) => Err(e),
        }
    }

    async fn check_connection(&self) -> ConnectionReport {
        let started = Instant::now();
        if let Err(e) = self.verify().await {
            let reason = match e {
                DatabaseError::Verify { reason, .. } => reason,
                other => other.to_string(),
            };
            return ConnectionReport::failed(FailureKind::classify(&reason), reason);
        }
        let mut report = ConnectionReport {
            round_trip: Some(started.elapsed()),
            ..Default::default()
        };
        let db = &self.settings.auth_db;
        if let Ok(info) = self
            .run(Pool::Issue, db, doc! {"buildInfo": 1}, "buildInfo", &[])
            .await
        {
            report.server_version = info.get_str("version").unwrap_or_default().to_string();
        }
        match self
            .run(
                Pool::Issue,
                db,
                doc! {"connectionStatus": 1, "showPrivileges": true},
                "connectionStatus",
                &[],
            )
            .await
        {
            Ok(status) => {
                let privileges = status
                    .get_document("authInfo")
                    .and_then(|a| a.get_array("authenticatedUserPrivileges"))
                    .map(|p| p.as_slice())
                    .unwrap_or_default();
                for (action, needed_for) in [
                    ("createUser", "creating credentials"),
                    ("grantRole", "giving credentials their roles"),
                    ("dropUser", "revoking credentials"),
                    ("viewUser", "finding a user to revoke in any database"),
                    ("changePassword", "rotating the root password"),
                ] {
                    report.privileges.push(Privilege {
                        name: action.to_string(),
                        held: Self::holds(privileges, action),
                        needed_for: needed_for.to_string(),
                    });
                }
            }
            Err(_) => report
                .warnings
                .push("could not read the admin user's privileges (connectionStatus)".into()),
        }
        report
    }

    async fn create_user(&self, user: &NewUser<'_>) -> Result<(), DatabaseError> {
        // Checked before anything else: a bad statement leaves no intent behind.
        let creation = statements::creation(user.statements)?;
        let secrets = [user.password];
        // A working connection with the admin credentials before the intent is recorded.
        self.run_or_reject(
            Pool::Issue,
            &creation.db,
            doc! {"ping": 1},
            "ping",
            &secrets,
        )
        .await?;
        user.before_create.ready().await?;
        let command = self.with_write_concern(
            doc! {
                "createUser": user.username,
                "pwd": user.password,
                "roles": creation.roles,
                "mechanisms": ["SCRAM-SHA-256"],
            },
            None,
        );
        self.run_or_reject(
            Pool::Issue,
            &creation.db,
            command,
            "creating user",
            &secrets,
        )
        .await
        .map(drop)
    }

    async fn revoke_user(
        &self,
        statements: &[String],
        username: &str,
    ) -> Result<(), DatabaseError> {
        // Checked when roles are written; a role written before its connection existed may
        // still carry a bad one, and revocation must remove the user whatever it says.
        let db = statements::revocation_db(statements).unwrap_or_else(|_| {
            tracing::warn!(connection = %self.name, "unreadable mongodb revocation statement ignored");
            None
        });
        if let Some(db) = db {
            return self.drop_user(&db, username).await.map(drop);
        }
        if self.drop_user(statements::DEFAULT_DB, username).await? {
            return Ok(());
        }
        for db in self.user_databases(username).await? {
            self.drop_user(&db, username).await?;
        }
        Ok(())
    }

    async fn rotate_root(
        &self,
        statements: &[String],
        new_password: &str,
    ) -> Result<(), DatabaseError> {
        statements::check_unused("root_rotation_statements", statements)?;
        if self.settings.username.is_empty() {
            return Err(DatabaseError::invalid(
                "rotate-root needs the connection's username (the admin user to update)",
            ));
        }
        let command = self.with_write_concern(
            doc! {"updateUser": &self.settings.username, "pwd": new_password},
            None,
        );
        self.run_or_reject(
            Pool::Issue,
            &self.settings.auth_db,
            command,
            "rotating the root password",
            &[new_password],
        )
        .await
        .map(drop)
    }

    fn connection_facts(&self) -> JsonMap {
        self.facts.clone()
    }
}
