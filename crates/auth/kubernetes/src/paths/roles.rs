//! `auth/kubernetes/role/:name` and LIST `auth/kubernetes/role`: which service accounts may
//! log in through a role, and the token they get. Creating a role requires
//! `bound_service_account_names` and `bound_service_account_namespaces`; an update changes only
//! the fields given.

use secrethub_engine::{JsonMap, Request, Response, StorageView};
use secrethub_storage::{list_children, Storage as _};

use crate::error::KubeError;
use crate::paths::{check_role_name, opt_list, opt_string};
use crate::records::{AliasNameSource, RoleRecord, RECORD_VERSION, ROLE_PREFIX};
use crate::KubernetesAuth;

/// Vault's older names for token fields that [`secrethub_engine::TokenParams::update_from`]
/// does not know, and the field each stands for.
const LEGACY_TOKEN_FIELDS: &[(&str, &str)] = &[
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("num_uses", "token_num_uses"),
];

/// Reads a role, `None` when there is none.
pub(crate) async fn load_role(
    storage: &StorageView,
    name: &str,
) -> Result<Option<RoleRecord>, KubeError> {
    let key = check_role_name(name)?;
    Ok(storage.get_json(&key).await?)
}

impl KubernetesAuth {
    pub(crate) async fn write_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, KubeError> {
        let key = check_role_name(name)?;
        let body = &req.body;
        let mut role = req
            .storage
            .get_json::<RoleRecord>(&key)
            .await?
            .unwrap_or_default();

        if let Some(v) = opt_list(body, "bound_service_account_names")? {
            role.bound_service_account_names = v;
        }
        if let Some(v) = opt_list(body, "bound_service_account_namespaces")? {
            role.bound_service_account_namespaces = v;
        }
        if let Some(v) = opt_string(body, "audience")? {
            role.audience = v.trim().to_string();
        }
        if let Some(v) = opt_string(body, "alias_name_source")? {
            role.alias_name_source = AliasNameSource::parse(&v).ok_or_else(|| {
                KubeError::field(
                    "alias_name_source",
                    "expected serviceaccount_uid or serviceaccount_name",
                )
            })?;
        }
        if opt_string(body, "bound_service_account_namespace_selector")?
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(KubeError::field(
                "bound_service_account_namespace_selector",
                "namespace selectors are not supported; list the namespaces instead",
            ));
        }
        role.token
            .update_from(&with_legacy_token_fields(body))
            .map_err(|e| KubeError::invalid(e.to_string()))?;

        if role.bound_service_account_names.is_empty() {
            return Err(KubeError::invalid(
                "bound_service_account_names is required",
            ));
        }
        if role.bound_service_account_namespaces.is_empty() {
            return Err(KubeError::invalid(
                "bound_service_account_namespaces is required",
            ));
        }
        let only_star = |l: &[String]| l.len() == 1 && l[0] == "*";
        if only_star(&role.bound_service_account_names)
            && only_star(&role.bound_service_account_namespaces)
        {
            return Err(KubeError::invalid(
                "bound_service_account_names and bound_service_account_namespaces can not both \
                 be \"*\"",
            ));
        }
        role.version = RECORD_VERSION;
        req.storage.put_json(&key, &role).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn read_role(&self, req: &Request, name: &str) -> Result<Response, KubeError> {
        let role = load_role(&req.storage, name)
            .await?
            .ok_or(KubeError::NotFound)?;
        let mut data = JsonMap::new();
        data.insert(
            "bound_service_account_names".into(),
            role.bound_service_account_names.into(),
        );
        data.insert(
            "bound_service_account_namespaces".into(),
            role.bound_service_account_namespaces.into(),
        );
        data.insert("audience".into(), role.audience.into());
        data.insert(
            "alias_name_source".into(),
            role.alias_name_source.as_str().into(),
        );
        role.token.write_to(&mut data);
        Ok(Response::data(data))
    }

    pub(crate) async fn delete_role(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, KubeError> {
        let key = check_role_name(name)?;
        req.storage.delete(&key).await?;
        Ok(Response::empty())
    }

    pub(crate) async fn list_roles(&self, req: &Request) -> Result<Response, KubeError> {
        let keys = list_children(&req.storage, ROLE_PREFIX).await?;
        Response::list(keys).map_err(|_| KubeError::NotFound)
    }

    /// Whether the role exists, for the ACL's create/update distinction.
    pub(crate) async fn role_exists(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<bool, KubeError> {
        let key = check_role_name(name)?;
        Ok(storage.get(&key).await?.is_some())
    }
}

/// The body with `ttl`, `max_ttl` and `num_uses` renamed to their `token_*` fields, unless
/// the `token_*` field is given too (it wins, as in Vault).
fn with_legacy_token_fields(body: &JsonMap) -> JsonMap {
    let mut out = body.clone();
    for (old, new) in LEGACY_TOKEN_FIELDS {
        if let Some(v) = body.get(*old) {
            if !body.contains_key(*new) && !v.is_null() {
                out.insert((*new).to_string(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn legacy_token_fields_map_to_token_fields() {
        let Value::Object(body) =
            json!({"ttl": "1h", "max_ttl": 7200, "token_num_uses": 3, "num_uses": 9})
        else {
            unreachable!("an object literal")
        };
        let out = with_legacy_token_fields(&body);
        assert_eq!(out["token_ttl"], json!("1h"));
        assert_eq!(out["token_max_ttl"], json!(7200));
        assert_eq!(out["token_num_uses"], json!(3));
    }
}
