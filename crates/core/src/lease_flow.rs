//! The lease step of the pipeline for engine mounts: give the engine an intent log under
//! the lease ID the response will carry, enforce lease-count quotas, register the lease
//! before the response leaves, and revoke a recorded intent at once if the request fails.

use std::sync::Arc;
use std::time::Duration;

use secrethub_common::now_unix;
use secrethub_engine::{Engine, Request};

use crate::error::{CoreError, CoreResult};
use crate::leases::{LeaseManager, PendingIntent};
use crate::mounts::{MountClass, Mounted};
use crate::pipeline::Ctx;
use crate::request::{CoreResponse, LeaseBlock};

pub(crate) async fn handle_with_leases(
    ctx: &Ctx<'_>,
    mounted: &Mounted,
    engine: &dyn Engine,
    mut r: Request,
) -> CoreResult<CoreResponse> {
    let api_path = format!("{}{}", mounted.entry.api_path(), ctx.rel);
    let _reservation = ctx
        .u
        .quotas
        .reserve(&ctx.u.leases, &api_path, ctx.op)
        .await?;
    let lease_id = LeaseManager::new_lease_id(&mounted.entry.api_path(), &ctx.rel);
    // A batch token is not stored: its leases belong to its parent (an orphan's to nobody)
    // and end with the token at the latest.
    let batch = ctx.token.as_ref().filter(|t| t.is_batch());
    let token_hash = match batch {
        Some(t) => t.parent.clone(),
        None => ctx.token.as_ref().map(|t| t.hash.clone()),
    };
    let intent = Arc::new(PendingIntent::new(
        ctx.u.leases.clone(),
        lease_id.clone(),
        mounted.entry.accessor.clone(),
        ctx.rel.clone(),
        token_hash.clone(),
        ctx.lease_metadata.clone(),
    ));
    r.intents = Some(intent.clone());
    let mut ttls = mounted.entry.ttls(
        ctx.core.config().default_lease_ttl,
        ctx.core.config().max_lease_ttl,
    );
    if let Some(t) = batch.filter(|t| t.expire_time != 0) {
        let left = Duration::from_secs(t.ttl(now_unix()));
        ttls = (ttls.0.min(left), ttls.1.min(left));
    }

    let result = engine.handle(r).await;
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            revoke_unconfirmed(ctx, &intent, &lease_id).await;
            return Err(e.into());
        }
    };
    if let Some(auth) = resp.auth {
        revoke_unconfirmed(ctx, &intent, &lease_id).await;
        if mounted.entry.class != MountClass::Auth {
            return Err(CoreError::Internal(anyhow::anyhow!(
                "the secrets engine at {} answered a login",
                mounted.entry.api_path()
            )));
        }
        return crate::login::mint(ctx, mounted, *auth, resp.warnings).await;
    }
    if let Some(raw) = resp.raw {
        // A raw body has no envelope to carry a lease ID in.
        revoke_unconfirmed(ctx, &intent, &lease_id).await;
        if resp.lease.is_some() {
            return Err(CoreError::Internal(anyhow::anyhow!(
                "the engine at {} answered a raw body with a lease",
                mounted.entry.api_path()
            )));
        }
        return Ok(CoreResponse {
            raw: Some(raw),
            ..Default::default()
        });
    }
    let Some(new) = resp.lease else {
        revoke_unconfirmed(ctx, &intent, &lease_id).await;
        return Ok(CoreResponse {
            data: resp.data,
            warnings: resp.warnings,
            accepted: resp.accepted,
            ..Default::default()
        });
    };
    let renewable = new.terms.renewable;
    let requested = new.terms.ttl;
    let rec = match ctx
        .u
        .leases
        .register(
            &lease_id,
            mounted,
            &ctx.rel,
            new,
            token_hash,
            ctx.lease_metadata.clone(),
            ttls,
            intent.recorded_due(),
        )
        .await
    {
        Ok(rec) => rec,
        Err(e) => {
            // The credential exists upstream but its lease could not be stored: undo it now
            // (the recorded intent also covers a crash right here).
            revoke_unconfirmed(ctx, &intent, &lease_id).await;
            return Err(e);
        }
    };
    let duration = ((rec.expire_ms - rec.issue_ms) / 1000) as u64;
    let mut warnings = resp.warnings;
    // The mount's max TTL (or a batch token's remaining life) capped what the engine asked
    // for: say so, as Vault does, rather than hand out a shorter lease silently.
    if requested.as_secs() > duration {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            secrethub_common::format_duration(requested),
            secrethub_common::format_duration(Duration::from_secs(duration))
        ));
    }
    Ok(CoreResponse {
        data: resp.data,
        warnings,
        lease: Some(LeaseBlock {
            lease_id,
            duration,
            renewable,
        }),
        ..Default::default()
    })
}

/// Best effort: revoke an intent the engine recorded for a response that carries no lease.
/// If this fails, the intent stays due and the scheduler retries it.
async fn revoke_unconfirmed(ctx: &Ctx<'_>, intent: &PendingIntent, lease_id: &str) {
    if intent.was_recorded() {
        if let Err(e) = ctx.u.leases.revoke(lease_id).await {
            tracing::warn!(lease_id, error = %e, "revoking an unconfirmed intent failed; it will be retried");
        }
    }
}
