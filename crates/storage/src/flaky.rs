//! `FlakyStorage`: fault injection for tests. Wraps a store and makes chosen writes fail,
//! to prove callers leave nothing half-written and recover once the store is back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Storage, StorageError, WriteOp};

/// Passes everything through to `inner`, except that the `n`th write from now fails
/// (see [`FlakyStorage::fail_nth_write`]) or every call fails while [`FlakyStorage::set_down`] is on.
pub struct FlakyStorage {
    inner: Arc<dyn Storage>,
    writes_until_failure: AtomicU64,
    down: AtomicBool,
}

impl FlakyStorage {
    /// Wraps `inner`; no faults until configured.
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self {
            inner,
            writes_until_failure: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    /// The `n`th write (put, delete or batch; 1 = the next one) fails with `Unavailable`.
    pub fn fail_nth_write(&self, n: u64) {
        self.writes_until_failure.store(n, Ordering::SeqCst);
    }

    /// While `down` is true every operation fails with `Unavailable`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self, is_write: bool) -> Result<(), StorageError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(injected());
        }
        if is_write {
            let hit =
                self.writes_until_failure
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n > 0).then(|| n - 1)
                    });
            if hit == Ok(1) {
                return Err(injected());
            }
        }
        Ok(())
    }
}

fn injected() -> StorageError {
    StorageError::unavailable("injected fault", anyhow::anyhow!("flaky storage"))
}

#[async_trait]
impl Storage for FlakyStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.check(false)?;
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.delete(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.check(false)?;
        self.inner.list(prefix, after, limit).await
    }

    async fn apply(&self, batch: Vec<WriteOp>) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.apply(batch).await
    }

    async fn count(&self, prefix: &str) -> Result<usize, StorageError> {
        self.check(false)?;
        self.inner.count(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;

    #[tokio::test]
    async fn nth_write_fails_once() {
        let f = FlakyStorage::new(Arc::new(MemoryStorage::new()));
        f.fail_nth_write(2);
        f.put("a", b"1").await.unwrap();
        assert!(f.put("b", b"2").await.is_err());
        f.put("c", b"3").await.unwrap();
        assert_eq!(f.get("b").await.unwrap(), None);
        crate::testsuite::run(&f).await;
    }
}
