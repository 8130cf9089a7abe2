//! The lease step of the pipeline for engine mounts: give the engine an intent log under
//! the lease ID the response will carry, enforce lease-count quotas, register the lease
//! before the response leaves, and revoke a recorded intent at once if the request fails.

use std::sync::Arc;

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
    let token_hash = ctx.token.as_ref().map(|t| t.hash.clone());
    let intent = Arc::new(PendingIntent::new(
        ctx.u.leases.clone(),
        lease_id.clone(),
        mounted.entry.accessor.clone(),
        ctx.rel.clone(),
        token_hash.clone(),
        ctx.lease_metadata.clone(),
    ));
    r.intents = Some(intent.clone());
    let ttls = mounted.entry.ttls(
        ctx.core.config().default_lease_ttl,
        ctx.core.config().max_lease_ttl,
    );

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
    let Some(new) = resp.lease else {
        revoke_unconfirmed(ctx, &intent, &lease_id).await;
        return Ok(CoreResponse {
            data: resp.data,
            warnings: resp.warnings,
            ..Default::default()
        });
    };
    let renewable = new.terms.renewable;
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
    Ok(CoreResponse {
        data: resp.data,
        warnings: resp.warnings,
        lease: Some(LeaseBlock {
            lease_id,
            duration: ((rec.expire_ms - rec.issue_ms) / 1000) as u64,
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
