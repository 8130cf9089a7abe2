//! Database secrets engine: dynamic database users with Vault's API
//! (`database/config/:name`, `database/roles/:name`, `database/creds/:role`,
//! `database/reset/:name`, `database/rotate-root/:name`, LIST `config` and `roles`).
//!
//! [`factory`] builds the engine for a mount (registered as `database`). Kinds of databases
//! are plugins, one crate each behind the contract in `secrethub-database-plugin`, compiled
//! in by cargo feature (`postgres`) and looked up by `plugin_name` in `registry.rs`.
//!
//! # Issuing credentials, never orphaned
//!
//! `creds/:role` computes the lease TTL itself (it goes into `{{expiration}}`): the requested
//! `ttl` in the body, else the role's `default_ttl`, else 1 hour; capped at the role's
//! `max_ttl` (24 hours when it has none) and the mount's max (a warning says so). It
//! generates the username and password, records the lease's internal data as an **intent**
//! (`Request::record_intent`) and only then runs the creation statements, in one transaction. The same data goes back as
//! `NewLease::internal`, so `revoke` works from it alone, whether the lease was confirmed or
//! the process died right after `CREATE ROLE`. Its JSON is
//! `{"v":1,"db_name":…,"role":…,"username":…,"revocation_statements":[…]}` (the last key only
//! when the role had custom revocation statements).
//!
//! # The seed endpoint
//!
//! `creds/:role` answers Vault's `{username, password}`. When the body has `"_seed": true`
//! (set by the server's `POST /v1/secrets/dynamic/{role}`), the data also carries `host`,
//! `port` and `database` from the connection URL.
//!
//! # Differences from Vault
//!
//! - Usernames default to `shub_<role>_<random>_<unix>`; passwords are 32 alphanumerics.
//! - `password_authentication` defaults to `scram-sha-256`: a `PASSWORD '{{password}}'`
//!   literal receives a verifier computed by SecretHub, never the clear text.
//! - `password_policy` is an inline policy (named policies do not exist yet).
//! - Role statements are checked for unknown `{{…}}` variables when the role is written.
//! - Statements of one field are sent as one text, so `;` inside `DO $$ … $$` bodies is fine.
//! - `max_idle_connections` and `max_connection_lifetime` are accepted and echoed only.
//! - Static roles take Vault's `rotation_schedule` and `rotation_window` (OpenBao 2.7 has
//!   only `rotation_period`); they rotate from core's timers, and reading `static-creds`
//!   never rotates.
//! - A config's `rotation_period`/`rotation_schedule`/`rotation_window` and
//!   `disable_automated_rotation` rotate the root password on a schedule (Vault Enterprise
//!   only).
//! - A role without `default_ttl`/`max_ttl` gets the user guide's 1 h and 24 h, not the
//!   mount's defaults (768 h unless tuned), too long for a database credential.
//! - A config key that neither the engine nor the plugin knows is refused by name (Vault
//!   ignores it, so a typo such as `conection_url` used to surface later and elsewhere).
//! - `database/test-connection` (the seed guide's "Test connection") checks a config body
//!   without saving it; `verify_connection` runs the same check and answers its warnings.
//! - PostgreSQL also takes the user guide's form: `host`, `port`, `database`, `ssl` (TLS
//!   unless false) instead of `connection_url`.

