//! Per-role serialisation: a fixed set of async mutexes picked by hashing the role name.
//!
//! Storage has no compare-and-swap, so two logins with one secret ID must not both read the
//! same remaining use count and each write "one less". Every read-modify-write of a role's
//! secret IDs (login, destroy, tidy, role deletion) holds its role's lock. Sharding keeps
//! memory bounded; two roles sharing a shard merely wait for each other.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

const SHARDS: usize = 64;

/// The lock shards of one mount.
pub(crate) struct RoleLocks {
    shards: Box<[Mutex<()>]>,
}

impl RoleLocks {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for and holds the lock of `role` until the guard drops.
    pub(crate) async fn lock(&self, role: &str) -> MutexGuard<'_, ()> {
        let mut h = DefaultHasher::new();
        role.hash(&mut h);
        let i = (h.finish() % SHARDS as u64) as usize;
        self.shards[i].lock().await
    }
}
