//! The engine's handlers, one module per family of paths.

pub(crate) mod certs;
pub(crate) mod config;
pub(crate) mod import;
pub(crate) mod intermediate;
pub(crate) mod issue;
pub(crate) mod issuers;
pub(crate) mod keys;
pub(crate) mod ocsp;
pub(crate) mod revoke;
pub(crate) mod roles;
pub(crate) mod root;
pub(crate) mod self_issued;
pub(crate) mod tidy;

use secrethub_common::JsonMap;
use secrethub_engine::Response;
use serde_json::Value;

/// A JSON answer from `(key, value)` pairs.
pub(crate) fn answer<const N: usize>(pairs: [(&str, Value); N]) -> Response {
    let mut data = JsonMap::new();
    for (k, v) in pairs {
        data.insert(k.to_string(), v);
    }
    Response::data(data)
}
