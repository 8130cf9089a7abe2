//! Token creation: `auth/token/create`, `auth/token/create-orphan` and, against a token role,
//! `auth/token/create/:role_name`. The rules and refusal messages are OpenBao's: a child's
//! policies are a subset of its parent's unless the caller has sudo on the path or a role
//! allows others; chosen IDs need a root parent; orphans and periodic tokens need sudo unless
//! a role grants them. A role (see `token_roles.rs`) also decides the token type, caps the
//! period, explicit max TTL and uses at its own values (the lesser wins, with a warning),
//! binds the token to its CIDRs, may refuse renewal, and adds its name and `path_suffix` to
//! the token's path.

use std::collections::BTreeMap;
use std::time::Duration;

use secrethub_common::serde_helpers as sh;
use secrethub_common::{format_duration, now_unix, JsonMap};
use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::identity::AliasMount;
use crate::pipeline::Ctx;
use crate::request::CoreResponse;
use crate::sys::parse;
use crate::token_api::auth_block;
use crate::token_roles::TokenRoleRecord;
use crate::tokens::TokenRecord;

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateInput {
    id: Option<String>,
    #[serde(deserialize_with = "sh::opt_string_list")]
    policies: Option<Vec<String>>,
    meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "sh::boolean")]
    no_parent: bool,
    #[serde(deserialize_with = "sh::boolean")]
    no_default_policy: bool,
    #[serde(deserialize_with = "sh::opt_boolean")]
    renewable: Option<bool>,
    #[serde(deserialize_with = "sh::duration")]
    ttl: Duration,
    #[serde(deserialize_with = "sh::duration")]
    explicit_max_ttl: Duration,
    display_name: String,
    #[serde(deserialize_with = "sh::uint")]
    num_uses: u64,
    #[serde(deserialize_with = "sh::duration")]
    period: Duration,
    #[serde(rename = "type")]
    token_type: Option<String>,
    // Accepted for compatibility with clients that send it.
    lease: Option<String>,
    entity_alias: Option<String>,
}

fn sanitize_display_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "token".into()
    } else {
        format!("token-{cleaned}")
    }
}

/// The lesser of a request's and a role's value (0 = not set), with OpenBao's warning when
/// both were set.
fn lesser(requested: u64, role: u64, what: &str, warnings: &mut Vec<String>) -> u64 {
    match (requested, role) {
        (r, 0) => r,
        (0, x) => x,
        (r, x) => {
            let v = r.min(x);
            warnings.push(format!(
                "{what} specified both during creation call and in role; using the lesser value of {v} seconds"
            ));
            v
        }
    }
}

