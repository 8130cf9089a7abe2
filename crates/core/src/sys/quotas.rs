//! `sys/quotas/lease-count/:name` and `sys/quotas/rate-limit/:name` (read, write, delete)
//! and their LISTs.

use secrethub_common::serde_helpers as sh;
use secrethub_engine::{EngineError, Operation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{obj, parse};
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::quotas::LeaseCountQuota;
use crate::request::CoreResponse;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Input {
    path: String,
    #[serde(deserialize_with = "sh::opt_uint")]
    max_leases: Option<u64>,
}

pub(super) async fn handle(ctx: &Ctx<'_>, tail: &str) -> CoreResult<CoreResponse> {
    if let Some(rest) = tail.strip_prefix("rate-limit") {
        return rate_limit(ctx, rest.trim_start_matches('/')).await;
    }
    let Some(rest) = tail.strip_prefix("lease-count") else {
        return Err(CoreError::Engine(EngineError::UnsupportedPath));
    };
    let name = rest.trim_start_matches('/');
    let store = &ctx.u.quotas;
    match ctx.op {
        Operation::List if name.is_empty() => list(store.names()),
        _ if name.is_empty() || name.contains('/') => {
            Err(CoreError::bad_request("invalid quota name"))
        }
        Operation::Read => {
            let q = store.read(name).ok_or(CoreError::NotFound)?;
            Ok(CoreResponse::data(obj(json!({
                "name": q.name, "path": q.path, "max_leases": q.max_leases, "type": "lease-count",
            }))))
        }
        Operation::Create | Operation::Update => {
            let input: Input = parse(&ctx.body)?;
            let max = input
                .max_leases
                .filter(|m| *m > 0)
                .ok_or_else(|| CoreError::bad_request("max_leases must be a positive integer"))?;
            let path = input.path.trim_start_matches('/').to_string();
            if path.split('/').any(|s| s == ".." || s == ".") {
                return Err(CoreError::bad_request("invalid quota path"));
            }
            store
                .write(LeaseCountQuota {
                    version: 1,
                    name: name.to_string(),
                    path,
                    max_leases: max,
                })
                .await?;
            Ok(CoreResponse::default())
        }
        Operation::Delete => {
            store.delete(name).await?;
            Ok(CoreResponse::default())
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
    }
}

/// A LIST answer of quota names (404 when there are none, as Vault answers).
fn list(names: Vec<String>) -> CoreResult<CoreResponse> {
    if names.is_empty() {
        return Err(CoreError::NotFound);
    }
    Ok(CoreResponse::data(obj(json!({ "keys": names }))))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RateInput {
    path: String,
    role: String,
    rate: Option<f64>,
    #[serde(deserialize_with = "sh::opt_duration")]
    interval: Option<std::time::Duration>,
    #[serde(deserialize_with = "sh::opt_duration")]
    block_interval: Option<std::time::Duration>,
    #[serde(deserialize_with = "sh::opt_boolean")]
    inheritable: Option<bool>,
}

async fn rate_limit(ctx: &Ctx<'_>, name: &str) -> CoreResult<CoreResponse> {
    let store = &ctx.u.rate_limits;
    match ctx.op {
        Operation::List if name.is_empty() => list(store.names()),
        _ if name.is_empty() || name.contains('/') => {
            Err(CoreError::bad_request("invalid quota name"))
        }
        Operation::Read => {
            let q = store.read(name).ok_or(CoreError::NotFound)?;
            Ok(CoreResponse::data(obj(json!({
                "name": q.name, "path": q.path, "role": q.role, "rate": go_float(q.rate),
                "interval": q.interval, "block_interval": q.block_interval,
                "inheritable": q.inheritable(), "type": "rate-limit",
            }))))
        }
        Operation::Create | Operation::Update => {
            let input: RateInput = parse(&ctx.body)?;
            let old = store.read(name);
            let rate = input
                .rate
                .or(old.as_ref().map(|q| q.rate))
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| CoreError::bad_request("rate must be a positive number"))?;
            let path = input.path.trim_start_matches('/').to_string();
            if path.split('/').any(|s| s == ".." || s == ".") {
                return Err(CoreError::bad_request("invalid quota path"));
            }
            if !input.role.is_empty() {
                let router = ctx.u.router();
                let is_auth_mount = router.all().any(|m| {
                    m.entry.class == crate::mounts::MountClass::Auth
                        && m.entry.api_path().trim_end_matches('/') == path.trim_end_matches('/')
                });
                if !is_auth_mount {
                    return Err(CoreError::bad_request(
                        "role can only be set when path names an auth mount (auth/<path>/)",
                    ));
                }
            }
            let secs = |d: Option<std::time::Duration>, old: Option<u64>, default: u64| {
                d.map(|d| d.as_secs()).or(old).unwrap_or(default)
            };
            let interval = secs(input.interval, old.as_ref().map(|q| q.interval), 1);
            if interval == 0 {
                return Err(CoreError::bad_request("interval must be at least 1s"));
            }
            // As in OpenBao, each write sets it: given, else the default for the path.
            let inheritable = Some(input.inheritable.unwrap_or(path.is_empty()));
            store
                .write(crate::rate_limit::RateLimitQuota {
                    version: 1,
                    name: name.to_string(),
                    path,
                    role: input.role,
                    rate,
                    interval,
                    block_interval: secs(
                        input.block_interval,
                        old.as_ref().map(|q| q.block_interval),
                        0,
                    ),
                    inheritable,
                })
                .await?;
            Ok(CoreResponse::default())
        }
        Operation::Delete => {
            store.delete(name).await?;
            Ok(CoreResponse::default())
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
    }
}

/// A float as Go's JSON encoder writes it: `5`, not `5.0`, for a whole number.
fn go_float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}
