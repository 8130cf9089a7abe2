//! `sys/leases/*` (and Vault's older `sys/renew`, `sys/revoke`, `sys/revoke-prefix`):
//! lookup, list by prefix, renew, revoke (sync), revoke-prefix, revoke-force, tidy, count,
//! the irrevocable listing, and the seed's `GET sys/leases` and `sys/leases/stats`.

use std::time::Duration;

use secrethub_common::serde_helpers as sh;
use secrethub_engine::{EngineError, Operation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{obj, parse};
use crate::error::{CoreError, CoreResult};
use crate::leases::now_ms;
use crate::pipeline::Ctx;
use crate::request::{CoreResponse, LeaseBlock};

#[derive(Deserialize, Default)]
#[serde(default)]
struct LeaseInput {
    lease_id: Option<String>,
    #[serde(deserialize_with = "sh::duration")]
    increment: Duration,
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<String>,
    #[serde(deserialize_with = "sh::opt_uint")]
    limit: Option<u64>,
    /// Vault's `sync` of `revoke` and `revoke-prefix` (default true): revoke before
    /// answering, or answer 202 with the revocation queued.
    #[serde(deserialize_with = "sh::opt_boolean")]
    sync: Option<bool>,
}

/// `head` is the first path segment after `sys/` (`leases`, `renew`, `revoke`, ...).
pub(super) async fn handle(ctx: &Ctx<'_>, head: &str, tail: &str) -> CoreResult<CoreResponse> {
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    let (action, rest) = match head {
        "leases" => match tail.split_once('/') {
            Some((a, r)) => (a, r),
            None => (tail, ""),
        },
        // Vault's older top-level forms.
        other => (other, tail),
    };
    let input: LeaseInput = parse(&ctx.body)?;
    let id_from = |rest: &str| -> CoreResult<String> {
        input
            .lease_id
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| (!rest.is_empty()).then(|| rest.to_string()))
            .ok_or_else(|| CoreError::bad_request("lease_id must be specified"))
    };
    let leases = &ctx.u.leases;
    let sync = input.sync.unwrap_or(true);
    if let Some(resp) = token_leases_route(ctx, action, rest, &input).await? {
        return Ok(resp);
    }
    match (action, ctx.op) {
        ("lookup", Operation::List) => {
            let mut keys = leases.list(rest).await?;
            if rest.trim_end_matches('/').is_empty() && ctx.u.tokens.has_expiring().await? {
                keys.push("auth/".to_string());
                keys.sort();
            }
            if keys.is_empty() {
                return Err(CoreError::NotFound);
            }
            Ok(CoreResponse::data(obj(json!({ "keys": keys }))))
        }
        ("lookup", _) if write => {
            let rec = leases.lookup(&id_from(rest)?).await?;
            Ok(CoreResponse::data(rec.lookup_json(now_ms())))
        }
        ("renew", _) if write => {
            let id = id_from(rest)?;
            let renewed = leases.renew(&id, input.increment).await?;
            Ok(CoreResponse {
                lease: Some(LeaseBlock {
                    lease_id: id,
                    // The granted TTL, counted from the renewal itself (not from now, which
                    // is already a few microseconds later).
                    duration: ((renewed.record.expire_ms - renewed.record.last_renewal_ms + 500)
                        / 1000) as u64,
                    renewable: renewed.record.renewable,
                }),
                warnings: renewed.warnings,
                // An empty data object keeps the envelope (not 204), as Vault answers.
                data: None,
                top_level: Some(Default::default()),
                ..Default::default()
            })
        }
        ("revoke", _) if write => {
            let id = id_from(rest)?;
            if sync {
                leases.revoke(&id).await?;
                Ok(CoreResponse::default())
            } else {
                Ok(CoreResponse::accepted(leases.queue_lease(&id).await?))
            }
        }
        // With `sync` (the default) the answer is 204 only once every lease under the prefix
        // is revoked, whatever a circuit breaker says; without it, 202 and a warning per open
        // breaker, so "queued" never hides that nothing will happen for a while.
        ("revoke-prefix", _) if write => {
            if sync {
                leases.revoke_prefix(rest).await?;
                Ok(CoreResponse::default())
            } else {
                Ok(CoreResponse::accepted(leases.queue_prefix(rest).await?))
            }
        }
        ("revoke-force", _) if write => {
            let n = leases.revoke_force(rest).await?;
            tracing::warn!(
                prefix = rest,
                count = n,
                "leases force-revoked without revoking upstream"
            );
            Ok(CoreResponse::default())
        }
        ("tidy", _) if write => {
            let removed = leases.tidy().await?;
            tracing::info!(removed, "lease index tidied");
            // Done by now, but answered as Vault answers a tidy it started.
            Ok(CoreResponse::accepted(vec![
                secrethub_engine::TIDY_STARTED.into()
            ]))
        }
        ("count", Operation::Read) => {
            let n = if input.kind.as_deref() == Some("irrevocable") {
                leases.stats.snapshot().irrevocable
            } else {
                leases.stats.snapshot().active
            };
            Ok(CoreResponse::data(obj(
                json!({ "lease_count": n, "counts": {} }),
            )))
        }
        ("stats", Operation::Read) => {
            // Tokens that expire are leases too (Vault counts them): `active` is confirmed
            // leases plus expiring tokens, and `expiring_soon` counts from the same two sets
            // only (no intents), each part capped by its own count, so it never exceeds
            // `active` even when leases come and go between the reads.
            const WINDOW_SECS: u64 = 300;
            let s = leases.stats.snapshot();
            let soon = leases.due_within(Duration::from_secs(WINDOW_SECS)).await?;
            let (tokens, tokens_soon) = ctx
                .u
                .tokens
                .expiring_counts(secrethub_common::now_unix() + WINDOW_SECS as i64)
                .await?;
            let active = s.active + tokens as i64;
            let soon = (soon as i64).min(s.active) + tokens_soon as i64;
            let unconfirmed = leases.unconfirmed_count().await?;
            Ok(CoreResponse::data(obj(json!({
                "active": active,
                "expiring_soon": soon,
                "irrevocable": s.irrevocable,
                "created_total": s.created,
                "renewed_total": s.renewed,
                "revoked_total": s.revoked,
                // Revoked, but not yet confirmed durable upstream (normally for well under a
                // second after each revocation).
                "unconfirmed_revocations": unconfirmed,
            }))))
        }
        ("", Operation::Read | Operation::List) if head == "leases" => list(ctx, &input).await,
        _ => Err(CoreError::Engine(EngineError::UnsupportedPath)),
    }
}

