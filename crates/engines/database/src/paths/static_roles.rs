//! Static roles (Vault's API): `database/static-roles/:name` binds an existing database user
//! to SecretHub, which sets its password and changes it every `rotation_period`;
//! `database/static-creds/:name` reads the current password and how long it has left;
//! `database/rotate-role/:name` changes it now.
//!
//! A rotation never loses the password. The new one is stored as *pending* before the
//! database is told; afterwards it becomes the password. When the outcome is unknown (the
//! connection broke mid-statement, the process died) the pending password stays, and the
//! next use of the role sets it again (setting the same password twice is harmless) before
//! answering, so a reader always gets a password that works.
//!
//! Rotation is due `rotation_period` after the last one and happens when the role is next
//! used (read, rotated) after that. Scheduled rotation of unused roles is not there yet.

use std::time::Duration;

use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{format_duration, format_rfc3339, now_unix, JsonMap, Sensitive, UnixTime};
use secrethub_database_plugin::DatabaseError;
use secrethub_engine::{Request, Response};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::password::PasswordPolicy;
use crate::paths::check_name;
use crate::records::{opt_statements, RECORD_VERSION};
use crate::DatabaseEngine;

/// Vault's shortest `rotation_period`.
const MIN_ROTATION_PERIOD: Duration = Duration::from_secs(5);

/// Storage key of a static role.
pub(crate) fn static_role_key(name: &str) -> String {
    format!("static-role/{name}")
}

/// A static role as stored, with its current password (behind the barrier like every
/// record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StaticRoleRecord {
    pub(crate) version: u32,
    pub(crate) db_name: String,
    pub(crate) username: String,
    pub(crate) rotation_period_secs: u64,
    #[serde(default)]
    pub(crate) rotation_statements: Vec<String>,
    pub(crate) password: Sensitive<String>,
    /// A new password while a rotation runs (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_password: Option<Sensitive<String>>,
    /// Unix seconds of the last completed rotation.
    pub(crate) last_rotation: UnixTime,
}

impl StaticRoleRecord {
    fn next_rotation(&self) -> UnixTime {
        self.last_rotation
            .saturating_add(i64::try_from(self.rotation_period_secs).unwrap_or(i64::MAX))
    }

