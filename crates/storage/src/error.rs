//! `StorageError`: a kind callers match on, plus the backend's own error as the source.

use secrethub_common::ErrorKind;

/// What went wrong in a storage operation, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The backend cannot be reached or failed; retrying later may work.
    Unavailable,
    /// A concurrent writer got there first.
    Conflict,
    /// Stored bytes could not be read back (wrong key, tampering, truncation).
    Corrupt,
    /// The barrier is sealed.
    Sealed,
    /// The key is not acceptable (e.g. contains `..` or NUL).
    InvalidKey,
}

/// A storage failure. The message names the operation, never a value.
#[derive(Debug, thiserror::Error)]
#[error("storage {kind:?}: {message}")]
pub struct StorageError {
    /// What kind of failure this is.
    pub kind: StorageErrorKind,
    message: String,
    #[source]
    source: Option<anyhow::Error>,
}

impl StorageError {
    /// A new error of `kind` with a short description and an optional cause.
    pub fn new(
        kind: StorageErrorKind,
        message: impl Into<String>,
        source: Option<anyhow::Error>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source,
        }
    }

    /// The backend failed; `source` carries the details for the logs.
    pub fn unavailable(message: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Self::new(StorageErrorKind::Unavailable, message, Some(source.into()))
    }

    /// The barrier is sealed.
    pub fn sealed() -> Self {
        Self::new(StorageErrorKind::Sealed, "barrier is sealed", None)
    }

    /// A stored value could not be decoded.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(StorageErrorKind::Corrupt, message, None)
    }

    /// A key was rejected by [`crate::validate_key`].
    pub fn invalid_key(key: &str) -> Self {
        let shown: String = key.chars().filter(|c| !c.is_control()).take(80).collect();
        Self::new(
            StorageErrorKind::InvalidKey,
            format!("invalid storage key {shown:?}"),
            None,
        )
    }

    /// The short description, without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self.kind {
            StorageErrorKind::Unavailable => ErrorKind::Unavailable,
            StorageErrorKind::Conflict => ErrorKind::Conflict,
            StorageErrorKind::Corrupt => ErrorKind::Internal,
            StorageErrorKind::Sealed => ErrorKind::Sealed,
            StorageErrorKind::InvalidKey => ErrorKind::BadRequest,
        }
    }
}
