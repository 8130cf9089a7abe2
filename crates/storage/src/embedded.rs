//! The embedded database file: the default storage of a real server (no external service).
//! Implemented by the storage helper; see the conformance suite for the contract.

use std::path::Path;

use async_trait::async_trait;

use crate::{Storage, StorageError, WriteOp};

/// A single-file ACID store (redb).
pub struct EmbeddedStorage {
    _private: (),
}

impl EmbeddedStorage {
    /// Opens (or creates) the database file at `path`.
    pub fn open(_path: &Path) -> Result<Self, StorageError> {
        Err(StorageError::corrupt("embedded storage is not implemented yet"))
    }
}

#[async_trait]
impl Storage for EmbeddedStorage {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        unimplemented!()
    }
    async fn put(&self, _key: &str, _value: &[u8]) -> Result<(), StorageError> {
        unimplemented!()
    }
    async fn delete(&self, _key: &str) -> Result<(), StorageError> {
        unimplemented!()
    }
    async fn list(
        &self,
        _prefix: &str,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        unimplemented!()
    }
    async fn apply(&self, _batch: Vec<WriteOp>) -> Result<(), StorageError> {
        unimplemented!()
    }
}
