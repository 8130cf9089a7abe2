//! `StorageView`: a prefix jail. Each mount gets one, so an engine can only reach its own keys.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{validate_key, Storage, StorageError, WriteOp};

/// A view of `inner` restricted to keys under `prefix`; keys given to it are relative.
#[derive(Clone)]
pub struct StorageView {
    inner: Arc<dyn Storage>,
    prefix: String,
}

impl StorageView {
    /// A view of `inner` under `prefix` (which should end with `/`).
    pub fn new(inner: Arc<dyn Storage>, prefix: impl Into<String>) -> Self {
        Self {
            inner,
            prefix: prefix.into(),
        }
    }

    /// A narrower view: `sub` is appended to this view's prefix.
    pub fn sub_view(&self, sub: &str) -> StorageView {
        StorageView {
            inner: self.inner.clone(),
            prefix: format!("{}{}", self.prefix, sub),
        }
    }

    /// The absolute prefix of this view in the underlying storage.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> Result<String, StorageError> {
        validate_key(key)?;
        Ok(format!("{}{}", self.prefix, key))
    }

    /// Reads and decodes a JSON value.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StorageError::corrupt(format!("undecodable record at {key:?}"))),
        }
    }

    /// Encodes and writes a JSON value.
    pub async fn put_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StorageError::unavailable("encoding a record", e))?;
        self.put(key, &bytes).await
    }
}

impl std::fmt::Debug for StorageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageView({:?})", self.prefix)
    }
}

#[async_trait]
impl Storage for StorageView {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(&self.full(key)?).await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.inner.put(&self.full(key)?, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(&self.full(key)?).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        self.inner
            .list(&format!("{}{}", self.prefix, prefix), after, limit)
            .await
    }

    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        self.inner
            .count(&format!("{}{}", self.prefix, prefix))
            .await
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        let mut full = Vec::with_capacity(batch.len());
        for op in batch {
            full.push(match op {
                WriteOp::Put { key, value } => WriteOp::Put {
                    key: self.full(&key)?,
                    value,
                },
                WriteOp::Delete { key } => WriteOp::Delete {
                    key: self.full(&key)?,
                },
            });
        }
        self.inner.apply(full).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;

    #[tokio::test]
    async fn conformance_and_jail() {
        let inner: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        inner.put("outside", b"x").await.unwrap();
        let view = StorageView::new(inner.clone(), "logical/abc/");
        crate::testsuite::run(&view).await;
        assert!(view.get("../outside").await.is_err());
        assert!(view.list("", None, 10).await.unwrap().is_empty());
        view.put("k", b"v").await.unwrap();
        assert_eq!(inner.get("logical/abc/k").await.unwrap().unwrap(), b"v");
    }
}
