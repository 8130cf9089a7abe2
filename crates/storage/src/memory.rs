//! In-memory storage for tests and `server --dev`: a sorted map behind a lock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::{validate_key, Storage, StorageError, WriteOp};

/// A `BTreeMap` store; nothing survives the process.
#[derive(Default)]
pub struct MemoryStorage {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A poisoned lock only means another thread panicked mid-operation; the map itself
        // is always consistent because every mutation is a single insert/remove sequence.
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        validate_key(key)?;
        Ok(self.read().get(key).cloned())
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.write().remove(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let start = match after {
            Some(a) => Bound::Excluded(format!("{prefix}{a}")),
            None => Bound::Included(prefix.to_string()),
        };
        let map = self.read();
        Ok(map
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, _)| k[prefix.len()..].to_string())
            .collect())
    }

    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        let map = self.read();
        Ok(map
            .range::<String, _>((Bound::Included(prefix.to_string()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .count())
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        for op in &batch {
            validate_key(op.key())?;
        }
        let mut map = self.write();
        for op in batch {
            match op {
                WriteOp::Put { key, value } => {
                    map.insert(key, value);
                }
                WriteOp::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        crate::testsuite::run(&MemoryStorage::new()).await;
    }
}
