//! `Barrier`: the encrypting layer between core and the physical storage. It implements
//! `Storage` itself, so core and every mount's `StorageView` use it like any other store,
//! and nothing above it is ever written in plain text.
//!
//! State: sealed (no keys in memory; every storage call fails with `Sealed`) or unsealed
//! (root key and keyring in memory). The keyring lives at the physical key `core/keyring`,
//! sealed under the root key; that key and `core/seal-config*` are not reachable through the
//! barrier, so core reads the seal configuration from the physical storage directly.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use secrethub_common::now_unix;
use secrethub_storage::{
    validate_key, Storage, StorageError, StorageErrorKind, StorageView, WriteOp,
};

use crate::envelope::{self, OpenError};
use crate::keyring::Keyring;
use crate::{BarrierError, RootKey, KEYRING_PATH, SEAL_CONFIG_PATH};

/// The active data-encryption key, as reported by `sys/key-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStatus {
    /// The active term; new writes are encrypted with it.
    pub term: u32,
    /// When the term was installed, in Unix seconds.
    pub install_time: i64,
    /// Values encrypted with this term since this process unsealed (not persisted).
    pub encryptions: u64,
}

/// What is in memory while unsealed; dropping it zeroizes the keys.
struct Unsealed {
    root: RootKey,
    keyring: Keyring,
    encryptions: AtomicU64,
}

impl Unsealed {
    fn new(root: RootKey, keyring: Keyring) -> Self {
        Self {
            root,
            keyring,
            encryptions: AtomicU64::new(0),
        }
    }

    fn status(&self) -> KeyStatus {
        KeyStatus {
            term: self.keyring.active_term(),
            install_time: self.keyring.active().install_time,
            encryptions: self.encryptions.load(Ordering::Relaxed),
        }
    }
}

/// AES-256-GCM over a physical `Storage`, with a versioned keyring. Starts sealed.
pub struct Barrier {
    physical: Arc<dyn Storage>,
    /// `None` while sealed. A std lock: it is only held for in-memory crypto, never across
    /// an `.await`, and readers (every get and put) share it.
    state: RwLock<Option<Unsealed>>,
    /// Serialises everything that reads, changes and persists the keyring (initialize,
    /// unseal, rotate, rekey), so two rotations can't persist different keys for one term.
    keyring_writes: tokio::sync::Mutex<()>,
}

/// The result of decrypting with the keyring in memory.
enum Opened {
    Plain(Vec<u8>),
    /// Written with a term this process does not know: another node may have rotated.
    UnknownTerm(u32),
}

impl Barrier {
    /// A sealed barrier over `physical`.
    pub fn new(physical: Arc<dyn Storage>) -> Self {
        Self {
            physical,
            state: RwLock::new(None),
            keyring_writes: tokio::sync::Mutex::new(()),
        }
    }

    /// A prefix-jailed view of the barrier, the storage a mount gets.
    pub fn view(self: &Arc<Self>, prefix: &str) -> StorageView {
        StorageView::new(self.clone(), prefix)
    }

    /// Whether a keyring has been written (`initialize` has run).
    pub async fn is_initialized(&self) -> Result<bool, BarrierError> {
        Ok(self.physical.get(KEYRING_PATH).await?.is_some())
    }

    /// Writes a new keyring (term 1) sealed under `root`. Leaves the barrier sealed.
    pub async fn initialize(&self, root: &RootKey) -> Result<(), BarrierError> {
        let _writes = self.keyring_writes.lock().await;
        if self.physical.get(KEYRING_PATH).await?.is_some() {
            return Err(BarrierError::AlreadyInitialized);
        }
        let sealed = Keyring::first(now_unix()).seal_with(root)?;
        self.physical.put(KEYRING_PATH, &sealed).await?;
        Ok(())
    }

    /// Loads the keyring with `root`. A wrong key is `InvalidKey` and changes nothing; on an
    /// already unsealed barrier the key is still checked, and the state kept.
    pub async fn unseal(&self, root: &RootKey) -> Result<(), BarrierError> {
        let _writes = self.keyring_writes.lock().await;
        let keyring = self.load_keyring(root).await?;
        let mut state = self.write_state();
        if state.is_none() {
            *state = Some(Unsealed::new(root.clone(), keyring));
        }
        Ok(())
    }

    /// Drops the keys from memory (they are zeroized); every storage call fails until unseal.
    pub fn seal(&self) {
        let unsealed = self.write_state().take();
        drop(unsealed);
    }

