//! `sys/audit` (list), `sys/audit/:path` (enable, disable), `sys/audit-hash/:path` and
//! `sys/audit-verify/:path` (the server verifies a file device's log with the chain key and
//! the position it keeps behind the barrier; sudo, declared in `sys/mod.rs`).

use std::collections::BTreeMap;

use secrethub_common::serde_helpers as sh;
use secrethub_engine::{EngineError, Operation};
use serde::Deserialize;
use serde_json::Value;

use super::{both, obj, parse};
use crate::error::{CoreError, CoreResult};
use crate::mounts::normalize_mount_path;
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnableInput {
    #[serde(rename = "type")]
    device_type: String,
    description: String,
    options: BTreeMap<String, Value>,
    #[serde(deserialize_with = "sh::boolean")]
    local: bool,
}

pub(super) async fn handle(ctx: &Ctx<'_>, tail: &str) -> CoreResult<CoreResponse> {
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    if tail.is_empty() {
        return match ctx.op {
            Operation::Read => Ok(both(ctx.u.audit.list())),
            _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
        };
    }
    let path = normalize_mount_path(tail).map_err(CoreError::BadRequest)?;
    match ctx.op {
        _ if write => {
            let input: EnableInput = parse(&ctx.body)?;
            if input.device_type.is_empty() {
                return Err(CoreError::bad_request("type is required"));
            }
            let options = input
                .options
                .into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect();
            ctx.u
                .audit
                .enable(
                    &path,
                    &input.device_type,
                    input.description,
                    options,
                    input.local,
                )
                .await?;
            tracing::info!(path = %path, "audit device enabled");
            Ok(CoreResponse::default())
        }
        Operation::Delete => {
            ctx.u.audit.disable(&path).await?;
            Ok(CoreResponse::default())
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
    }
}

pub(super) fn hash(ctx: &Ctx<'_>, tail: &str) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(tail).map_err(CoreError::BadRequest)?;
    let input = ctx
        .body
        .get("input")
        .and_then(Value::as_str)
        .ok_or_else(|| CoreError::bad_request("the \"input\" parameter is required"))?;
    let hash = ctx.u.audit.hash(&path, input)?;
    Ok(both(obj(serde_json::json!({ "hash": hash }))))
}

pub(super) async fn verify(ctx: &Ctx<'_>, tail: &str) -> CoreResult<CoreResponse> {
    let path = normalize_mount_path(tail).map_err(CoreError::BadRequest)?;
    Ok(both(ctx.u.audit.verify(&path).await?))
}
