//! Static roles (Vault's API): `database/static-roles/:name` binds an existing database user
//! to SecretHub, which sets its password and changes it on the role's plan (every
//! `rotation_period`, or on a cron `rotation_schedule` within an optional `rotation_window`,
//! `schedule.rs`); `database/static-creds/:name` reads the current password and how long it
//! has left; `database/rotate-role/:name` changes it now.
//!
//! Rotations are scheduled through core's timer index: every write and every rotation sets
//! the role's timer `rotate-role/<name>` to its next rotation, and the timer's run
//! ([`DatabaseEngine::static_role_timer`]) rotates the role if it is due then. Nothing per
//! role is held in memory; the timer survives restarts and a failed run is retried with
//! backoff by core.
//!
//! A rotation never loses the password. The new one is stored as *pending* before the
//! database is told; afterwards it becomes the password. When the outcome is unknown (the
//! connection broke mid-statement, the process died) the pending password stays, and the
//! next use of the role (a read, a rotation, the timer's retry) sets it again (setting the
//! same password twice is harmless) before answering, so a reader always gets a password
//! that works. Rotations of one mount run one at a time.

use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{format_rfc3339, now_unix, JsonMap, Sensitive, UnixTime};
use secrethub_database_plugin::DatabaseError;
use secrethub_engine::{Request, Response, TimerOutcome};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::password::PasswordPolicy;
use crate::paths::check_name;
use crate::records::{opt_statements, RECORD_VERSION};
use crate::schedule::{PlanInput, RotationPlan};
use crate::DatabaseEngine;

/// The timer of a static role's rotations.
pub(crate) fn rotate_role_timer(name: &str) -> String {
    format!("rotate-role/{name}")
}

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
    /// When the password rotates (`rotation_period_secs` is the layout of records written
    /// before schedules existed).
    #[serde(flatten)]
    pub(crate) plan: RotationPlan,
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
    fn next_rotation(&self, now: UnixTime) -> Option<UnixTime> {
        self.plan.next(self.last_rotation, now)
    }

    fn ttl(&self, now: UnixTime) -> u64 {
        self.plan.ttl(self.last_rotation, now)
    }

    fn is_due(&self, now: UnixTime) -> bool {
        self.next_rotation(now).is_some_and(|t| t <= now)
    }

    /// Vault's fields of a read, without the password.
    fn describe(&self, data: &mut JsonMap) {
        data.insert("username".into(), self.username.clone().into());
        data.insert(
            "last_vault_rotation".into(),
            format_rfc3339(i128::from(self.last_rotation) * 1_000_000_000).into(),
        );
        self.plan.insert_into(data);
        data.insert("ttl".into(), self.ttl(now_unix()).into());
    }
}

