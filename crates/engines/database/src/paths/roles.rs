//! `database/roles/:name`: which connection a role uses, the statements that create, renew,
//! revoke and roll back its users, and its TTLs. Create requires `db_name` and
//! `creation_statements`; update changes only the fields given.

use std::time::Duration;

use secrethub_common::serde_helpers::opt_duration;
use secrethub_engine::{Request, Response, StorageView};
use secrethub_storage::Storage as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::connections::config_key;
use crate::paths::{check_name, role_key};
use crate::records::ConnectionRecord;
use crate::records::{opt_statements, RoleRecord, RECORD_VERSION};
use crate::registry;
use crate::template;
use crate::username;
use crate::DatabaseEngine;
use secrethub_database_plugin::DatabaseError;

#[derive(Deserialize)]
struct RoleInput {
    db_name: Option<String>,
    #[serde(default, deserialize_with = "opt_statements")]
    creation_statements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_statements")]
    revocation_statements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_statements")]
    renew_statements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_statements")]
    rollback_statements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_duration")]
    default_ttl: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    max_ttl: Option<Duration>,
    credential_type: Option<String>,
}

/// Reads a role, `None` when there is none.
pub(crate) async fn load_role(
    storage: &StorageView,
    name: &str,
) -> Result<Option<RoleRecord>, DatabaseError> {
    let key = role_key(name);
    check_name(&key)?;
    Ok(storage.get_json(&key).await?)
}

impl DatabaseEngine {
    pub(crate) async fn write_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = role_key(name);
        check_name(&key)?;
        let input: RoleInput = secrethub_common::input::decode(&req.body)
            .map_err(|e| DatabaseError::invalid(e.to_string()))?;
        if let Some(t) = input.credential_type.as_deref() {
            if !t.is_empty() && t != "password" {
                return Err(DatabaseError::invalid(
                    "credential_type must be \"password\" (the only type supported)",
                ));
            }
        }
        let mut role = match req.storage.get_json::<RoleRecord>(&key).await? {
            Some(r) => r,
            None => RoleRecord {
                version: RECORD_VERSION,
                db_name: String::new(),
                creation_statements: Vec::new(),
                revocation_statements: Vec::new(),
                renew_statements: Vec::new(),
                rollback_statements: Vec::new(),
                default_ttl_secs: 0,
                max_ttl_secs: 0,
            },
        };
        if let Some(v) = input.db_name {
            role.db_name = v;
        }
        if let Some(v) = input.creation_statements {
            role.creation_statements = v;
        }
        if let Some(v) = input.revocation_statements {
            role.revocation_statements = v;
        }
        if let Some(v) = input.renew_statements {
            role.renew_statements = v;
        }
        if let Some(v) = input.rollback_statements {
            role.rollback_statements = v;
        }
        if let Some(v) = input.default_ttl {
            role.default_ttl_secs = v.as_secs();
        }
        if let Some(v) = input.max_ttl {
            role.max_ttl_secs = v.as_secs();
        }
        if role.db_name.is_empty() {
            return Err(DatabaseError::invalid("db_name is required"));
        }
        // The connection's plugin checks the statements when the connection exists already
        // (a role may be written first, as in Vault; then Vault's SQL templates are checked).
        let connection = req
            .storage
            .get_json::<ConnectionRecord>(&config_key(&role.db_name))
            .await?;
        let kind = match &connection {
            Some(config) => Some(registry::find(&config.plugin_name)?),
            None => None,
        };
        // Its usernames must fit the plugin's limit (MySQL: 32, legacy 16).
        if let (Some(config), Some(kind)) = (&connection, kind) {
            username::check_fits(&config.username_template, name, kind.max_username_len())?;
        }
        let needs_statements = kind.is_none_or(|k| k.requires_creation_statements());
        if needs_statements && role.creation_statements.is_empty() {
            return Err(DatabaseError::invalid("creation_statements is required"));
        }
        if role.max_ttl_secs > 0 && role.default_ttl_secs > role.max_ttl_secs {
            return Err(DatabaseError::invalid("ttl cannot be greater than max_ttl"));
        }
        for (field, statements) in [
            ("creation_statements", &role.creation_statements),
            ("revocation_statements", &role.revocation_statements),
            ("renew_statements", &role.renew_statements),
            ("rollback_statements", &role.rollback_statements),
        ] {
            match kind {
                Some(k) => k.check_statements(field, statements)?,
                None => template::validate(field, statements)?,
            }
        }
        role.version = RECORD_VERSION;
        req.storage.put_json(&key, &role).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let role = load_role(&req.storage, name)
            .await?
            .ok_or(DatabaseError::NotFound)?;
        let data = json!({
            "db_name": role.db_name,
            "creation_statements": role.creation_statements,
            "revocation_statements": role.revocation_statements,
            "renew_statements": role.renew_statements,
            "rollback_statements": role.rollback_statements,
            "default_ttl": role.default_ttl_secs,
            "max_ttl": role.max_ttl_secs,
            "credential_type": "password",
            "credential_config": {},
        });
        match data {
            Value::Object(m) => Ok(Response::data(m)),
            // `json!` with braces always builds an object.
            _ => Err(DatabaseError::Internal(anyhow::anyhow!(
                "role data is not an object"
            ))),
        }
    }

    pub(crate) async fn delete_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, DatabaseError> {
        let key = role_key(name);
        check_name(&key)?;
        req.storage.delete(&key).await?;
        Ok(Response::empty())
    }
}
