//! Transit secrets engine: encryption as a service with Vault's API (`transit/keys/:name`
//! and its `config`, `rotate`, `trim`; `encrypt`, `decrypt`, `rewrap`, `datakey`, `random`,
//! `hash`, `hmac`, `sign`, `verify`, `export`, `backup`, `restore`, `cache-config`).
//!
//! [`factory`] builds the engine for a mount (registered as `transit`). Keys are records in
//! the mount's storage (`store.rs`), so the barrier encrypts them; key material is
//! `Zeroizing` in memory and redacted in `Debug`, and no error or log line names a value.
//!
//! # Key types
//!
//! `aes128-gcm96`, `aes256-gcm96` (default), `chacha20-poly1305` (encryption, data keys,
//! `derived` keys with HKDF-SHA256 per `context`, `convergent_encryption`); `ed25519`,
//! `ecdsa-p256`, `ecdsa-p384` (signing); `rsa-2048`, `rsa-3072`, `rsa-4096` (RSA-OAEP
//! encryption with SHA-256 and signing, PSS or PKCS#1 v1.5); `hmac`. Every type has an HMAC
//! key per version for `hmac/:name`. Crypto is ring's (AEAD, HKDF, signatures, RSA
//! signatures); the `rsa` crate makes RSA keys (on the blocking pool, before the write lock)
//! and does OAEP, which ring lacks; `hash` and `hmac` use the `sha2` and `hmac` crates, since
//! ring has no SHA-224.
//!
//! # Auto-rotation
//!
//! A key's `auto_rotate_period` sets core's timer `keys/<name>/rotate` at the latest
//! version's creation plus the period; [`Engine::on_timer`] rotates the key when that time
//! has come (the record is the truth: a timer that fires early or for a key that is gone or
//! no longer rotates does nothing) and sets the next firing. Vault's floor is one hour; the
//! mount option `min_auto_rotate_period` (a SecretHub extension, default `1h`) lowers it for
//! tests and demonstrations.
//!
//! # Bounds
//!
//! `batch_input` holds at most 1,000 items; a base64 field at most 16 MiB once decoded,
//! checked before it is decoded. Nothing here panics on input.
//!
//! # Differences from Vault
//!
//! - `ecdsa-p521` answers 400 "key type ecdsa-p521 is not supported yet"; key import
//!   (`keys/:name/import`), BYOK export, managed keys and `sha3-*` digests are not there.
//! - `derived` is for the symmetric types only (Vault also derives `ed25519` keys per
//!   `context`).
//! - RSA: PSS signatures use a salt as long as the hash (ring's), `salt_length` is ignored;
//!   an `hmac` key's read lists no `keys`, as OpenBao's.
//! - ECDSA signs with its curve's hash only (P-256: `sha2-256`, P-384: `sha2-384`, which is
//!   also P-384's default where Vault's is `sha2-256`); `prehashed` signing is refused.
//!   Verification also takes the other of the two hashes.
//! - The convergent nonce is our own deterministic derivation (see `aead.rs`);
//!   `convergent_encryption_version` reads 3.
//! - Exported ECDSA signing keys are PKCS#8 PEM (`PRIVATE KEY`), not SEC1; a backup is our
//!   own format (base64 of the key record), restorable here only.
//! - `cache-config` is accepted and echoed; decoded keys are always cached in memory (up to
//!   1,024 per mount, `store.rs`), whatever size it is given.

mod aead;
mod batch;
mod digest;
mod error;
mod fields;
mod key;
mod key_type;
mod paths;
mod rsa_keys;
mod signing;
mod store;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::ErrorKind;
use secrethub_engine::{
    Engine, EngineError, MountContext, Operation, PathTable, Paths, Request, Response, StorageView,
    TimerOutcome,
};

use crate::error::TransitError;
use crate::store::KeyStore;
use Operation::{Delete, List, Read, Update};

