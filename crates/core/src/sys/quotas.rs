//! `sys/quotas/lease-count/:name` (read, write, delete) and its LIST.

use secrethub_common::serde_helpers as sh;
use secrethub_engine::{EngineError, Operation};
use serde::Deserialize;
use serde_json::json;

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
    let Some(rest) = tail.strip_prefix("lease-count") else {
        return Err(CoreError::Engine(EngineError::UnsupportedPath));
    };
    let name = rest.trim_start_matches('/');
    let store = &ctx.u.quotas;
    match ctx.op {
        Operation::List if name.is_empty() => {
            let names = store.names();
            if names.is_empty() {
                return Err(CoreError::NotFound);
            }
            Ok(CoreResponse::data(obj(json!({ "keys": names }))))
        }
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
