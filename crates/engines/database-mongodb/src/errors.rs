//! How driver failures are described: in full (scrubbed of secrets) for the server log, and to
//! clients by MongoDB's code name and number only for a refused command (the server's text
//! names users, databases and roles), or the driver's words, scrubbed, for a connection that
//! could not be made.

use mongodb::error::{Error, ErrorKind};

pub(crate) use secrethub_database_plugin::scrub;

/// MongoDB's `UserNotFound`.
pub(crate) const USER_NOT_FOUND: i32 = 11;

/// The server's error code, when the server refused the command.
pub(crate) fn code(err: &Error) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        _ => None,
    }
}

/// What went wrong, as the client sees it.
pub(crate) enum Failure {
    /// The server refused the command: `UserNotFound (code 11)`.
    Refused(String),
    /// No answer, a connection that broke, or the admin credentials refused.
    Connection(String),
    /// Something the driver says about our own input.
    Invalid(String),
}

/// Classifies a driver error for the client; `secrets` are scrubbed out of any driver text.
pub(crate) fn for_client(err: &Error, secrets: &[&str]) -> Failure {
    match err.kind.as_ref() {
        ErrorKind::Command(e) => Failure::Refused(format!("{} (code {})", e.code_name, e.code)),
        ErrorKind::Authentication { .. } => {
            Failure::Connection("authentication failed for the admin user".to_string())
        }
        ErrorKind::InvalidArgument { message, .. } => Failure::Invalid(scrub(message, secrets)),
        _ => Failure::Connection(scrub(&describe(err), secrets)),
    }
}

/// Everything the driver says, with its causes, for the log (callers scrub it).
pub(crate) fn describe(err: &Error) -> String {
    let mut out = match err.kind.as_ref() {
        ErrorKind::Command(e) => format!("{} (code {}): {}", e.code_name, e.code, e.message),
        _ => err.kind.to_string(),
    };
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}
