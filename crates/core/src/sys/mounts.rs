//! `sys/mounts` (enable, disable, tune, list), `sys/auth` (list) and
//! `sys/internal/ui/mounts` (what the CLI asks before every `kv` command).

use std::collections::BTreeMap;
use std::time::Duration;

use secrethub_common::serde_helpers as sh;
use secrethub_engine::Operation;
use serde::Deserialize;
use serde_json::Value;

use super::{both, obj, parse};
use crate::error::{CoreError, CoreResult};
use crate::mounts::{normalize_mount_path, MountClass, MountConfig, MountEntry, Mounted};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;
use crate::unsealed::mount_accessor;

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigInput {
    #[serde(deserialize_with = "sh::opt_duration")]
    default_lease_ttl: Option<Duration>,
    #[serde(deserialize_with = "sh::opt_duration")]
    max_lease_ttl: Option<Duration>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnableInput {
    #[serde(rename = "type")]
    engine_type: String,
    description: String,
    config: ConfigInput,
    options: Option<BTreeMap<String, Value>>,
    #[serde(deserialize_with = "sh::boolean")]
    local: bool,
    #[serde(deserialize_with = "sh::boolean")]
    seal_wrap: bool,
    plugin_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TuneInput {
    #[serde(deserialize_with = "sh::opt_duration")]
    default_lease_ttl: Option<Duration>,
    #[serde(deserialize_with = "sh::opt_duration")]
    max_lease_ttl: Option<Duration>,
    description: Option<String>,
    options: Option<BTreeMap<String, Value>>,
}

fn stringify_options(o: Option<BTreeMap<String, Value>>) -> BTreeMap<String, String> {
    o.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, s)
        })
        .collect()
}

/// `sys/mounts/*` (`class` Secret) and `sys/auth/*` (`class` Auth).
pub(super) async fn handle(
    ctx: &Ctx<'_>,
    tail: &str,
    class: MountClass,
) -> CoreResult<CoreResponse> {
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    if tail.is_empty() {
        return match ctx.op {
            Operation::Read => Ok(list(ctx, class)),
            _ => Err(CoreError::Engine(
                secrethub_engine::EngineError::UnsupportedOperation,
            )),
        };
    }
    if let Some(path) = tail.strip_suffix("/tune") {
        return match ctx.op {
            Operation::Read => read_tune(ctx, &class_path(class, path)),
            _ if write => tune(ctx, &class_path(class, path)).await,
            _ => Err(CoreError::Engine(
                secrethub_engine::EngineError::UnsupportedOperation,
            )),
        };
    }
    match ctx.op {
        _ if write => enable(ctx, tail, class).await,
        Operation::Delete => disable(ctx, tail, class).await,
        Operation::Read => {
            let path = normalize_mount_path(tail).map_err(CoreError::BadRequest)?;
            let router = ctx.u.router();
            let m = router
                .all()
                .find(|m| m.entry.class == class && m.entry.path == path)
                .ok_or_else(|| {
                    // OpenBao's 400s, word for word.
                    CoreError::bad_request(match class {
                        MountClass::Secret => format!("No secret engine mount at {path}"),
                        MountClass::Auth => format!("No auth engine at {path}"),
                    })
                })?;
            Ok(both(obj(m.entry.to_json())))
        }
        _ => Err(CoreError::Engine(
            secrethub_engine::EngineError::UnsupportedOperation,
        )),
    }
}

fn list(ctx: &Ctx<'_>, class: MountClass) -> CoreResponse {
    let mut data = serde_json::Map::new();
    for m in ctx.u.router().all() {
        if m.entry.class == class {
            data.insert(m.entry.path.clone(), m.entry.to_json());
        }
    }
    both(data)
}

/// The API path of a mount path in its table (`auth/userpass` for an auth method).
fn class_path(class: MountClass, path: &str) -> String {
    match class {
        MountClass::Secret => path.to_string(),
        MountClass::Auth => format!("auth/{}", path.trim_start_matches('/')),
    }
}

