//! `auth/kubernetes/login` (served without a token) and the re-check on token renewal.
//!
//! A login names a `role` and hands in a service account `jwt`. The TokenReview API says
//! whose it is (see `review.rs`); the role's bindings then decide. The token's alias is the
//! service account's UID, or `<namespace>/<name>` with `alias_name_source=serviceaccount_name`.
//! Renewal checks that the role still exists and still binds that service account.

use secrethub_common::input;
use std::collections::BTreeMap;

use secrethub_common::Sensitive;
use secrethub_engine::{
    Alias, LoginAuth, LoginRenewal, Request, Response, StorageView, TokenParams,
};
use serde_json::Value;

use crate::error::{Denial, KubeError};
use crate::paths::{load_config, load_role};
use crate::records::{AliasNameSource, LoginData, RECORD_VERSION};
use crate::review::ServiceAccount;
use crate::KubernetesAuth;

impl KubernetesAuth {
    pub(crate) async fn login(&self, req: &Request) -> Result<Response, KubeError> {
        let role_name = input::field::<String>(&req.body, "role")?.unwrap_or_default();
        let result = self.try_login(req, &role_name).await;
        if let Err(KubeError::Denied(reason)) = &result {
            // The client sees only "permission denied"; the operator sees why.
            tracing::info!(
                mount = %req.mount.path,
                role = %role_name,
                %reason,
                "kubernetes login denied"
            );
        }
        result
    }

    async fn try_login(&self, req: &Request, role_name: &str) -> Result<Response, KubeError> {
        let config = load_config(&req.storage).await?.ok_or_else(|| {
            KubeError::invalid(
                "the kubernetes auth method is not configured; write its config first",
            )
        })?;
        let role_name = match role_name {
            "" => config.default_role.as_str(),
            named => named,
        };
        if role_name.is_empty() {
            return Err(KubeError::invalid("missing role"));
        }
        let jwt = match req.body.get("jwt") {
            Some(Value::String(s)) if !s.trim().is_empty() => Sensitive::new(s.trim().to_string()),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(KubeError::invalid("missing jwt"));
            }
            Some(_) => return Err(KubeError::field("jwt", "expected a string")),
        };
        let role = load_role(&req.storage, role_name)
            .await?
            .ok_or_else(|| KubeError::invalid(format!("invalid role name {role_name:?}")))?;

        let sa = self
            .reviewer
            .review(&config, &jwt, &role.audience, role_name)
            .await?;
        role.admits(&sa.namespace, &sa.name).map_err(|which| {
            KubeError::Denied(Denial::Unbound {
                role: role_name.to_string(),
                which,
            })
        })?;

        let alias_name = match role.alias_name_source {
            AliasNameSource::ServiceaccountUid => sa.uid.clone(),
            AliasNameSource::ServiceaccountName => format!("{}/{}", sa.namespace, sa.name),
        };
        let alias_metadata = account_metadata(&sa);
        let mut metadata = alias_metadata.clone();
        metadata.insert("role".into(), role_name.to_string());
        let internal = LoginData {
            v: RECORD_VERSION,
            role: role_name.to_string(),
            namespace: sa.namespace.clone(),
            name: sa.name.clone(),
            uid: sa.uid.clone(),
        };
        let internal = serde_json::to_value(&internal)
            .map_err(|e| KubeError::Internal(anyhow::Error::new(e)))?;
        Ok(Response::login(LoginAuth {
            display_name: format!("{}-{}", sa.namespace, sa.name),
            alias: Alias {
                name: alias_name,
                metadata: alias_metadata,
            },
            metadata,
            token: role.token,
            internal,
        }))
    }

    pub(crate) async fn renew(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, KubeError> {
        let data: LoginData = serde_json::from_value(login.internal.clone()).map_err(|e| {
            KubeError::Internal(anyhow::Error::new(e).context("undecodable login data"))
        })?;
        let role = load_role(storage, &data.role).await?.ok_or_else(|| {
            KubeError::invalid(format!(
                "role {:?} no longer exists, not renewing",
                data.role
            ))
        })?;
        role.admits(&data.namespace, &data.name).map_err(|which| {
            KubeError::invalid(format!(
                "{which} to role {:?} any more, not renewing",
                data.role
            ))
        })?;
        Ok(role.token)
    }
}

/// Facts about the service account, for the alias and (with `role`) the token.
fn account_metadata(sa: &ServiceAccount) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("service_account_name".to_string(), sa.name.clone()),
        (
            "service_account_namespace".to_string(),
            sa.namespace.clone(),
        ),
        ("service_account_uid".to_string(), sa.uid.clone()),
        // Projected tokens name no secret; Vault fills this only for legacy secret tokens.
        ("service_account_secret_name".to_string(), String::new()),
    ])
}
