//! The mount's HMAC key and the hashes of role and secret IDs.
//!
//! Secret IDs are stored only as HMAC-SHA256 under a random 32-byte key of the mount, so
//! a copy of the storage (or of a backup) does not reveal them and a lookup is a get by hash:
//! no stored secret is ever compared with the one presented. Role IDs are indexed the same
//! way. The key is generated from the OS RNG the first time it is needed, kept in the mount's
//! storage (behind the barrier) and cached in memory.

use hmac::{Hmac, Mac};
use secrethub_engine::{EngineError, StorageView};
use sha2::Sha256;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::records::{KeyRecord, KEY_KEY, RECORD_VERSION};

const KEY_LEN: usize = 32;

/// What is hashed: the domain keeps a role ID and a secret ID with the same text apart.
#[derive(Clone, Copy)]
pub(crate) enum Domain {
    RoleId,
    SecretId,
}

impl Domain {
    fn label(self) -> &'static [u8] {
        match self {
            Domain::RoleId => b"role_id\0",
            Domain::SecretId => b"secret_id\0",
        }
    }
}

/// The mount's HMAC key, loaded or created once.
#[derive(Default)]
pub(crate) struct Hasher {
    key: OnceCell<Zeroizing<Vec<u8>>>,
}

impl Hasher {
    /// The key, created and stored on first use. One engine instance serves a mount, so the
    /// `OnceCell` is enough to keep two first requests from storing two different keys.
    async fn key(&self, storage: &StorageView) -> Result<&Zeroizing<Vec<u8>>, EngineError> {
        self.key
            .get_or_try_init(|| async {
                if let Some(k) = load(storage).await? {
                    return Ok(k);
                }
                let key = Zeroizing::new(secrethub_common::random_bytes(KEY_LEN));
                let rec = KeyRecord {
                    version: RECORD_VERSION,
                    key: hex::encode(key.as_slice()),
                };
                storage.put_json(KEY_KEY, &rec).await?;
                Ok(key)
            })
            .await
    }

    /// The hex HMAC of `value` in `domain`.
    pub(crate) async fn hash(
        &self,
        storage: &StorageView,
        domain: Domain,
        value: &str,
    ) -> Result<String, EngineError> {
        let key = self.key(storage).await?;
        Ok(mac(key, domain, value))
    }

    /// Like [`Hasher::hash`], but `None` when the mount has no key yet (then no role or
    /// secret ID exists either), so probes never create one.
    pub(crate) async fn hash_if_keyed(
        &self,
        storage: &StorageView,
        domain: Domain,
        value: &str,
    ) -> Result<Option<String>, EngineError> {
        if let Some(key) = self.key.get() {
            return Ok(Some(mac(key, domain, value)));
        }
        match load(storage).await? {
            Some(key) => Ok(Some(mac(&key, domain, value))),
            None => Ok(None),
        }
    }
}

async fn load(storage: &StorageView) -> Result<Option<Zeroizing<Vec<u8>>>, EngineError> {
    let Some(rec) = storage.get_json::<KeyRecord>(KEY_KEY).await? else {
        return Ok(None);
    };
    let key = Zeroizing::new(hex::decode(&rec.key).map_err(|_| corrupt_key())?);
    if key.len() != KEY_LEN {
        return Err(corrupt_key());
    }
    Ok(Some(key))
}

fn corrupt_key() -> EngineError {
    EngineError::Internal(anyhow::anyhow!("the approle hmac key record is corrupt"))
}

fn mac(key: &[u8], domain: Domain, value: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key length");
    m.update(domain.label());
    m.update(value.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_keys_separate_hashes() {
        let k1 = [1u8; KEY_LEN];
        let k2 = [2u8; KEY_LEN];
        let a = mac(&k1, Domain::SecretId, "x");
        assert_eq!(a.len(), 64);
        assert_eq!(a, mac(&k1, Domain::SecretId, "x"));
        assert_ne!(a, mac(&k1, Domain::RoleId, "x"));
        assert_ne!(a, mac(&k2, Domain::SecretId, "x"));
    }
}