    fn ttl(&self, now: UnixTime) -> u64 {
        u64::try_from(self.next_rotation().saturating_sub(now)).unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct StaticRoleInput {
    db_name: Option<String>,
    username: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    rotation_period: Option<Duration>,
    #[serde(default, deserialize_with = "opt_statements")]
    rotation_statements: Option<Vec<String>>,
    credential_type: Option<String>,
    rotation_schedule: Option<String>,
}

fn unknown(name: &str) -> DatabaseError {
    DatabaseError::invalid(format!("unknown static role: {name}"))
}

impl DatabaseEngine {
    pub(crate) async fn write_static_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        let input: StaticRoleInput = secrethub_common::input::decode(&req.body)
            .map_err(|e| DatabaseError::invalid(e.to_string()))?;
        if input
            .credential_type
            .as_deref()
            .is_some_and(|t| !t.is_empty() && t != "password")
        {
            return Err(DatabaseError::invalid(
                "credential_type must be \"password\" (the only type supported)",
            ));
        }
        if input
            .rotation_schedule
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            return Err(DatabaseError::invalid(
                "rotation_schedule is not supported yet; use rotation_period",
            ));
        }
        let existing: Option<StaticRoleRecord> = req.storage.get_json(&key).await?;
        let creating = existing.is_none();
        let mut rec = match existing {
            Some(r) => r,
            None => StaticRoleRecord {
                version: RECORD_VERSION,
                db_name: String::new(),
                username: String::new(),
                rotation_period_secs: 0,
                rotation_statements: Vec::new(),
                password: Sensitive::default(),
                pending_password: None,
                last_rotation: 0,
            },
        };
        if let Some(v) = input.db_name {
            rec.db_name = v;
        }
        if let Some(u) = input.username {
            if !creating && u != rec.username {
                return Err(DatabaseError::invalid(
                    "cannot update static account username",
                ));
            }
            rec.username = u;
        }
        if let Some(p) = input.rotation_period {
            if p < MIN_ROTATION_PERIOD {
                return Err(DatabaseError::invalid(format!(
                    "rotation_period must be {} or more",
                    format_duration(MIN_ROTATION_PERIOD)
                )));
            }
            rec.rotation_period_secs = p.as_secs();
        }
        if let Some(v) = input.rotation_statements {
            rec.rotation_statements = v;
        }
        if rec.db_name.is_empty() {
            return Err(DatabaseError::invalid("db_name is required"));
        }
        if rec.username.trim().is_empty() {
            return Err(DatabaseError::invalid("username is required"));
        }
        if rec.rotation_period_secs == 0 {
            return Err(DatabaseError::invalid("rotation_period is required"));
        }
        let (config, _) = self
            .connections
            .load(&req.storage, &rec.db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!("connection {:?} does not exist", rec.db_name))
            })?;
        if !config.allows(name) {
            return Err(DatabaseError::invalid(format!(
                "{name:?} is not an allowed role for connection {:?}",
                rec.db_name
            )));
        }
        crate::registry::find(&config.plugin_name)?
            .check_statements("rotation_statements", &rec.rotation_statements)?;
        rec.version = RECORD_VERSION;
        if creating {
            // SecretHub does not know the user's password: it sets one now, stored as pending
            // first like every rotation. A user that does not exist (any refusal) is a 400
            // and leaves no role behind.
            let password = self.new_password(&req.storage, &rec.db_name).await?;
            rec.pending_password = Some(Sensitive::new(password.to_string()));
            req.storage.put_json(&key, &rec).await?;
            match self.set_password(&req.storage, &rec, &password).await {
                Ok(()) => {
                    rec.password = Sensitive::new(password.to_string());
                    rec.pending_password = None;
                    rec.last_rotation = now_unix();
                }
                // Unknown outcome: the pending password stays; the next use sets it again.
                Err(e @ DatabaseError::Unavailable { .. }) => return Err(e),
                Err(e) => {
                    req.storage.delete(&key).await?;
                    return Err(e);
                }
            }
        }
        req.storage.put_json(&key, &rec).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_static_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let rec = self.load_static(&req.storage, name).await?;
        let data = json!({
            "db_name": rec.db_name,
            "username": rec.username,
            "rotation_period": rec.rotation_period_secs,
            "rotation_statements": rec.rotation_statements,
            "credential_type": "password",
            "last_vault_rotation": format_rfc3339(i128::from(rec.last_rotation) * 1_000_000_000),
            "ttl": rec.ttl(now_unix()),
        });
        Ok(Response::data(object(data)))
    }

    pub(crate) async fn delete_static_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        // As in Vault, the database user stays; SecretHub stops managing it.
        req.storage.delete(&key).await?;
        Ok(Response::empty())
    }

    /// `static-creds/:name`: the current password, rotated first when due.
    pub(crate) async fn static_creds(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let mut rec = self.load_static(&req.storage, name).await?;
        if rec.ttl(now_unix()) == 0 {
            rec = self.rotate_static(&req.storage, name, rec).await?;
        }
        let data = json!({
            "username": rec.username,
            "password": rec.password.expose(),
            "last_vault_rotation": format_rfc3339(i128::from(rec.last_rotation) * 1_000_000_000),
            "rotation_period": rec.rotation_period_secs,
            "ttl": rec.ttl(now_unix()),
        });
        Ok(Response::data(object(data)))
    }

    /// `rotate-role/:name`: a new password now.
    pub(crate) async fn rotate_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let rec = self.load_static(&req.storage, name).await?;
        self.rotate_static(&req.storage, name, rec).await?;
        Ok(Response::empty())
    }

    /// The role, with an interrupted rotation finished first.
    async fn load_static(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<StaticRoleRecord, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        let mut rec: StaticRoleRecord =
            storage.get_json(&key).await?.ok_or_else(|| unknown(name))?;
        if let Some(pending) = rec.pending_password.clone() {
            self.set_password(storage, &rec, pending.expose()).await?;
            rec.password = pending;
            rec.pending_password = None;
            rec.last_rotation = now_unix();
            storage.put_json(&key, &rec).await?;
            tracing::info!(static_role = name, "finished an interrupted rotation");
        }
        Ok(rec)
    }

    /// Changes the role's password: stored as pending, set in the database, then kept.
    async fn rotate_static(
        &self,
        storage: &StorageView,
        name: &str,
        mut rec: StaticRoleRecord,
    ) -> Result<StaticRoleRecord, DatabaseError> {
        let key = static_role_key(name);
        let password = self.new_password(storage, &rec.db_name).await?;
        rec.pending_password = Some(Sensitive::new(password.to_string()));
        storage.put_json(&key, &rec).await?;
        match self.set_password(storage, &rec, &password).await {
            Ok(()) => {
                rec.password = Sensitive::new(password.to_string());
                rec.pending_password = None;
                rec.last_rotation = now_unix();
                storage.put_json(&key, &rec).await?;
                tracing::info!(static_role = name, "rotated a static role's password");
                Ok(rec)
            }
            // The change may or may not have committed: the pending password stays and the
            // next use sets it again.
            Err(e @ DatabaseError::Unavailable { .. }) => Err(e),
            Err(e) => {
                rec.pending_password = None;
                if let Err(store) = storage.put_json(&key, &rec).await {
                    tracing::warn!(static_role = name, error = %store, "could not clear a pending password");
                }
                Err(e)
            }
        }
    }

    /// A password from the connection's password policy.
    async fn new_password(
        &self,
        storage: &StorageView,
        db_name: &str,
    ) -> Result<zeroize::Zeroizing<String>, DatabaseError> {
        let (config, _) = self
            .connections
            .load(storage, db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!("connection {db_name:?} does not exist"))
            })?;
        PasswordPolicy::parse(&config.password_policy)?.generate()
    }

    async fn set_password(
        &self,
        storage: &StorageView,
        rec: &StaticRoleRecord,
        password: &str,
    ) -> Result<(), DatabaseError> {
        let (_, plugin) = self
            .connections
            .load(storage, &rec.db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!("connection {:?} does not exist", rec.db_name))
            })?;
        plugin
            .set_password(&rec.rotation_statements, &rec.username, password)
            .await
    }
}

fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}