/// Vault's floor of `auto_rotate_period`.
const MIN_AUTO_ROTATE: Duration = Duration::from_secs(3600);

/// Builds the transit engine for a mount. Option `min_auto_rotate_period`: see the crate docs.
pub fn factory(ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    let min_auto_rotate = match ctx.options.get("min_auto_rotate_period") {
        None => MIN_AUTO_ROTATE,
        Some(text) => secrethub_common::parse_duration(text)
            .map_err(|_| EngineError::bad_request("min_auto_rotate_period must be a duration"))?,
    };
    Ok(Arc::new(TransitEngine::new(min_auto_rotate)))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    KeyList,
    Key,
    KeyConfig,
    Rotate,
    Trim,
    Encrypt,
    Decrypt,
    Rewrap,
    DataKey,
    Random,
    Hash,
    Hmac,
    Sign,
    Verify,
    Export,
    Backup,
    Restore,
    CacheConfig,
}

/// The engine of one `transit` mount.
pub(crate) struct TransitEngine {
    table: PathTable<Route>,
    keys: KeyStore,
    min_auto_rotate: Duration,
}

impl TransitEngine {
    fn new(min_auto_rotate: Duration) -> Self {
        let table = PathTable::new()
            .add("keys", Route::KeyList, &[List], "Lists the keys.")
            .add(
                "keys/{name}",
                Route::Key,
                &[Read, Update, Delete],
                "Creates (type, derived, convergent_encryption, exportable, \
                 allow_plaintext_backup, auto_rotate_period, key_size), reads or deletes a key.",
            )
            .add(
                "keys/{name}/config",
                Route::KeyConfig,
                &[Update],
                "Sets min_decryption_version, min_encryption_version, deletion_allowed, \
                 exportable, allow_plaintext_backup, auto_rotate_period.",
            )
            .add(
                "keys/{name}/rotate",
                Route::Rotate,
                &[Update],
                "Adds a new key version.",
            )
            .add(
                "keys/{name}/trim",
                Route::Trim,
                &[Update],
                "Deletes versions below min_available_version.",
            )
            .add(
                "encrypt/{name}",
                Route::Encrypt,
                &[Update],
                "Encrypts base64 plaintext (or batch_input); creates the key if allowed.",
            )
            .add(
                "decrypt/{name}",
                Route::Decrypt,
                &[Update],
                "Decrypts a ciphertext.",
            )
            .add(
                "rewrap/{name}",
                Route::Rewrap,
                &[Update],
                "Re-encrypts a ciphertext with the latest (or key_version) version.",
            )
            .add(
                "datakey/{plaintext}/{name}",
                Route::DataKey,
                &[Update],
                "A new data key, wrapped by the key (and in plaintext for `plaintext`).",
            )
            .add(
                "random",
                Route::Random,
                &[Update],
                "Random bytes (bytes, format).",
            )
            .add("random/{a}", Route::Random, &[Update], "Random bytes.")
            .add("random/{a}/{b}", Route::Random, &[Update], "Random bytes.")
            .add("hash", Route::Hash, &[Update], "Digest of base64 input.")
            .add(
                "hash/{algorithm}",
                Route::Hash,
                &[Update],
                "Digest of base64 input.",
            )
            .add(
                "hmac/{name}",
                Route::Hmac,
                &[Update],
                "HMAC of base64 input.",
            )
            .add(
                "hmac/{name}/{algorithm}",
                Route::Hmac,
                &[Update],
                "HMAC of base64 input.",
            )
            .add("sign/{name}", Route::Sign, &[Update], "Signs base64 input.")
            .add(
                "sign/{name}/{algorithm}",
                Route::Sign,
                &[Update],
                "Signs base64 input.",
            )
            .add(
                "verify/{name}",
                Route::Verify,
                &[Update],
                "Verifies a signature or an hmac.",
            )
            .add(
                "verify/{name}/{algorithm}",
                Route::Verify,
                &[Update],
                "Verifies a signature or an hmac.",
            )
            .add(
                "export/{kind}/{name}",
                Route::Export,
                &[Read],
                "Exports an exportable key's versions.",
            )
            .add(
                "export/{kind}/{name}/{version}",
                Route::Export,
                &[Read],
                "Exports one version of an exportable key.",
            )
            .add(
                "backup/{name}",
                Route::Backup,
                &[Read],
                "Backs a key up in plaintext.",
            )
            .add("restore", Route::Restore, &[Update], "Restores a backup.")
            .add(
                "restore/{name}",
                Route::Restore,
                &[Update],
                "Restores a backup as name.",
            )
            .add(
                "cache-config",
                Route::CacheConfig,
                &[Read, Update],
                "Accepted and echoed: keys are always cached.",
            );
        TransitEngine {
            table,
            keys: KeyStore::default(),
            min_auto_rotate,
        }
    }

