//! `role/:name` and `role/:name/role-id`: creating, reading, changing and deleting roles,
//! and the role ID index that keeps a role ID unique to one role.

use secrethub_engine::{EngineError, Request, Response, StorageView};
use secrethub_storage::{delete_prefix, list_children, Storage as _};
use serde_json::{json, Value};

use crate::hashing::Domain;
use crate::input;
use crate::paths::{delete, load_role, object, put};
use crate::records::{
    accessor_prefix, role_id_key, role_key, secret_id_prefix, RoleIdRecord, RoleRecord,
    RECORD_VERSION,
};
use crate::AppRole;

/// Vault's rule: a role must constrain logins somehow.
pub(crate) fn check_constraints(role: &RoleRecord) -> Result<(), EngineError> {
    if !role.bind_secret_id
        && role.secret_id_bound_cidrs.is_empty()
        && role.token.token_bound_cidrs.is_empty()
    {
        return Err(EngineError::bad_request(
            "at least one constraint must be enabled on the role: bind_secret_id, \
             secret_id_bound_cidrs or token_bound_cidrs",
        ));
    }
    Ok(())
}

impl AppRole {
    /// Loads a role under its lock for a read-modify-write; 400 when it does not exist.
    pub(crate) async fn role_for_update(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<RoleRecord, EngineError> {
        load_role(storage, name)
            .await?
            .ok_or_else(|| EngineError::bad_request(format!("role {name:?} does not exist")))
    }

    /// Stores `role`. When its role ID differs from `old_role_id` (or the role is new), the
    /// new ID's index entry is claimed in the same batch, and an ID another role holds is
    /// refused.
    pub(crate) async fn save_role(
        &self,
        storage: &StorageView,
        role: &RoleRecord,
        old_role_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut batch = vec![put(role_key(&role.name), role)?];
        if old_role_id == Some(role.role_id.as_str()) {
            storage.apply(batch).await?;
            return Ok(());
        }
        let _claim = self.role_ids.lock().await;
        let hash = self
            .hasher
            .hash(storage, Domain::RoleId, &role.role_id)
            .await?;
        let key = role_id_key(&hash);
        if let Some(holder) = storage.get_json::<RoleIdRecord>(&key).await? {
            if holder.role_name != role.name {
                return Err(EngineError::bad_request(
                    "role_id is already in use by another role",
                ));
            }
        }
        batch.push(put(
            key,
            &RoleIdRecord {
                version: RECORD_VERSION,
                role_name: role.name.clone(),
            },
        )?);
        if let Some(old) = old_role_id {
            let old_hash = self.hasher.hash(storage, Domain::RoleId, old).await?;
            batch.push(delete(role_id_key(&old_hash)));
        }
        storage.apply(batch).await?;
        Ok(())
    }

    pub(crate) async fn write_role(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let _guard = self.locks.lock(&name).await;
        let existing = load_role(&req.storage, &name).await?;
        let old_role_id = existing.as_ref().map(|r| r.role_id.clone());
        let creating = existing.is_none();
        let mut role = existing.unwrap_or_else(|| RoleRecord::new(&name, String::new()));
        let b = &req.body;
        if let Some(v) = input::opt_bool(b, &["bind_secret_id"])? {
            role.bind_secret_id = v;
        }
        if let Some(v) = input::opt_cidrs(b, &["secret_id_bound_cidrs", "bound_cidr_list"])? {
            role.secret_id_bound_cidrs = v;
        }
        if let Some(v) = input::opt_uint(b, &["secret_id_num_uses"])? {
            role.secret_id_num_uses = v;
        }
        if let Some(v) = input::opt_secs(b, &["secret_id_ttl"])? {
            role.secret_id_ttl_secs = v;
        }
        if let Some(v) = input::opt_bool(b, &["local_secret_ids", "enable_local_secret_ids"])? {
            if creating {
                role.local_secret_ids = v;
            } else if v != role.local_secret_ids {
                return Err(EngineError::bad_request(
                    "local_secret_ids can only be set when the role is created",
                ));
            }
        }
        role.token.update_from(b)?;
        match input::opt_string(b, &["role_id"])? {
            Some(id) if !id.is_empty() => role.role_id = id,
            _ if creating => role.role_id = secrethub_common::random_uuid(),
            _ => {}
        }
        check_constraints(&role)?;
        role.version = RECORD_VERSION;
        self.save_role(&req.storage, &role, old_role_id.as_deref())
            .await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_role(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let role = load_role(&req.storage, &name)
            .await?
            .ok_or(EngineError::NotFound)?;
        let mut data = object(json!({
            "bind_secret_id": role.bind_secret_id,
            "local_secret_ids": role.local_secret_ids,
            "secret_id_bound_cidrs": role.secret_id_bound_cidrs,
            "secret_id_num_uses": role.secret_id_num_uses,
            "secret_id_ttl": role.secret_id_ttl_secs,
        }));
        role.token.write_to(&mut data);
        // Vault still answers the older names beside the token_* ones.
        data.insert("policies".into(), json!(role.token.token_policies));
        data.insert("period".into(), json!(role.token.token_period));
        Ok(Response::data(data))
    }

    /// Deletes a role with its secret IDs (first, so a role created later under the same
    /// name never inherits them) and its role ID index entry.
    pub(crate) async fn delete_role(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let _guard = self.locks.lock(&name).await;
        let Some(role) = load_role(&req.storage, &name).await? else {
            return Ok(Response::empty());
        };
        delete_prefix(&req.storage, &secret_id_prefix(&name)).await?;
        delete_prefix(&req.storage, &accessor_prefix(&name)).await?;
        let hash = self
            .hasher
            .hash(&req.storage, Domain::RoleId, &role.role_id)
            .await?;
        req.storage
            .apply(vec![delete(role_key(&name)), delete(role_id_key(&hash))])
            .await?;
        Ok(Response::empty())
    }

    pub(crate) async fn list_roles(&self, req: &Request) -> Result<Response, EngineError> {
        let keys = list_children(&req.storage, "role/").await?;
        Response::list(keys)
    }

    pub(crate) async fn read_role_id(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let role = load_role(&req.storage, &name)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(Response::data(object(json!({ "role_id": role.role_id }))))
    }

    pub(crate) async fn write_role_id(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let name = input::role_name(raw)?;
        let role_id = input::required_string(&req.body, "role_id")?;
        let _guard = self.locks.lock(&name).await;
        let mut role = self.role_for_update(&req.storage, &name).await?;
        let old = std::mem::replace(&mut role.role_id, role_id);
        self.save_role(&req.storage, &role, Some(&old)).await?;
        Ok(Response::empty())
    }
}

/// For `read_field`: a JSON object with one or two entries.
pub(crate) fn single(key: &str, v: Value) -> Response {
    let mut m = secrethub_common::JsonMap::new();
    m.insert(key.into(), v);
    Response::data(m)
}
