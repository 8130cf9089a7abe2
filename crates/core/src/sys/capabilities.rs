//! `sys/capabilities-self`, `sys/capabilities` (for a given token) and
//! `sys/capabilities-accessor`: what a token may do on each of a list of paths. An unknown
//! token or accessor is answered in OpenBao's words (a go-multierror text, 400).

use std::sync::Arc;

use secrethub_common::serde_helpers as sh;
use secrethub_policy::Acl;
use serde::Deserialize;
use serde_json::Value;

use super::{both, parse};
use crate::error::{go_multierror, CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Input {
    #[serde(deserialize_with = "sh::string_list")]
    paths: Vec<String>,
    #[serde(deserialize_with = "sh::string_list")]
    path: Vec<String>,
    token: Option<String>,
    accessor: Option<String>,
}

pub(super) async fn handle(ctx: &Ctx<'_>, which: &str) -> CoreResult<CoreResponse> {
    let input: Input = parse(&ctx.body)?;
    let mut paths = input.paths;
    paths.extend(input.path);
    if paths.is_empty() {
        return Err(CoreError::bad_request("\"paths\" must be given"));
    }
    let acl: Arc<Acl> = match which {
        "capabilities-self" => ctx.acl.clone(),
        "capabilities" => {
            let token = input
                .token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| CoreError::bad_request("\"token\" must be given"))?;
            let rec = ctx
                .u
                .lookup_token(&token)
                .await?
                .ok_or_else(|| CoreError::bad_request(go_multierror("invalid token")))?;
            ctx.u
                .policies
                .acl(&rec.policies, &rec.entity_id, &ctx.u.identity)
                .await?
        }
        _ => {
            let accessor = input
                .accessor
                .filter(|a| !a.is_empty())
                .ok_or_else(|| CoreError::bad_request("missing accessor"))?;
            let invalid = || CoreError::bad_request(go_multierror("invalid accessor"));
            let hash = ctx
                .u
                .tokens
                .hash_for_accessor(&accessor)
                .await?
                .ok_or_else(invalid)?;
            let rec = ctx.u.tokens.lookup_hash(&hash).await?.ok_or_else(invalid)?;
            ctx.u
                .policies
                .acl(&rec.policies, &rec.entity_id, &ctx.u.identity)
                .await?
        }
    };
    let mut data = serde_json::Map::new();
    let mut all: Vec<String> = Vec::new();
    for p in &paths {
        let names = acl.capabilities(p.trim_start_matches('/')).names();
        all.extend(names.iter().cloned());
        data.insert(p.clone(), Value::from(names));
    }
    if paths.len() == 1 {
        all.sort();
        all.dedup();
        data.insert("capabilities".into(), Value::from(all));
    }
    Ok(both(data))
}
