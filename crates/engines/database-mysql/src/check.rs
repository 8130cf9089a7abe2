//! `check_connection` for MySQL/MariaDB: connect as the admin user (a failure classified from
//! the driver's error, e.g. MySQL error 1045 is `auth`), time `SELECT 1`, read `VERSION()`,
//! and read the admin's global privileges from `SHOW GRANTS` (which on MariaDB also lists
//! those of the admin's current role).
//!
//! The plugin needs `CREATE USER` (create, drop and alter users), `GRANT OPTION` (the role's
//! `GRANT` statements), and, because revocation ends the user's open sessions, `PROCESS` (to
//! see other users' sessions in `PROCESSLIST`) and `CONNECTION ADMIN` or `SUPER` (to `KILL`
//! them). All four count for `ready`: without the last two, credentials are still issued and
//! dropped, but a revoked user's open sessions keep running, which the plugin promises not to
//! allow. Privileges a MySQL 8 admin holds only through a role are not seen here (its
//! `SHOW GRANTS` names the role, not what it grants).

use std::collections::BTreeSet;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use secrethub_database_plugin::{ConnectionReport, FailureKind, Privilege};

use crate::{errors, MysqlPlugin};

/// The admin's privileges as `SHOW GRANTS` lists them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    /// `ALL PRIVILEGES ON *.*`.
    all: bool,
    /// Global privileges (`ON *.*`), upper case, `_` written as a space (MySQL 8 spells the
    /// dynamic ones `CONNECTION_ADMIN`, MariaDB `CONNECTION ADMIN`).
    global: BTreeSet<String>,
    /// `WITH GRANT OPTION` on any database-level grant (a `GRANT PROXY` does not count).
    grant_option: bool,
}

impl Grants {
    fn has(&self, privilege: &str) -> bool {
        self.all || self.global.contains(privilege)
    }
}

/// Reads `SHOW GRANTS` lines (`GRANT SELECT, PROCESS ON *.* TO 'u'@'%' WITH GRANT OPTION`);
/// role grants (`GRANT 'r' TO …`) and anything else not `GRANT … ON … TO` are skipped.
pub(crate) fn parse_grants(lines: &[String]) -> Grants {
    let mut grants = Grants::default();
    for line in lines {
        let Some(rest) = line.strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privileges, rest)) = rest.split_once(" ON ") else {
            continue;
        };
        let Some((target, rest)) = rest.split_once(" TO ") else {
            continue;
        };
        if privileges.trim() == "PROXY" {
            continue;
        }
        if rest.contains("WITH GRANT OPTION") {
            grants.grant_option = true;
        }
        if target.trim() != "*.*" {
            continue;
        }
        for p in privileges.split(',') {
            let p = p.trim().to_ascii_uppercase().replace('_', " ");
            if p == "ALL PRIVILEGES" || p == "ALL" {
                grants.all = true;
            } else {
                grants.global.insert(p);
            }
        }
    }
    grants
}

/// The privileges the plugin needs, held or not, in the order the report lists them. MariaDB's
/// revocation ends sessions with `KILL CONNECTION USER`, which needs no `PROCESS`.
pub(crate) fn privileges(grants: &Grants, mariadb: bool) -> Vec<Privilege> {
    let privilege = |name: &str, held: bool, needed_for: &str| Privilege {
        name: name.into(),
        held,
        needed_for: needed_for.into(),
    };
    let mut needed = vec![
        privilege(
            "CREATE USER",
            grants.has("CREATE USER"),
            "creating and dropping users, rotating static roles' passwords (ALTER USER)",
        ),
        privilege(
            "GRANT OPTION",
            grants.grant_option,
            "the GRANT statements of roles (the admin can grant only privileges it holds \
             WITH GRANT OPTION)",
        ),
        privilege(
            "PROCESS",
            grants.has("PROCESS"),
            "seeing a revoked user's sessions in PROCESSLIST: without it the revocation finds \
             none and they stay open after the user is dropped",
        ),
        privilege(
            "CONNECTION ADMIN or SUPER",
            grants.has("CONNECTION ADMIN") || grants.has("SUPER"),
            "ending a revoked user's open sessions (KILL CONNECTION): without it they stay \
             open after the user is dropped",
        ),
    ];
    if mariadb {
        needed.retain(|p| p.name != "PROCESS");
    }
    needed
}

/// `MariaDB 10.11.19-0+deb12u1` or `MySQL 8.0.36` from `VERSION()`.
pub(crate) fn server_version(version: &str) -> String {
    match version.split_once("-MariaDB") {
        Some((number, rest)) => format!("MariaDB {number}{rest}"),
        None => format!("MySQL {version}"),
    }
}

/// A warning when statements with passwords cross a network in clear text.
pub(crate) fn plaintext_warning(loopback: bool, ssl_cipher: &str) -> Option<String> {
    (!loopback && ssl_cipher.is_empty()).then(|| {
        "the connection is not encrypted: the passwords of the users SecretHub creates cross \
         the network in clear text; add tls=true (or tls_ca) to the connection"
            .to_string()
    })
}

