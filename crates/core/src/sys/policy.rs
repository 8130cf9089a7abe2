//! `sys/policy/:name` (Vault's older shape, `rules`) and `sys/policies/acl/:name`
//! (`policy`), plus their listings.

use secrethub_engine::{EngineError, Operation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{both, obj, parse};
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

#[derive(Deserialize, Default)]
#[serde(default)]
struct PolicyInput {
    policy: Option<String>,
    rules: Option<String>,
}

pub(super) async fn handle(ctx: &Ctx<'_>, head: &str, tail: &str) -> CoreResult<CoreResponse> {
    // "policy/<name>" uses `rules`; "policies/acl/<name>" uses `policy`.
    let (name, legacy) = match head {
        "policy" => (tail, true),
        _ => match tail.strip_prefix("acl") {
            Some(rest) => (rest.trim_start_matches('/'), false),
            None => return Err(CoreError::Engine(EngineError::UnsupportedPath)),
        },
    };
    let store = &ctx.u.policies;
    let write = matches!(ctx.op, Operation::Update | Operation::Create);
    if name.is_empty() {
        return match (ctx.op, legacy) {
            (Operation::Read, true) | (Operation::List, _) => {
                let names = store.list().await?;
                let mut data = obj(json!({ "keys": names }));
                if legacy {
                    data.insert("policies".into(), Value::from(names));
                }
                Ok(both(data))
            }
            _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
        };
    }
    match ctx.op {
        Operation::Read => {
            let text = store.read(name).await?.ok_or(CoreError::NotFound)?;
            let name = crate::policies::normalize_name(name)?;
            let field = if legacy { "rules" } else { "policy" };
            Ok(both(obj(json!({ "name": name, field: text }))))
        }
        _ if write => {
            let input: PolicyInput = parse(&ctx.body)?;
            let text = if legacy {
                input.rules.or(input.policy)
            } else {
                input.policy.or(input.rules)
            };
            let text = text.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                CoreError::bad_request("'policy' parameter not supplied or empty")
            })?;
            let text = decode_maybe_base64(&text);
            store.write(name, &text).await?;
            Ok(CoreResponse::default())
        }
        Operation::Delete => {
            store.delete(name).await?;
            Ok(CoreResponse::default())
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedOperation)),
    }
}

/// Vault accepts the policy text base64-encoded too.
fn decode_maybe_base64(text: &str) -> String {
    use base64::Engine as _;
    if text.contains('"') || text.contains('{') {
        return text.to_string();
    }
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| text.to_string())
}
