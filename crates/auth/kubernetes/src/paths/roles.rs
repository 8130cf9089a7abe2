//! `auth/kubernetes/role/:name` and LIST `auth/kubernetes/role`: which service accounts may
//! log in through a role, and the token they get. Creating a role requires
//! `bound_service_account_names` and `bound_service_account_namespaces`; an update changes only
//! the fields given.

use secrethub_common::input;
use secrethub_engine::{JsonMap, Request, Response, StorageView, TokenParams};
use secrethub_storage::{list_children, Storage as _};

use crate::error::KubeError;
use crate::paths::check_role_name;
use crate::records::{AliasNameSource, RoleRecord, RECORD_VERSION, ROLE_PREFIX};
use crate::KubernetesAuth;

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

        if let Some(v) = input::field::<Vec<String>>(body, "bound_service_account_names")? {
            role.bound_service_account_names = v;
        }
        if let Some(v) = input::field::<Vec<String>>(body, "bound_service_account_namespaces")? {
            role.bound_service_account_namespaces = v;
        }
        if let Some(v) = input::field::<String>(body, "audience")? {
            role.audience = v.trim().to_string();
        }
        if let Some(v) = input::field::<String>(body, "alias_name_source")? {
            role.alias_name_source = AliasNameSource::parse(&v).ok_or_else(|| {
                KubeError::field(
                    "alias_name_source",
                    "expected serviceaccount_uid or serviceaccount_name",
                )
            })?;
        }
        if input::field::<String>(body, "bound_service_account_namespace_selector")?
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(KubeError::field(
                "bound_service_account_namespace_selector",
                "namespace selectors are not supported; list the namespaces instead",
            ));
        }
        role.token
            .update_from(body)
            .map_err(|e| KubeError::invalid(e.to_string()))?;
        TokenParams::note_legacy_names(body, &mut role.legacy_token_fields);

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
        // Namespace selectors are refused on write, so there is never one to show.
        data.insert("bound_service_account_namespace_selector".into(), "".into());
        data.insert("audience".into(), role.audience.into());
        data.insert(
            "alias_name_source".into(),
            role.alias_name_source.as_str().into(),
        );
        role.token.write_to(&mut data);
        TokenParams::write_legacy_to(&role.legacy_token_fields, &mut data);
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
