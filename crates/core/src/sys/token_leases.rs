//! Non-root tokens are leases too, as in Vault: `sys/leases/*` serves lease IDs of the form
//! `auth/token/create/<token hash>` from the token store (the token's own expiry index), so
//! `lookup`, `renew`, `revoke`, `revoke-prefix` and LIST work on tokens like on any lease.

use secrethub_common::{format_rfc3339, now_unix, JsonMap};
use serde_json::{json, Value};

use super::obj;
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::{CoreResponse, LeaseBlock};
use crate::tokens::TokenRecord;

const CREATE: &str = "auth/token/create/";

/// Whether a lease ID or prefix names token leases.
pub(super) fn is_token_lease(id: &str) -> bool {
    id.starts_with("auth/")
}

async fn record(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<TokenRecord> {
    let hash = lease_id
        .strip_prefix(CREATE)
        .filter(|h| !h.is_empty() && !h.contains('/'))
        .ok_or_else(|| CoreError::bad_request("invalid lease"))?;
    ctx.u
        .tokens
        .lookup_hash(hash)
        .await?
        .filter(|r| r.expire_time != 0)
        .ok_or_else(|| CoreError::bad_request("invalid lease"))
}

pub(super) async fn lookup(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<CoreResponse> {
    let rec = record(ctx, lease_id).await?;
    let t = |s: i64| format_rfc3339(s as i128 * 1_000_000_000);
    Ok(CoreResponse::data(obj(json!({
        "id": lease_id,
        "issue_time": t(rec.creation_time),
        "expire_time": t(rec.expire_time),
        "last_renewal": Value::Null,
        "renewable": rec.renewable,
        "ttl": rec.ttl(now_unix()),
    }))))
}

pub(super) async fn list(ctx: &Ctx<'_>, prefix: &str) -> CoreResult<Vec<String>> {
    let p = prefix.trim_end_matches('/');
    Ok(match p {
        "auth" => vec!["token/".to_string()],
        "auth/token" => vec!["create/".to_string()],
        "auth/token/create" => ctx.u.tokens.expiring_hashes().await?,
        _ => Vec::new(),
    })
}

pub(super) async fn renew(ctx: &Ctx<'_>, lease_id: &str) -> CoreResult<CoreResponse> {
    let rec = record(ctx, lease_id).await?;
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
    if let Ok(rec) = record(ctx, lease_id).await {
        ctx.u.tokens.revoke_tree(&rec.hash).await?;
    }
    Ok(())
}

/// Revokes every expiring token whose lease ID starts with `prefix`.
pub(super) async fn revoke_prefix(ctx: &Ctx<'_>, prefix: &str) -> CoreResult<usize> {
    let mut n = 0;
    for hash in ctx.u.tokens.expiring_hashes().await? {
        if format!("{CREATE}{hash}").starts_with(prefix.trim_end_matches('/')) {
            ctx.u.tokens.revoke_tree(&hash).await?;
            n += 1;
        }
    }
    Ok(n)
}
