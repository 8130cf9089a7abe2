//! `role/:name/secret-id`, `custom-secret-id`, `secret-id/{lookup,destroy}` and
//! `secret-id-accessor/{lookup,destroy}`: issuing secret IDs and managing them by value or
//! by accessor. A secret ID is stored under its HMAC only; its accessor is a random UUID
//! that may be shown and listed.

use secrethub_engine::{EngineError, Request, Response, StorageView};
use secrethub_storage::{list_all, Storage as _};
use serde_json::json;

use crate::hashing::Domain;
use crate::input;
use crate::paths::{delete, object, put, require_role, time};
use crate::records::{
    accessor_key, accessor_prefix, secret_id_key, AccessorRecord, RoleRecord, SecretIdRecord,
    RECORD_VERSION,
};
use crate::AppRole;

/// What `secret-id` and `custom-secret-id` accept besides the secret ID itself.
struct IssueInput {
    metadata: std::collections::BTreeMap<String, String>,
    cidr_list: Vec<String>,
    token_bound_cidrs: Vec<String>,
    num_uses: u64,
    ttl_secs: u64,
}

fn issue_input(req: &Request, role: &RoleRecord) -> Result<IssueInput, EngineError> {
    let b = &req.body;
    let metadata = input::metadata(b)?;
    let cidr_list = input::opt_cidrs(b, &["cidr_list"])?.unwrap_or_default();
    if !input::cidrs_subset(&cidr_list, &role.secret_id_bound_cidrs) {
        return Err(EngineError::bad_request(
            "cidr_list must be a subset of the role's secret_id_bound_cidrs",
        ));
    }
    let token_bound_cidrs = input::opt_cidrs(b, &["token_bound_cidrs"])?.unwrap_or_default();
    if !input::cidrs_subset(&token_bound_cidrs, &role.token.token_bound_cidrs) {
        return Err(EngineError::bad_request(
            "token_bound_cidrs must be a subset of the role's token_bound_cidrs",
        ));
    }
    let num_uses = match input::opt_uint(b, &["num_uses"])? {
        None | Some(0) => role.secret_id_num_uses,
        Some(n) if role.secret_id_num_uses > 0 && n > role.secret_id_num_uses => {
            return Err(EngineError::bad_request(
                "num_uses cannot be higher than the role's secret_id_num_uses",
            ));
        }
        Some(n) => n,
    };
    let ttl_secs = match input::opt_secs(b, &["ttl"])? {
        None | Some(0) => role.secret_id_ttl_secs,
        Some(t) if role.secret_id_ttl_secs > 0 && t > role.secret_id_ttl_secs => {
            return Err(EngineError::bad_request(
                "ttl cannot be longer than the role's secret_id_ttl",
            ));
        }
        Some(t) => t,
    };
    Ok(IssueInput {
        metadata,
        cidr_list,
        token_bound_cidrs,
        num_uses,
        ttl_secs,
    })
}

/// Accessors are UUIDs we generate; anything else can't name one (nor a storage key).
fn check_accessor(a: &str) -> Result<(), EngineError> {
    if a.is_empty() || a.len() > 64 || !a.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(EngineError::bad_request("invalid secret_id_accessor"));
    }
    Ok(())
}

/// The lookup answer, without the secret ID.
fn lookup_data(rec: &SecretIdRecord) -> Response {
    Response::data(object(json!({
        "cidr_list": rec.cidr_list,
        "creation_time": time(rec.creation_time),
        "expiration_time": time(rec.expiration_time),
        "last_updated_time": time(rec.last_updated_time),
        "metadata": rec.metadata,
        "secret_id_accessor": rec.accessor,
        "secret_id_num_uses": rec.num_uses,
        "secret_id_ttl": rec.ttl_secs,
        "token_bound_cidrs": rec.token_bound_cidrs,
    })))
}

