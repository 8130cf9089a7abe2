//! `AuditError`: what can go wrong opening, writing or verifying an audit log.
//!
//! Messages name the file and the step, never an audited value.

use std::io;
use std::path::PathBuf;

use secrethub_common::ErrorKind;

/// An audit device or verification failure.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A device option is invalid (bad mode, empty path).
    #[error("invalid audit option {option}: {reason}")]
    InvalidOption {
        /// The option's name as in `sys/audit` (`file_path`, `mode`).
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The log file could not be opened or its last entry could not be read back.
    #[error("audit file {path}: cannot open")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An entry could not be written; core fails the request (fail closed).
    #[error("audit file {path}: write failed")]
    Write {
        /// The file, or `stdout`.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A log being verified could not be read.
    #[error("audit file {path}: read failed")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An entry could not be serialized to JSON (a bug: our structs always serialize).
    #[error("audit entry could not be serialized")]
    Serialize(#[source] serde_json::Error),
}

impl AuditError {
    /// The error category for the HTTP layer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuditError::InvalidOption { .. } => ErrorKind::BadRequest,
            AuditError::Open { .. } | AuditError::Write { .. } | AuditError::Read { .. } => {
                ErrorKind::Unavailable
            }
            AuditError::Serialize(_) => ErrorKind::Internal,
        }
    }
}