#[derive(Deserialize)]
struct StaticRoleInput {
    db_name: Option<String>,
    username: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    rotation_period: Option<std::time::Duration>,
    rotation_schedule: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    rotation_window: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "opt_statements")]
    rotation_statements: Option<Vec<String>>,
    credential_type: Option<String>,
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
        let _rotating = self.rotations.lock().await;
        let existing: Option<StaticRoleRecord> = req.storage.get_json(&key).await?;
        let creating = existing.is_none();
        let mut rec = match existing {
            Some(r) => r,
            None => StaticRoleRecord {
                version: RECORD_VERSION,
                db_name: String::new(),
                username: String::new(),
                plan: RotationPlan::default(),
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
        rec.plan.apply(PlanInput {
            rotation_period: input.rotation_period,
            rotation_schedule: input.rotation_schedule,
            rotation_window: input.rotation_window,
        })?;
        if let Some(v) = input.rotation_statements {
            rec.rotation_statements = v;
        }
        if rec.db_name.is_empty() {
            return Err(DatabaseError::invalid("db_name is required"));
        }
        if rec.username.trim().is_empty() {
            return Err(DatabaseError::invalid("username is required"));
        }
        if !rec.plan.is_set() {
            return Err(DatabaseError::invalid(
                "rotation_period or rotation_schedule is required",
            ));
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
            // SecretHub does not know the user's password: it sets one now, as a rotation
            // (stored as pending first). A user that does not exist (any refusal) is a 400
            // and leaves no role behind; an unknown outcome keeps the pending password.
            rec = match self.rotate_static(&req.storage, name, rec).await {
                Ok(rec) => rec,
                Err(e @ DatabaseError::Unavailable { .. }) => return Err(e),
                Err(e) => {
                    req.storage.delete(&key).await?;
                    return Err(e);
                }
            };
        } else {
            req.storage.put_json(&key, &rec).await?;
        }
        schedule_next(req, name, &rec).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_static_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        let rec: StaticRoleRecord = req
            .storage
            .get_json(&key)
            .await?
            .ok_or_else(|| unknown(name))?;
        let mut data = object(json!({
            "db_name": rec.db_name,
            "rotation_statements": rec.rotation_statements,
            "credential_type": "password",
        }));
        rec.describe(&mut data);
        Ok(Response::data(data))
    }

    pub(crate) async fn delete_static_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        // As in Vault, the database user stays; SecretHub stops managing it.
        let _rotating = self.rotations.lock().await;
        req.storage.delete(&key).await?;
        req.unschedule(&rotate_role_timer(name))
            .await
            .map_err(DatabaseError::Core)?;
        Ok(Response::empty())
    }

    /// `static-creds/:name`: the current password (an interrupted rotation finished first).
    /// Rotating is the timer's job: a read answers the password in force even when a
    /// rotation is overdue because the database is down.
    pub(crate) async fn static_creds(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let _rotating = self.rotations.lock().await;
        let rec = self.load_static(&req.storage, name).await?;
        let mut data = object(json!({ "password": rec.password.expose() }));
        rec.describe(&mut data);
        Ok(Response::data(data))
    }

    /// `rotate-role/:name`: a new password now; the next scheduled rotation counts from it.
    pub(crate) async fn rotate_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let _rotating = self.rotations.lock().await;
        let rec = self.load_static(&req.storage, name).await?;
        let rec = self.rotate_static(&req.storage, name, rec).await?;
        schedule_next(req, name, &rec).await?;
        Ok(Response::empty())
    }

    /// The run of the timer `rotate-role/<name>`: rotates the role if it is due (or finishes
    /// an interrupted rotation) and answers when to run next. A role that is gone drops the
    /// timer; a failure is retried by core.
    pub(crate) async fn static_role_timer(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<TimerOutcome, DatabaseError> {
        let _rotating = self.rotations.lock().await;
        let Some((rec, interrupted)) = self.load_static_finishing(storage, name).await? else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        let now = now_unix();
        if !rec.is_due(now) {
            let next = rec.next_rotation(now);
            return Ok(if interrupted {
                TimerOutcome::Ran { next }
            } else {
                TimerOutcome::NotDue { next }
            });
        }
        let rec = self.rotate_static(storage, name, rec).await?;
        Ok(TimerOutcome::Ran {
            next: rec.next_rotation(now_unix()),
        })
    }

    /// The role, with an interrupted rotation finished first.
    async fn load_static(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<StaticRoleRecord, DatabaseError> {
        self.load_static_finishing(storage, name)
            .await?
            .map(|(rec, _)| rec)
            .ok_or_else(|| unknown(name))
    }

    /// The role if it exists, with an interrupted rotation finished first, and whether there
    /// was one to finish.
    async fn load_static_finishing(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<Option<(StaticRoleRecord, bool)>, DatabaseError> {
        let key = static_role_key(name);
        check_name(&key)?;
        let Some(mut rec) = storage.get_json::<StaticRoleRecord>(&key).await? else {
            return Ok(None);
        };
        let Some(pending) = rec.pending_password.clone() else {
            return Ok(Some((rec, false)));
        };
        self.set_password(storage, &rec, pending.expose()).await?;
        rec.password = pending;
        rec.pending_password = None;
        rec.last_rotation = now_unix();
        storage.put_json(&key, &rec).await?;
        tracing::info!(static_role = name, "finished an interrupted rotation");
        Ok(Some((rec, true)))
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

/// Sets the role's timer to its next rotation.
async fn schedule_next(
    req: &Request,
    name: &str,
    rec: &StaticRoleRecord,
) -> Result<(), DatabaseError> {
    if let Some(at) = rec.next_rotation(now_unix()) {
        req.schedule(&rotate_role_timer(name), at)
            .await
            .map_err(DatabaseError::Core)?;
    }
    Ok(())
}

fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}