    async fn dispatch(&self, req: Request) -> Result<Response, TransitError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        match (route, req.op) {
            (Route::KeyList, _) => self.list_keys(&req).await,
            (Route::Key, Read) => self.read_key(&req, args.get("name")).await,
            (Route::Key, Delete) => self.delete_key(&req, args.get("name")).await,
            (Route::Key, _) => self.create_key(&req, args.get("name")).await,
            (Route::KeyConfig, _) => self.config_key(&req, args.get("name")).await,
            (Route::Rotate, _) => self.rotate_key(&req, args.get("name")).await,
            (Route::Trim, _) => self.trim_key(&req, args.get("name")).await,
            (Route::Encrypt, _) => self.encrypt(&req, args.get("name")).await,
            (Route::Decrypt, _) => self.decrypt(&req, args.get("name")).await,
            (Route::Rewrap, _) => self.rewrap(&req, args.get("name")).await,
            (Route::DataKey, _) => {
                self.datakey(&req, args.get("plaintext"), args.get("name"))
                    .await
            }
            (Route::Random, _) => paths::misc::random(&req, args.get("a"), args.get("b")),
            (Route::Hash, _) => paths::misc::hash(&req, args.get("algorithm")),
            (Route::Hmac, _) => {
                self.hmac(&req, args.get("name"), args.get("algorithm"))
                    .await
            }
            (Route::Sign, _) => {
                self.sign(&req, args.get("name"), args.get("algorithm"))
                    .await
            }
            (Route::Verify, _) => {
                self.verify(&req, args.get("name"), args.get("algorithm"))
                    .await
            }
            (Route::Export, _) => {
                self.export(
                    &req,
                    args.get("kind"),
                    args.get("name"),
                    args.get("version"),
                )
                .await
            }
            (Route::Backup, _) => self.backup(&req, args.get("name")).await,
            (Route::Restore, _) => self.restore(&req, args.get("name")).await,
            (Route::CacheConfig, _) => paths::misc::cache_config(&req).await,
        }
    }
}

#[async_trait]
impl Engine for TransitEngine {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        self.dispatch(req).await.map_err(|e| {
            if e.kind() == ErrorKind::Internal {
                tracing::error!(error = ?e, "transit request failed");
            }
            e.into()
        })
    }

    /// `encrypt/:name` to a key that does not exist is a `create` (Vault's upsert), so the
    /// ACL decides whether the caller may create the key by encrypting.
    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        let Some(name) = req.path.strip_prefix("encrypt/") else {
            return Ok(None);
        };
        if name.is_empty() || name.contains('/') {
            return Ok(None);
        }
        Ok(Some(self.keys.load(&req.storage, name).await?.is_some()))
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn on_timer(
        &self,
        key: &str,
        storage: &StorageView,
    ) -> Result<TimerOutcome, EngineError> {
        let Some(name) = store::timer_key_name(key) else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        Ok(self.rotation_timer(storage, name).await?)
    }
}
