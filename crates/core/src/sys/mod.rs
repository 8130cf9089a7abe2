//! `sys/`: the system backend core serves itself: mounts, policies, audit devices,
//! capabilities, key rotation, wrapping and the UI's mount lookup. `sys/init`,
//! `sys/unseal`, `sys/seal-status` and `sys/health` work while sealed and are served by
//! `server` directly through [`crate::Core`]'s seal methods.

mod audit;
mod capabilities;
mod leases;
mod mounts;
mod policy;
mod quotas;
mod token_leases;

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Operation};
use serde_json::Value;

use crate::builtin::{BuiltinRoute, SpecialPaths};
use crate::error::{CoreError, CoreResult};
use crate::mounts::MountClass;
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

use Operation::{Delete, List, Read, Update};

/// `sys/`'s special paths: OpenBao's `PathsSpecial` of its system backend, for the paths
/// served here (and `raw`, so that it is sudo from the day it is served). The bare
/// `revoke-prefix` and `revoke-force` forms are sudo too, since an empty prefix means all.
pub(crate) const SPECIAL_PATHS: SpecialPaths = SpecialPaths {
    sudo: &[
        "auth/*",
        "audit",
        "audit/*",
        // SecretHub's own path (OpenBao has none): verifying the log reads the chain key.
        "audit-verify/*",
        "raw",
        "raw/*",
        "rotate",
        "seal",
        "revoke-prefix",
        "revoke-prefix/*",
        "revoke-force",
        "revoke-force/*",
        "leases",
        "leases/revoke-prefix",
        "leases/revoke-prefix/*",
        "leases/revoke-force",
        "leases/revoke-force/*",
        "leases/lookup/*",
    ],
    // `internal/ui/mounts` shows only mounts the caller's policies reach, as in Vault.
    unauthenticated: &[
        "wrapping/lookup",
        "wrapping/unwrap",
        "internal/ui/mounts",
        "internal/ui/mounts/*",
    ],
};

const fn route(pattern: &'static str, ops: &'static [Operation]) -> BuiltinRoute {
    BuiltinRoute { pattern, ops }
}

/// `sys/`'s routes (`mounts/{*path}` and `auth/{*path}` include `.../tune`).
pub(crate) const ROUTES: &[BuiltinRoute] = &[
    route("mounts", &[Read]),
    route("mounts/{*path}", &[Read, Update, Delete]),
    route("auth", &[Read]),
    route("auth/{*path}", &[Read, Update, Delete]),
    route("policy", &[Read, List]),
    route("policy/{*name}", &[Read, Update, Delete]),
    route("policies/acl", &[List]),
    route("policies/acl/{*name}", &[Read, Update, Delete]),
    route("audit", &[Read]),
    route("audit/{*path}", &[Update, Delete]),
    route("audit-hash/{*path}", &[Update]),
    route("audit-verify/{*path}", &[Read]),
    route("capabilities", &[Update]),
    route("capabilities-self", &[Update]),
    route("capabilities-accessor", &[Update]),
    route("rotate", &[Update]),
    route("key-status", &[Read]),
    route("seal", &[Update]),
    route("wrapping/lookup", &[Read, Update]),
    route("wrapping/unwrap", &[Update]),
    route("wrapping/rewrap", &[Update]),
    route("wrapping/wrap", &[Update]),
    route("leases", &[Read, List]),
    route("leases/lookup", &[Update, List]),
    route("leases/lookup/{*prefix}", &[Update, List]),
    route("leases/renew", &[Update]),
    route("leases/renew/{*lease_id}", &[Update]),
    route("leases/revoke", &[Update]),
    route("leases/revoke/{*lease_id}", &[Update]),
    route("leases/revoke-prefix", &[Update]),
    route("leases/revoke-prefix/{*prefix}", &[Update]),
    route("leases/revoke-force", &[Update]),
    route("leases/revoke-force/{*prefix}", &[Update]),
    route("leases/tidy", &[Update]),
    route("leases/count", &[Read]),
    route("leases/stats", &[Read]),
    route("renew", &[Update]),
    route("renew/{*lease_id}", &[Update]),
    route("revoke", &[Update]),
    route("revoke/{*lease_id}", &[Update]),
    route("revoke-prefix", &[Update]),
    route("revoke-prefix/{*prefix}", &[Update]),
    route("revoke-force", &[Update]),
    route("revoke-force/{*prefix}", &[Update]),
    route("quotas/lease-count", &[List]),
    route("quotas/lease-count/{*name}", &[Read, Update, Delete]),
    route("quotas/rate-limit", &[List]),
    route("quotas/rate-limit/{*name}", &[Read, Update, Delete]),
    route("internal/ui/mounts", &[Read]),
    route("internal/ui/mounts/{*path}", &[Read]),
];

pub(crate) async fn handle(ctx: &Ctx<'_>) -> CoreResult<CoreResponse> {
    let rel = ctx.rel.clone();
    let (head, tail) = match rel.split_once('/') {
        Some((h, t)) => (h, t),
        None => (rel.as_str(), ""),
    };
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    match (head, ctx.op) {
        ("mounts", _) => mounts::handle(ctx, tail, MountClass::Secret).await,
        ("auth", _) => mounts::handle(ctx, tail, MountClass::Auth).await,
        ("policy" | "policies", _) => policy::handle(ctx, head, tail).await,
        ("audit", _) => audit::handle(ctx, tail).await,
        ("audit-hash", _) if write => audit::hash(ctx, tail),
        ("audit-verify", Operation::Read) => audit::verify(ctx, tail).await,
        ("capabilities-self" | "capabilities" | "capabilities-accessor", _) if write => {
            capabilities::handle(ctx, head).await
        }
        ("rotate", _) if write && tail.is_empty() => {
            let s = ctx.core.rotate().await?;
            tracing::info!(term = s.term, "barrier key rotated");
            Ok(CoreResponse::default())
        }
        ("key-status", Operation::Read) if tail.is_empty() => {
            let s = ctx.core.key_status()?;
            // OpenBao sends these at the top level too (hvac reads `key_status['term']`).
            Ok(both(obj(serde_json::json!({
                "term": s.term,
                "install_time": secrethub_common::format_rfc3339(s.install_time as i128 * 1_000_000_000),
                "encryptions": s.encryptions,
            }))))
        }
        ("seal", _) if write && tail.is_empty() => {
            ctx.core.seal().await?;
            Ok(CoreResponse::default())
        }
        ("wrapping", _) => crate::wrapping::handle(ctx, tail).await,
        ("leases" | "renew" | "revoke" | "revoke-prefix" | "revoke-force", _) => {
            leases::handle(ctx, head, tail).await
        }
        ("quotas", _) => quotas::handle(ctx, tail).await,
        ("internal", Operation::Read) if tail == "ui/mounts" || tail.starts_with("ui/mounts/") => {
            mounts::ui_mounts(
                ctx,
                tail.trim_start_matches("ui/mounts").trim_start_matches('/'),
            )
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedPath)),
    }
}

/// A JSON value known to be an object, as a map.
pub(crate) fn obj(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

/// A response whose fields appear both in `data` and at the top level, as Vault does for
/// several `sys/` endpoints (older clients read them from the top level).
pub(crate) fn both(data: JsonMap) -> CoreResponse {
    CoreResponse {
        top_level: Some(data.clone()),
        data: Some(data),
        ..Default::default()
    }
}

/// Decodes a body with Vault's rules (`secrethub_common::input`), as a 400 naming the field.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &JsonMap) -> CoreResult<T> {
    Ok(secrethub_common::input::decode(body)?)
}
