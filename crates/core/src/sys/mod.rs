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
use std::sync::LazyLock;

use secrethub_engine::{EngineError, Operation, PathTable};
use serde_json::Value;

use crate::builtin::{row, BuiltinPaths};
use crate::error::{CoreError, CoreResult};
use crate::mounts::MountClass;
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

use Operation::{Delete, List, Read, Update};

/// `sys/`'s paths (`mounts/{*path}` and `auth/{*path}` include `.../tune`). The sudo rows
/// are OpenBao's `PathsSpecial.Root` of its system backend, for the paths served here; the
/// bare `revoke-prefix` and `revoke-force` forms are sudo too, since an empty prefix means
/// all. The unauthenticated rows are OpenBao's `PathsSpecial.Unauthenticated`.
pub(crate) static PATHS: BuiltinPaths = LazyLock::new(|| {
    PathTable::new()
        .add("mounts", (), &[Read], "Lists the secrets engine mounts.")
        .add(
            "mounts/{*path}",
            (),
            &[Read, Update, Delete],
            "Reads, enables or disables a secrets engine mount, or reads and tunes it (/tune).",
        )
        .add("auth", (), &[Read], "Lists the auth method mounts.")
        .entry(
            row(
                "auth/{*path}",
                &[Read, Update, Delete],
                "Reads, enables or disables an auth method mount, or reads and tunes it (/tune).",
            )
            .sudo(),
        )
        .add("policy", (), &[Read, List], "Lists the ACL policies.")
        .add(
            "policy/{*name}",
            (),
            &[Read, Update, Delete],
            "Reads, writes or deletes an ACL policy (policy).",
        )
        .add("policies/acl", (), &[List], "Lists the ACL policies.")
        .add(
            "policies/acl/{*name}",
            (),
            &[Read, Update, Delete],
            "Reads, writes or deletes an ACL policy (policy).",
        )
        .entry(row("audit", &[Read], "Lists the audit devices.").sudo())
        .entry(
            row(
                "audit/{*path}",
                &[Update, Delete],
                "Enables or disables an audit device (type, options).",
            )
            .sudo(),
        )
        .add(
            "audit-hash/{*path}",
            (),
            &[Update],
            "HMACs input with an audit device's key.",
        )
        // SecretHub's own path (OpenBao has none): verifying the log reads the chain key.
        .entry(
            row(
                "audit-verify/{*path}",
                &[Read],
                "Verifies an audit device's hash chain and MACs.",
            )
            .sudo(),
        )
        .add(
            "capabilities",
            (),
            &[Update],
            "A token's capabilities on paths (token, paths).",
        )
        .add(
            "capabilities-self",
            (),
            &[Update],
            "The caller's capabilities on paths (paths).",
        )
        .add(
            "capabilities-accessor",
            (),
            &[Update],
            "The capabilities on paths of the token with an accessor (accessor, paths).",
        )
        .entry(row("rotate", &[Update], "Rotates the barrier key.").sudo())
        .add(
            "key-status",
            (),
            &[Read],
            "The barrier key's term and install time.",
        )
        .entry(row("seal", &[Update], "Seals the server.").sudo())
        .entry(
            row(
                "wrapping/lookup",
                &[Read, Update],
                "Looks up a wrapping token (token).",
            )
            .unauthenticated(),
        )
        .entry(
            row(
                "wrapping/unwrap",
                &[Update],
                "Unwraps a wrapped response (token, or the wrapping token as the caller).",
            )
            .unauthenticated(),
        )
        .add(
            "wrapping/rewrap",
            (),
            &[Update],
            "Rewraps a wrapped response in a new wrapping token (token).",
        )
        .add(
            "wrapping/wrap",
            (),
            &[Update],
            "Wraps the request body in a wrapping token.",
        )
        .entry(row("leases", &[Read, List], "Lists every lease.").sudo())
        // OpenBao protects `leases/lookup/*`, which its LIST of `leases/lookup/` matches.
        .entry(
            row(
                "leases/lookup",
                &[Update, List],
                "Looks up a lease (lease_id); LIST lists the top-level lease prefixes.",
            )
            .sudo_for(&[List]),
        )
        .entry(
            row(
                "leases/lookup/{*prefix}",
                &[Update, List],
                "Lists the leases under a prefix.",
            )
            .sudo(),
        )
        .add(
            "leases/renew",
            (),
            &[Update],
            "Renews a lease (lease_id, increment).",
        )
        .add(
            "leases/renew/{*lease_id}",
            (),
            &[Update],
            "Renews the lease in the path (increment).",
        )
        .add(
            "leases/revoke",
            (),
            &[Update],
            "Revokes a lease (lease_id, sync).",
        )
        .add(
            "leases/revoke/{*lease_id}",
            (),
            &[Update],
            "Revokes the lease in the path (sync).",
        )
        .entry(
            row(
                "leases/revoke-prefix",
                &[Update],
                "Revokes every lease (an empty prefix).",
            )
            .sudo(),
        )
        .entry(
            row(
                "leases/revoke-prefix/{*prefix}",
                &[Update],
                "Revokes every lease under a prefix (sync).",
            )
            .sudo(),
        )
        .entry(
            row(
                "leases/revoke-force",
                &[Update],
                "Forgets every lease without revoking it upstream (an empty prefix).",
            )
            .sudo(),
        )
        .entry(
            row(
                "leases/revoke-force/{*prefix}",
                &[Update],
                "Forgets the leases under a prefix without revoking them upstream.",
            )
            .sudo(),
        )
        .add(
            "leases/tidy",
            (),
            &[Update],
            "Removes lease index entries that point nowhere.",
        )
        .add(
            "leases/count",
            (),
            &[Read],
            "Counts the leases (type, include_child_namespaces).",
        )
        .add("leases/stats", (), &[Read], "Lease totals and counters.")
        .add("renew", (), &[Update], "Renews a lease (older path).")
        .add(
            "renew/{*lease_id}",
            (),
            &[Update],
            "Renews the lease in the path (older path).",
        )
        .add("revoke", (), &[Update], "Revokes a lease (older path).")
        .add(
            "revoke/{*lease_id}",
            (),
            &[Update],
            "Revokes the lease in the path (older path).",
        )
        .entry(
            row(
                "revoke-prefix",
                &[Update],
                "Revokes every lease (older path, an empty prefix).",
            )
            .sudo(),
        )
        .entry(
            row(
                "revoke-prefix/{*prefix}",
                &[Update],
                "Revokes every lease under a prefix (older path).",
            )
            .sudo(),
        )
        .entry(
            row(
                "revoke-force",
                &[Update],
                "Forgets every lease without revoking it upstream (older path).",
            )
            .sudo(),
        )
        .entry(
            row(
                "revoke-force/{*prefix}",
                &[Update],
                "Forgets the leases under a prefix without revoking them upstream (older path).",
            )
            .sudo(),
        )
        .add(
            "quotas/lease-count",
            (),
            &[List],
            "Lists the lease-count quotas.",
        )
        .add(
            "quotas/lease-count/{*name}",
            (),
            &[Read, Update, Delete],
            "Reads, writes or deletes a lease-count quota (path, max_leases).",
        )
        .add(
            "quotas/rate-limit",
            (),
            &[List],
            "Lists the rate-limit quotas.",
        )
        .add(
            "quotas/rate-limit/{*name}",
            (),
            &[Read, Update, Delete],
            "Reads, writes or deletes a rate-limit quota (path, role, rate, interval).",
        )
        // Shows only the mounts the caller's policies reach, as in Vault.
        .entry(
            row(
                "internal/ui/mounts",
                &[Read],
                "The mounts the caller may reach, for the UI.",
            )
            .unauthenticated(),
        )
        .entry(
            row(
                "internal/ui/mounts/{*path}",
                &[Read],
                "One mount the caller may reach, for the UI.",
            )
            .unauthenticated(),
        )
});

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
