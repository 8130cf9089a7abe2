//! What an auth method hands to core. A login endpoint answers a [`Response`] whose `auth`
//! is a [`LoginAuth`]: who the caller proved to be (an [`Alias`]), what their token may do
//! ([`TokenParams`]) and the method's own data for re-checking the login when the token is
//! renewed ([`crate::Engine::renew_login`]). Core mints the token, registers its lease,
//! records the entity alias and audits the login; auth methods never see tokens.
//!
//! [`Response`]: crate::Response

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use secrethub_common::{input, parse_cidrs, Cidr, JsonMap};
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

/// The request fields [`TokenParams::update_from`] understands: Vault's `token_*` names,
/// then the older names some methods still accept, each with the field it stands for.
pub const TOKEN_FIELDS: &[&str] = &[
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "token_period",
    "token_explicit_max_ttl",
    "token_num_uses",
    "token_bound_cidrs",
    "token_type",
    "token_no_default_policy",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "num_uses",
    "bound_cidrs",
];

/// Vault's older names and the `token_*` field each stands for; the `token_*` field wins when
/// both are given.
const LEGACY_TOKEN_FIELDS: &[(&str, &str)] = &[
    ("policies", "token_policies"),
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("period", "token_period"),
    ("num_uses", "token_num_uses"),
    ("bound_cidrs", "token_bound_cidrs"),
];

fn field_err(field: &str, msg: impl std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("invalid {field}: {msg}"))
}

fn seconds(body: &JsonMap, field: &str) -> Result<Option<u64>, EngineError> {
    Ok(input::duration_field(body, field)?.map(|d| d.as_secs()))
}

fn list(body: &JsonMap, field: &str) -> Result<Option<Vec<String>>, EngineError> {
    input::given(body, field)
        .map(|v| input::string_list_of(v).map_err(|e| e.at(field).into()))
        .transpose()
}

impl TokenParams {
    /// Applies the token fields given in `body` (`null` is not given; Vault's older names
    /// `policies`, `ttl`, `max_ttl`, `period`, `num_uses` and `bound_cidrs` stand for their
    /// `token_*` fields), leaving the others as they are. Validates as it goes, so a bad field
    /// is a 400 naming it and nothing is applied.
    pub fn update_from(&mut self, body: &JsonMap) -> Result<(), EngineError> {
        let mut given = body.clone();
        for (old, new) in LEGACY_TOKEN_FIELDS {
            if input::given(body, new).is_none() {
                if let Some(v) = input::given(body, old) {
                    given.insert((*new).to_string(), v.clone());
                }
            }
        }
        let body = &given;
        let mut next = self.clone();
        // Kept as given, as Vault shows them back; core normalises them on login.
        if let Some(p) = list(body, "token_policies")? {
            next.token_policies = p;
        }
        if let Some(s) = seconds(body, "token_ttl")? {
            next.token_ttl = s;
        }
        if let Some(s) = seconds(body, "token_max_ttl")? {
            next.token_max_ttl = s;
        }
        if let Some(s) = seconds(body, "token_period")? {
            next.token_period = s;
        }
        if let Some(s) = seconds(body, "token_explicit_max_ttl")? {
            next.token_explicit_max_ttl = s;
        }
        if let Some(n) = input::field::<u64>(body, "token_num_uses")? {
            next.token_num_uses = n;
        }
        if let Some(blocks) = list(body, "token_bound_cidrs")? {
            // Stored as OpenBao shows them back: `127.0.0.1/32` is `127.0.0.1`.
            next.token_bound_cidrs = parse_cidrs(&blocks)
                .map_err(|e| field_err("token_bound_cidrs", e))?
                .iter()
                .map(Cidr::canonical)
                .collect();
        }
        if let Some(t) = input::field::<String>(body, "token_type")? {
            if !matches!(
                t.as_str(),
                "" | "default" | "service" | "batch" | "default-service" | "default-batch"
            ) {
                return Err(field_err(
                    "token_type",
                    format!("{t:?} (expected service, batch or default)"),
                ));
            }
            next.token_type = t;
        }
        if let Some(b) = input::field::<bool>(body, "token_no_default_policy")? {
            next.token_no_default_policy = b;
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
                    // Records written before blocks were stored in canonical form.
                    ("token_bound_cidrs", _) => self.shown_bound_cidrs().into(),
                    (_, v) => v,
                };
                out.insert(k, v);
            }
        }
    }

    /// Notes in `in_use` which of Vault's older names (`policies`, `ttl`, `max_ttl`, `period`,
    /// `num_uses`, `bound_cidrs`) `body` writes, and forgets those whose `token_*` field it
    /// writes without them: OpenBao shows an older name back only while a role was last
    /// written through it ([`TokenParams::write_legacy_to`]).
    pub fn note_legacy_names(body: &JsonMap, in_use: &mut BTreeSet<String>) {
        for (old, new) in LEGACY_TOKEN_FIELDS {
            if input::given(body, old).is_some() {
                in_use.insert((*old).to_string());
            } else if input::given(body, new).is_some() {
                in_use.remove(*old);
            }
        }
    }

    /// Writes the older names in `in_use` next to their `token_*` fields (already in `out`,
    /// from [`TokenParams::write_to`]) with the same values, leaving out empty lists and zeros
    /// as OpenBao does.
    pub fn write_legacy_to(in_use: &BTreeSet<String>, out: &mut JsonMap) {
        for (old, new) in LEGACY_TOKEN_FIELDS {
            if !in_use.contains(*old) {
                continue;
            }
            let set = match out.get(*new) {
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Number(n)) => n.as_u64() != Some(0),
                _ => false,
            };
            if set {
                let v = out[*new].clone();
                out.insert((*old).to_string(), v);
            }
        }
    }

    /// `token_bound_cidrs` as OpenBao shows them: `127.0.0.1/32` as `127.0.0.1` (stored so
    /// since; this covers records written before).
    pub fn shown_bound_cidrs(&self) -> Vec<String> {
        self.bound_cidrs().iter().map(Cidr::canonical).collect()
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
    Ok(input::duration_of(v).map_err(|e| e.at(field))?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn older_names_stand_for_token_fields_and_null_is_not_given() {
        let mut p = TokenParams::default();
        p.update_from(&body(json!({
            "ttl": "1h", "max_ttl": 7200, "token_num_uses": 3, "num_uses": 9,
            "policies": "b, A", "period": null, "token_type": null
        })))
        .unwrap();
        assert_eq!(p.token_ttl, 3600);
        assert_eq!(p.token_max_ttl, 7200);
        assert_eq!(
            p.token_num_uses, 3,
            "the token_* field wins over its older name"
        );
        assert_eq!(
            p.token_policies,
            ["b", "A"],
            "as given: core normalises at login"
        );
        assert_eq!(p.token_period, 0);
        assert_eq!(p.token_type, "");
        // A null token_* field does not hide its older name.
        p.update_from(&body(json!({"token_ttl": null, "ttl": "30m"})))
            .unwrap();
        assert_eq!(p.token_ttl, 1800);
        let err = p
            .update_from(&body(json!({"token_ttl": "soon", "token_max_ttl": 5})))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid token_ttl: invalid duration \"soon\""
        );
        assert_eq!(p.token_ttl, 1800, "nothing applied after an error");
    }
}
