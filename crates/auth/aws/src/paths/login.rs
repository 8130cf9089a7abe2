//! `login` (iam type) and the re-check when its token is renewed.
//!
//! Order of work: decode and check the signed request (cheap, no IO), load the config and the
//! named role, forward to STS, then match the caller's canonical ARN against the role's
//! `bound_iam_principal_arn`. Without `role` in the body, the role is the caller's user or
//! role name, lower-cased, as in Vault.

use std::collections::BTreeMap;
use std::time::SystemTime;

use secrethub_engine::{
    Alias, EngineError, LoginAuth, LoginRenewal, Request, Response, StorageView, TokenParams,
};
use serde::{Deserialize, Serialize};

use crate::arn::Principal;
use crate::iam_request::IamRequest;
use crate::records::{
    load_client_config, load_identity_config, load_role, RoleRecord, DEFAULT_STS_ENDPOINT,
};
use crate::sts::{self, Forward};
use crate::AwsAuth;

/// What a login remembers for renewal (`LoginAuth::internal`).
#[derive(Debug, Serialize, Deserialize)]
struct LoginInternal {
    v: u32,
    role: String,
    role_id: String,
    canonical_arn: String,
    client_arn: String,
    client_user_id: String,
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg.into())
}

/// The role named in a login body, lower-cased; `None` when absent or empty.
pub(crate) fn role_field(req: &Request) -> Option<String> {
    req.str_field("role")
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty())
}

async fn required_role(storage: &StorageView, name: &str) -> Result<RoleRecord, EngineError> {
    load_role(storage, name)
        .await?
        .ok_or_else(|| bad(format!("entry for role {name:?} not found")))
}

impl AwsAuth {
    pub(crate) async fn login(&self, req: &Request) -> Result<Response, EngineError> {
        let iam = IamRequest::decode(&req.body)?;
        let config = load_client_config(&req.storage).await?;
        let auth = iam.check(&config, SystemTime::now())?;

        let named = role_field(req);
        let role = match &named {
            Some(name) => Some(required_role(&req.storage, name).await?),
            None => None,
        };

        let endpoint = if config.use_sts_region_from_client {
            if !sts::valid_region(&auth.region) {
                return Err(bad(format!(
                    "the request is signed for region {:?}, which is not a region name",
                    auth.region
                )));
            }
            sts::regional_endpoint(&auth.region)
        } else if config.sts_endpoint.is_empty() {
            DEFAULT_STS_ENDPOINT.to_string()
        } else {
            config.sts_endpoint.clone()
        };
        let host = iam.host()?;
        let headers = iam.forwarded_headers(&auth, &config);
        let caller = sts::get_caller_identity(
            &self.http,
            &Forward {
                endpoint: &endpoint,
                host: &host,
                headers: &headers,
                body: iam.body(),
                retries: config.retries(),
            },
        )
        .await?;

        let principal = Principal::parse(&caller.arn)?;
        let (role_name, role) = match (named, role) {
            (Some(name), Some(role)) => (name, role),
            _ => {
                let inferred = principal.friendly_name.to_lowercase();
                let role = required_role(&req.storage, &inferred).await?;
                (inferred, role)
            }
        };
        if !principal.matches_any(&role.bound_iam_principal_arn) {
            return Err(EngineError::Denied(format!(
                "IAM principal {:?} is not bound to role {role_name:?}",
                caller.arn
            )));
        }

        let canonical = principal.canonical_arn();
        // For an assumed role, UserId is "<role id>:<session>"; the role ID is the principal.
        let client_user_id = caller
            .user_id
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let facts: BTreeMap<String, String> = [
            ("account_id", caller.account.clone()),
            ("auth_type", "iam".to_string()),
            ("canonical_arn", canonical.clone()),
            ("client_arn", caller.arn.clone()),
            ("client_user_id", client_user_id.clone()),
            ("inferred_aws_region", String::new()),
            ("inferred_entity_id", String::new()),
            ("inferred_entity_type", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let identity = load_identity_config(&req.storage).await?;
        let alias_name = match identity.iam_alias.as_str() {
            "unique_id" => client_user_id.clone(),
            "full_arn" => caller.arn.clone(),
            "canonical_arn" => canonical.clone(),
            _ => role.role_id.clone(),
        };
        let alias_metadata = facts
            .iter()
            .filter(|(k, _)| identity.iam_metadata.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut metadata = facts;
        metadata.insert("role".into(), role_name.clone());
        metadata.insert("role_id".into(), role.role_id.clone());

        let internal = LoginInternal {
            v: 1,
            role: role_name,
            role_id: role.role_id.clone(),
            canonical_arn: canonical,
            client_arn: caller.arn,
            client_user_id,
        };
        let internal = serde_json::to_value(&internal)
            .map_err(|e| EngineError::Internal(anyhow::Error::new(e)))?;
        Ok(Response::login(LoginAuth {
            display_name: principal.friendly_name,
            alias: Alias {
                name: alias_name,
                metadata: alias_metadata,
            },
            metadata,
            token: role.token,
            internal,
        }))
    }
}

/// Re-checks a login on renewal: the role still exists (the same role, not one re-created
/// under its name) and still binds the caller's ARN.
pub(crate) async fn renew(
    login: &LoginRenewal,
    storage: &StorageView,
) -> Result<TokenParams, EngineError> {
    let internal: LoginInternal = serde_json::from_value(login.internal.clone()).map_err(|e| {
        EngineError::Internal(anyhow::Error::new(e).context("aws login data is unreadable"))
    })?;
    let role = load_role(storage, &internal.role)
        .await?
        .ok_or_else(|| EngineError::Denied(format!("role {:?} no longer exists", internal.role)))?;
    if role.role_id != internal.role_id {
        return Err(EngineError::Denied(format!(
            "role {:?} was deleted and re-created since this login",
            internal.role
        )));
    }
    let principal = Principal::parse(&internal.client_arn)?;
    if !principal.matches_any(&role.bound_iam_principal_arn) {
        return Err(EngineError::Denied(format!(
            "IAM principal {:?} is no longer bound to role {:?}",
            internal.client_arn, internal.role
        )));
    }
    Ok(role.token)
}
