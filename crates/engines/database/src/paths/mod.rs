//! The engine's handlers, one file per resource, plus what they share: storage keys, name
//! checks and listing.

mod config;
mod creds;
mod roles;
mod rotate;
mod static_roles;

use secrethub_engine::{EngineError, Request, Response};
use secrethub_storage::{list_children, validate_key};

use crate::DatabaseEngine;
use secrethub_database_plugin::DatabaseError;

pub(crate) use roles::load_role;
pub(crate) use static_roles::static_role_key;

/// Storage key of a role.
pub(crate) fn role_key(name: &str) -> String {
    format!("role/{name}")
}

/// Rejects names that would not be a single, safe storage key segment.
pub(crate) fn check_name(key: &str) -> Result<(), DatabaseError> {
    validate_key(key).map_err(|_| DatabaseError::invalid("invalid name"))
}

impl DatabaseEngine {
    pub(crate) async fn list(&self, req: &Request, prefix: &str) -> Result<Response, EngineError> {
        let keys = list_children(&req.storage, prefix).await?;
        Response::list(keys)
    }
}
