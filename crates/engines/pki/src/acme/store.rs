//! ACME's records in the mount's storage: `acme/nonces/<nonce>` (used once, within an
//! hour), `acme/accounts/<id>` with `acme/account-keys/<thumbprint>` to find an account by
//! its key, `acme/orders/<id>` and `acme/authz/<id>`.

use secrethub_common::{now_unix, random_alnum, UnixTime};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::records::RECORD_VERSION;

pub(crate) const NONCES: &str = "acme/nonces/";
pub(crate) const ACCOUNTS: &str = "acme/accounts/";
pub(crate) const ACCOUNT_KEYS: &str = "acme/account-keys/";
pub(crate) const ORDERS: &str = "acme/orders/";
pub(crate) const AUTHZ: &str = "acme/authz/";

const NONCE_LIFETIME: i64 = 3600;

pub(crate) async fn new_nonce(storage: &StorageView) -> Result<String> {
    let nonce = random_alnum(32);
    storage
        .put_json(&format!("{NONCES}{nonce}"), &(now_unix() + NONCE_LIFETIME))
        .await?;
    Ok(nonce)
}

/// Uses a nonce up: true when it was issued here, unused and not expired.
pub(crate) async fn take_nonce(storage: &StorageView, nonce: &str) -> Result<bool> {
    if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(false);
    }
    let key = format!("{NONCES}{nonce}");
    let Some(until) = storage.get_json::<UnixTime>(&key).await? else {
        return Ok(false);
    };
    storage.delete(&key).await?;
    Ok(until >= now_unix())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Account {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) jwk: Value,
    pub(crate) thumbprint: String,
    pub(crate) status: String,
    pub(crate) contact: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Order {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) status: String,
    pub(crate) expires: UnixTime,
    pub(crate) identifiers: Vec<String>,
    pub(crate) authz_ids: Vec<String>,
    #[serde(default)]
    pub(crate) certificate_chain: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Authz {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) order_id: String,
    pub(crate) identifier: String,
    pub(crate) status: String,
    pub(crate) expires: UnixTime,
    pub(crate) token: String,
    pub(crate) challenge_status: String,
    #[serde(default)]
    pub(crate) validated: Option<UnixTime>,
    #[serde(default)]
    pub(crate) error: Option<String>,
}

pub(crate) fn new_id() -> String {
    random_alnum(24)
}

pub(crate) fn version() -> u32 {
    RECORD_VERSION
}

/// A record by id, refusing ids that are not plain (they come from URLs).
pub(crate) async fn load<T: serde::de::DeserializeOwned>(
    storage: &StorageView,
    prefix: &str,
    id: &str,
) -> Result<Option<T>> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(None);
    }
    Ok(storage.get_json(&format!("{prefix}{id}")).await?)
}
