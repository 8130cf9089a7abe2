//! The method's handlers, one file per resource, plus what they share: loading roles,
//! building atomic batches and rendering JSON objects.

mod fields;
mod login;
mod roles;
mod secret_ids;
mod tidy;

use secrethub_common::{format_rfc3339, JsonMap};
use secrethub_engine::{EngineError, StorageView};
use secrethub_storage::WriteOp;
use serde::Serialize;
use serde_json::Value;

use crate::input;
use crate::records::{role_key, RoleRecord};

/// Reads a role by its lowercased name, `None` when there is none.
pub(crate) async fn load_role(
    storage: &StorageView,
    name: &str,
) -> Result<Option<RoleRecord>, EngineError> {
    Ok(storage.get_json(&role_key(name)).await?)
}

/// The lowercased name and the role, or a 400 naming the missing role (for writes to a
/// role's sub-paths, as Vault answers).
pub(crate) async fn require_role(
    storage: &StorageView,
    raw: &str,
) -> Result<(String, RoleRecord), EngineError> {
    let name = input::role_name(raw)?;
    match load_role(storage, &name).await? {
        Some(r) => Ok((name, r)),
        None => Err(EngineError::bad_request(format!(
            "role {name:?} does not exist"
        ))),
    }
}

/// A `Put` of `value` as JSON.
pub(crate) fn put<T: Serialize>(key: String, value: &T) -> Result<WriteOp, EngineError> {
    let value = serde_json::to_vec(value)
        .map_err(|e| EngineError::Internal(anyhow::Error::new(e).context("encoding a record")))?;
    Ok(WriteOp::Put { key, value })
}

pub(crate) fn delete(key: String) -> WriteOp {
    WriteOp::Delete { key }
}

/// Turns a `json!({...})` into the map a response carries.
pub(crate) fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

/// Vault's time format; a zero time (no expiry) is Go's zero time, as Vault prints it.
pub(crate) fn time(nanos: i128) -> String {
    if nanos == 0 {
        "0001-01-01T00:00:00Z".to_string()
    } else {
        format_rfc3339(nanos)
    }
}
