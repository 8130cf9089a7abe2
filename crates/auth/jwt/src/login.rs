//! `auth/<mount>/login` and token renewal.
//!
//! A login verifies the JWT (algorithm policy, signature against the cached keys with one
//! rate-limited refresh for unknown key IDs, then `exp`/`nbf`/`iat`), checks the bindings
//! (`bound_issuer`, `bound_subject`, `bound_audiences`, `bound_claims`) and answers the
//! identity: the `user_claim` value as alias and display name, `claim_mappings` and `role`
//! (and `groups`) as metadata, the role's token parameters.
//!
//! The login's `internal` data ([`LoginRecord`]) keeps the role name and exactly the claims
//! the bindings looked at. Renewal runs the same binding checks against those claims and the
//! role and config as they are now, so deleting a role or narrowing its bindings stops
//! existing tokens at their next renewal.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrethub_common::now_unix;
use secrethub_engine::{
    Alias, EngineError, JsonMap, LoginAuth, LoginRenewal, Request, Response, StorageView,
    TokenParams,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claims;
use crate::config::{self, ConfigRecord};
use crate::jws::{self, Jws};
use crate::keys::{KeyCache, KeySet, Verdict};
use crate::role::{self, RoleRecord};

const LOGIN_VERSION: u32 = 1;

/// What a login remembers for renewal (`LoginAuth::internal`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoginRecord {
    v: u32,
    role: String,
    iss: Option<String>,
    sub: Option<String>,
    aud: Vec<String>,
    /// The values of the role's `bound_claims` keys at login.
    bound: BTreeMap<String, Value>,
}

impl LoginRecord {
    fn capture(role_name: &str, role: &RoleRecord, claims: &JsonMap) -> Result<Self, String> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        Ok(LoginRecord {
            v: LOGIN_VERSION,
            role: role_name.to_string(),
            iss: text("iss"),
            sub: text("sub"),
            aud: claims::audiences(claims)?,
            bound: role
                .bound_claims
                .keys()
                .filter_map(|k| claims::lookup(claims, k).map(|v| (k.clone(), v.clone())))
                .collect(),
        })
    }

    /// Issuer, subject and audience against the config and role.
    fn check_token_bindings(&self, config: &ConfigRecord, role: &RoleRecord) -> Result<(), String> {
        if !config.bound_issuer.is_empty() && self.iss.as_deref() != Some(&config.bound_issuer) {
            return Err("invalid issuer (iss) claim".into());
        }
        if !role.bound_subject.is_empty() && self.sub.as_deref() != Some(&role.bound_subject) {
            return Err("invalid subject (sub) claim".into());
        }
        claims::check_audience(&role.bound_audiences, &self.aud)
    }

    fn check_bound_claims(&self, role: &RoleRecord) -> Result<(), String> {
        claims::check_bound_claims(&role.bound_claims, role.glob(), |k| self.bound.get(k))
    }
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg)
}

fn invalid_token(reason: impl std::fmt::Display) -> EngineError {
    bad(format!("error validating token: {reason}"))
}

/// Checks the signature, refreshing remote keys once when the token's key is unknown.
async fn verify_signature(
    jws: &Jws<'_>,
    config: &ConfigRecord,
    cache: &KeyCache,
) -> Result<(), EngineError> {
    let set: Arc<KeySet> = cache
        .keys(config)
        .await
        .map_err(|e| EngineError::Upstream {
            what: e.0.clone(),
            source: anyhow::Error::new(e),
        })?;
    let mut verdict = set.verify(jws);
    // A rotated key shows up as an unknown kid (or, for tokens without one, as no key
    // verifying); a known kid with a bad signature is a forgery and fetches nothing.
    if verdict == Verdict::UnknownKid || (verdict == Verdict::BadSignature && jws.kid.is_none()) {
        if let Some(newer) = cache.refresh(config, &set).await {
            verdict = newer.verify(jws);
        }
    }
    match verdict {
        Verdict::Verified => Ok(()),
        Verdict::UnknownKid => Err(invalid_token(
            "error verifying token signature: no known key matches the token's key ID (kid)",
        )),
        Verdict::BadSignature => Err(invalid_token(
            "error verifying token signature: no known key successfully validated the token \
             signature",
        )),
    }
}

