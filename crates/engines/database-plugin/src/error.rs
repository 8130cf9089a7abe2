//! `DatabaseError`: what the engine and its plugins can fail with, and how each failure reaches
//! the client. Messages name the connection and never contain a password (plugins scrub the
//! database's messages before building these); a refused statement is described by its
//! condition and SQLSTATE only, since the database's text names its schemas, tables and roles.

use secrethub_common::ErrorKind;
use secrethub_engine::EngineError;
use secrethub_storage::StorageError;

/// A failure of the database engine or one of its plugins.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// Invalid input (unknown role, bad template, role not allowed); shown as a 400.
    #[error("{0}")]
    Invalid(String),
    /// `verify_connection` could not connect or run a trivial query; shown as a 400.
    #[error("error verifying connection {connection:?}: {reason}")]
    Verify { connection: String, reason: String },
    /// The database refused a statement (syntax error, missing object, permission); the
    /// transaction was rolled back. Shown as a 400 with the condition and SQLSTATE; the
    /// database's own message is logged.
    #[error("{action} failed on connection {connection:?}: {reason}")]
    Rejected {
        connection: String,
        action: &'static str,
        reason: String,
    },
    /// Nothing stored at this path (a 404).
    #[error("not found")]
    NotFound,
    /// The database could not be reached (down, timed out, connection lost); a 503.
    #[error("connection {connection:?} is unavailable: {reason}")]
    Unavailable { connection: String, reason: String },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Core could not do what the engine asked (record an intent, set a timer); passed
    /// through unchanged.
    #[error(transparent)]
    Core(EngineError),
    /// A bug.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl DatabaseError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        DatabaseError::Invalid(msg.into())
    }

    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DatabaseError::Invalid(_)
            | DatabaseError::Verify { .. }
            | DatabaseError::Rejected { .. } => ErrorKind::BadRequest,
            DatabaseError::NotFound => ErrorKind::NotFound,
            DatabaseError::Unavailable { .. } => ErrorKind::Unavailable,
            DatabaseError::Storage(e) => e.kind(),
            DatabaseError::Core(e) => e.kind(),
            DatabaseError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<DatabaseError> for EngineError {
    fn from(e: DatabaseError) -> Self {
        if let DatabaseError::Core(inner) = e {
            return inner;
        }
        match e.kind() {
            ErrorKind::BadRequest => EngineError::BadRequest(e.to_string()),
            _ => match e {
                DatabaseError::NotFound => EngineError::NotFound,
                DatabaseError::Storage(s) => EngineError::Storage(s),
                DatabaseError::Internal(source) => EngineError::Internal(source),
                other => {
                    // `what` is shown to the client: it names the connection and the reason,
                    // which plugins have already scrubbed of secrets.
                    let what = other.to_string();
                    EngineError::Upstream {
                        what,
                        source: anyhow::Error::new(other),
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_engine_errors() {
        let e: EngineError = DatabaseError::Verify {
            connection: "analytics".into(),
            reason: "password authentication failed".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        assert_eq!(
            e.to_string(),
            "error verifying connection \"analytics\": password authentication failed"
        );
        let e: EngineError = DatabaseError::Unavailable {
            connection: "analytics".into(),
            reason: "connection refused".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("\"analytics\" is unavailable"));
    }
}
