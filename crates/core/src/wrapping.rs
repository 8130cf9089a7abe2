//! Response wrapping: a response is stored in the cubbyhole of a new single-use wrapping
//! token and the client gets only `wrap_info`; `sys/wrapping/unwrap` hands it back once.

use std::collections::BTreeMap;
use std::time::Duration;

use secrethub_common::{format_rfc3339, now_unix, JsonMap};
use secrethub_engine::Operation;
use secrethub_storage::StorageView;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::{AuthBlock, CoreResponse, WrapInfo};
use crate::tokens::{cubbyhole_prefix, TokenRecord};
use crate::unsealed::Unsealed;

/// What is kept in the wrapping token's cubbyhole.
#[derive(Serialize, Deserialize)]
struct WrappedResponse {
    data: Option<JsonMap>,
    auth: Option<AuthBlock>,
    warnings: Vec<String>,
}

/// Max wrap TTL, as Vault's default.
const MAX_WRAP_TTL: Duration = Duration::from_secs(768 * 3600);

pub(crate) async fn wrap_response(
    u: &Unsealed,
    resp: CoreResponse,
    ttl: Duration,
    creation_path: &str,
) -> CoreResult<CoreResponse> {
    if ttl > MAX_WRAP_TTL {
        return Err(CoreError::bad_request(
            "wrapping ttl exceeds the maximum of 768h",
        ));
    }
    let wrapped_accessor = resp
        .auth
        .as_ref()
        .map(|a| a.accessor.clone())
        .unwrap_or_default();
    let now = now_unix();
    let mut rec = TokenRecord {
        version: 1,
        hash: String::new(),
        accessor: String::new(),
        parent: None,
        policies: vec!["response-wrapping".into()],
        meta: BTreeMap::new(),
        display_name: "response-wrapping".into(),
        num_uses: 1,
        creation_time: now,
        creation_ttl: ttl.as_secs(),
        expire_time: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        explicit_max_ttl: 0,
        period: 0,
        renewable: false,
        path: creation_path.to_string(),
        entity_id: String::new(),
        token_type: "wrapping".into(),
        wrap_creation_path: creation_path.to_string(),
        max_ttl: 0,
        bound_cidrs: Vec::new(),
        login: None,
        role: String::new(),
    };
    let token = u.tokens.create(&mut rec, None).await?;
    let stored = WrappedResponse {
        data: resp.data,
        auth: resp.auth,
        warnings: resp.warnings,
    };
    let view = StorageView::new(u.barrier.clone(), cubbyhole_prefix(&rec.hash));
    view.put_json("response", &stored).await?;
    Ok(CoreResponse {
        wrap_info: Some(WrapInfo {
            token: token.expose().clone(),
            accessor: rec.accessor.clone(),
            ttl: ttl.as_secs(),
            creation_time: format_rfc3339(now as i128 * 1_000_000_000),
            creation_path: creation_path.to_string(),
            wrapped_accessor,
        }),
        mount_type: resp.mount_type,
        ..Default::default()
    })
}

/// The wrapping token a `sys/wrapping/*` call is about: `token` in the body, else the caller's.
async fn target(ctx: &Ctx<'_>) -> CoreResult<(String, TokenRecord)> {
    let token = match ctx.body.get("token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => ctx
            .token_id
            .clone()
            .ok_or(CoreError::bad_request("missing token"))?,
    };
    let rec = ctx
        .u
        .lookup_token(&token)
        .await?
        .filter(|r| r.token_type == "wrapping")
        .ok_or_else(|| CoreError::bad_request("wrapping token is not valid or does not exist"))?;
    Ok((token, rec))
}

pub(crate) async fn handle(ctx: &Ctx<'_>, action: &str) -> CoreResult<CoreResponse> {
    match (action, ctx.op) {
        ("lookup", Operation::Read | Operation::Update | Operation::Create) => {
            let (_, rec) = target(ctx).await?;
            let mut m = JsonMap::new();
            m.insert("creation_path".into(), rec.wrap_creation_path.into());
            m.insert(
                "creation_time".into(),
                format_rfc3339(rec.creation_time as i128 * 1_000_000_000).into(),
            );
            m.insert("creation_ttl".into(), rec.creation_ttl.into());
            Ok(CoreResponse::data(m))
        }
        ("unwrap", Operation::Update | Operation::Create) => {
            let (_, rec) = target(ctx).await?;
            let view = StorageView::new(ctx.u.barrier.clone(), cubbyhole_prefix(&rec.hash));
            let stored: Option<WrappedResponse> = view.get_json("response").await?;
            // Single use: the token goes whatever happens next.
            ctx.u.tokens.revoke_tree(&rec.hash).await?;
            let stored = stored.ok_or_else(|| {
                CoreError::bad_request("wrapping token is not valid or does not exist")
            })?;
            Ok(CoreResponse {
                data: stored.data,
                auth: stored.auth,
                warnings: stored.warnings,
                ..Default::default()
            })
        }
        ("rewrap", Operation::Update | Operation::Create) => {
            let (_, rec) = target(ctx).await?;
            let view = StorageView::new(ctx.u.barrier.clone(), cubbyhole_prefix(&rec.hash));
            let stored: WrappedResponse = view.get_json("response").await?.ok_or_else(|| {
                CoreError::bad_request("wrapping token is not valid or does not exist")
            })?;
            let ttl = Duration::from_secs(rec.creation_ttl);
            let resp = CoreResponse {
                data: stored.data,
                auth: stored.auth,
                warnings: stored.warnings,
                ..Default::default()
            };
            let new = wrap_response(ctx.u, resp, ttl, &rec.wrap_creation_path).await?;
            ctx.u.tokens.revoke_tree(&rec.hash).await?;
            // The pipeline must not wrap the new wrap_info again.
            Ok(new)
        }
        ("wrap", Operation::Update | Operation::Create) => {
            if ctx.wrap_ttl.filter(|t| !t.is_zero()).is_none() {
                return Err(CoreError::bad_request(
                    "wrap ttl must be set via the X-Vault-Wrap-TTL header",
                ));
            }
            if ctx.body.is_empty() {
                return Err(CoreError::bad_request("empty request body"));
            }
            // The pipeline wraps this response because the header is present.
            Ok(CoreResponse::data(ctx.body.clone()))
        }
        ("lookup" | "unwrap" | "rewrap" | "wrap", _) => Err(CoreError::Engine(
            secrethub_engine::EngineError::UnsupportedOperation,
        )),
        _ => Err(CoreError::NotFound),
    }
}