/// The alias name: the `user_claim` value, a string (or a number, written as text).
fn user_name(role: &RoleRecord, claims: &JsonMap) -> Result<String, EngineError> {
    let raw = if role.user_claim_json_pointer {
        claims::lookup(claims, &role.user_claim)
    } else {
        claims.get(&role.user_claim).filter(|v| !v.is_null())
    };
    let claim = &role.user_claim;
    let name = match raw {
        None => return Err(bad(format!("claim {claim:?} not found in token"))),
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Number(_)) => claims::scalar_text(v).unwrap_or_default(),
        Some(_) => {
            return Err(bad(format!(
                "claim {claim:?} could not be converted to string"
            )))
        }
    };
    if name.is_empty() {
        return Err(bad(format!("claim {claim:?} is empty")));
    }
    Ok(name)
}

fn metadata(
    role_name: &str,
    role: &RoleRecord,
    claims: &JsonMap,
) -> Result<BTreeMap<String, String>, EngineError> {
    let mut out = claims::mapped_metadata(claims, &role.claim_mappings).map_err(bad)?;
    if !role.groups_claim.is_empty() {
        if let Some(v) = claims::lookup(claims, &role.groups_claim) {
            let groups = claims::texts(v).ok_or_else(|| {
                bad(format!(
                    "claim {:?} could not be converted to string list",
                    role.groups_claim
                ))
            })?;
            let groups: Vec<String> = groups.into_iter().filter(|g| !g.is_empty()).collect();
            if !groups.is_empty() {
                out.insert("groups".into(), groups.join(","));
            }
        }
    }
    out.insert("role".into(), role_name.to_string());
    Ok(out)
}

pub(crate) async fn login(req: &Request, cache: &KeyCache) -> Result<Response, EngineError> {
    let config = config::load(&req.storage)
        .await?
        .ok_or_else(|| bad("could not load configuration"))?;
    let role_name = req
        .str_field("role")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| config.default_role.clone());
    if role_name.is_empty() {
        return Err(bad("missing role"));
    }
    let role = role::load(&req.storage, &role_name)
        .await?
        .ok_or_else(|| bad(format!("role {role_name:?} could not be found")))?;
    if role.role_type != "jwt" {
        return Err(bad("role with oidc role_type is not allowed"));
    }
    let token = match req.body.get("jwt") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => return Err(bad("missing token")),
    };
    let result = admit(token, &role_name, &role, &config, cache).await;
    if let Err(e) = &result {
        tracing::debug!(role = %role_name, error = %e, "jwt login refused");
    }
    result.map(Response::login)
}

async fn admit(
    token: &str,
    role_name: &str,
    role: &RoleRecord,
    config: &ConfigRecord,
    cache: &KeyCache,
) -> Result<LoginAuth, EngineError> {
    let jws = jws::parse(token, &config.algorithms()).map_err(invalid_token)?;
    verify_signature(&jws, config, cache).await?;
    let claims = &jws.claims;
    jws::check_times(claims, now_unix(), role.leeways()).map_err(invalid_token)?;
    let record = LoginRecord::capture(role_name, role, claims).map_err(invalid_token)?;
    record
        .check_token_bindings(config, role)
        .map_err(invalid_token)?;
    let name = user_name(role, claims)?;
    let metadata = metadata(role_name, role, claims)?;
    record
        .check_bound_claims(role)
        .map_err(|e| bad(format!("error validating claims: {e}")))?;
    let internal =
        serde_json::to_value(&record).map_err(|e| EngineError::Internal(anyhow::Error::new(e)))?;
    Ok(LoginAuth {
        display_name: name.clone(),
        alias: Alias {
            name,
            metadata: metadata.clone(),
        },
        metadata,
        token: role.token.clone(),
        internal,
    })
}

pub(crate) async fn renew(
    login: &LoginRenewal,
    storage: &StorageView,
) -> Result<TokenParams, EngineError> {
    let record: LoginRecord = serde_json::from_value(login.internal.clone())
        .map_err(|_| bad("the login data of this token is unreadable, not renewing"))?;
    let name = &record.role;
    let role = role::load(storage, name)
        .await?
        .ok_or_else(|| bad(format!("role {name:?} no longer exists, not renewing")))?;
    let config = config::load(storage)
        .await?
        .ok_or_else(|| bad("could not load configuration, not renewing"))?;
    record
        .check_token_bindings(&config, &role)
        .and_then(|()| record.check_bound_claims(&role))
        .map_err(|e| bad(format!("role {name:?} no longer admits this login: {e}")))?;
    Ok(role.token)
}