impl MysqlPlugin {
    pub(crate) async fn check(&self) -> ConnectionReport {
        let failed = |e: &mysql_async::Error| {
            ConnectionReport::failed(
                errors::failure_kind(e),
                errors::describe_for_client(e, &[&self.admin_password]),
            )
        };
        let limit = self.connect_timeout * 2;
        let mut conn = match tokio::time::timeout(limit, self.issue.get_conn()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return failed(&e),
            Err(_) => {
                return ConnectionReport::failed(FailureKind::Timeout, "timed out connecting")
            }
        };
        let started = Instant::now();
        if let Err(e) = conn.query_drop("SELECT 1").await {
            return failed(&e);
        }
        let mut report = ConnectionReport {
            round_trip: Some(started.elapsed()),
            ..Default::default()
        };
        match self.inspect(&mut conn, &mut report).await {
            Ok(()) => {}
            Err(e) => report.warnings.push(format!(
                "could not read the server's version and the admin user's grants: {}",
                errors::describe_for_client(&e, &[&self.admin_password])
            )),
        }
        report
    }

    /// Version, privileges and warnings, on a connection that works.
    async fn inspect(
        &self,
        conn: &mut Conn,
        report: &mut ConnectionReport,
    ) -> Result<(), mysql_async::Error> {
        let (version, read_only): (String, u8) = conn
            .query_first("SELECT VERSION(), @@read_only")
            .await?
            .unwrap_or_default();
        report.server_version = server_version(&version);
        let mariadb = *self.mariadb.get_or_init(|| version.contains("MariaDB"));
        let lines: Vec<String> = conn.query("SHOW GRANTS").await?;
        report.privileges = privileges(&parse_grants(&lines), mariadb);
        if read_only != 0 {
            report.warnings.push(
                "the server is read-only (@@read_only is ON, a replica?): creating users fails \
                 unless the admin may write to a read-only server"
                    .into(),
            );
        }
        let cipher: Option<(String, String)> = conn
            .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await?;
        let cipher = cipher.map(|(_, c)| c).unwrap_or_default();
        report
            .warnings
            .extend(plaintext_warning(self.loopback, &cipher));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| l.trim().to_string()).collect()
    }

    fn held(grants: &Grants) -> Vec<bool> {
        privileges(grants, false).iter().map(|p| p.held).collect()
    }

    #[test]
    fn reads_grants_of_mariadb_and_mysql() {
        let root = parse_grants(&lines(
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`127.0.0.1` WITH GRANT OPTION
             GRANT PROXY ON ''@'%' TO 'root'@'127.0.0.1' WITH GRANT OPTION",
        ));
        assert_eq!(held(&root), [true; 4]);

        let no_process = parse_grants(&lines(
            "GRANT SELECT, CREATE USER ON *.* TO `adm`@`%` WITH GRANT OPTION",
        ));
        assert_eq!(held(&no_process), [true, true, false, false]);

        let mysql8 = parse_grants(&lines(
            "GRANT SELECT, PROCESS, CREATE USER ON *.* TO `adm`@`%`
             GRANT CONNECTION_ADMIN ON *.* TO `adm`@`%`
             GRANT ALL PRIVILEGES ON `app`.* TO `adm`@`%` WITH GRANT OPTION
             GRANT `dba`@`%` TO `adm`@`%`",
        ));
        assert_eq!(held(&mysql8), [true; 4]);

        let proxy_only = parse_grants(&lines(
            "GRANT USAGE ON *.* TO `u`@`%`
             GRANT PROXY ON ''@'%' TO 'u'@'%' WITH GRANT OPTION",
        ));
        assert_eq!(held(&proxy_only), [false; 4]);
        let super_ = parse_grants(&lines("GRANT PROCESS, SUPER ON *.* TO `u`@`%`"));
        assert_eq!(held(&super_), [false, false, true, true]);
    }

    #[test]
    fn mariadb_needs_no_process() {
        let names: Vec<String> = privileges(&Grants::default(), true)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            ["CREATE USER", "GRANT OPTION", "CONNECTION ADMIN or SUPER"]
        );
    }

    #[test]
    fn names_the_server() {
        assert_eq!(
            server_version("10.11.19-MariaDB-0+deb12u1"),
            "MariaDB 10.11.19-0+deb12u1"
        );
        assert_eq!(server_version("11.4.2-MariaDB"), "MariaDB 11.4.2");
        assert_eq!(server_version("8.0.36"), "MySQL 8.0.36");
    }

    #[test]
    fn warns_of_plain_text_off_the_machine() {
        assert!(plaintext_warning(false, "").is_some());
        assert!(plaintext_warning(true, "").is_none());
        assert!(plaintext_warning(false, "TLS_AES_256_GCM_SHA384").is_none());
    }
}
