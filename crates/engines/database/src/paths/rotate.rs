//! `database/reset/:name`, `database/rotate-root/:name` and the scheduled root rotation of
//! a config with `rotation_period` or `rotation_schedule` (the timer `rotate-root/<name>`).
//!
//! Rotation must never lose the root password. The new one is stored as *pending* before the
//! database changes it; afterwards it becomes the password. If the outcome is unknown (the
//! connection broke mid-statement) the pending password stays, and the next use of the
//! connection finds out which one works (see `connections.rs`).

use secrethub_common::{now_unix, Sensitive};
use secrethub_engine::{Request, Response, StorageView, TimerOutcome};

use crate::connections::config_key;
use crate::password::PasswordPolicy;
use crate::paths::check_name;
use crate::records::ConnectionRecord;
use crate::DatabaseEngine;
use secrethub_database_plugin::DatabaseError;

fn unknown(name: &str) -> DatabaseError {
    DatabaseError::invalid(format!("connection {name:?} does not exist"))
}

impl DatabaseEngine {
    pub(crate) async fn reset(&self, req: &Request, name: &str) -> Result<Response, DatabaseError> {
        check_name(&config_key(name))?;
        self.connections.evict(name);
        // Reopen now, so a config that no longer opens says so here.
        self.connections
            .load(&req.storage, name)
            .await?
            .ok_or_else(|| unknown(name))?;
        Ok(Response::empty())
    }

    /// `rotate-root/:name`: a new root password now; a scheduled rotation counts from it.
    pub(crate) async fn rotate_root(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        check_name(&config_key(name))?;
        let _rotating = self.rotations.lock().await;
        let rec = self.rotate_root_now(&req.storage, name).await?;
        if let Some(at) = rec.root_rotation.next(now_unix()) {
            req.schedule(&rotate_root_timer(name), at)
                .await
                .map_err(DatabaseError::Core)?;
        }
        Ok(Response::empty())
    }

    /// The run of the timer `rotate-root/<name>`: rotates the root password if the
    /// connection's plan says it is due, and answers when to run next. A connection that is
    /// gone, or whose plan was removed or disabled, drops the timer.
    pub(crate) async fn root_rotation_timer(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<TimerOutcome, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let _rotating = self.rotations.lock().await;
        let Some(rec) = storage.get_json::<ConnectionRecord>(&key).await? else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        let now = now_unix();
        match rec.root_rotation.next(now) {
            Some(at) if at <= now => {
                let rec = self.rotate_root_now(storage, name).await?;
                Ok(TimerOutcome::Ran {
                    next: rec.root_rotation.next(now_unix()),
                })
            }
            next => Ok(TimerOutcome::NotDue { next }),
        }
    }

    /// Changes the root password: stored as pending, changed in the database, then kept.
    /// The caller holds `rotations`.
    async fn rotate_root_now(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<ConnectionRecord, DatabaseError> {
        let key = config_key(name);
        let (mut rec, plugin) = self
            .connections
            .load(storage, name)
            .await?
            .ok_or_else(|| unknown(name))?;
        let new_password = PasswordPolicy::parse(&rec.password_policy)?.generate()?;
        rec.pending_password = Some(Sensitive::new(new_password.to_string()));
        storage.put_json(&key, &rec).await?;

        match plugin
            .rotate_root(&rec.root_rotation_statements, &new_password)
            .await
        {
            Ok(()) => {
                rec.details.set_password(&new_password);
                rec.pending_password = None;
                rec.revision = secrethub_common::random_uuid();
                rec.root_rotation.last = now_unix();
                storage.put_json(&key, &rec).await?;
                // Connections opened with the old password keep working until closed; drop
                // them so nothing relies on a password that no longer exists.
                self.connections.evict(name);
                tracing::info!(connection = name, "rotated the root password");
                Ok(rec)
            }
            Err(e @ DatabaseError::Unavailable { .. }) => {
                // The change may or may not have committed: keep the pending password.
                self.connections.evict(name);
                Err(e)
            }
            Err(e) => {
                rec.pending_password = None;
                if let Err(store) = storage.put_json(&key, &rec).await {
                    tracing::warn!(connection = name, error = %store, "could not clear the pending root password");
                }
                Err(e)
            }
        }
    }
}

/// The timer of a connection's scheduled root rotation.
pub(crate) fn rotate_root_timer(name: &str) -> String {
    format!("rotate-root/{name}")
}
