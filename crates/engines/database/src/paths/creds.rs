//! `database/creds/:role`: creates a database user under a lease.
//!
//! Order matters for "never orphaned": the intent (the lease's internal data) is recorded
//! durably by core before the creation statements run; if they fail, or the process dies,
//! core revokes the intent, which drops the user if it exists. The plugin records it only
//! once it holds a connection, so requests to an unreachable database leave no intents.

use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::serde_helpers::{boolean, opt_duration};
use secrethub_common::{now_unix, JsonMap};
use secrethub_engine::{EngineError, LeaseTerms, NewLease, Request, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::lease::lease_ttl;
use crate::password::PasswordPolicy;
use crate::paths::load_role;
use crate::records::{LeaseData, RECORD_VERSION};
use crate::registry;
use crate::username::{default_username, UsernameInput, UsernameTemplate};
use crate::DatabaseEngine;
use secrethub_database_plugin::DatabaseError;
use secrethub_database_plugin::{BeforeCreate, NewUser};

/// Records the lease's internal data as an intent with core.
struct RecordIntent<'a> {
    req: &'a Request,
    internal: &'a Value,
}

#[async_trait]
impl BeforeCreate for RecordIntent<'_> {
    async fn ready(&self) -> Result<(), DatabaseError> {
        self.req
            .record_intent(self.internal)
            .await
            .map_err(DatabaseError::Core)
    }
}

#[derive(Deserialize)]
struct CredsInput {
    #[serde(default, deserialize_with = "opt_duration")]
    ttl: Option<Duration>,
    /// Set by the server's seed endpoint: add `host`, `port` and `database` to the data.
    #[serde(default, rename = "_seed", deserialize_with = "boolean")]
    seed: bool,
}

impl DatabaseEngine {
    pub(crate) async fn creds(&self, req: &Request, name: &str) -> Result<Response, EngineError> {
        let input: CredsInput = req.body_as()?;
        let role = load_role(&req.storage, name)
            .await?
            .ok_or_else(|| DatabaseError::invalid(format!("unknown role: {name}")))?;
        let (config, plugin) = self
            .connections
            .load(&req.storage, &role.db_name)
            .await?
            .ok_or_else(|| {
                DatabaseError::invalid(format!(
                    "connection {:?} used by role {name:?} does not exist",
                    role.db_name
                ))
            })?;
        if !config.allows(name) {
            return Err(DatabaseError::invalid(format!(
                "{name:?} is not an allowed role for connection {:?}",
                role.db_name
            ))
            .into());
        }

        let now = now_unix();
        let (ttl, warning) = lease_ttl(input.ttl, &role, &req.mount);
        let expiration = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let who = UsernameInput {
            role: name,
            display_name: &req.caller.display_name,
            now,
        };
        let max_len = registry::find(&config.plugin_name)?.max_username_len();
        let username = if config.username_template.is_empty() {
            default_username(&who, max_len)
        } else {
            UsernameTemplate::parse(&config.username_template)?.render_within(&who, max_len)?
        };
        let password = PasswordPolicy::parse(&config.password_policy)?.generate()?;

        let lease = LeaseData {
            v: RECORD_VERSION,
            db_name: role.db_name.clone(),
            role: name.to_string(),
            username: username.clone(),
            revocation_statements: role.revocation_statements.clone(),
        };
        let internal = serde_json::to_value(&lease).map_err(|e| EngineError::Internal(e.into()))?;
        plugin
            .create_user(&NewUser {
                statements: &role.creation_statements,
                username: &username,
                password: &password,
                expiration,
                before_create: &RecordIntent {
                    req,
                    internal: &internal,
                },
            })
            .await?;

        let mut data = JsonMap::new();
        data.insert("username".into(), Value::String(username));
        data.insert("password".into(), Value::String(password.to_string()));
        if input.seed {
            data.extend(plugin.connection_facts());
        }
        Ok(Response {
            data: Some(data),
            lease: Some(NewLease {
                internal,
                terms: LeaseTerms {
                    ttl,
                    max_ttl: role.max_ttl(),
                    renewable: true,
                },
            }),
            warnings: warning.into_iter().collect(),
            ..Response::default()
        })
    }
}
