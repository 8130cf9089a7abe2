//! `check_connection` for Redis: connect and authenticate, time a `PING`, read the version
//! from `INFO server` (Redis or Valkey), and ask the server itself whether the admin user may
//! run what the plugin sends (`ACL DRYRUN <admin> ACL SETUSER|DELUSER …`, Redis 7+). A server
//! without an ACL file is worth a warning: the users SecretHub creates live in memory only.

use std::time::Instant;

use secrethub_database_plugin::{ConnectionReport, FailureKind, Privilege};

use crate::resp::{ConnError, Reply};
use crate::{scrub, RedisPlugin};

/// The commands the admin user needs, and what for.
const NEEDED: &[(&str, &str)] = &[
    ("SETUSER", "creating users and rotating the root password"),
    (
        "DELUSER",
        "revoking users (which also closes their connections)",
    ),
];

fn text(reply: Reply) -> Option<String> {
    match reply {
        Reply::Status(s) => Some(s),
        Reply::Bulk(Some(b)) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// `Redis 7.0.15` or `Valkey 8.0.1` from an `INFO server` reply.
pub(crate) fn server_version(info: &str) -> String {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    match (field("valkey_version"), field("redis_version")) {
        (Some(v), _) => format!("Valkey {v}"),
        (None, Some(v)) => format!("Redis {v}"),
        (None, None) => String::new(),
    }
}

impl RedisPlugin {
    pub(crate) async fn check(&self) -> ConnectionReport {
        let failed = |e: &ConnError| {
            let reason = scrub(&e.to_string(), &self.secrets(&[]));
            ConnectionReport::failed(FailureKind::classify(&reason), reason)
        };
        let mut conn = match self.issue.get(true).await {
            Ok(c) => c,
            Err(e) => return failed(&e),
        };
        let started = Instant::now();
        match Self::call(&mut conn, &[b"PING"]).await {
            Ok(Reply::Error(e)) => {
                return ConnectionReport::failed(FailureKind::classify(&e), e);
            }
            Ok(_) => {}
            Err(e) => return failed(&e),
        }
        let round_trip = started.elapsed();
        let mut report = ConnectionReport {
            round_trip: Some(round_trip),
            ..Default::default()
        };
        let mut ask = async |args: &[&[u8]]| Self::call(&mut conn, args).await.ok().and_then(text);
        if let Some(info) = ask(&[b"INFO", b"server"]).await {
            report.server_version = server_version(&info);
        }
        let Some(admin) = ask(&[b"ACL", b"WHOAMI"]).await else {
            report.warnings.push(
                "the server did not answer ACL WHOAMI: it has no ACLs (Redis before 6) or the \
                 admin user may not run it"
                    .into(),
            );
            return report;
        };
        for (sub, needed_for) in NEEDED {
            let reply = ask(&[
                b"ACL",
                b"DRYRUN",
                admin.as_bytes(),
                b"ACL",
                sub.as_bytes(),
                b"secrethub-check",
            ])
            .await;
            let held = reply.as_deref() == Some("OK");
            if reply.is_none() {
                report.warnings.push(format!(
                    "could not check ACL {sub} with ACL DRYRUN (Redis 7 or later, and the \
                     admin user must be allowed to run it)"
                ));
            }
            report.privileges.push(Privilege {
                name: format!("ACL {sub}"),
                held,
                needed_for: needed_for.to_string(),
            });
        }
        let aclfile = match Self::call(&mut conn, &[b"CONFIG", b"GET", b"aclfile"]).await {
            Ok(Reply::Array(Some(items))) => items.into_iter().nth(1).and_then(text),
            _ => None,
        };
        if aclfile.as_deref() == Some("") {
            report.warnings.push(
                "the server has no ACL file: users SecretHub creates live in memory only and \
                 vanish if Redis restarts"
                    .into(),
            );
        }
        conn.done();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version() {
        assert_eq!(
            server_version("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n"),
            "Redis 7.0.15"
        );
        assert_eq!(
            server_version("redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n"),
            "Valkey 8.0.1"
        );
        assert_eq!(server_version("nothing"), "");
    }
}