    /// Whether the keys are out of memory.
    pub fn is_sealed(&self) -> bool {
        self.read_state().is_none()
    }

    /// The active term and its usage.
    pub fn key_status(&self) -> Result<KeyStatus, BarrierError> {
        self.read_state()
            .as_ref()
            .map(Unsealed::status)
            .ok_or(BarrierError::Sealed)
    }

    /// Installs a new key term for new writes, keeping the old ones for reading, and
    /// persists the keyring. Starts from the stored keyring so a rotation made by another
    /// node sharing the storage is never lost.
    pub async fn rotate(&self) -> Result<KeyStatus, BarrierError> {
        let _writes = self.keyring_writes.lock().await;
        let root = self.root()?;
        let rotated = self.load_keyring(&root).await?.rotated(now_unix())?;
        self.physical
            .put(KEYRING_PATH, &rotated.seal_with(&root)?)
            .await?;
        let mut state = self.write_state();
        // Sealed while persisting: the new term is stored and becomes active at next unseal.
        let unsealed = state.as_mut().ok_or(BarrierError::Sealed)?;
        unsealed.keyring = rotated;
        unsealed.encryptions = AtomicU64::new(0);
        Ok(unsealed.status())
    }

    /// Re-encrypts the keyring under `new_root`. Core must hand out the new key's shares
    /// only after this succeeds; the old root key stops working at once.
    pub async fn rekey_root(&self, new_root: &RootKey) -> Result<(), BarrierError> {
        let _writes = self.keyring_writes.lock().await;
        let root = self.root()?;
        let keyring = self.load_keyring(&root).await?;
        self.physical
            .put(KEYRING_PATH, &keyring.seal_with(new_root)?)
            .await?;
        let mut state = self.write_state();
        let unsealed = state.as_mut().ok_or(BarrierError::Sealed)?;
        unsealed.root = new_root.clone();
        unsealed.keyring = keyring;
        Ok(())
    }

    async fn load_keyring(&self, root: &RootKey) -> Result<Keyring, BarrierError> {
        let sealed = self
            .physical
            .get(KEYRING_PATH)
            .await?
            .ok_or(BarrierError::NotInitialized)?;
        Keyring::open_with(root, &sealed)
    }

    fn root(&self) -> Result<RootKey, BarrierError> {
        self.read_state()
            .as_ref()
            .map(|u| u.root.clone())
            .ok_or(BarrierError::Sealed)
    }

    /// Re-reads the stored keyring after meeting a term written by another node.
    async fn reload_keyring(&self) -> Result<(), StorageError> {
        let _writes = self.keyring_writes.lock().await;
        let root = self.root().map_err(|_| StorageError::sealed())?;
        let keyring = self.load_keyring(&root).await.map_err(|e| match e {
            BarrierError::Storage(e) => e,
            _ => StorageError::corrupt("stored keyring cannot be reloaded"),
        })?;
        let mut state = self.write_state();
        let unsealed = state.as_mut().ok_or_else(StorageError::sealed)?;
        if keyring.max_term() > unsealed.keyring.max_term() {
            if keyring.active_term() != unsealed.keyring.active_term() {
                unsealed.encryptions = AtomicU64::new(0);
            }
            unsealed.keyring = keyring;
        }
        Ok(())
    }

    fn read_state(&self) -> RwLockReadGuard<'_, Option<Unsealed>> {
        // Poisoning only means a thread panicked while holding the lock; every write is a
        // single assignment, so the state is consistent either way.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, Option<Unsealed>> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Sealed first (so a sealed barrier answers `Sealed` for every key), then key rules.
    fn check(&self, key: &str) -> Result<(), StorageError> {
        if self.is_sealed() {
            return Err(StorageError::sealed());
        }
        check_key(key)
    }

    fn encrypt(unsealed: &Unsealed, key: &str, value: &[u8]) -> Result<Vec<u8>, StorageError> {
        let term = unsealed.keyring.active_term();
        let sealed = envelope::seal(&unsealed.keyring.active().key, term, key.as_bytes(), value)
            .map_err(|_| StorageError::corrupt(format!("cannot encrypt value for {key:?}")))?;
        unsealed.encryptions.fetch_add(1, Ordering::Relaxed);
        Ok(sealed)
    }

