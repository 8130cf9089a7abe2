//! What an auth method hands to core. A login endpoint answers a [`Response`] whose `auth`
//! is a [`LoginAuth`]: who the caller proved to be (an [`Alias`]), what their token may do
//! ([`TokenParams`]) and the method's own data for re-checking the login when the token is
//! renewed ([`crate::Engine::renew_login`]). Core mints the token, registers its lease,
//! records the entity alias and audits the login; auth methods never see tokens.
//!
//! [`Response`]: crate::Response

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use secrethub_common::{parse_cidrs, parse_duration, serde_helpers, Cidr, JsonMap};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EngineError;

/// The token options every auth method role carries, with Vault's names (`tokenutil`).
/// Durations are whole seconds; zero means "not set" (the mount or system default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenParams {
    /// Policies of the token (core adds `default` unless `token_no_default_policy`).
    pub token_policies: Vec<String>,
    /// Initial TTL, seconds.
    pub token_ttl: u64,
    /// Max TTL over all renewals, seconds.
    pub token_max_ttl: u64,
    /// Periodic tokens renew to this TTL each time, without a max, seconds.
    pub token_period: u64,
    /// Hard cap from creation that even periodic tokens obey, seconds.
    pub token_explicit_max_ttl: u64,
    /// Uses before the token is revoked; 0 = unlimited.
    pub token_num_uses: u64,
    /// Addresses the token may be used from (empty = anywhere).
    pub token_bound_cidrs: Vec<String>,
    /// `service`, `batch` or `default` (= service); batch tokens are not renewable.
    pub token_type: String,
    /// Leave `default` out of the token's policies.
    pub token_no_default_policy: bool,
}

/// The request fields [`TokenParams::update_from`] understands.
pub const TOKEN_FIELDS: &[&str] = &[
    "token_policies",
    "policies",
    "token_ttl",
    "token_max_ttl",
    "token_period",
    "period",
    "token_explicit_max_ttl",
    "token_num_uses",
    "token_bound_cidrs",
    "bound_cidrs",
    "token_type",
    "token_no_default_policy",
];

fn field_err(field: &str, msg: impl std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("invalid {field}: {msg}"))
}

fn seconds(field: &str, v: &Value) -> Result<u64, EngineError> {
    let d = serde_helpers::duration(v.clone()).map_err(|e| field_err(field, e))?;
    Ok(d.as_secs())
}

fn list(field: &str, v: &Value) -> Result<Vec<String>, EngineError> {
    serde_helpers::string_list(v.clone()).map_err(|e| field_err(field, e))
}

impl TokenParams {
    /// Applies the `token_*` fields present in `body` (and Vault's older aliases `policies`,
    /// `period` and `bound_cidrs`), leaving the others as they are. Validates as it goes, so a
    /// bad field is a 400 naming it and nothing is applied.
    pub fn update_from(&mut self, body: &JsonMap) -> Result<(), EngineError> {
        let mut next = self.clone();
        for (key, v) in body {
            match key.as_str() {
                "token_policies" | "policies" => {
                    next.token_policies = normalize_policies(list(key, v)?);
                }
                "token_ttl" => next.token_ttl = seconds(key, v)?,
                "token_max_ttl" => next.token_max_ttl = seconds(key, v)?,
                "token_period" | "period" => next.token_period = seconds(key, v)?,
                "token_explicit_max_ttl" => next.token_explicit_max_ttl = seconds(key, v)?,
                "token_num_uses" => {
                    next.token_num_uses =
                        serde_helpers::uint(v.clone()).map_err(|e| field_err(key, e))?;
                }
                "token_bound_cidrs" | "bound_cidrs" => {
                    let blocks = list(key, v)?;
                    parse_cidrs(&blocks).map_err(|e| field_err(key, e))?;
                    next.token_bound_cidrs = blocks;
                }
                "token_type" => {
                    let t = v.as_str().unwrap_or_default().to_string();
                    if !matches!(
                        t.as_str(),
                        "" | "default" | "service" | "batch" | "default-service" | "default-batch"
                    ) {
                        return Err(field_err(
                            key,
                            format!("{t:?} (expected service, batch or default)"),
                        ));
                    }
                    next.token_type = t;
                }
                "token_no_default_policy" => {
                    next.token_no_default_policy =
                        serde_helpers::boolean(v.clone()).map_err(|e| field_err(key, e))?;
                }
                _ => {}
            }
        }
        if next.token_max_ttl != 0 && next.token_ttl > next.token_max_ttl {
            return Err(EngineError::bad_request(
                "token_ttl cannot be greater than token_max_ttl",
            ));
        }
        if next.is_batch() && (next.token_period != 0 || next.token_num_uses != 0) {
            return Err(EngineError::bad_request(
                "batch tokens cannot be periodic or have a use limit (token_period, token_num_uses)",
            ));
        }
        *self = next;
        Ok(())
    }