impl AppRole {
    pub(crate) async fn issue_secret_id(
        &self,
        req: &Request,
        raw: &str,
        custom: bool,
    ) -> Result<Response, EngineError> {
        // The role is read under its lock, so a concurrent deletion can't leave a secret ID
        // behind for a later role of the same name.
        let name = input::role_name(raw)?;
        let _guard = self.locks.lock(&name).await;
        let (_, role) = require_role(&req.storage, &name).await?;
        if !role.bind_secret_id {
            return Err(EngineError::bad_request(format!(
                "bind_secret_id is not set on role {name:?}"
            )));
        }
        let input = issue_input(req, &role)?;
        let secret_id = if custom {
            input::required_string(&req.body, "secret_id")?
        } else {
            secrethub_common::random_uuid()
        };
        let hash = self
            .hasher
            .hash(&req.storage, Domain::SecretId, &secret_id)
            .await?;
        let key = secret_id_key(&name, &hash);
        if custom && req.storage.get(&key).await?.is_some() {
            return Err(EngineError::bad_request(
                "secret_id is already registered on the role",
            ));
        }
        let now = self.now();
        let accessor = secrethub_common::random_uuid();
        let rec = SecretIdRecord {
            version: RECORD_VERSION,
            accessor: accessor.clone(),
            num_uses: input.num_uses,
            ttl_secs: input.ttl_secs,
            creation_time: now,
            expiration_time: match input.ttl_secs {
                0 => 0,
                t => now + i128::from(t) * 1_000_000_000,
            },
            last_updated_time: now,
            metadata: input.metadata,
            cidr_list: input.cidr_list,
            token_bound_cidrs: input.token_bound_cidrs,
        };
        let link = AccessorRecord {
            version: RECORD_VERSION,
            secret_id_hmac: hash,
        };
        req.storage
            .apply(vec![
                put(key, &rec)?,
                put(accessor_key(&name, &accessor), &link)?,
            ])
            .await?;
        Ok(Response::data(object(json!({
            "secret_id": secret_id,
            "secret_id_accessor": accessor,
            "secret_id_ttl": rec.ttl_secs,
            "secret_id_num_uses": rec.num_uses,
        }))))
    }

    pub(crate) async fn list_secret_ids(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let (name, _) = require_role(&req.storage, raw).await?;
        let keys = list_all(&req.storage, &accessor_prefix(&name)).await?;
        Response::list(keys)
    }

    /// The live record of a secret ID by its HMAC; an expired one is deleted and reported
    /// as absent. The caller holds the role's lock.
    pub(crate) async fn live_secret_id(
        &self,
        storage: &StorageView,
        role: &str,
        hash: &str,
    ) -> Result<Option<SecretIdRecord>, EngineError> {
        let Some(rec) = storage
            .get_json::<SecretIdRecord>(&secret_id_key(role, hash))
            .await?
        else {
            return Ok(None);
        };
        if rec.expired(self.now()) {
            remove(storage, role, hash, &rec.accessor).await?;
            return Ok(None);
        }
        Ok(Some(rec))
    }

    pub(crate) async fn lookup_secret_id(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let (name, _) = require_role(&req.storage, raw).await?;
        let secret_id = input::required_string(&req.body, "secret_id")?;
        let hash = self
            .hasher
            .hash(&req.storage, Domain::SecretId, &secret_id)
            .await?;
        let _guard = self.locks.lock(&name).await;
        let rec = self
            .live_secret_id(&req.storage, &name, &hash)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(lookup_data(&rec))
    }

    pub(crate) async fn destroy_secret_id(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let (name, _) = require_role(&req.storage, raw).await?;
        let secret_id = input::required_string(&req.body, "secret_id")?;
        let hash = self
            .hasher
            .hash(&req.storage, Domain::SecretId, &secret_id)
            .await?;
        let _guard = self.locks.lock(&name).await;
        if let Some(rec) = req
            .storage
            .get_json::<SecretIdRecord>(&secret_id_key(&name, &hash))
            .await?
        {
            remove(&req.storage, &name, &hash, &rec.accessor).await?;
        }
        Ok(Response::empty())
    }

    /// The secret ID HMAC an accessor points at, if the accessor exists.
    async fn accessor_target(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<(String, Option<String>), EngineError> {
        let accessor = input::required_string(&req.body, "secret_id_accessor")?;
        check_accessor(&accessor)?;
        let link = req
            .storage
            .get_json::<AccessorRecord>(&accessor_key(name, &accessor))
            .await?;
        Ok((accessor, link.map(|l| l.secret_id_hmac)))
    }

    pub(crate) async fn lookup_accessor(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let (name, _) = require_role(&req.storage, raw).await?;
        let _guard = self.locks.lock(&name).await;
        let (_, hash) = self.accessor_target(req, &name).await?;
        let hash = hash.ok_or(EngineError::NotFound)?;
        let rec = self
            .live_secret_id(&req.storage, &name, &hash)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(lookup_data(&rec))
    }

    pub(crate) async fn destroy_accessor(
        &self,
        req: &Request,
        raw: &str,
    ) -> Result<Response, EngineError> {
        let (name, _) = require_role(&req.storage, raw).await?;
        let _guard = self.locks.lock(&name).await;
        let (accessor, hash) = self.accessor_target(req, &name).await?;
        if let Some(hash) = hash {
            remove(&req.storage, &name, &hash, &accessor).await?;
        }
        Ok(Response::empty())
    }
}

/// Deletes a secret ID and its accessor in one batch.
pub(crate) async fn remove(
    storage: &StorageView,
    role: &str,
    hash: &str,
    accessor: &str,
) -> Result<(), EngineError> {
    storage
        .apply(vec![
            delete(secret_id_key(role, hash)),
            delete(accessor_key(role, accessor)),
        ])
        .await?;
    Ok(())
}
