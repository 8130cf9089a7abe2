//! `database/reset/:name` and `database/rotate-root/:name`.
//!
//! Rotation must never lose the root password. The new one is stored as *pending* before the
//! database changes it; afterwards it becomes the password. If the outcome is unknown (the
//! connection broke mid-statement) the pending password stays, and the next use of the
//! connection finds out which one works (see `connections.rs`).

use secrethub_common::Sensitive;
use secrethub_engine::{Request, Response};

use crate::connections::config_key;
use crate::password::PasswordPolicy;
use crate::paths::check_name;
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

    pub(crate) async fn rotate_root(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = config_key(name);
        check_name(&key)?;
        let (mut rec, plugin) = self
            .connections
            .load(&req.storage, name)
            .await?
            .ok_or_else(|| unknown(name))?;
        let new_password = PasswordPolicy::parse(&rec.password_policy)?.generate()?;
        rec.pending_password = Some(Sensitive::new(new_password.to_string()));
        req.storage.put_json(&key, &rec).await?;

        match plugin
            .rotate_root(&rec.root_rotation_statements, &new_password)
            .await
        {
            Ok(()) => {
                rec.details.set_password(&new_password);
                rec.pending_password = None;
                rec.revision = secrethub_common::random_uuid();
                req.storage.put_json(&key, &rec).await?;
                // Connections opened with the old password keep working until closed; drop
                // them so nothing relies on a password that no longer exists.
                self.connections.evict(name);
                Ok(Response::empty())
            }
            Err(e @ DatabaseError::Unavailable { .. }) => {
                // The change may or may not have committed: keep the pending password.
                self.connections.evict(name);
                Err(e)
            }
            Err(e) => {
                rec.pending_password = None;
                if let Err(store) = req.storage.put_json(&key, &rec).await {
                    tracing::warn!(connection = name, error = %store, "could not clear the pending root password");
                }
                Err(e)
            }
        }
    }
}
