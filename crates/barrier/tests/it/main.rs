//! Integration tests of the barrier over in-memory physical storage: conformance, sealing,
//! key checks, what lands in the physical store, rotation and persistence of the keyring.

mod barrier;
mod lifecycle;

use std::sync::Arc;

use secrethub_barrier::{Barrier, RootKey};
use secrethub_storage::{MemoryStorage, Storage};

/// A fresh physical store and an initialized, unsealed barrier over it.
pub(crate) async fn unsealed() -> (Arc<MemoryStorage>, Arc<Barrier>, RootKey) {
    let physical = Arc::new(MemoryStorage::new());
    let barrier = Arc::new(Barrier::new(physical.clone()));
    let root = RootKey::generate();
    barrier.initialize(&root).await.expect("initialize");
    barrier.unseal(&root).await.expect("unseal");
    (physical, barrier, root)
}

/// The key term in a stored envelope's header.
pub(crate) async fn stored_term(physical: &dyn Storage, key: &str) -> u32 {
    let raw = physical.get(key).await.expect("get").expect("present");
    u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]])
}
