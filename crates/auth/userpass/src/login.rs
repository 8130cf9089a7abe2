//! `login/:name` and the re-check on token renewal.

use std::collections::BTreeMap;

use secrethub_common::cidrs_allow;
use secrethub_engine::{
    Alias, EngineError, LoginAuth, LoginRenewal, Request, Response, StorageView, TokenParams,
};
use serde::{Deserialize, Serialize};

use crate::users::{load, password_field, valid_username};
use crate::Userpass;

/// What a login remembers for renewal.
#[derive(Serialize, Deserialize)]
struct LoginInternal {
    username: String,
}

/// The one answer for an unknown user and a wrong password.
fn invalid() -> EngineError {
    EngineError::bad_request("invalid username or password")
}

impl Userpass {
    pub(crate) async fn login(&self, req: &Request, raw: &str) -> Result<Response, EngineError> {
        let password = password_field(&req.body)?
            .ok_or_else(|| EngineError::bad_request("missing password"))?;
        let name = raw.to_lowercase();
        // A name that can't exist is an unknown user: same verification, same answer.
        let user = if valid_username(&name) {
            load(&req.storage, &name).await?
        } else {
            None
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let matched = self.passwords.verify(password, stored).await?;
        let user = match user {
            Some(u) if matched => u,
            _ => return Err(invalid()),
        };
        if !cidrs_allow(&user.token.bound_cidrs(), req.caller.remote_addr) {
            return Err(EngineError::PermissionDenied);
        }
        let internal = serde_json::to_value(LoginInternal {
            username: name.clone(),
        })
        .map_err(|e| EngineError::Internal(e.into()))?;
        Ok(Response::login(LoginAuth {
            display_name: name.clone(),
            alias: Alias {
                name: name.clone(),
                metadata: BTreeMap::new(),
            },
            metadata: BTreeMap::from([("username".to_string(), name)]),
            token: user.token,
            internal,
        }))
    }

    pub(crate) async fn renew(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        let internal: LoginInternal = serde_json::from_value(login.internal.clone())
            .map_err(|_| EngineError::bad_request("invalid userpass login data"))?;
        let not_found = || {
            EngineError::bad_request(format!(
                "user {:?} no longer exists, not renewing",
                internal.username
            ))
        };
        if !valid_username(&internal.username) {
            return Err(not_found());
        }
        let user = load(storage, &internal.username)
            .await?
            .ok_or_else(not_found)?;
        Ok(user.token)
    }
}
