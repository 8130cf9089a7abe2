//! `login`, the role a login is for (rate limiting) and the re-check on token renewal.

use std::collections::BTreeMap;

use secrethub_common::{cidrs_allow, parse_cidrs};
use secrethub_engine::{
    Alias, EngineError, LoginAuth, LoginRenewal, Request, Response, StorageView, TokenParams,
};
use secrethub_storage::Storage as _;
use subtle::ConstantTimeEq;

use crate::hashing::Domain;
use crate::input;
use crate::paths::{load_role, put, secret_ids::remove};
use crate::records::{
    role_id_key, secret_id_key, LoginInternal, RoleIdRecord, RoleRecord, SecretIdRecord,
};
use crate::AppRole;

/// The one answer for an unknown role ID and an unknown, used-up or expired secret ID.
fn invalid() -> EngineError {
    EngineError::bad_request("invalid role or secret ID")
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `blocks` (validated when stored) admit `addr`.
fn admits(blocks: &[String], addr: Option<std::net::IpAddr>) -> bool {
    match parse_cidrs(blocks) {
        Ok(b) => cidrs_allow(&b, addr),
        Err(_) => false,
    }
}

impl AppRole {
    /// The role a role ID belongs to, `None` when no role has it.
    async fn role_by_id(
        &self,
        storage: &StorageView,
        role_id: &str,
    ) -> Result<Option<RoleRecord>, EngineError> {
        let Some(hash) = self
            .hasher
            .hash_if_keyed(storage, Domain::RoleId, role_id)
            .await?
        else {
            return Ok(None);
        };
        let Some(link) = storage
            .get_json::<RoleIdRecord>(&role_id_key(&hash))
            .await?
        else {
            return Ok(None);
        };
        let role = load_role(storage, &link.role_name).await?;
        // The index is only a pointer: the role itself must still hold this role ID.
        Ok(role.filter(|r| same(&r.role_id, role_id)))
    }

    pub(crate) async fn role_of_login(&self, req: &Request) -> Option<String> {
        let role_id = req.str_field("role_id").filter(|s| !s.is_empty())?;
        match self.role_by_id(&req.storage, &role_id).await {
            Ok(role) => role.map(|r| r.name),
            Err(_) => None,
        }
    }

    pub(crate) async fn login(&self, req: &Request) -> Result<Response, EngineError> {
        let role_id = input::required_string(&req.body, "role_id")?;
        let secret_id = input::opt_string(&req.body, &["secret_id"])?.unwrap_or_default();
        let addr = req.caller.remote_addr;
        let role = self
            .role_by_id(&req.storage, &role_id)
            .await?
            .ok_or_else(invalid)?;
        let mut token = role.token.clone();
        let mut metadata = BTreeMap::new();

        if role.bind_secret_id {
            if secret_id.is_empty() {
                return Err(EngineError::bad_request("missing secret_id"));
            }
            let hash = self
                .hasher
                .hash(&req.storage, Domain::SecretId, &secret_id)
                .await?;
            let _guard = self.locks.lock(&role.name).await;
            let rec = self
                .live_secret_id(&req.storage, &role.name, &hash)
                .await?
                .ok_or_else(invalid)?;
            if !admits(&role.secret_id_bound_cidrs, addr) {
                return Err(EngineError::bad_request(
                    "source address unauthorized by the role's secret_id_bound_cidrs",
                ));
            }
            if !admits(&rec.cidr_list, addr) {
                return Err(EngineError::bad_request(
                    "source address unauthorized by the secret ID's cidr_list",
                ));
            }
            if !rec.token_bound_cidrs.is_empty() {
                token.token_bound_cidrs = rec.token_bound_cidrs.clone();
            }
            if !admits(&token.token_bound_cidrs, addr) {
                return Err(EngineError::PermissionDenied);
            }
            self.use_once(&req.storage, &role.name, &hash, rec.clone())
                .await?;
            metadata = rec.metadata;
        } else {
            if !admits(&role.secret_id_bound_cidrs, addr) {
                return Err(EngineError::bad_request(
                    "source address unauthorized by the role's secret_id_bound_cidrs",
                ));
            }
            if !admits(&token.token_bound_cidrs, addr) {
                return Err(EngineError::PermissionDenied);
            }
        }

        metadata.insert("role_name".into(), role.name.clone());
        let internal = serde_json::to_value(LoginInternal {
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
        })
        .map_err(|e| EngineError::Internal(e.into()))?;
        Ok(Response::login(LoginAuth {
            display_name: role.name.clone(),
            alias: Alias {
                name: role.role_id.clone(),
                metadata: BTreeMap::from([("role_name".to_string(), role.name.clone())]),
            },
            metadata,
            token,
            internal,
        }))
    }

    /// Counts one use of a secret ID: the last use deletes it (with its accessor), others
    /// store the lower count. The caller holds the role's lock, so two logins never both
    /// spend the same remaining use.
    async fn use_once(
        &self,
        storage: &StorageView,
        role: &str,
        hash: &str,
        mut rec: SecretIdRecord,
    ) -> Result<(), EngineError> {
        match rec.num_uses {
            0 => Ok(()),
            1 => remove(storage, role, hash, &rec.accessor).await,
            n => {
                rec.num_uses = n - 1;
                rec.last_updated_time = self.now();
                storage
                    .apply(vec![put(secret_id_key(role, hash), &rec)?])
                    .await?;
                Ok(())
            }
        }
    }

    pub(crate) async fn renew(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        let internal: LoginInternal = serde_json::from_value(login.internal.clone())
            .map_err(|_| EngineError::bad_request("invalid approle login data"))?;
        let role = load_role(storage, &internal.role_name)
            .await?
            .ok_or_else(|| {
                EngineError::bad_request(format!(
                    "role {:?} no longer exists, not renewing",
                    internal.role_name
                ))
            })?;
        if !same(&role.role_id, &internal.role_id) {
            return Err(EngineError::bad_request(format!(
                "the role ID of role {:?} has changed, not renewing",
                internal.role_name
            )));
        }
        Ok(role.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_checks() {
        let ip = |s: &str| Some(s.parse().unwrap());
        assert!(admits(&[], None));
        assert!(admits(&["10.0.0.0/8".into()], ip("10.1.1.1")));
        assert!(!admits(&["10.0.0.0/8".into()], ip("192.168.1.1")));
        assert!(!admits(&["10.0.0.0/8".into()], None));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