/// Creates a token for the caller (`orphan_path`: `create-orphan`), against `role` if given.
pub(crate) async fn create(
    ctx: &Ctx<'_>,
    orphan_path: bool,
    role: Option<TokenRoleRecord>,
) -> CoreResult<CoreResponse> {
    let parent = ctx.caller()?.clone();
    if parent.is_batch() {
        return Err(CoreError::bad_request("batch tokens cannot create tokens"));
    }
    // A child would escape its parent's use limit, so OpenBao refuses (a parent on its last
    // use says "parent token lookup failed: no parent found" there; the refusal is the same).
    if parent.num_uses > 0 {
        return Err(CoreError::bad_request(
            "restricted use token cannot generate child tokens",
        ));
    }
    let input: CreateInput = parse(&ctx.body)?;
    let parent_is_root = parent.is_root();
    // Sudo on the path itself, as OpenBao checks it (`auth/token/create/<role>` for roles).
    let path_sudo = ctx
        .acl
        .check(
            &format!("auth/token/{}", ctx.rel),
            secrethub_policy::Capability::Sudo,
            &JsonMap::new(),
        )
        .allowed;
    let privileged = parent_is_root || path_sudo;

    if input.id.is_some() && !parent_is_root {
        return Err(CoreError::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    // A role decides orphans itself; `no_parent` is ignored then, as in OpenBao.
    if role.is_none() && input.no_parent && !privileged {
        return Err(CoreError::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    let requested_type = input.token_type.clone().unwrap_or_default();
    let token_type = match &role {
        Some(r) => r.token_type.resolve(&requested_type),
        None => requested_type,
    };
    let batch = match token_type.as_str() {
        "" | "service" | "default" => false,
        "batch" => true,
        t => {
            return Err(CoreError::bad_request(format!(
                "unsupported token type {t:?}; expected service or batch"
            )))
        }
    };
    if batch {
        let set = if !input.explicit_max_ttl.is_zero() {
            Some("explicit_max_ttl")
        } else if input.num_uses != 0 {
            Some("num_uses")
        } else if !input.period.is_zero() {
            Some("period")
        } else {
            None
        };
        if let Some(field) = set {
            return Err(CoreError::bad_request(format!(
                "batch tokens cannot have {field:?} set"
            )));
        }
        if input.id.is_some() {
            return Err(CoreError::bad_request(
                "a batch token cannot have a chosen id",
            ));
        }
    }
    let _ = &input.lease;
    let entity_alias = input.entity_alias.clone().filter(|a| !a.is_empty());
    if let Some(alias) = &entity_alias {
        let Some(r) = &role else {
            return Err(CoreError::bad_request(
                "'entity_alias' is only allowed in combination with token role",
            ));
        };
        if !r.allows_entity_alias(&alias.to_lowercase()) {
            return Err(CoreError::bad_request("invalid 'entity_alias' value"));
        }
    }

    let requested = input.policies.clone().unwrap_or_default();
    let role_policies = match &role {
        Some(r) => r.token_policies(&requested, &parent.policies, input.no_default_policy)?,
        None => None,
    };
    let mut policies = match role_policies {
        Some(mut p) => {
            if input.no_default_policy {
                p.retain(|x| x != "default");
            }
            p
        }
        None => plain_policies(&parent, requested, input.no_default_policy, path_sudo)?,
    };
    policies.sort();
    policies.dedup();
    if policies.iter().any(|p| p == "root") && !parent_is_root {
        return Err(CoreError::bad_request(
            "root tokens may not be created without parent token being root",
        ));
    }

    let mut warnings = Vec::new();
    if !input.period.is_zero() && !privileged {
        return Err(CoreError::bad_request(
            "root or sudo privileges required to create periodic token",
        ));
    }
    let mut explicit_max = input.explicit_max_ttl;
    let mut period = input.period;
    let mut num_uses = input.num_uses;
    if let Some(r) = role.as_ref().filter(|_| !batch) {
        explicit_max = Duration::from_secs(lesser(
            explicit_max.as_secs(),
            r.token_explicit_max_ttl,
            "Explicit max TTL",
            &mut warnings,
        ));
        period = Duration::from_secs(lesser(
            period.as_secs(),
            r.token_period,
            "Period",
            &mut warnings,
        ));
    }
    if let Some(r) = &role {
        num_uses = match (num_uses, r.token_num_uses) {
            (n, 0) => n,
            (0, x) => x,
            (n, x) => n.min(x),
        };
    }

    let sys_max = ctx.core.config.max_lease_ttl;
    let sys_default = ctx.core.config.default_lease_ttl;
    let mut ttl = if !period.is_zero() {
        period
    } else if !input.ttl.is_zero() {
        input.ttl
    } else if policies.iter().any(|p| p == "root") {
        Duration::ZERO
    } else {
        sys_default
    };
    if !explicit_max.is_zero() && (ttl.is_zero() || ttl > explicit_max) {
        ttl = explicit_max;
    }
    if period.is_zero() && !ttl.is_zero() && ttl > sys_max {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(sys_max)
        ));
        ttl = sys_max;
    }
    let orphan = match &role {
        Some(r) => r.orphan,
        None => orphan_path || input.no_parent,
    };
    let mut path = format!("auth/token/{}", ctx.rel);
    if let Some(suffix) = role
        .as_ref()
        .map(|r| &r.path_suffix)
        .filter(|s| !s.is_empty())
    {
        path = format!("{path}/{suffix}");
    }
    // Non-expiring tokens are neither renewable nor bound to addresses, as in OpenBao.
    let bound_cidrs = match &role {
        Some(r) if !ttl.is_zero() => r.token_bound_cidrs.clone(),
        _ => Vec::new(),
    };
    let renewable = input.renewable.unwrap_or(true)
        && role.as_ref().is_none_or(|r| r.renewable)
        && !ttl.is_zero();

    let entity_id = match &entity_alias {
        Some(alias) => alias_entity(ctx, alias).await?,
        None => String::new(),
    };
    let now = now_unix();
    let mut rec = TokenRecord {
        version: 1,
        hash: String::new(),
        accessor: String::new(),
        parent: (!orphan).then(|| parent.hash.clone()),
        policies,
        meta: input.meta,
        display_name: sanitize_display_name(&input.display_name),
        num_uses,
        creation_time: now,
        creation_ttl: ttl.as_secs(),
        expire_time: if ttl.is_zero() {
            0
        } else {
            now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
        },
        // The request's own terms, as OpenBao shows them; a role token renews with its
        // role's (see `token_roles::renewal_terms`).
        explicit_max_ttl: input.explicit_max_ttl.as_secs(),
        period: input.period.as_secs(),
        renewable,
        path,
        entity_id,
        token_type: "service".into(),
        wrap_creation_path: String::new(),
        max_ttl: 0,
        bound_cidrs,
        login: None,
        role: role.map(|r| r.name).unwrap_or_default(),
    };
    let token = if batch {
        ctx.u.tokens.create_batch(&mut rec).await?
    } else {
        ctx.u.tokens.create(&mut rec, input.id.as_deref()).await?
    };
    Ok(CoreResponse {
        auth: Some(auth_block(&rec, token.expose().clone(), now)),
        warnings,
        ..Default::default()
    })
}

/// A child's policies without a restricting role: the requested ones (a subset of the
/// parent's unless the caller has root or sudo) or else the parent's, plus `default` unless
/// left out.
fn plain_policies(
    parent: &TokenRecord,
    requested: Vec<String>,
    no_default_policy: bool,
    path_sudo: bool,
) -> CoreResult<Vec<String>> {
    let mut policies: Vec<String> = if requested.is_empty() {
        parent
            .policies
            .iter()
            .filter(|p| *p != "default")
            .cloned()
            .collect()
    } else {
        requested.iter().map(|s| s.trim().to_lowercase()).collect()
    };
    if !parent.is_root()
        && !path_sudo
        && policies
            .iter()
            .any(|p| p != "default" && !parent.policies.contains(p))
    {
        return Err(CoreError::bad_request(
            "child policies must be subset of parent",
        ));
    }
    if !no_default_policy && !policies.iter().any(|p| p == "root") {
        policies.push("default".into());
    }
    Ok(policies)
}

/// The entity of an `entity_alias` on the token auth mount, created on first use.
async fn alias_entity(ctx: &Ctx<'_>, alias: &str) -> CoreResult<String> {
    let router = ctx.u.router();
    let (mounted, _) = router
        .route("auth/token/")
        .ok_or_else(|| CoreError::bad_request("auth token mount accessor not found"))?;
    let (entity, changed) = ctx
        .u
        .identity
        .login(
            &AliasMount {
                accessor: &mounted.entry.accessor,
                path: &mounted.entry.api_path(),
                engine_type: &mounted.entry.engine_type,
            },
            &secrethub_engine::Alias {
                name: alias.to_string(),
                metadata: BTreeMap::new(),
            },
        )
        .await?;
    if changed {
        ctx.u.policies.forget_entity(&entity.id);
    }
    Ok(entity.id)
}
