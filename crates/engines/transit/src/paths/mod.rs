//! The handlers, one module per family of paths.

mod crypt;
mod export;
mod keys;
pub(crate) mod misc;
mod sign;

use secrethub_engine::Response;

use crate::error::Result;
use crate::key::KeyRecord;

/// Vault's answer of a key write or read: the key's info.
pub(crate) fn key_response(rec: &KeyRecord) -> Result<Response> {
    Ok(Response::data(rec.info()?))
}
