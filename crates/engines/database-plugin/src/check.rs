//! [`ConnectionReport`]: what `database/test-connection` (and a config write with
//! `verify_connection`) learns about a connection before anything is saved.

use std::time::Duration;

use serde::Serialize;

/// Why a connection could not be made, in the terms a person setting one up acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Nothing listens at that address (or a firewall said no).
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (no TLS on the server, an unknown CA, a wrong name).
    Tls,
    /// The server refused the admin user's credentials.
    Auth,
    /// No answer in time.
    Timeout,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Classifies a driver's description of a failed connection. Drivers say the same
    /// things in their own words; these are the words of the ones in use (tokio-postgres,
    /// mysql_async, Redis replies, the OS's errors).
    pub fn classify(description: &str) -> Self {
        let d = description.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| d.contains(w));
        if has(&["timed out", "timeout"]) {
            FailureKind::Timeout
        } else if has(&["refused", "connection reset", "unreachable"]) {
            FailureKind::Refused
        } else if has(&[
            "lookup address",
            "name or service not known",
            "nodename nor servname",
            "no such host",
            "temporary failure in name resolution",
            "dns",
        ]) {
            FailureKind::Dns
        } else if has(&[
            "sqlstate 28",
            "password",
            "authentication",
            "access denied",
            "wrongpass",
            "noauth",
            "not authorized",
        ]) {
            FailureKind::Auth
        } else if has(&["tls", "ssl", "certificate", "handshake"]) {
            FailureKind::Tls
        } else {
            FailureKind::Other
        }
    }
}

/// A connection that could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFailure {
    pub kind: FailureKind,
    /// The driver's description, scrubbed of secrets.
    pub reason: String,
}

/// One right the plugin needs its admin user to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Privilege {
    /// As the database names it (`CREATEROLE`, `CREATE USER`, `ACL SETUSER`, …).
    pub name: String,
    pub held: bool,
    /// What SecretHub does with it.
    pub needed_for: String,
}

/// What a connection check found. A check never fails: what went wrong is in here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionReport {
    /// `None` when the admin user connected and ran a trivial command.
    pub failure: Option<ConnectionFailure>,
    /// The server's own version string, when connected.
    pub server_version: String,
    /// One trivial command's round trip on an open connection.
    pub round_trip: Option<Duration>,
    pub privileges: Vec<Privilege>,
    /// Things that work but that the person setting up should know.
    pub warnings: Vec<String>,
}

impl ConnectionReport {
    /// A report of a connection that could not be made.
    pub fn failed(kind: FailureKind, reason: impl Into<String>) -> Self {
        ConnectionReport {
            failure: Some(ConnectionFailure {
                kind,
                reason: reason.into(),
            }),
            ..Default::default()
        }
    }

    /// Connected, and the admin user holds every privilege listed.
    pub fn ready(&self) -> bool {
        self.failure.is_none() && self.privileges.iter().all(|p| p.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_driver_messages() {
        for (text, kind) in [
            ("error connecting to server: Connection refused (os error 111)", FailureKind::Refused),
            ("error connecting to server: failed to lookup address information: Name or service not known", FailureKind::Dns),
            ("FATAL: password authentication failed for user \"x\" (SQLSTATE 28P01)", FailureKind::Auth),
            ("Access denied for user 'x'@'127.0.0.1' (using password: YES)", FailureKind::Auth),
            ("WRONGPASS invalid username-password pair", FailureKind::Auth),
            ("error performing TLS handshake: invalid peer certificate", FailureKind::Tls),
            ("timed out connecting", FailureKind::Timeout),
            ("something else", FailureKind::Other),
        ] {
            assert_eq!(FailureKind::classify(text), kind, "{text}");
        }
    }
}
