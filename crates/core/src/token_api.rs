//! `auth/token/`: lookup, renew and revoke tokens, by token, by accessor or self; creation is
//! in `token_create.rs`, token roles (`roles/:name`, `create/:name`) in `token_roles.rs`.
//! Parameter names, response shapes and the answers about tokens that do not exist follow
//! OpenBao's token auth method API (each path words that differently: `lookup` 403 "bad
//! token", `renew` 400 "token not found", `revoke` 204, `revoke-accessor` 200 with a warning).

use std::sync::LazyLock;
use std::time::Duration;

use secrethub_common::serde_helpers as sh;
use secrethub_common::{format_duration, format_rfc3339, now_unix, JsonMap};
use secrethub_engine::{EngineError, Operation, PathTable};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::builtin::{row, BuiltinPaths};
use crate::error::{go_multierror, CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::{AuthBlock, CoreResponse};
use crate::sys::parse;
use crate::tokens::TokenRecord;

#[derive(Deserialize, Default)]
#[serde(default)]
struct TargetInput {
    token: Option<String>,
    accessor: Option<String>,
    #[serde(deserialize_with = "sh::duration")]
    increment: Duration,
}

/// `auth/token/`'s paths. The sudo rows are OpenBao's token store `PathsSpecial.Root`
/// (`revoke-orphan/*`, `accessors*`), and `revoke-orphan` itself, whose handler OpenBao
/// checks for sudo explicitly.
pub(crate) static PATHS: BuiltinPaths = LazyLock::new(|| {
    use Operation::{Delete, List, Read, Update};
    PathTable::new()
        .add(
            "create",
            (),
            &[Update],
            "Creates a child token (policies, ttl, num_uses, ...).",
        )
        .add(
            "create-orphan",
            (),
            &[Update],
            "Creates a token without a parent.",
        )
        .add(
            "create/{*role}",
            (),
            &[Update],
            "Creates a token from a token role.",
        )
        .add("roles", (), &[List], "Lists the token roles.")
        .add(
            "roles/{*name}",
            (),
            &[Read, Update, Delete],
            "Reads, writes or deletes a token role.",
        )
        .add(
            "lookup-self",
            (),
            &[Read, Update],
            "Looks up the caller's token.",
        )
        .add("lookup", (), &[Update], "Looks up a token (token).")
        .add(
            "lookup-accessor",
            (),
            &[Update],
            "Looks up a token by accessor (accessor).",
        )
        .add(
            "renew-self",
            (),
            &[Update],
            "Renews the caller's token (increment).",
        )
        .add("renew", (), &[Update], "Renews a token (token, increment).")
        .add(
            "renew-accessor",
            (),
            &[Update],
            "Renews a token by accessor (accessor, increment).",
        )
        .add(
            "revoke-self",
            (),
            &[Update],
            "Revokes the caller's token and its children.",
        )
        .add(
            "revoke",
            (),
            &[Update],
            "Revokes a token and its children (token).",
        )
        .add(
            "revoke-accessor",
            (),
            &[Update],
            "Revokes a token by accessor (accessor).",
        )
        .entry(
            row(
                "revoke-orphan",
                &[Update],
                "Revokes a token, leaving its children orphans (token).",
            )
            .sudo(),
        )
        .entry(row("accessors", &[List], "Lists the accessors of every token.").sudo())
});

pub(crate) async fn handle(ctx: &Ctx<'_>) -> CoreResult<CoreResponse> {
    let rel = ctx.rel.as_str();
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    if let Some(name) = rel.strip_prefix("roles/") {
        let name = crate::token_roles::role_name(name).ok_or_else(unsupported_path)?;
        return crate::token_roles::handle(ctx, Some(name)).await;
    }
    if let Some(name) = rel.strip_prefix("create/") {
        let name = crate::token_roles::role_name(name).ok_or_else(unsupported_path)?;
        if !write {
            return Err(CoreError::Engine(EngineError::UnsupportedOperation));
        }
        let role = crate::token_roles::load(ctx.u, name)
            .await?
            .ok_or_else(|| CoreError::bad_request(format!("unknown role {name}")))?;
        return crate::token_create::create(ctx, false, Some(role)).await;
    }
    match rel {
        "create" | "create-orphan" if write => {
            crate::token_create::create(ctx, rel == "create-orphan", None).await
        }
        "roles" => crate::token_roles::handle(ctx, None).await,
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
        | "revoke-accessor" | "revoke-orphan" | "accessors" => {
            Err(CoreError::Engine(EngineError::UnsupportedOperation))
        }
        _ => Err(unsupported_path()),
    }
}

fn unsupported_path() -> CoreError {
    CoreError::Engine(EngineError::UnsupportedPath)
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
    // A login token lives on only while its auth method still admits the login, a role
    // token while its role exists (renewing with the role's current terms).
    crate::login::recheck(ctx, &mut rec).await?;
    let (period, explicit_max_ttl) = crate::token_roles::renewal_terms(ctx, &rec)
        .await?
        .unwrap_or((rec.period, rec.explicit_max_ttl));
    let now = now_unix();
    let mut warnings = Vec::new();
    let mut ttl = if period > 0 {
        Duration::from_secs(period)
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
    let mut limit = rec
        .creation_time
        .saturating_add(i64::try_from(max_ttl).unwrap_or(i64::MAX));
    if period > 0 {
        limit = i64::MAX;
    }
    if explicit_max_ttl > 0 {
        limit = limit.min(
            rec.creation_time
                .saturating_add(i64::try_from(explicit_max_ttl).unwrap_or(i64::MAX)),
        );
    }
    let wanted = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    if wanted > limit {
        let capped = u64::try_from(limit.saturating_sub(now)).unwrap_or(0);
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            format_duration(ttl),
            format_duration(Duration::from_secs(capped))
        ));
        ttl = Duration::from_secs(capped);
    }
    let old_expire = rec.expire_time;
    rec.expire_time = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
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
        "bound_cidrs": if rec.bound_cidrs.is_empty() {
            Value::Null
        } else {
            json!(crate::token_roles::show_cidrs(&rec.bound_cidrs))
        },
    });
    let mut m = match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    };
    if !rec.role.is_empty() {
        m.insert("role".into(), json!(rec.role));
    }
    m
}
