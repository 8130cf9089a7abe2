//! Non-root tokens are leases too, as in Vault: `sys/leases/*` serves lease IDs of the form
//! `<creation path>/<token hash>` (`auth/token/create/<hash>`,
//! `auth/userpass/login/alice/<hash>`) from the token store (the token's own expiry index),
//! so `lookup`, `renew`, `revoke`, `revoke-prefix` and LIST work on tokens like on any lease.

use secrethub_common::{format_rfc3339, now_unix, JsonMap};
use serde_json::{json, Value};

use super::obj;
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::{CoreResponse, LeaseBlock};
use crate::tokens::TokenRecord;

/// Whether a lease ID or prefix names token leases.
pub(super) fn is_token_lease(id: &str) -> bool {
    id.starts_with("auth/")
}

/// The token behind `lease_id`; `missing` is the path's own error when there is none.
async fn record(ctx: &Ctx<'_>, lease_id: &str, missing: &str) -> CoreResult<TokenRecord> {
    let invalid = || CoreError::bad_request(missing);
    let hash = lease_id
        .rsplit_once('/')
        .map(|(_, h)| h)
        .filter(|h| !h.is_empty())
        .ok_or_else(invalid)?;
    ctx.u
        .tokens
        .lookup_hash(hash)
        .await?
        .filter(|r| r.expire_time != 0 && r.lease_id() == lease_id)
        .ok_or_else(invalid)
}

/// Lease IDs of every expiring token under `prefix`.
async fn ids_under(ctx: &Ctx<'_>, prefix: &str) -> CoreResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for hash in ctx.u.tokens.expiring_hashes().await? {
        if let Some(rec) = ctx.u.tokens.lookup_hash(&hash).await? {
            let id = rec.lease_id();
            if id.starts_with(prefix) {
                out.push((id, hash));
            }
        }
    }
    Ok(out)
}

pub(super) async fn lookup(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<CoreResponse> {
    let rec = record(ctx, lease_id, "invalid lease").await?;
    let t = |s: i64| format_rfc3339(s as i128 * 1_000_000_000);
    Ok(CoreResponse::data(obj(json!({
        "id": lease_id,
        "path": rec.path.trim_end_matches('/'),
        "issue_time": t(rec.creation_time),
        "expire_time": t(rec.expire_time),
        "last_renewal": Value::Null,
        "renewable": rec.renewable,
        "ttl": rec.ttl(now_unix()),
    }))))
}

pub(super) async fn list(ctx: &Ctx<'_>, prefix: &str) -> CoreResult<Vec<String>> {
    let p = format!("{}/", prefix.trim_end_matches('/'));
    let mut keys: Vec<String> = ids_under(ctx, &p)
        .await?
        .into_iter()
        .filter_map(|(id, _)| {
            let rest = &id[p.len()..];
            Some(match rest.split_once('/') {
                Some((dir, _)) => format!("{dir}/"),
                None => rest.to_string(),
            })
            .filter(|k| !k.is_empty())
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

pub(super) async fn renew(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<CoreResponse> {
    let rec = record(ctx, lease_id, "lease not found").await?;
    let resp = crate::token_api::renew(ctx, rec, String::new()).await?;
    let auth = resp
        .auth
        .ok_or_else(|| CoreError::Internal(anyhow::anyhow!("renew gave no auth")))?;
    Ok(CoreResponse {
        lease: Some(LeaseBlock {
            lease_id: lease_id.to_string(),
            duration: auth.lease_duration,
            renewable: auth.renewable,
        }),
        warnings: resp.warnings,
        top_level: Some(JsonMap::new()),
        ..Default::default()
    })
}

pub(super) async fn revoke(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<()> {
    if let Ok(rec) = record(ctx, lease_id, "invalid lease").await {
        ctx.u.tokens.revoke_tree(&rec.hash).await?;
    }
    Ok(())
}

/// Revokes every expiring token whose lease ID starts with `prefix`.
pub(super) async fn revoke_prefix(ctx: &Ctx<'_>, prefix: &str) -> CoreResult<usize> {
    let ids = ids_under(ctx, prefix.trim_end_matches('/')).await?;
    for (_, hash) in &ids {
        ctx.u.tokens.revoke_tree(hash).await?;
    }
    Ok(ids.len())
}
