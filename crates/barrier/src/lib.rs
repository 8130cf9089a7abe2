//! The barrier: everything SecretHub persists passes through it on the way to the physical
//! storage and is encrypted there with AES-256-GCM, the storage path as associated data, under
//! a versioned keyring that can rotate without downtime. The keyring is sealed under the root
//! key, which operators hold as Shamir shares ([`shamir`]) and which is never stored.
//!
//! API boundary: core builds a [`Barrier`] over the physical `Storage`, drives
//! init/unseal/seal/rotate, and hands mounts `StorageView`s of it. Core reads and writes the
//! seal configuration (share counts) at [`SEAL_CONFIG_PATH`] on the physical storage itself:
//! it must be readable while sealed, so the barrier refuses that path and [`KEYRING_PATH`].

mod barrier;
mod envelope;
mod error;
mod keyring;
mod root_key;
mod secret_box;
pub mod shamir;

pub use barrier::{Barrier, KeyStatus};
pub use error::BarrierError;
pub use root_key::{RootKey, KEY_LEN};
pub use secret_box::SecretBox;

/// Physical key of the keyring, sealed under the root key.
pub const KEYRING_PATH: &str = "core/keyring";

/// Physical key (and prefix) of the seal configuration; unreachable through the barrier.
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";