    fn decrypt(&self, key: &str, sealed: &[u8]) -> Result<Opened, StorageError> {
        let corrupt = || StorageError::corrupt(format!("cannot decrypt value at {key:?}"));
        let term = envelope::term(sealed).map_err(|_| corrupt())?;
        let state = self.read_state();
        let unsealed = state.as_ref().ok_or_else(StorageError::sealed)?;
        let Some(term_key) = unsealed.keyring.key(term) else {
            return Ok(Opened::UnknownTerm(term));
        };
        match envelope::open(&term_key.key, key.as_bytes(), sealed) {
            Ok(plain) => Ok(Opened::Plain(plain)),
            Err(OpenError::Authentication | OpenError::Malformed) => Err(corrupt()),
        }
    }

    fn max_term(&self) -> Result<u32, StorageError> {
        self.read_state()
            .as_ref()
            .map(|u| u.keyring.max_term())
            .ok_or_else(StorageError::sealed)
    }
}

/// Keys the barrier will not touch: the keyring and the seal configuration.
fn is_reserved(key: &str) -> bool {
    key == KEYRING_PATH || key.starts_with(SEAL_CONFIG_PATH)
}

/// Whether a listing of `prefix` could include a reserved key.
fn may_hold_reserved(prefix: &str) -> bool {
    KEYRING_PATH.starts_with(prefix)
        || SEAL_CONFIG_PATH.starts_with(prefix)
        || prefix.starts_with(SEAL_CONFIG_PATH)
}

fn check_key(key: &str) -> Result<(), StorageError> {
    validate_key(key)?;
    if is_reserved(key) {
        return Err(StorageError::new(
            StorageErrorKind::InvalidKey,
            format!("storage key {key:?} is reserved for the barrier"),
            None,
        ));
    }
    Ok(())
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("sealed", &self.is_sealed())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for Barrier {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.check(key)?;
        let Some(sealed) = self.physical.get(key).await? else {
            return Ok(None);
        };
        match self.decrypt(key, &sealed)? {
            Opened::Plain(plain) => Ok(Some(plain)),
            Opened::UnknownTerm(term) => {
                // A newer term than ours means another node rotated; anything else is damage.
                if term > self.max_term()? {
                    self.reload_keyring().await?;
                    if let Opened::Plain(plain) = self.decrypt(key, &sealed)? {
                        return Ok(Some(plain));
                    }
                }
                Err(StorageError::corrupt(format!(
                    "value at {key:?} uses unknown key term {term}"
                )))
            }
        }
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let sealed = {
            let state = self.read_state();
            let unsealed = state.as_ref().ok_or_else(StorageError::sealed)?;
            check_key(key)?;
            Self::encrypt(unsealed, key, value)?
        };
        self.physical.put(key, &sealed).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.check(key)?;
        self.physical.delete(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        if self.is_sealed() {
            return Err(StorageError::sealed());
        }
        if !may_hold_reserved(prefix) {
            return self.physical.list(prefix, after, limit).await;
        }
        // Hide reserved keys, reading on past them so a page is only short at the end.
        let mut out = Vec::new();
        let mut cursor = after.map(str::to_string);
        while out.len() < limit {
            let want = limit - out.len();
            let page = self.physical.list(prefix, cursor.as_deref(), want).await?;
            let done = page.len() < want;
            cursor = page.last().cloned();
            out.extend(
                page.into_iter()
                    .filter(|rel| !is_reserved(&format!("{prefix}{rel}"))),
            );
            if done {
                break;
            }
        }
        Ok(out)
    }

    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        if self.is_sealed() {
            return Err(StorageError::sealed());
        }
        if !may_hold_reserved(prefix) {
            // Keys are not encrypted, so the backend can count them itself.
            return self.physical.count(prefix).await;
        }
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .list(prefix, after.as_deref(), secrethub_storage::LIST_PAGE)
                .await?;
            n += page.len();
            if page.len() < secrethub_storage::LIST_PAGE {
                return Ok(n);
            }
            after = page.last().cloned();
        }
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        if self.is_sealed() {
            return Err(StorageError::sealed());
        }
        for op in &batch {
            check_key(op.key())?;
        }
        let encrypted = {
            let state = self.read_state();
            let unsealed = state.as_ref().ok_or_else(StorageError::sealed)?;
            batch
                .into_iter()
                .map(|op| match op {
                    WriteOp::Put { key, value } => {
                        let value = Self::encrypt(unsealed, &key, &value)?;
                        Ok(WriteOp::Put { key, value })
                    }
                    delete @ WriteOp::Delete { .. } => Ok(delete),
                })
                .collect::<Result<Vec<_>, StorageError>>()?
        };
        self.physical.apply(encrypted).await
    }
}
