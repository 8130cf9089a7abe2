//! `subkeys/{*path}`: the key structure of a version with every leaf value replaced by
//! `null`, so a caller can see what a secret holds without reading it.

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, Response};
use serde_json::Value;

use crate::input::opt_uint;
use crate::json::strip_values;
use crate::v2::KvV2;

impl KvV2 {
    /// Honours `version` (default: latest) and `depth` (0 = unlimited).
    pub(crate) async fn subkeys_read(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let depth = opt_uint(&req.body, "depth", u64::MAX)?.unwrap_or(0);
        let mut live = self.live_version(req, path).await?;
        strip_values(&mut live.data, depth);
        let mut out = JsonMap::new();
        out.insert("metadata".into(), Value::Object(live.metadata));
        out.insert("subkeys".into(), Value::Object(live.data));
        Ok(Response::data(out))
    }
}
