//! `cubbyhole/`: per-token private storage. Each token sees only its own keys (a storage
//! view under `cubbyhole/<token hash>/`), and they are destroyed with the token.

use std::sync::LazyLock;

use secrethub_engine::{Operation, PathTable};
use secrethub_storage::{list_children, Storage, StorageView};
use serde_json::Value;

use crate::builtin::BuiltinPaths;
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;
use crate::tokens::cubbyhole_prefix;

/// `cubbyhole/`'s paths: the token's own key space. No row has a flag: every path needs a
/// token, none needs sudo.
pub(crate) static PATHS: BuiltinPaths = LazyLock::new(|| {
    use Operation::{Delete, List, Read, Update};
    PathTable::new()
        .add("", (), &[List], "Lists the token's top-level keys.")
        .add(
            "{*path}",
            (),
            &[Read, Update, Delete, List],
            "Reads, writes, deletes or lists the token's own secrets.",
        )
});

pub(crate) async fn handle(ctx: &Ctx<'_>) -> CoreResult<CoreResponse> {
    let token = ctx.caller()?;
    if token.is_batch() {
        return Err(CoreError::bad_request("batch tokens have no cubbyhole"));
    }
    let view = StorageView::new(ctx.u.barrier.clone(), cubbyhole_prefix(&token.hash));
    let key = ctx.rel.as_str();
    match ctx.op {
        Operation::List => {
            let prefix = if key.is_empty() {
                String::new()
            } else {
                format!("{key}/")
            };
            let keys = list_children(&view, &prefix).await?;
            if keys.is_empty() {
                return Err(CoreError::NotFound);
            }
            let mut m = serde_json::Map::new();
            m.insert("keys".into(), Value::from(keys));
            Ok(CoreResponse::data(m))
        }
        _ if key.is_empty() => Err(CoreError::bad_request("missing path")),
        Operation::Read => match view.get_json::<serde_json::Map<String, Value>>(key).await? {
            Some(m) => Ok(CoreResponse::data(m)),
            None => Err(CoreError::NotFound),
        },
        Operation::Create | Operation::Update => {
            if ctx.body.is_empty() {
                return Err(CoreError::bad_request("missing data fields"));
            }
            view.put_json(key, &ctx.body).await?;
            Ok(CoreResponse::default())
        }
        Operation::Delete => {
            view.delete(key).await?;
            Ok(CoreResponse::default())
        }
        Operation::Patch => Err(CoreError::Engine(
            secrethub_engine::EngineError::UnsupportedOperation,
        )),
    }
}
