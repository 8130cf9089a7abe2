//! `PkiError`, the engine's one error type: what went wrong, named by field, role, issuer
//! or serial number, never by a key or a certificate's content.

use secrethub_common::ErrorKind;
use secrethub_engine::EngineError;
use secrethub_storage::StorageError;

/// A failure of the PKI engine; [`PkiError::kind`] says how the client sees it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PkiError {
    /// Input the engine refuses; the message (Vault's wording where Vault has one) is shown.
    #[error("{0}")]
    Invalid(String),
    /// Nothing there (a 404 with no message, as Vault answers a missing role or certificate).
    #[error("not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// What the engine API answered: no row for the path or the operation (404, 405), or
    /// a timer that could not be set.
    #[error(transparent)]
    Engine(EngineError),
    /// A certificate or key could not be built or read back; the cause is logged only.
    #[error("internal error")]
    Crypto(#[source] anyhow::Error),
}

impl PkiError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        PkiError::Invalid(msg.into())
    }

    /// A crypto library failure, kept for the log.
    pub(crate) fn crypto(what: &'static str, e: impl std::fmt::Display) -> Self {
        PkiError::Crypto(anyhow::anyhow!("{what}: {e}"))
    }

    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            PkiError::Invalid(_) => ErrorKind::BadRequest,
            PkiError::NotFound => ErrorKind::NotFound,
            PkiError::Storage(e) => e.kind(),
            PkiError::Engine(e) => e.kind(),
            PkiError::Crypto(_) => ErrorKind::Internal,
        }
    }
}

impl From<PkiError> for EngineError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::Invalid(m) => EngineError::BadRequest(m),
            PkiError::NotFound => EngineError::NotFound,
            PkiError::Storage(s) => EngineError::Storage(s),
            PkiError::Engine(e) => e,
            PkiError::Crypto(source) => EngineError::Internal(source),
        }
    }
}

impl From<secrethub_common::input::InputError> for PkiError {
    fn from(e: secrethub_common::input::InputError) -> Self {
        PkiError::Invalid(e.to_string())
    }
}

pub(crate) type Result<T, E = PkiError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(PkiError::invalid("x").kind(), ErrorKind::BadRequest);
        assert_eq!(PkiError::NotFound.kind(), ErrorKind::NotFound);
        let e = PkiError::crypto("signing", "boom");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.to_string(), "internal error");
    }
}
