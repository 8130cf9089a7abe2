//! Per-secret write serialisation: a fixed set of async mutexes picked by hashing the path.
//!
//! Storage has no compare-and-swap, so two writers of one secret must not both read the same
//! current version and then each write "the next" one. Sharding keeps memory bounded (no map
//! of every path ever written); two paths sharing a shard merely wait for each other.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

const SHARDS: usize = 256;

/// The lock shards of one mount.
pub(crate) struct KeyLocks {
    shards: Box<[Mutex<()>]>,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for and holds the lock of `path` until the guard drops.
    pub(crate) async fn lock(&self, path: &str) -> MutexGuard<'_, ()> {
        let mut h = DefaultHasher::new();
        path.hash(&mut h);
        let i = (h.finish() % SHARDS as u64) as usize;
        self.shards[i].lock().await
    }
}
