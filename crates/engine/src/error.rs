//! `EngineError`: what an engine can answer besides a response. Messages name fields,
//! paths and resources; they never contain secret values.

use secrethub_common::ErrorKind;
use secrethub_storage::StorageError;

/// An engine's failure, mapped by `server` to Vault's status code and `{"errors": [...]}`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Invalid input; the message is shown to the client.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at this path (404 with an empty `errors` list, as Vault answers).
    #[error("not found")]
    NotFound,
    /// Nothing readable here, but the 404 still carries `data`, as Vault answers for a
    /// deleted or destroyed KV version (its metadata).
    #[error("not found")]
    NotFoundWith(Box<secrethub_common::JsonMap>),
    /// No path of the engine matches (404 "unsupported path").
    #[error("unsupported path")]
    UnsupportedPath,
    /// The path exists but not for this operation (405).
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// The caller may not do this, beyond what the ACL checked.
    #[error("permission denied")]
    PermissionDenied,
    /// Like [`EngineError::PermissionDenied`] (403) with a reason for the client, e.g. a
    /// login whose identity is not bound to the role ("service account namespace \"dev\" is
    /// not authorized"). The reason never contains a credential.
    #[error("permission denied: {0}")]
    Denied(String),
    /// A precondition failed (check-and-set mismatch); the message is shown.
    #[error("{0}")]
    Conflict(String),
    /// A lease that cannot be renewed.
    #[error("lease is not renewable")]
    NotRenewable,
    /// The system an engine manages failed; `what` names it, the source is only logged.
    #[error("upstream error: {what}")]
    Upstream {
        /// Which connection or resource failed, e.g. `connection "analytics"`.
        what: String,
        /// The cause, logged but not shown.
        #[source]
        source: anyhow::Error,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug; the client sees a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<secrethub_common::input::InputError> for EngineError {
    fn from(e: secrethub_common::input::InputError) -> Self {
        EngineError::BadRequest(e.to_string())
    }
}

impl EngineError {
    /// Shorthand for [`EngineError::BadRequest`].
    pub fn bad_request(msg: impl Into<String>) -> Self {
        EngineError::BadRequest(msg.into())
    }

    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::BadRequest(_) | EngineError::NotRenewable => ErrorKind::BadRequest,
            EngineError::NotFound | EngineError::NotFoundWith(_) | EngineError::UnsupportedPath => {
                ErrorKind::NotFound
            }
            EngineError::UnsupportedOperation => ErrorKind::UnsupportedOperation,
            EngineError::PermissionDenied | EngineError::Denied(_) => ErrorKind::PermissionDenied,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Upstream { .. } => ErrorKind::Unavailable,
            EngineError::Storage(e) => e.kind(),
            EngineError::Internal(_) => ErrorKind::Internal,
        }
    }
}
