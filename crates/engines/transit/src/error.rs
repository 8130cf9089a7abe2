//! `TransitError`, the one error type of the transit engine. Messages are Vault's where a
//! client may match on them; they name keys, versions and fields, never key material,
//! plaintexts or ciphertexts.

use secrethub_common::ErrorKind;
use secrethub_engine::EngineError;
use secrethub_storage::StorageError;

/// A transit failure; mapped once to [`EngineError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransitError {
    /// Bad input or an operation the key does not allow (400, message shown).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at this path (404).
    #[error("not found")]
    NotFound,
    /// No such path, or not for this operation (404, 405), from the path table.
    #[error(transparent)]
    Route(EngineError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug or a corrupt record; the client sees "internal error".
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl TransitError {
    /// Shorthand for [`TransitError::BadRequest`].
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        TransitError::BadRequest(msg.into())
    }

    /// The error category for the HTTP layer.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            TransitError::BadRequest(_) => ErrorKind::BadRequest,
            TransitError::NotFound => ErrorKind::NotFound,
            TransitError::Route(e) => e.kind(),
            TransitError::Storage(e) => e.kind(),
            TransitError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<secrethub_common::input::InputError> for TransitError {
    fn from(e: secrethub_common::input::InputError) -> Self {
        TransitError::BadRequest(e.to_string())
    }
}

impl From<EngineError> for TransitError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::BadRequest(m) => TransitError::BadRequest(m),
            EngineError::NotFound | EngineError::NotFoundWith(_) => TransitError::NotFound,
            EngineError::Storage(s) => TransitError::Storage(s),
            e @ (EngineError::UnsupportedPath | EngineError::UnsupportedOperation) => {
                TransitError::Route(e)
            }
            other => TransitError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<TransitError> for EngineError {
    fn from(e: TransitError) -> Self {
        match e {
            TransitError::BadRequest(m) => EngineError::BadRequest(m),
            TransitError::NotFound => EngineError::NotFound,
            TransitError::Route(e) => e,
            TransitError::Storage(s) => EngineError::Storage(s),
            TransitError::Internal(source) => EngineError::Internal(source),
        }
    }
}

/// Results of the engine's handlers.
pub(crate) type Result<T, E = TransitError> = std::result::Result<T, E>;
