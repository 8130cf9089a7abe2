//! How `mysql_async` failures are described: in full (scrubbed of secrets) for the server log,
//! and to clients by condition, MySQL error code and SQLSTATE only, since the server's text
//! names users, hosts, databases and tables (and a syntax error quotes the statement, which
//! may hold a password).

use mysql_async::{DriverError, Error, IoError};
use secrethub_database_plugin::FailureKind;

pub(crate) use secrethub_database_plugin::scrub;

/// Server error codes that mean the statement was refused because of a concurrent update and
/// succeeds when run again: deadlock, lock wait timeout.
const TRANSIENT: &[u16] = &[1213, 1205];

/// `ER_NO_SUCH_THREAD`: the session ended before `KILL` reached it.
pub(crate) const NO_SUCH_THREAD: u16 = 1094;

/// The server's error code, when the server refused something.
pub(crate) fn code(err: &Error) -> Option<u16> {
    match err {
        Error::Server(e) => Some(e.code),
        _ => None,
    }
}

/// Whether the connection itself is gone (as opposed to a refused statement).
pub(crate) fn is_connection_error(err: &Error) -> bool {
    match err {
        // Server shutdown in progress, connection killed, too many connections.
        Error::Server(e) => matches!(e.code, 1053 | 1927 | 1040),
        other => other.is_fatal(),
    }
}

pub(crate) fn is_transient_conflict(err: &Error) -> bool {
    code(err).is_some_and(|c| TRANSIENT.contains(&c))
}

/// Why a connection could not be made, from the driver's error: the server's error code
/// where there is one, else the kind of I/O error, else the description's words.
pub(crate) fn failure_kind(err: &Error) -> FailureKind {
    use std::io::ErrorKind as Io;
    match err {
        // Access denied (wrong password, or no such account at this host; access to the
        // database), the password expired, an account locked.
        Error::Server(e) if matches!(e.code, 1044 | 1045 | 1698 | 1820 | 1862 | 3118 | 4151) => {
            FailureKind::Auth
        }
        Error::Server(_) => FailureKind::Other,
        Error::Io(IoError::Tls(_)) | Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            FailureKind::Tls
        }
        Error::Driver(
            DriverError::UnknownAuthPlugin { .. }
            | DriverError::CleartextPluginDisabled
            | DriverError::MysqlOldPasswordDisabled,
        ) => FailureKind::Auth,
        Error::Io(IoError::Io(e)) => match e.kind() {
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::HostUnreachable
            | Io::NetworkUnreachable => FailureKind::Refused,
            Io::TimedOut => FailureKind::Timeout,
            _ => FailureKind::classify(&describe(err)),
        },
        other => FailureKind::classify(&describe(other)),
    }
}

/// Everything known about the failure, for the server log (callers scrub it).
pub(crate) fn describe(err: &Error) -> String {
    match err {
        Error::Server(e) => format!("ERROR {} ({}): {}", e.code, e.state, e.message),
        other => {
            let mut out = other.to_string();
            let mut cause = std::error::Error::source(other);
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
    }
}

/// The failure as a client sees it: `syntax error (MySQL error 1064, SQLSTATE 42000)`, our
/// own words only. A client-side failure (refused connection, TLS, timeout) is described in
/// full, with `secrets` removed: it is about the connection, not the database's contents.
pub(crate) fn describe_for_client(err: &Error, secrets: &[&str]) -> String {
    match err {
        Error::Server(e) => format!(
            "{} (MySQL error {}, SQLSTATE {})",
            condition(e.code, &e.state),
            e.code,
            e.state
        ),
        other => {
            let mut out = describe(other);
            for s in secrets.iter().filter(|s| !s.is_empty()) {
                out = out.replace(s, "<redacted>");
            }
            out
        }
    }
}

/// A short name for the error codes role statements and connections commonly fail with,
/// else the name of the SQLSTATE class.
fn condition(code: u16, state: &str) -> &'static str {
    match code {
        1044 => "access denied to database",
        1045 => "access denied (wrong user name or password)",
        1049 => "unknown database",
        1054 => "unknown column",
        1064 => "syntax error",
        1133 => "no matching user",
        1141 => "no such grant",
        1142 | 1143 => "command denied on table",
        1146 => "no such table",
        1205 => "lock wait timeout",
        1213 => "deadlock",
        1227 => "missing privilege",
        1269 => "cannot revoke all privileges",
        1290 => "option prevents statement",
        1396 => "user operation failed (user exists or is missing)",
        1410 => "not allowed to create a user with GRANT",
        1470 => "user name too long",
        1698 => "access denied",
        1819 => "password does not satisfy the password policy",
        1040 => "too many connections",
        _ => match state.get(..2).unwrap_or_default() {
            "08" => "connection exception",
            "0A" => "feature not supported",
            "22" => "data exception",
            "23" => "integrity constraint violation",
            "25" => "invalid transaction state",
            "28" => "invalid authorization specification",
            "3D" => "invalid catalog name",
            "40" => "transaction rollback",
            "42" => "syntax error or access rule violation",
            "HY" => "general error",
            _ => "database error",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, state: &str, message: &str) -> Error {
        Error::Server(mysql_async::ServerError {
            code,
            state: state.into(),
            message: message.into(),
        })
    }

    #[test]
    fn clients_see_codes_not_names() {
        let e = server(
            1142,
            "42000",
            "SELECT command denied to user 'x'@'%' for table 'secret_t'",
        );
        assert_eq!(
            describe_for_client(&e, &["secret_t"]),
            "command denied on table (MySQL error 1142, SQLSTATE 42000)"
        );
        assert!(describe(&e).contains("secret_t"));
        assert_eq!(
            describe_for_client(&server(4242, "42S02", "x"), &[]),
            "syntax error or access rule violation (MySQL error 4242, SQLSTATE 42S02)"
        );
        assert!(is_transient_conflict(&server(1213, "40001", "")));
        assert!(!is_connection_error(&server(1064, "42000", "")));
    }

    #[test]
    fn failure_kinds_come_from_codes_and_io_errors() {
        use std::io;
        assert_eq!(failure_kind(&server(1045, "28000", "x")), FailureKind::Auth);
        assert_eq!(
            failure_kind(&server(1049, "42000", "x")),
            FailureKind::Other
        );
        let io = |kind, text: &str| Error::Io(IoError::Io(io::Error::new(kind, text)));
        assert_eq!(
            failure_kind(&io(io::ErrorKind::ConnectionRefused, "refused")),
            FailureKind::Refused
        );
        assert_eq!(
            failure_kind(&io(
                io::ErrorKind::Other,
                "failed to lookup address information: Name or service not known"
            )),
            FailureKind::Dns
        );
        assert_eq!(
            failure_kind(&Error::Driver(DriverError::NoClientSslFlagFromServer)),
            FailureKind::Tls
        );
    }
}
