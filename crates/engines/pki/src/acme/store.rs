//! ACME's records in the mount's storage: `acme/nonce-key` (what nonces are signed with),
//! `acme/nonces/<nonce>` (a used nonce, until it expires), `acme/accounts/<id>` with `acme/account-keys/<thumbprint>` to find an account by
//! its key, `acme/orders/<id>`, `acme/authz/<id>`, and `acme/cert-owners/<serial>` (the account that
//! may revoke a certificate over ACME).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrethub_common::{now_unix, random_alnum, random_bytes, UnixTime};
use secrethub_storage::{Storage as _, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::records::RECORD_VERSION;

pub(crate) const NONCES: &str = "acme/nonces/";
const NONCE_KEY: &str = "acme/nonce-key";
pub(crate) const ACCOUNTS: &str = "acme/accounts/";
pub(crate) const ACCOUNT_KEYS: &str = "acme/account-keys/";
pub(crate) const ORDERS: &str = "acme/orders/";
pub(crate) const AUTHZ: &str = "acme/authz/";
pub(crate) const CERT_OWNERS: &str = "acme/cert-owners/";

const NONCE_LIFETIME: i64 = 3600;

/// A new nonce, without a storage write (anyone may ask for nonces): the time, random
/// bytes and an HMAC of both under the mount's nonce key.
pub(crate) async fn new_nonce(storage: &StorageView) -> Result<String> {
    let key = nonce_key(storage).await?;
    let mut body = now_unix().to_be_bytes().to_vec();
    body.extend_from_slice(&random_bytes(16));
    let tag = ring::hmac::sign(&key, &body);
    body.extend_from_slice(&tag.as_ref()[..16]);
    Ok(B64URL.encode(body))
}

/// Uses a nonce up: true when this mount minted it less than an hour ago and it was not
/// used before; a used nonce is remembered (`acme/nonces/<nonce>`) until it would have
/// expired anyway, when `tidy` forgets it.
pub(crate) async fn take_nonce(storage: &StorageView, nonce: &str) -> Result<bool> {
    let Ok(bytes) = B64URL.decode(nonce) else {
        return Ok(false);
    };
    if bytes.len() != 40 {
        return Ok(false);
    }
    let key = nonce_key(storage).await?;
    // The tag is truncated to 16 bytes, so compare it here (in constant time).
    let tag = ring::hmac::sign(&key, &bytes[..24]);
    if !constant_eq(&tag.as_ref()[..16], &bytes[24..]) {
        return Ok(false);
    }
    let minted = i64::from_be_bytes(bytes[..8].try_into().unwrap_or_default());
    let now = now_unix();
    if minted > now + 60 || now - minted > NONCE_LIFETIME {
        return Ok(false);
    }
    let used = format!("{NONCES}{nonce}");
    if storage.get(&used).await?.is_some() {
        return Ok(false);
    }
    storage.put_json(&used, &(minted + NONCE_LIFETIME)).await?;
    Ok(true)
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn nonce_key(storage: &StorageView) -> Result<ring::hmac::Key> {
    let stored: Option<String> = storage.get_json(NONCE_KEY).await?;
    let secret = match stored.and_then(|s| B64URL.decode(s).ok()) {
        Some(k) => k,
        None => {
            let k = random_bytes(32);
            storage.put_json(NONCE_KEY, &B64URL.encode(&k)).await?;
            k
        }
    };
    Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret))
}

/// Forgets used nonces that have expired anyway (run by `tidy`).
pub(crate) async fn forget_expired_nonces(storage: &StorageView) -> Result<usize> {
    let now = now_unix();
    let mut gone = 0;
    for n in secrethub_storage::list_all(storage, NONCES).await? {
        let key = format!("{NONCES}{n}");
        if storage
            .get_json::<UnixTime>(&key)
            .await?
            .is_none_or(|until| until < now)
        {
            storage.delete(&key).await?;
            gone += 1;
        }
    }
    Ok(gone)
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
