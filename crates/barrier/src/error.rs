//! `BarrierError`: why an init, unseal, rotation or Shamir operation failed. Messages name
//! the operation or the rule that was broken, never key material.

use secrethub_common::ErrorKind;
use secrethub_storage::StorageError;

/// A failure of the barrier's own operations (the `Storage` impl answers `StorageError`).
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    /// No keyring has been written yet: `initialize` must run first.
    #[error("barrier is not initialized")]
    NotInitialized,
    /// `initialize` found a keyring already in storage.
    #[error("barrier is already initialized")]
    AlreadyInitialized,
    /// The operation needs the keyring in memory.
    #[error("barrier is sealed")]
    Sealed,
    /// The root key does not decrypt the keyring, or has the wrong length.
    #[error("invalid root key")]
    InvalidKey,
    /// Shamir parameters or key shares that cannot be used; the message says which rule.
    #[error("invalid key shares: {0}")]
    InvalidShares(String),
    /// The physical storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Encryption failed or a decrypted keyring is malformed (a bug or tampering).
    #[error("barrier crypto failure: {0}")]
    Crypto(String),
}

impl BarrierError {
    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            // Vault answers 400 for init/unseal misuse and for a wrong unseal key.
            BarrierError::NotInitialized
            | BarrierError::AlreadyInitialized
            | BarrierError::InvalidKey
            | BarrierError::InvalidShares(_) => ErrorKind::BadRequest,
            BarrierError::Sealed => ErrorKind::Sealed,
            BarrierError::Storage(e) => e.kind(),
            BarrierError::Crypto(_) => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(BarrierError::Sealed.kind(), ErrorKind::Sealed);
        assert_eq!(BarrierError::InvalidKey.kind(), ErrorKind::BadRequest);
        assert_eq!(
            BarrierError::from(StorageError::sealed()).kind(),
            ErrorKind::Sealed
        );
        assert_eq!(BarrierError::Crypto("x".into()).kind(), ErrorKind::Internal);
    }
}