async fn enable(ctx: &Ctx<'_>, raw_path: &str, class: MountClass) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(raw_path).map_err(CoreError::BadRequest)?;
    let input: EnableInput = parse(&ctx.body)?;
    let mut engine_type = input.engine_type.trim().to_string();
    if engine_type.is_empty() {
        engine_type = input.plugin_name.clone().unwrap_or_default();
    }
    if engine_type.is_empty() {
        return Err(CoreError::bad_request("missing 'type'"));
    }
    let mut options = stringify_options(input.options);
    // Vault stores kv-v2 as type "kv" with version 2.
    if engine_type == "kv-v2" {
        engine_type = "kv".into();
        options.insert("version".into(), "2".into());
    }
    if crate::builtin::BuiltIn::of(&engine_type).is_some() {
        return Err(CoreError::bad_request(format!(
            "cannot mount {engine_type:?} of type {engine_type:?}"
        )));
    }
    let (known, names) = match class {
        MountClass::Secret => (
            ctx.u.registry.get(&engine_type).is_some(),
            ctx.u.registry.names(),
        ),
        MountClass::Auth => (
            ctx.u.registry.get_auth(&engine_type).is_some(),
            ctx.u.registry.auth_names(),
        ),
    };
    if !known {
        return Err(CoreError::bad_request(format!(
            "plugin not found in the catalog: {engine_type}; available: {}",
            names.join(", ")
        )));
    }
    let reserved = match class {
        MountClass::Secret => {
            matches!(path.as_str(), "sys/" | "auth/" | "cubbyhole/" | "identity/")
                || path.starts_with("sys/")
                || path.starts_with("auth/")
        }
        MountClass::Auth => path == "token/" || path.starts_with("token/"),
    };
    if reserved {
        return Err(CoreError::bad_request(format!(
            "cannot mount at reserved path {path:?}"
        )));
    }
    let config = mount_config(
        input.config.default_lease_ttl,
        input.config.max_lease_ttl,
        &MountConfig::default(),
        ctx,
    )?;

    let _guard = ctx.u.mount_lock.lock().await;
    let router = ctx.u.router();
    for m in router.all() {
        if m.entry.class != class {
            continue;
        }
        let existing = &m.entry.path;
        if existing.starts_with(&path) || path.starts_with(existing.as_str()) {
            return Err(CoreError::bad_request(format!(
                "path is already in use at {existing}"
            )));
        }
    }
    let entry = MountEntry {
        version: 1,
        path: path.clone(),
        accessor: mount_accessor(&engine_type, class),
        engine_type,
        description: input.description,
        uuid: secrethub_common::random_uuid(),
        config,
        options,
        class,
        local: input.local,
        seal_wrap: input.seal_wrap,
    };
    let engine = ctx.u.instantiate(&entry)?;
    let mut mounted: Vec<Mounted> = router.all().cloned().collect();
    mounted.push(Mounted { entry, engine });
    ctx.u.replace_mounts(mounted).await?;
    match class {
        MountClass::Secret => tracing::info!(path = %path, "secrets engine enabled"),
        MountClass::Auth => tracing::info!(path = %path, "auth method enabled"),
    }
    Ok(CoreResponse::default())
}

async fn disable(ctx: &Ctx<'_>, raw_path: &str, class: MountClass) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(raw_path).map_err(CoreError::BadRequest)?;
    let _guard = ctx.u.mount_lock.lock().await;
    let router = ctx.u.router();
    let Some(target) = router
        .all()
        .find(|m| m.entry.class == class && m.entry.path == path)
        .cloned()
    else {
        // Disabling a missing mount is a no-op in Vault.
        return Ok(CoreResponse::default());
    };
    if target.entry.is_builtin() {
        return Err(CoreError::bad_request(format!("cannot unmount {path:?}")));
    }
    // Vault revokes a mount's leases (an auth method's: the tokens it issued) before
    // unmounting; a failure keeps the mount.
    let api_path = target.entry.api_path();
    // From here on its revocations wait for the upstream flush, so the receipts confirmed
    // below are the last; kept closed until the mount is gone.
    let _closed = ctx
        .u
        .leases
        .close_mount(&target.entry.accessor)
        .await
        .map_err(|e| CoreError::Unavailable(format!("cannot disable {api_path:?}: {e}")))?;
    ctx.u.leases.revoke_prefix(&api_path).await.map_err(|e| {
        CoreError::bad_request(format!("failed to revoke the leases of {api_path:?}: {e}"))
    })?;
    // Only its engine can confirm a revocation that is not yet durable upstream.
    ctx.u
        .leases
        .confirm_mount(&target.entry.accessor)
        .await
        .map_err(|e| {
            CoreError::bad_request(format!(
                "failed to confirm the revocations of {api_path:?}: {e}"
            ))
        })?;
    if class == MountClass::Auth {
        ctx.u
            .tokens
            .revoke_issued_by(&target.entry.accessor)
            .await?;
        ctx.u.identity.forget_mount(&target.entry.accessor).await?;
    }
    let mounted: Vec<Mounted> = router
        .all()
        .filter(|m| !(m.entry.class == class && m.entry.path == path))
        .cloned()
        .collect();
    // Unmount first so no request can write while the data is being removed.
    ctx.u.replace_mounts(mounted).await?;
    ctx.u.timers.forget_mount(&target.entry.accessor).await?;

    secrethub_storage::delete_prefix(&*ctx.u.barrier, &target.entry.storage_prefix()).await?;
    tracing::info!(path = %api_path, "mount disabled");
    Ok(CoreResponse::default())
}

