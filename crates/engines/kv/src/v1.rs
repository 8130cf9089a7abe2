//! KV version 1: one JSON object per path, replaced whole on every write, no history.
//! Each secret is stored at its own path in the mount's view.

use async_trait::async_trait;
use secrethub_engine::{Engine, EngineError, JsonMap, Operation, PathTable, Request, Response};
use secrethub_storage::{list_children, validate_key, Storage};

use Operation::{Delete, List, Read, Update};

#[derive(Debug, Clone, Copy)]
enum Route {
    Root,
    Secret,
}

/// The unversioned engine (`kv` version 1, `generic`).
pub(crate) struct KvV1 {
    table: PathTable<Route>,
}

impl KvV1 {
    pub(crate) fn new() -> Self {
        let table = PathTable::new()
            .add(
                "",
                Route::Root,
                &[List],
                "Lists the secrets at the top of the mount.",
            )
            .add(
                "{*path}",
                Route::Secret,
                &[Read, Update, Delete, List],
                "Pass-through secret storage: reads, writes, deletes and lists arbitrary \
                 JSON objects. A `ttl` field is kept as a hint for readers.",
            );
        Self { table }
    }
}

fn checked(path: &str) -> Result<&str, EngineError> {
    validate_key(path).map_err(|_| EngineError::bad_request("invalid path"))?;
    Ok(path)
}

#[async_trait]
impl Engine for KvV1 {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let path = args.get("path");
        let storage = &req.storage;
        match (route, req.op) {
            (Route::Root, _) => Response::list(list_children(storage, "").await?),
            (Route::Secret, Read) => {
                let data: Option<JsonMap> = storage.get_json(checked(path)?).await?;
                data.map(Response::data).ok_or(EngineError::NotFound)
            }
            (Route::Secret, List) => {
                let prefix = format!("{}/", checked(path)?);
                Response::list(list_children(storage, &prefix).await?)
            }
            (Route::Secret, Delete) => {
                storage.delete(checked(path)?).await?;
                Ok(Response::empty())
            }
            (Route::Secret, _) => {
                if req.body.is_empty() {
                    return Err(EngineError::bad_request("missing data fields"));
                }
                storage.put_json(checked(path)?, &req.body).await?;
                Ok(Response::empty())
            }
        }
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        match self.table.route(&req.path, Operation::Update) {
            Ok((Route::Secret, args)) => {
                let found = req.storage.get(checked(args.get("path"))?).await?;
                Ok(Some(found.is_some()))
            }
            _ => Ok(None),
        }
    }
}
