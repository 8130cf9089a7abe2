//! `CoreError`: every failure the request pipeline can answer with. Messages are shown to
//! clients, so they name paths, fields and mounts, never secret values.

use secrethub_common::ErrorKind;
use secrethub_engine::EngineError;
use secrethub_storage::StorageError;

/// A pipeline failure; `server` maps `kind()` to the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// Missing/invalid token or a policy that does not grant the operation.
    #[error("permission denied")]
    PermissionDenied,
    /// The token is unknown, expired or revoked.
    #[error("invalid token")]
    InvalidToken,
    /// A refusal with Vault's own message, such as `auth/token/lookup` of a token that does
    /// not exist ("bad token"); 403 like [`CoreError::PermissionDenied`].
    #[error("{0}")]
    Forbidden(String),
    /// Nothing at this path.
    #[error("not found")]
    NotFound,
    /// No mount serves this path.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    /// Something needed is failing right now; the message says what (503).
    #[error("{0}")]
    Unavailable(String),
    /// A quota is full (429).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The barrier is sealed.
    #[error("Vault is sealed")]
    Sealed,
    /// The server has not been initialised.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// An engine's answer.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An audit device could not record the request (fail closed).
    #[error("failed to audit the request")]
    AuditFailed(#[source] anyhow::Error),
    /// A bug or unexpected failure; the client sees a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl CoreError {
    /// Shorthand for [`CoreError::BadRequest`].
    pub fn bad_request(msg: impl Into<String>) -> Self {
        CoreError::BadRequest(msg.into())
    }

    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::BadRequest(_) => ErrorKind::BadRequest,
            CoreError::PermissionDenied | CoreError::InvalidToken | CoreError::Forbidden(_) => {
                ErrorKind::PermissionDenied
            }
            CoreError::NotFound | CoreError::NoRoute(_) => ErrorKind::NotFound,
            CoreError::Sealed => ErrorKind::Sealed,
            CoreError::QuotaExceeded(_) => ErrorKind::RateLimited,
            CoreError::Unavailable(_) => ErrorKind::Unavailable,
            CoreError::NotInitialized => ErrorKind::BadRequest,
            CoreError::Engine(e) => e.kind(),
            CoreError::Storage(e) => e.kind(),
            CoreError::AuditFailed(_) | CoreError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The messages for Vault's `{"errors": [...]}`: empty for a plain 404, generic for
    /// internal failures (whose detail goes to the log only).
    pub fn client_messages(&self) -> Vec<String> {
        match self {
            CoreError::NotFound
            | CoreError::Engine(EngineError::NotFound | EngineError::NotFoundWith(_)) => Vec::new(),
            CoreError::Storage(e) if e.kind() == ErrorKind::Sealed => {
                vec!["Vault is sealed".into()]
            }
            CoreError::Storage(e) if e.kind() == ErrorKind::BadRequest => vec![e.message().into()],
            CoreError::Storage(_) | CoreError::Engine(EngineError::Storage(_)) => {
                vec!["storage is unavailable".into()]
            }
            CoreError::Engine(EngineError::Internal(_)) | CoreError::Internal(_) => {
                vec!["internal error".into()]
            }
            // OpenBao says no more than this about a token it does not know.
            CoreError::InvalidToken => vec!["permission denied".into()],
            other => vec![other.to_string()],
        }
    }
}

impl From<secrethub_common::input::InputError> for CoreError {
    fn from(e: secrethub_common::input::InputError) -> Self {
        CoreError::BadRequest(e.to_string())
    }
}

impl From<secrethub_barrier::BarrierError> for CoreError {
    fn from(e: secrethub_barrier::BarrierError) -> Self {
        match e.kind() {
            ErrorKind::Sealed => CoreError::Sealed,
            ErrorKind::BadRequest => CoreError::BadRequest(e.to_string()),
            _ => CoreError::Internal(anyhow::Error::new(e)),
        }
    }
}

/// `msg` as Vault's clients see an error that went through go-multierror, which Vault (and
/// OpenBao) answer for some token store and capabilities errors: `"1 error occurred:\n\t*
/// invalid accessor\n\n"`. Clients that compare messages expect exactly this text.
pub(crate) fn go_multierror(msg: &str) -> String {
    format!("1 error occurred:\n\t* {msg}\n\n")
}

/// Result alias for core.
pub type CoreResult<T> = Result<T, CoreError>;