fn mount_config(
    default: Option<Duration>,
    max: Option<Duration>,
    current: &MountConfig,
    ctx: &Ctx<'_>,
) -> CoreResult<MountConfig> {
    let mut cfg = current.clone();
    if let Some(d) = default {
        cfg.default_lease_ttl = d.as_secs();
    }
    if let Some(m) = max {
        cfg.max_lease_ttl = m.as_secs();
    }
    // A mount's own max may exceed the system's, as in Vault and OpenBao: PKI mounts are
    // tuned to 87600h for a ten-year root while leases elsewhere keep the system's 768h.
    let eff_max = if cfg.max_lease_ttl == 0 {
        ctx.core.config.max_lease_ttl.as_secs()
    } else {
        cfg.max_lease_ttl
    };
    if cfg.default_lease_ttl > eff_max {
        return Err(CoreError::bad_request(
            "default_lease_ttl cannot be greater than max_lease_ttl",
        ));
    }
    Ok(cfg)
}

fn find_any<'r>(router: &'r crate::mounts::Router, path: &str) -> Option<&'r Mounted> {
    router.all().find(|m| m.entry.api_path() == path)
}

fn read_tune(ctx: &Ctx<'_>, raw: &str) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(raw).map_err(CoreError::BadRequest)?;
    let router = ctx.u.router();
    let m = find_any(&router, &path)
        .ok_or_else(|| CoreError::bad_request(format!("cannot fetch sysview for path {path:?}")))?;
    let (d, max) = m.entry.ttls(
        ctx.core.config.default_lease_ttl,
        ctx.core.config.max_lease_ttl,
    );
    let mut data = obj(serde_json::json!({
        "default_lease_ttl": d.as_secs(),
        "max_lease_ttl": max.as_secs(),
        "description": m.entry.description,
        "force_no_cache": false,
    }));
    if m.entry.class == MountClass::Auth {
        data.insert("token_type".into(), "default-service".into());
    }
    if !m.entry.options.is_empty() {
        data.insert(
            "options".into(),
            serde_json::to_value(&m.entry.options).unwrap_or_default(),
        );
    }
    Ok(both(data))
}

async fn tune(ctx: &Ctx<'_>, raw: &str) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(raw).map_err(CoreError::BadRequest)?;
    let input: TuneInput = parse(&ctx.body)?;
    let _guard = ctx.u.mount_lock.lock().await;
    let router = ctx.u.router();
    let current = find_any(&router, &path)
        .ok_or_else(|| CoreError::bad_request(format!("no mount at {path:?}")))?;
    let mut entry = current.entry.clone();
    entry.config = mount_config(
        input.default_lease_ttl,
        input.max_lease_ttl,
        &entry.config,
        ctx,
    )?;
    if let Some(d) = input.description {
        entry.description = d;
    }
    if let Some(o) = input.options {
        let new = stringify_options(Some(o));
        if let Some(v) = new.get("version") {
            let old = entry
                .options
                .get("version")
                .map(String::as_str)
                .unwrap_or("1");
            if entry.engine_type == "kv" && v != old {
                return Err(CoreError::bad_request(
                    "changing the kv version of a mount is not supported",
                ));
            }
        }
        entry.options.extend(new);
    }
    let mounted: Vec<Mounted> = router
        .all()
        .map(|m| {
            if m.entry.api_path() == path {
                Mounted {
                    entry: entry.clone(),
                    engine: m.engine.clone(),
                }
            } else {
                m.clone()
            }
        })
        .collect();
    ctx.u.replace_mounts(mounted).await?;
    Ok(CoreResponse::default())
}

pub(super) fn ui_mounts(ctx: &Ctx<'_>, path: &str) -> CoreResult<CoreResponse> {
    let router = ctx.u.router();
    if path.is_empty() {
        let mut secret = serde_json::Map::new();
        let mut auth = serde_json::Map::new();
        for m in router.all() {
            if !ctx.acl.grants_anything_under(&m.entry.api_path()) {
                continue;
            }
            let v = m.entry.to_json();
            match m.entry.class {
                MountClass::Secret => secret.insert(m.entry.path.clone(), v),
                // Keyed as in `sys/auth` ("token/"), as OpenBao does.
                MountClass::Auth => auth.insert(m.entry.path.clone(), v),
            };
        }
        let mut data = serde_json::Map::new();
        data.insert("secret".into(), Value::Object(secret));
        data.insert("auth".into(), Value::Object(auth));
        return Ok(CoreResponse::data(data));
    }
    // The same 403 whether nothing is mounted there or the caller may not see the mount, so
    // this lookup cannot be used to discover mounts (OpenBao's answer, word for word).
    let denied = || {
        let shown = format!("{}/", path.trim_end_matches('/'));
        CoreError::Forbidden(format!(
            "preflight capability check returned 403, please ensure client's policies grant \
             access to path {shown:?}"
        ))
    };
    let (m, _) = router.route(path).ok_or_else(denied)?;
    if !ctx.acl.grants_anything_under(&m.entry.api_path()) {
        return Err(denied());
    }
    let mut data = obj(m.entry.to_json());
    data.insert("path".into(), Value::from(m.entry.api_path()));
    if m.entry.options.is_empty() {
        data.insert("options".into(), Value::Null);
    }
    Ok(CoreResponse::data(data))
}