/// Lease IDs under `auth/` are tokens (see `token_leases`); `None` for everything else.
async fn token_leases_route(
    ctx: &Ctx<'_>,
    action: &str,
    rest: &str,
    input: &LeaseInput,
) -> CoreResult<Option<CoreResponse>> {
    use super::token_leases as tl;
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    let id = input
        .lease_id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| rest.to_string());
    if !tl::is_token_lease(&id) {
        return Ok(None);
    }
    let resp = match (action, ctx.op) {
        ("lookup", Operation::List) => {
            let keys = tl::list(ctx, &id).await?;
            if keys.is_empty() {
                return Err(CoreError::NotFound);
            }
            CoreResponse::data(obj(json!({ "keys": keys })))
        }
        ("lookup", _) if write => tl::lookup(ctx, &id).await?,
        ("renew", _) if write => tl::renew(ctx, &id).await?,
        ("revoke", _) if write => {
            tl::revoke(ctx, &id).await?;
            CoreResponse::default()
        }
        ("revoke-prefix" | "revoke-force", _) if write => {
            tl::revoke_prefix(ctx, &id).await?;
            CoreResponse::default()
        }
        _ => return Ok(None),
    };
    Ok(Some(resp))
}

/// `GET sys/leases`: one page of lease lookups, or every irrevocable lease with its error.
async fn list(ctx: &Ctx<'_>, input: &LeaseInput) -> CoreResult<CoreResponse> {
    let leases = &ctx.u.leases;
    let now = now_ms();
    if input.kind.as_deref() == Some("irrevocable") {
        let recs = leases.irrevocable().await?;
        let items: Vec<Value> = recs
            .iter()
            .map(|r| Value::Object(r.lookup_json(now)))
            .collect();
        return Ok(CoreResponse::data(obj(
            json!({ "lease_count": items.len(), "leases": items }),
        )));
    }
    let limit = input.limit.unwrap_or(100).clamp(1, 1000) as usize;
    let ids = leases.page(input.after.as_deref(), limit).await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Ok(rec) = leases.lookup(id).await {
            items.push(Value::Object(rec.lookup_json(now)));
        }
    }
    let next = (ids.len() == limit).then(|| ids.last().cloned()).flatten();
    Ok(CoreResponse::data(obj(
        json!({ "leases": items, "lease_count": items.len(), "next_after": next }),
    )))
}