mod connections;
/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`), not a public API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod lease;
mod password;
mod paths;
mod records;
mod registry;
mod schedule;
mod username;

pub(crate) use secrethub_database_plugin::template;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LeaseInfo, MountContext, Operation, PathTable, Request, Response,
    Revocation, StorageView, TimerOutcome, UnconfirmedRevocation,
};

use crate::connections::Connections;
use Operation::{Delete, List, Read, Update};

/// Builds the database engine for a mount.
pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(DatabaseEngine::new()))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Config,
    ConfigList,
    Role,
    RoleList,
    Creds,
    Reset,
    RotateRoot,
    TestConnection,
    StaticRole,
    StaticRoleList,
    StaticCreds,
    RotateRole,
}

/// The engine of one `database` mount.
pub(crate) struct DatabaseEngine {
    table: PathTable<Route>,
    connections: Connections,
    /// Held by every password rotation of this mount (static roles, root), so a timer's
    /// run, an API rotation and a read finishing an interrupted rotation never interleave.
    rotations: tokio::sync::Mutex<()>,
}

impl DatabaseEngine {
    fn new() -> Self {
        let table = PathTable::new()
            .add(
                "config/{name}",
                Route::Config,
                &[Read, Update, Delete],
                "Configures a connection: plugin_name, allowed_roles, verify_connection, \
                 password_policy, username_template, root_rotation_statements, password, and \
                 the plugin's own fields (PostgreSQL: connection_url with {{username}} and \
                 {{password}} or host/port/database/ssl, username, max_open_connections, \
                 password_authentication).",
            )
            .add("config", Route::ConfigList, &[List], "Lists connections.")
            .add(
                "roles/{name}",
                Route::Role,
                &[Read, Update, Delete],
                "Manages a role: db_name, creation_statements, revocation_statements, \
                 renew_statements, rollback_statements, default_ttl, max_ttl.",
            )
            .add("roles", Route::RoleList, &[List], "Lists roles.")
            .add(
                "creds/{name}",
                Route::Creds,
                &[Read],
                "Creates a database user for the role and returns its username and password \
                 under a lease. Optional: ttl.",
            )
            .add(
                "static-roles/{name}",
                Route::StaticRole,
                &[Read, Update, Delete],
                "Manages a static role: an existing database user whose password SecretHub \
                 sets and rotates. db_name, username, rotation_period, rotation_statements.",
            )
            .add(
                "static-roles",
                Route::StaticRoleList,
                &[List],
                "Lists static roles.",
            )
            .add(
                "static-creds/{name}",
                Route::StaticCreds,
                &[Read],
                "Returns a static role's username and current password, when it was last \
                 rotated, and the seconds until the next rotation (ttl).",
            )
            .add(
                "rotate-role/{name}",
                Route::RotateRole,
                &[Update],
                "Rotates a static role's password now.",
            )
            .add(
                "test-connection",
                Route::TestConnection,
                &[Update],
                "Checks a connection config without saving it (the body of config/:name): \
                 reachable or why not, server version, round trip, and whether the admin user \
                 holds what the plugin needs.",
            )
            .add(
                "reset/{name}",
                Route::Reset,
                &[Update],
                "Closes a connection's pools and reopens them from the stored config.",
            )
            .add(
                "rotate-root/{name}",
                Route::RotateRoot,
                &[Update],
                "Changes the connection's root password to a new random one known only to \
                 SecretHub.",
            );
        Self {
            table,
            connections: Connections::default(),
            rotations: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl Engine for DatabaseEngine {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let name = args.get("name");
        let result = match (route, req.op) {
            (Route::Config, Read) => self.read_config(&req, name).await,
            (Route::Config, Delete) => self.delete_config(&req, name).await,
            (Route::Config, _) => self.write_config(&req, name).await,
            (Route::ConfigList, _) => return self.list(&req, "config/").await,
            (Route::Role, Read) => self.read_role(&req, name).await,
            (Route::Role, Delete) => self.delete_role(&req, name).await,
            (Route::Role, _) => self.write_role(&req, name).await,
            (Route::RoleList, _) => return self.list(&req, "role/").await,
            (Route::Creds, _) => return self.creds(&req, name).await,
            (Route::Reset, _) => self.reset(&req, name).await,
            (Route::RotateRoot, _) => self.rotate_root(&req, name).await,
            (Route::TestConnection, _) => self.test_connection(&req).await,
            (Route::StaticRole, Read) => self.read_static_role(&req, name).await,
            (Route::StaticRole, Delete) => self.delete_static_role(&req, name).await,
            (Route::StaticRole, _) => self.write_static_role(&req, name).await,
            (Route::StaticRoleList, _) => return self.list(&req, "static-role/").await,
            (Route::StaticCreds, _) => self.static_creds(&req, name).await,
            (Route::RotateRole, _) => self.rotate_role(&req, name).await,
        };
        result.map_err(EngineError::from)
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        let key = match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Config, args)) => connections::config_key(args.get("name")),
            Ok((Route::Role, args)) => paths::role_key(args.get("name")),
            Ok((Route::StaticRole, args)) => paths::static_role_key(args.get("name")),
            _ => return Ok(None),
        };
        paths::check_name(&key).map_err(EngineError::from)?;
        Ok(Some(
            secrethub_storage::Storage::get(&req.storage, &key)
                .await?
                .is_some(),
        ))
    }

    async fn revoke(&self, lease: &LeaseInfo, storage: &StorageView) -> Result<(), EngineError> {
        self.revoke_lease(lease, storage)
            .await
            .map_err(EngineError::from)
    }

    async fn revoke_for_caller(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<Revocation, EngineError> {
        self.revoke_lease_for_caller(lease, storage)
            .await
            .map_err(EngineError::from)
    }

    async fn confirm_revocations(
        &self,
        pending: &[UnconfirmedRevocation],
        storage: &StorageView,
    ) -> Vec<Result<bool, EngineError>> {
        self.confirm_lease_revocations(pending, storage)
            .await
            .into_iter()
            .map(|r| r.map_err(EngineError::from))
            .collect()
    }

    async fn revoke_batch(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<(), EngineError>> {
        self.revoke_leases(leases, storage)
            .await
            .into_iter()
            .map(|r| r.map_err(EngineError::from))
            .collect()
    }

    async fn revoke_batch_unflushed(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<Revocation, EngineError>> {
        self.revoke_leases_unflushed(leases, storage)
            .await
            .into_iter()
            .map(|r| r.map_err(EngineError::from))
            .collect()
    }

    async fn renew(&self, lease: &LeaseInfo, storage: &StorageView) -> Result<(), EngineError> {
        self.renew_lease(lease, storage)
            .await
            .map_err(EngineError::from)
    }

    async fn on_timer(
        &self,
        key: &str,
        storage: &StorageView,
    ) -> Result<TimerOutcome, EngineError> {
        let outcome = if let Some(name) = key.strip_prefix("rotate-role/") {
            self.static_role_timer(storage, name).await
        } else if let Some(name) = key.strip_prefix("rotate-root/") {
            self.root_rotation_timer(storage, name).await
        } else {
            Ok(TimerOutcome::NotDue { next: None })
        };
        outcome.map_err(EngineError::from)
    }
}
