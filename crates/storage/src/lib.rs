//! The storage contract under everything SecretHub persists: a small async key/value
//! [`Storage`] trait (get, put, delete, paged list, atomic batch), the [`StorageView`] prefix
//! jail each mount gets, and the backends that need no external service (in-memory and the
//! embedded database file). PostgreSQL lives in `secrethub-storage-postgres`.
//!
//! Keys are `/`-separated UTF-8 paths. `list` is flat: it returns every key under a prefix
//! (relative to it), in byte order, which is what paged scans of time-ordered indexes need;
//! [`list_children`] folds that into Vault's one-level listing (`dir/` entries).
#![warn(missing_docs)]

mod embedded;
mod error;
mod flaky;
mod memory;
pub mod testsuite;
mod view;

use async_trait::async_trait;

pub use embedded::EmbeddedStorage;
pub use error::{StorageError, StorageErrorKind};
pub use flaky::FlakyStorage;
pub use memory::MemoryStorage;
pub use view::StorageView;

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Store `value` at `key`, replacing any previous value.
    Put {
        /// The key.
        key: String,
        /// The bytes to store.
        value: Vec<u8>,
    },
    /// Remove `key`; removing a missing key is not an error.
    Delete {
        /// The key.
        key: String,
    },
}

impl WriteOp {
    /// The key this write touches.
    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key } => key,
        }
    }
}

/// A durable, async key/value store. Object-safe: core holds `Arc<dyn Storage>`.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The value at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` at `key`.
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Removes `key`; idempotent.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Up to `limit` keys under `prefix`, relative to it, in byte order, strictly after
    /// `after` (also relative) when given. Flat: nested keys are returned whole.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError>;
    /// Applies every write or none of them.
    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError>;
    /// How many keys lie under `prefix` (flat, like `list`), read at one point in time where
    /// the backend can. The default pages through `list`; backends override it with a
    /// native count (a million keys: a paged walk takes seconds, a range count a fraction).
    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.list(prefix, after.as_deref(), LIST_PAGE).await?;
            n += page.len();
            if page.len() < LIST_PAGE {
                return Ok(n);
            }
            after = page.last().cloned();
        }
    }
}

/// Page size used by the helpers that walk a whole prefix.
pub const LIST_PAGE: usize = 1000;

/// Vault-style one-level listing: the keys directly under `prefix` plus `name/` for every
/// sub-directory, sorted. Each directory costs one skip-ahead query, not a scan of its contents.
pub async fn list_children(
    storage: &dyn Storage,
    prefix: &str,
) -> Result<Vec<String>, StorageError> {
    let mut out: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = storage.list(prefix, after.as_deref(), LIST_PAGE).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        let mut skip_to = None;
        for key in &page {
            match key.find('/') {
                Some(i) => {
                    let dir = &key[..=i];
                    if out.last().map(String::as_str) != Some(dir) {
                        out.push(dir.to_string());
                    }
                    // '0' is the byte after '/', so "dir0" sorts after every "dir/..." key.
                    skip_to = Some(format!("{}0", &key[..i]));
                    break;
                }
                None => out.push(key.clone()),
            }
        }
        after = Some(skip_to.unwrap_or(last));
        if page.len() < LIST_PAGE && after.as_deref() == page.last().map(String::as_str) {
            break;
        }
    }
    Ok(out)
}

/// Every key under `prefix` (relative, flat), read page by page.
pub async fn list_all(storage: &dyn Storage, prefix: &str) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::new();
    loop {
        let page = storage
            .list(prefix, out.last().map(String::as_str), LIST_PAGE)
            .await?;
        let done = page.len() < LIST_PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Deletes every key under `prefix`, one atomic batch per page.
pub async fn delete_prefix(storage: &dyn Storage, prefix: &str) -> Result<(), StorageError> {
    loop {
        let page = storage.list(prefix, None, LIST_PAGE).await?;
        if page.is_empty() {
            return Ok(());
        }
        let batch = page
            .into_iter()
            .map(|k| WriteOp::Delete {
                key: format!("{prefix}{k}"),
            })
            .collect();
        storage.apply(batch).await?;
    }
}

/// Rejects keys that could escape a prefix or confuse a backend: empty segments produced by
/// a leading `/`, `.`/`..` segments, NUL and other control characters.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let bad = key.starts_with('/')
        || key.chars().any(|c| c.is_control())
        || key.split('/').any(|seg| seg == ".." || seg == ".");
    if bad {
        return Err(StorageError::invalid_key(key));
    }
    Ok(())
}
