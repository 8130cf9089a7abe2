//! The PostgreSQL plugin's connection check (`database/test-connection`, `verify_connection`):
//! connect, time `SELECT 1`, read the server version and whether the admin user may create
//! roles, and warn about what a non-superuser admin implies.

use secrethub_database_plugin::{ConnectionReport, FailureKind, Privilege};

use crate::{connect, quote_ident, Postgres};

impl Postgres {
    /// `check_connection`: see the module docs.
    pub(crate) async fn check(&self) -> ConnectionReport {
        let limit = connect::CONNECT_TIMEOUT * 2;
        let client = match tokio::time::timeout(limit, self.issue.get()).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                let reason = connect::describe_pool(&e);
                return ConnectionReport::failed(FailureKind::classify(&reason), reason);
            }
            Err(_) => {
                return ConnectionReport::failed(FailureKind::Timeout, "timed out connecting")
            }
        };
        let started = std::time::Instant::now();
        if let Err(e) = client.simple_query("SELECT 1").await {
            let reason = connect::describe(&e);
            return ConnectionReport::failed(FailureKind::classify(&reason), reason);
        }
        let round_trip = started.elapsed();
        let sql = "SELECT pg_catalog.current_setting('server_version'), \
                   pg_catalog.current_setting('server_version_num')::int, rolsuper, rolcreaterole \
                   FROM pg_catalog.pg_roles WHERE rolname = current_user";
        let row = match client.query_one(sql, &[]).await {
            Ok(row) => row,
            Err(e) => {
                let reason = connect::describe_for_client(&e);
                return ConnectionReport::failed(FailureKind::Other, reason);
            }
        };
        let (version, version_num, superuser, createrole): (String, i32, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        ConnectionReport {
            failure: None,
            server_version: format!("PostgreSQL {version}"),
            round_trip: Some(round_trip),
            privileges: vec![Privilege {
                name: "CREATEROLE".into(),
                held: superuser || createrole,
                needed_for: "creating and dropping users".into(),
            }],
            warnings: admin_warnings(&self.admin_username, superuser, createrole, version_num),
        }
    }
}

/// What a person setting up a connection should know about its admin user.
fn admin_warnings(admin: &str, superuser: bool, createrole: bool, version_num: i32) -> Vec<String> {
    if superuser {
        return Vec::new();
    }
    if !createrole {
        return vec![format!(
            "the admin user {admin:?} has neither SUPERUSER nor CREATEROLE: it cannot create \
             users; ALTER ROLE {} CREATEROLE",
            quote_ident(admin)
        )];
    }
    let how = if version_num >= 160_000 {
        "PostgreSQL 16+ makes the admin only an ADMIN member of the users it creates, without \
         their privileges"
    } else {
        "before PostgreSQL 16 a CREATEROLE admin has no rights over the users it creates"
    };
    vec![format!(
        "the admin user {admin:?} is not a superuser ({how}): SecretHub grants every new user \
         to it (GRANT \"<user>\" TO {}) in the creation transaction, so that the default \
         revocation may end the user's sessions and drop what it owns; custom \
         revocation_statements run with the same rights",
        quote_ident(admin)
    )]
}
