//! `auth/token/`: create, lookup, renew and revoke tokens, by token, by accessor or self.
//! Parameter names, response shapes and the answers about tokens that do not exist follow
//! OpenBao's token auth method API (each path words that differently: `lookup` 403 "bad
//! token", `renew` 400 "token not found", `revoke` 204, `revoke-accessor` 200 with a warning).

use std::collections::BTreeMap;
use std::time::Duration;

use secrethub_common::serde_helpers as sh;
use secrethub_common::{format_duration, format_rfc3339, now_unix, JsonMap};
use secrethub_engine::Operation;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{go_multierror, CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::{AuthBlock, CoreResponse};
use crate::sys::parse;
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
    // Accepted for compatibility with clients that send them.
    lease: Option<String>,
    entity_alias: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TargetInput {
    token: Option<String>,
    accessor: Option<String>,
    #[serde(deserialize_with = "sh::duration")]
    increment: Duration,
}

pub(crate) async fn handle(ctx: &Ctx<'_>) -> CoreResult<CoreResponse> {
    let rel = ctx.rel.as_str();
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    match rel {
        "create" | "create-orphan" if write => create(ctx, rel == "create-orphan").await,
        "lookup-self" if matches!(ctx.op, Operation::Read) || write => {
            let rec = ctx.caller()?.clone();
            Ok(CoreResponse::data(lookup_data(
                &rec,
                ctx.token_id.as_deref(),
            )))
        }
        "lookup" if write => {
            // Without a token in the body Vault looks up the caller's own.
            let token = match body_token(ctx)? {
                Some(t) => t,
                None => ctx.token_id.clone().ok_or(CoreError::PermissionDenied)?,
            };
            let rec = ctx
                .u
                .lookup_token(&token)
                .await?
                .ok_or_else(|| CoreError::Forbidden("bad token".into()))?;
            Ok(CoreResponse::data(lookup_data(&rec, Some(&token))))
        }
        "lookup-accessor" if write => {
            let rec = by_accessor(ctx)
                .await?
                .ok_or_else(|| CoreError::bad_request(go_multierror("invalid accessor")))?;
            Ok(CoreResponse::data(lookup_data(&rec, None)))
        }
        "renew-self" if write => {
            let rec = ctx.caller()?.clone();
            let token = ctx.token_id.clone().unwrap_or_default();
            renew(ctx, rec, token).await
        }
        "renew" if write => {
            let (token, rec) = by_token(ctx).await?;
            let rec = rec.ok_or_else(|| CoreError::bad_request("token not found"))?;
            renew(ctx, rec, token).await
        }
        "renew-accessor" if write => {
            let rec = by_accessor(ctx)
                .await?
                .ok_or_else(|| CoreError::bad_request(go_multierror("invalid accessor")))?;
            renew(ctx, rec, String::new()).await
        }
        "revoke-self" if write => {
            let rec = ctx.caller()?;
            revocable(rec)?;
            ctx.u.tokens.revoke_tree(&rec.hash).await?;
            Ok(CoreResponse::default())
        }
        "revoke" if write => {
            // A token that is already gone needs no revoking: 204, as in Vault.
            if let (_, Some(rec)) = by_token(ctx).await? {
                revocable(&rec)?;
                ctx.u.tokens.revoke_tree(&rec.hash).await?;
            }
            Ok(CoreResponse::default())
        }
        "revoke-accessor" if write => {
            let Some(rec) = by_accessor(ctx).await? else {
                return Ok(CoreResponse {
                    warnings: vec!["No token found with this accessor".into()],
                    ..Default::default()
                });
            };
            ctx.u.tokens.revoke_tree(&rec.hash).await?;
            Ok(CoreResponse::default())
        }
        "revoke-orphan" if write => {
            let (_, rec) = by_token(ctx).await?;
            let rec = rec.ok_or_else(|| CoreError::bad_request("token to revoke not found"))?;
            revocable(&rec)?;
            ctx.u.tokens.revoke_orphan(&rec.hash).await?;
            Ok(CoreResponse::default())
        }
        "accessors" if ctx.op == Operation::List => {
            let keys = ctx.u.tokens.accessors().await?;
            let mut m = JsonMap::new();
            m.insert("keys".into(), keys.into());
            Ok(CoreResponse::data(m))
        }
        "create" | "create-orphan" | "lookup-self" | "lookup" | "lookup-accessor"
        | "renew-self" | "renew" | "renew-accessor" | "revoke-self" | "revoke"
        | "revoke-accessor" | "revoke-orphan" | "accessors" => Err(CoreError::Engine(
            secrethub_engine::EngineError::UnsupportedOperation,
        )),
        _ => Err(CoreError::Engine(
            secrethub_engine::EngineError::UnsupportedPath,
        )),
    }
}

/// Batch tokens are not stored, so there is nothing to revoke: they end with their TTL.
fn revocable(rec: &TokenRecord) -> CoreResult<()> {
    if rec.is_batch() {
        return Err(CoreError::bad_request("batch tokens cannot be revoked"));
    }
    Ok(())
}

/// The body's `token`, `None` when it is missing or empty.
fn body_token(ctx: &Ctx<'_>) -> CoreResult<Option<String>> {
    let input: TargetInput = parse(&ctx.body)?;
    Ok(input.token.filter(|t| !t.is_empty()))
}

/// The body's `token` and its record, `None` when the token does not exist (never did, was
/// revoked, expired, or its auth method is gone): each path answers that in its own words.
async fn by_token(ctx: &Ctx<'_>) -> CoreResult<(String, Option<TokenRecord>)> {
    let token = body_token(ctx)?.ok_or_else(|| CoreError::bad_request("missing token ID"))?;
    let rec = ctx.u.lookup_token(&token).await?;
    Ok((token, rec))
}

/// The record of the body's `accessor`, `None` when no token has it.
async fn by_accessor(ctx: &Ctx<'_>) -> CoreResult<Option<TokenRecord>> {
    let input: TargetInput = parse(&ctx.body)?;
    let accessor = input
        .accessor
        .filter(|a| !a.is_empty())
        .ok_or_else(|| CoreError::bad_request(go_multierror("missing accessor")))?;
    let Some(hash) = ctx.u.tokens.hash_for_accessor(&accessor).await? else {
        return Ok(None);
    };
    ctx.u.tokens.lookup_hash(&hash).await
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

async fn create(ctx: &Ctx<'_>, orphan_path: bool) -> CoreResult<CoreResponse> {
    let parent = ctx.caller()?.clone();
    if parent.is_batch() {
        return Err(CoreError::bad_request("batch tokens cannot create tokens"));
    }
    let input: CreateInput = parse(&ctx.body)?;
    let parent_is_root = parent.is_root();
    let path_sudo = ctx
        .acl
        .check(
            "auth/token/create",
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
    if input.no_parent && !privileged {
        return Err(CoreError::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    let batch = match input.token_type.as_deref().unwrap_or_default() {
        "" | "service" | "default" => false,
        "batch" => true,
        t => {
            return Err(CoreError::bad_request(format!(
                "unsupported token type {t:?}; expected service or batch"
            )))
        }
    };
    if batch && input.id.is_some() {
        return Err(CoreError::bad_request(
            "a batch token cannot have a chosen id",
        ));
    }
    let _ = (&input.lease, &input.entity_alias);

    let mut policies: Vec<String> = match input.policies {
        Some(p) if !p.is_empty() => p.iter().map(|s| s.trim().to_lowercase()).collect(),
        _ => parent
            .policies
            .iter()
            .filter(|p| *p != "default")
            .cloned()
            .collect(),
    };
    if !parent_is_root && !path_sudo {
        if let Some(bad) = policies
            .iter()
            .find(|p| *p != "default" && !parent.policies.contains(p))
        {
            return Err(CoreError::bad_request(format!(
                "child policies must be subset of parent: {bad:?} is not held by the parent"
            )));
        }
    }
    if !input.no_default_policy && !policies.iter().any(|p| p == "root") {
        policies.push("default".into());
    }
    policies.sort();
    policies.dedup();
    if policies.iter().any(|p| p == "root") && !parent_is_root {
        return Err(CoreError::bad_request(
            "root tokens may only be created by a root token",
        ));
    }

    let sys_max = ctx.core.config.max_lease_ttl;
    let sys_default = ctx.core.config.default_lease_ttl;
    let mut warnings = Vec::new();
    let mut ttl = if !input.period.is_zero() {
        input.period
    } else if !input.ttl.is_zero() {
        input.ttl
    } else if policies.iter().any(|p| p == "root") {
        Duration::ZERO
    } else {
        sys_default
    };
    if !input.explicit_max_ttl.is_zero() && (ttl.is_zero() || ttl > input.explicit_max_ttl) {
        ttl = input.explicit_max_ttl;
    }
    if input.period.is_zero() && !ttl.is_zero() && ttl > sys_max {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(sys_max)
        ));
        ttl = sys_max;
    }
    let now = now_unix();
    let orphan = orphan_path || input.no_parent;
    let mut rec = TokenRecord {
        version: 1,
        hash: String::new(),
        accessor: String::new(),
        parent: (!orphan).then(|| parent.hash.clone()),
        policies,
        meta: input.meta,
        display_name: sanitize_display_name(&input.display_name),
        num_uses: input.num_uses,
        creation_time: now,
        creation_ttl: ttl.as_secs(),
        expire_time: if ttl.is_zero() {
            0
        } else {
            now + ttl.as_secs() as i64
        },
        explicit_max_ttl: input.explicit_max_ttl.as_secs(),
        period: input.period.as_secs(),
        renewable: input.renewable.unwrap_or(true) && !ttl.is_zero(),
        path: format!("auth/token/{}", ctx.rel),
        entity_id: String::new(),
        token_type: "service".into(),
        wrap_creation_path: String::new(),
        max_ttl: 0,
        bound_cidrs: Vec::new(),
        login: None,
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

pub(crate) fn auth_block(rec: &TokenRecord, token: String, now: i64) -> AuthBlock {
    AuthBlock {
        client_token: token,
        accessor: rec.accessor.clone(),
        policies: rec.policies.clone(),
        token_policies: rec.policies.clone(),
        metadata: (!rec.meta.is_empty()).then(|| rec.meta.clone()),
        lease_duration: rec.ttl(now),
        renewable: rec.renewable,
        entity_id: rec.entity_id.clone(),
        token_type: rec.token_type.clone(),
        orphan: rec.parent.is_none(),
        mfa_requirement: None,
        num_uses: rec.num_uses,
    }
}

pub(crate) async fn renew(
    ctx: &Ctx<'_>,
    mut rec: TokenRecord,
    token: String,
) -> CoreResult<CoreResponse> {
    if rec.is_batch() {
        return Err(CoreError::bad_request("batch tokens cannot be renewed"));
    }
    if !rec.renewable || rec.expire_time == 0 {
        return Err(CoreError::bad_request("lease is not renewable"));
    }
    let input: TargetInput = parse(&ctx.body)?;
    // A login token lives on only while its auth method still admits the login.
    crate::login::recheck(ctx, &mut rec).await?;
    let now = now_unix();
    let mut warnings = Vec::new();
    let mut ttl = if rec.period > 0 {
        Duration::from_secs(rec.period)
    } else if !input.increment.is_zero() {
        input.increment
    } else {
        Duration::from_secs(rec.creation_ttl)
    };
    // Renewal never goes past the explicit max or the system max counted from creation.
    let sys_max = ctx.core.config.max_lease_ttl.as_secs();
    let max_ttl = match rec.max_ttl {
        0 => sys_max,
        m => m.min(sys_max),
    };
    let mut limit = rec.creation_time + max_ttl as i64;
    if rec.period > 0 {
        limit = i64::MAX;
    }
    if rec.explicit_max_ttl > 0 {
        limit = limit.min(rec.creation_time + rec.explicit_max_ttl as i64);
    }
    let wanted = now + ttl.as_secs() as i64;
    if wanted > limit {
        let capped = (limit - now).max(0) as u64;
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(Duration::from_secs(capped))
        ));
        ttl = Duration::from_secs(capped);
    }
    let old_expire = rec.expire_time;
    rec.expire_time = now + ttl.as_secs() as i64;
    ctx.u.tokens.update(old_expire, &rec).await?;
    Ok(CoreResponse {
        auth: Some(auth_block(&rec, token, now)),
        warnings,
        ..Default::default()
    })
}

fn lookup_data(rec: &TokenRecord, token: Option<&str>) -> JsonMap {
    let now = now_unix();
    let expire_time =
        (rec.expire_time != 0).then(|| format_rfc3339(rec.expire_time as i128 * 1_000_000_000));
    let v = json!({
        "accessor": rec.accessor,
        "creation_time": rec.creation_time,
        "creation_ttl": rec.creation_ttl,
        "display_name": rec.display_name,
        "entity_id": rec.entity_id,
        "expire_time": expire_time,
        "explicit_max_ttl": rec.explicit_max_ttl,
        "id": token.unwrap_or(""),
        "issue_time": format_rfc3339(rec.creation_time as i128 * 1_000_000_000),
        "meta": if rec.meta.is_empty() { Value::Null } else { json!(rec.meta) },
        "num_uses": rec.num_uses,
        "orphan": rec.parent.is_none(),
        "path": rec.path,
        "period": if rec.period > 0 { json!(rec.period) } else { Value::Null },
        "policies": rec.policies,
        "renewable": rec.renewable,
        "ttl": rec.ttl(now),
        "type": rec.token_type,
        "bound_cidrs": if rec.bound_cidrs.is_empty() { Value::Null } else { json!(rec.bound_cidrs) },
    });
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}
