//! Batch tokens (`hvb.`), as in Vault: the token is its own record, sealed with AES-256-GCM
//! under a key kept behind the barrier (`sys/token/batch-key`, made on first use). Nothing is
//! stored per token, so minting one costs no storage write; in exchange a batch token cannot
//! be renewed or revoked, has no accessor, no cubbyhole and no child tokens, and lives until
//! its TTL ends, its parent (if any) is revoked, or the auth method that issued it is disabled.
//! Its leases belong to its parent (an orphan's to no token) and never outlive the token's
//! TTL (their max TTL is capped at it), as in Vault.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrethub_barrier::SecretBox;
use secrethub_common::Sensitive;
use secrethub_storage::{Storage as _, StorageView};
use tokio::sync::OnceCell;

use crate::error::{CoreError, CoreResult};
use crate::tokens::{hash_token, TokenRecord};

/// Prefix of batch tokens, as Vault's.
pub(crate) const BATCH_PREFIX: &str = "hvb.";
/// The token type in records and API answers.
pub(crate) const BATCH: &str = "batch";
/// Under the token store's view.
const KEY_PATH: &str = "batch-key";
/// Binds a sealed record to its use.
const AAD: &[u8] = b"secrethub batch token v1";

/// Refuses terms a batch token cannot have: nothing is stored to count uses or to renew.
pub(crate) fn check_batch_terms(period: u64, num_uses: u64) -> CoreResult<()> {
    if period != 0 || num_uses != 0 {
        return Err(CoreError::bad_request(
            "batch tokens cannot be periodic or have a use limit",
        ));
    }
    Ok(())
}

/// Seals and opens batch tokens; the key is read (or made) once per unseal.
pub(crate) struct BatchTokens {
    view: StorageView,
    key: OnceCell<SecretBox>,
}

impl BatchTokens {
    /// `view` is the token store's.
    pub(crate) fn new(view: StorageView) -> Self {
        BatchTokens {
            view,
            key: OnceCell::new(),
        }
    }

    async fn key(&self) -> CoreResult<&SecretBox> {
        self.key
            .get_or_try_init(|| async {
                if let Some(bytes) = self.view.get(KEY_PATH).await? {
                    return SecretBox::from_bytes(&bytes).ok_or_else(|| {
                        CoreError::Internal(anyhow::anyhow!("the batch token key is malformed"))
                    });
                }
                let key = SecretBox::generate();
                self.view.put(KEY_PATH, &key.key_bytes()).await?;
                Ok(key)
            })
            .await
    }

    /// The token carrying `rec` (its type set to batch); sets `rec.hash` to the token's hash.
    pub(crate) async fn mint(&self, rec: &mut TokenRecord) -> CoreResult<Sensitive<String>> {
        rec.token_type = BATCH.into();
        rec.hash = String::new();
        rec.accessor = String::new();
        rec.renewable = false;
        // Only which auth method issued it is needed (it must stay enabled), not what a
        // renewal would re-check.
        if let Some(login) = rec.login.as_mut() {
            login.internal = serde_json::Value::Null;
        }
        let plain = serde_json::to_vec(&*rec).map_err(|e| CoreError::Internal(e.into()))?;
        let sealed = self.key().await?.seal(AAD, &plain);
        let token = format!("{BATCH_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed));
        rec.hash = hash_token(&token);
        Ok(Sensitive::new(token))
    }

    /// The record a batch token carries, or `None` if it is not one of ours (malformed,
    /// tampered, sealed under another key). Expiry and parent are the caller's to check.
    pub(crate) async fn open(&self, token: &str) -> CoreResult<Option<TokenRecord>> {
        let Some(body) = token.strip_prefix(BATCH_PREFIX) else {
            return Ok(None);
        };
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(body) else {
            return Ok(None);
        };
        let Some(plain) = self.key().await?.open(AAD, &sealed) else {
            return Ok(None);
        };
        let Ok(mut rec) = serde_json::from_slice::<TokenRecord>(&plain) else {
            return Ok(None);
        };
        rec.hash = hash_token(token);
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrethub_storage::MemoryStorage;

    use super::*;

    fn record() -> TokenRecord {
        serde_json::from_value(serde_json::json!({
            "version": 1, "hash": "", "accessor": "", "parent": null,
            "policies": ["default", "dev"], "meta": {"user": "alice"}, "display_name": "token",
            "num_uses": 0, "creation_time": 1, "creation_ttl": 60, "expire_time": 61,
            "explicit_max_ttl": 0, "period": 0, "renewable": true, "path": "auth/token/create",
            "entity_id": "", "token_type": "service",
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_token_carries_its_record_and_the_key_survives_a_new_store() {
        let storage: Arc<MemoryStorage> = Arc::new(MemoryStorage::new());
        let tokens = BatchTokens::new(StorageView::new(storage.clone(), "sys/token/"));
        let mut rec = record();
        let token = tokens.mint(&mut rec).await.unwrap();
        let token = token.expose();
        assert!(token.starts_with("hvb."), "{token}");
        assert_eq!(rec.hash, hash_token(token));
        let opened = tokens.open(token).await.unwrap().expect("opens");
        assert_eq!(opened.policies, ["default", "dev"]);
        assert_eq!(opened.token_type, "batch");
        assert!(!opened.renewable);
        assert_eq!(opened.hash, rec.hash);

        // After a restart (a new store over the same storage) the same key opens it.
        let again = BatchTokens::new(StorageView::new(storage, "sys/token/"));
        assert!(again.open(token).await.unwrap().is_some());

        // Tampered, truncated, foreign or not a batch token: not ours.
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(tokens.open(&tampered).await.unwrap().is_none());
        assert!(tokens.open(&token[..40]).await.unwrap().is_none());
        assert!(tokens.open("hvb.!!!").await.unwrap().is_none());
        assert!(tokens.open("hvs.abc").await.unwrap().is_none());
        let other = BatchTokens::new(StorageView::new(Arc::new(MemoryStorage::new()), "t/"));
        assert!(other.open(token).await.unwrap().is_none());
    }
}
