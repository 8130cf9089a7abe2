//! `tidy/secret-id`: removes expired secret IDs, secret IDs of roles that no longer exist,
//! and accessor entries whose secret ID is gone. Logins delete what they find expired, so
//! this only matters for secret IDs nobody presents any more.

use std::collections::BTreeSet;

use secrethub_engine::{EngineError, Request, Response, StorageView};
use secrethub_storage::{list_all, list_children, Storage as _, StorageError, StorageErrorKind};

use crate::paths::{load_role, secret_ids::remove};
use crate::records::{
    accessor_key, accessor_prefix, secret_id_key, secret_id_prefix, AccessorRecord, SecretIdRecord,
};
use crate::AppRole;

/// Roles that have secret IDs or accessors stored.
async fn roles_with_entries(storage: &StorageView) -> Result<BTreeSet<String>, EngineError> {
    let mut roles = BTreeSet::new();
    for prefix in ["secret-id/", "accessor/"] {
        for dir in list_children(storage, prefix).await? {
            if let Some(role) = dir.strip_suffix('/') {
                roles.insert(role.to_string());
            }
        }
    }
    Ok(roles)
}

/// A record that does not decode is reported and skipped; any other failure stops the tidy.
fn skip_corrupt<T>(
    r: Result<Option<T>, StorageError>,
    what: &str,
    role: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<T>, EngineError> {
    match r {
        Err(e) if e.kind == StorageErrorKind::Corrupt => {
            warnings.push(format!("skipped an undecodable {what} of role {role:?}"));
            Ok(None)
        }
        other => Ok(other?),
    }
}

impl AppRole {
    pub(crate) async fn tidy(&self, req: &Request) -> Result<Response, EngineError> {
        let storage = &req.storage;
        // OpenBao answers 202 "Tidy operation successfully started"; clients expect that.
        let mut warnings = vec![secrethub_engine::TIDY_STARTED.to_string()];
        for role in roles_with_entries(storage).await? {
            let _guard = self.locks.lock(&role).await;
            let role_exists = load_role(storage, &role).await?.is_some();
            let now = self.now();
            let prefix = secret_id_prefix(&role);
            for hash in list_all(storage, &prefix).await? {
                let r = storage
                    .get_json::<SecretIdRecord>(&secret_id_key(&role, &hash))
                    .await;
                let Some(rec) = skip_corrupt(r, "secret ID record", &role, &mut warnings)? else {
                    continue;
                };
                if !role_exists || rec.expired(now) {
                    remove(storage, &role, &hash, &rec.accessor).await?;
                }
            }
            for accessor in list_all(storage, &accessor_prefix(&role)).await? {
                let key = accessor_key(&role, &accessor);
                let r = storage.get_json::<AccessorRecord>(&key).await;
                let Some(link) = skip_corrupt(r, "accessor record", &role, &mut warnings)? else {
                    continue;
                };
                let target = secret_id_key(&role, &link.secret_id_hmac);
                if storage.get(&target).await?.is_none() {
                    storage.delete(&key).await?;
                }
            }
        }
        Ok(Response::accepted(warnings))
    }
}