    /// Whether logins get batch tokens (`batch`, or `default-batch` as Vault's mounts name it).
    pub fn is_batch(&self) -> bool {
        matches!(self.token_type.as_str(), "batch" | "default-batch")
    }

    /// Writes the fields in Vault's read shape (durations as seconds).
    pub fn write_to(&self, out: &mut JsonMap) {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = v {
            for (k, v) in m {
                let v = match (k.as_str(), v) {
                    ("token_type", Value::String(s)) if s.is_empty() => "default".into(),
                    (_, v) => v,
                };
                out.insert(k, v);
            }
        }
    }

    /// The parsed `token_bound_cidrs` (validated on update, so stored values parse).
    pub fn bound_cidrs(&self) -> Vec<Cidr> {
        parse_cidrs(&self.token_bound_cidrs).unwrap_or_default()
    }

    /// `token_ttl` as a duration.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl)
    }
}

/// Sorts, deduplicates and lowercases policy names as Vault does.
pub fn normalize_policies(mut policies: Vec<String>) -> Vec<String> {
    for p in &mut policies {
        *p = p.trim().to_lowercase();
    }
    policies.retain(|p| !p.is_empty());
    policies.sort();
    policies.dedup();
    policies
}

/// Parses a duration field of an auth method's own (e.g. `secret_id_ttl`), naming it on error.
pub fn duration_field(field: &str, v: &Value) -> Result<Duration, EngineError> {
    match v {
        Value::String(s) => parse_duration(s).map_err(|e| field_err(field, e)),
        other => serde_helpers::duration(other.clone()).map_err(|e| field_err(field, e)),
    }
}

/// The name an auth method knows the caller by (a username, a role ID, a `sub` claim, a
/// service account UID, an IAM ARN). Core maps (mount, alias name) to one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias name, unique within the mount.
    pub name: String,
    /// Facts about the alias shown in identity lookups (e.g. `service_account_namespace`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A successful login, as an auth method reports it.
#[derive(Debug, Clone, Default)]
pub struct LoginAuth {
    /// Shown as the token's display name, prefixed by core with the mount path
    /// (`userpass-alice`).
    pub display_name: String,
    /// Who the caller is.
    pub alias: Alias,
    /// Token metadata (`role_name`, mapped claims, ...); also in the audit log.
    pub metadata: BTreeMap<String, String>,
    /// The token to mint.
    pub token: TokenParams,
    /// The method's own data, given back to [`crate::Engine::renew_login`] (role name,
    /// bound values at login time). Never shown to clients.
    pub internal: Value,
}

/// A login being re-checked because its token is renewed.
#[derive(Debug, Clone)]
pub struct LoginRenewal {
    /// What [`LoginAuth::internal`] held.
    pub internal: Value,
    /// The alias the login created.
    pub alias: Alias,
    /// The token's metadata.
    pub metadata: BTreeMap<String, String>,
    /// The token's policies as minted (without `default` when core added it).
    pub token_policies: Vec<String>,
    /// Where the renewal request came from.
    pub remote_addr: Option<IpAddr>,
}
