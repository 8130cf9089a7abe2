//! Bad input: unknown and disallowed roles, template errors, failing statements (nothing left
//! behind, no password in the message), bad connections (a fast 400 naming the connection),
//! plus config and role reads that never show a password.

use std::time::{Duration, Instant};

use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use serde_json::{json, Value};

use crate::harness::{role_exists, LocalDb, Mount, CREATE};

fn bad_request(result: Result<impl Sized, EngineError>) -> String {
    match result {
        Ok(_) => panic!("expected a 400"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn unknown_and_disallowed_roles() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    db.configure(&mount, "main", "readonly-*").await;
    let msg = bad_request(mount.try_creds("nope", json!(null)).await);
    assert_eq!(msg, "unknown role: nope");

    mount
        .write(
            "roles/admin",
            json!({"db_name": "main", "creation_statements": CREATE}),
        )
        .await;
    let msg = bad_request(mount.try_creds("admin", json!(null)).await);
    assert_eq!(
        msg,
        "\"admin\" is not an allowed role for connection \"main\""
    );

    mount
        .write(
            "roles/readonly-x",
            json!({"db_name": "missing", "creation_statements": CREATE}),
        )
        .await;
    let msg = bad_request(mount.try_creds("readonly-x", json!(null)).await);
    assert_eq!(
        msg,
        "connection \"missing\" used by role \"readonly-x\" does not exist"
    );
    // Nothing was attempted, so nothing was recorded.
    assert!(mount.intents.all().is_empty());
}

#[tokio::test]
async fn role_writes_are_checked() {
    let mount = Mount::new();
    for (body, want) in [
        (
            json!({"creation_statements": CREATE}),
            "db_name is required",
        ),
        (
            json!({"db_name": "main"}),
            "creation_statements is required",
        ),
        (
            json!({"db_name": "main", "creation_statements": "CREATE ROLE \"{{nmae}}\""}),
            "creation_statements: unknown template variable \"{{nmae}}\"",
        ),
        (
            json!({"db_name": "main", "creation_statements": CREATE, "revocation_statements": "DROP ROLE {{name"}),
            "revocation_statements: unclosed \"{{\"",
        ),
        (
            json!({"db_name": "main", "creation_statements": CREATE, "default_ttl": "2h", "max_ttl": "1h"}),
            "ttl cannot be greater than max_ttl",
        ),
        (
            json!({"db_name": "main", "creation_statements": CREATE, "default_ttl": "soon"}),
            "invalid default_ttl: invalid duration",
        ),
    ] {
        let msg = bad_request(mount.call(Operation::Create, "roles/r", body.clone()).await);
        assert!(msg.starts_with(want), "{body}: {msg}");
    }
    // Nothing was stored.
    let e = mount
        .call(Operation::Read, "roles/r", json!(null))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::NotFound));
}

#[tokio::test]
async fn failing_statements_leave_nothing_behind() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    db.configure(&mount, "main", "*").await;
    mount
        .write(
            "roles/broken",
            json!({"db_name": "main", "creation_statements": [CREATE, "GRANT SELECT ON missing_table TO \"{{name}}\";"]}),
        )
        .await;
    let msg = bad_request(mount.try_creds("broken", json!(null)).await);
    assert_eq!(
        msg,
        "creating user failed on connection \"main\": undefined table (SQLSTATE 42P01)"
    );
    // The intent was recorded first; the CREATE ROLE before the failure was rolled back, and
    // revoking the intent (as core will) succeeds.
    let intents = mount.intents.all();
    assert_eq!(intents.len(), 1);
    let username = intents[0]["username"].as_str().unwrap();
    let admin = db.admin().await;
    assert!(!role_exists(&admin, username).await);
    mount.revoke(&intents[0]).await.unwrap();

    // A syntax error right at the password: the message must not carry it.
    mount
        .write(
            "roles/leaky",
            json!({"db_name": "main", "creation_statements": "CREATE ROLE \"{{name}}\" LOGIN PASSWORD {{password}} x"}),
        )
        .await;
    let msg = bad_request(mount.try_creds("leaky", json!(null)).await);
    // PostgreSQL names the problem by the password's first character ("syntax error at or
    // near …", or "trailing junk after numeric literal" when it starts with a digit); the
    // client sees the condition only, and the log the message with the password scrubbed.
    assert_eq!(
        msg,
        "creating user failed on connection \"main\": syntax error (SQLSTATE 42601)"
    );

    // The connection is still usable afterwards.
    mount
        .write(
            "roles/fine",
            json!({"db_name": "main", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount.creds("fine").await;
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn refused_statements_do_not_map_the_database_for_the_client() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    db.configure(&mount, "main", "*").await;
    let admin = db.admin().await;
    admin
        .batch_execute(
            "CREATE SCHEMA payroll_private; CREATE TABLE payroll_private.salaries (id int); \
             REVOKE ALL ON SCHEMA payroll_private FROM PUBLIC",
        )
        .await
        .unwrap();
    for (statement, want) in [
        (
            "GRANT SELECT ON hidden_schema.accounts TO \"{{name}}\";",
            "invalid schema name (SQLSTATE 3F000)",
        ),
        (
            "GRANT SELECT ON payroll_private.salary_typo TO \"{{name}}\";",
            "undefined table (SQLSTATE 42P01)",
        ),
        (
            "GRANT hidden_admin_role TO \"{{name}}\";",
            "undefined object (SQLSTATE 42704)",
        ),
        (
            "SET ROLE \"{{name}}\"; SELECT * FROM payroll_private.salaries;",
            "insufficient privilege (SQLSTATE 42501)",
        ),
        (
            "CREATE TABLE payroll_private.salaries (id int);",
            "duplicate table (SQLSTATE 42P07)",
        ),
    ] {
        mount
            .write(
                "roles/r",
                json!({"db_name": "main", "creation_statements": [CREATE, statement]}),
            )
            .await;
        let msg = bad_request(mount.try_creds("r", json!(null)).await);
        assert_eq!(
            msg,
            format!("creating user failed on connection \"main\": {want}"),
            "{statement}"
        );
        for name in ["hidden", "payroll", "salar", "accounts", "v-"] {
            assert!(!msg.contains(name), "{statement}: {msg}");
        }
    }
}

async fn write_config(mount: &Mount, name: &str, url: &str) -> Result<(), EngineError> {
    mount
        .call(
            Operation::Create,
            &format!("config/{name}"),
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": url,
                "username": "postgres",
                "password": "Sup3r-Secret-pw",
                "allowed_roles": "*",
            }),
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn bad_connections_are_a_fast_400_naming_the_connection() {
    let mount = Mount::new();
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (name, url, cause) in [
        (
            "refused",
            format!("postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{closed_port}/x?sslmode=disable"),
            "error connecting to server",
        ),
        (
            "nohost",
            "postgresql://{{username}}:{{password}}@no-such-host.invalid:5432/x".to_string(),
            "error connecting to server",
        ),
        (
            "nodb",
            "postgresql://{{username}}:{{password}}@127.0.0.1:5432/no_such_database_xyz?sslmode=disable".to_string(),
            "database \"no_such_database_xyz\" does not exist",
        ),
    ] {
        let started = Instant::now();
        let msg = bad_request(write_config(&mount, name, &url).await);
        assert!(started.elapsed() < Duration::from_secs(6), "{name} took {:?}", started.elapsed());
        assert!(msg.starts_with(&format!("error verifying connection \"{name}\": ")), "{msg}");
        assert!(msg.contains(cause), "{msg}");
        assert!(!msg.contains("Sup3r-Secret-pw"), "{msg}");
        // A config that failed verification is not stored.
        let e = mount.call(Operation::Read, &format!("config/{name}"), json!(null)).await.err().unwrap();
        assert!(matches!(e, EngineError::NotFound));
    }

    for (body, want) in [
        (
            json!({"connection_url": "postgresql://h/d"}),
            "plugin_name is required",
        ),
        (
            json!({"plugin_name": "oracle-database-plugin", "connection_url": "x"}),
            "unknown plugin_name",
        ),
        (
            json!({"plugin_name": "postgresql-database-plugin"}),
            "connection_url is required",
        ),
        (
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://h/d", "password_policy": "named"}),
            "invalid password_policy",
        ),
        (
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://h/d", "username_template": "{{.Nope}}"}),
            "invalid username_template",
        ),
        (
            // Each `replace ""` stage multiplies the length by ten: refused before any render.
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://h/d", "username_template": format!("{{{{.RoleName{} | truncate 63}}}}", " | replace \"\" \"xxxxxxxxx\"".repeat(8))}),
            "username_template: {{.RoleName | replace \"\" \"xxxxxxxxx\" | replace",
        ),
    ] {
        let msg = bad_request(
            mount
                .call(Operation::Create, "config/x", body.clone())
                .await,
        );
        assert!(msg.starts_with(want), "{body}: {msg}");
    }
}

#[tokio::test]
async fn config_reads_never_show_passwords() {
    let db = LocalDb::create().await;
    let mount = Mount::new();
    mount
        .write(
            "config/main",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": db.url(),
                "username": "postgres",
                "password": "hunter2-secret",
                "allowed_roles": "a,b",
                "verify_connection": "false",
            }),
        )
        .await;
    let data = mount.read("config/main").await;
    assert_eq!(
        data,
        json!({
            "plugin_name": "postgresql-database-plugin",
            "plugin_version": "",
            "connection_details": {
                "connection_url": db.url(),
                "username": "postgres",
                "max_open_connections": 4,
                "max_idle_connections": 0,
                "max_connection_lifetime": "0s",
                "password_authentication": "scram-sha-256",
            },
            "allowed_roles": ["a", "b"],
            "root_credentials_rotate_statements": [],
            "password_policy": "",
            "verify_connection": false,
        })
    );
    // A literal password in the URL is masked too; an update keeps the other fields.
    mount
        .write(
            "config/main",
            json!({"connection_url": format!("postgresql://postgres:hunter2-secret@127.0.0.1:5432/{}", db.name)}),
        )
        .await;
    let data = mount.read("config/main").await;
    assert!(!data.to_string().contains("hunter2"), "{data}");
    assert_eq!(data["allowed_roles"], json!(["a", "b"]));

    let req = mount.request(Operation::Update, "config/main", Value::Null);
    assert_eq!(mount.engine.exists(&req).await.unwrap(), Some(true));
    let req = mount.request(Operation::Update, "config/other", Value::Null);
    assert_eq!(mount.engine.exists(&req).await.unwrap(), Some(false));
    let list = mount
        .call(Operation::List, "config", json!(null))
        .await
        .unwrap();
    assert_eq!(Value::Object(list.data.unwrap()), json!({"keys": ["main"]}));
    mount
        .call(Operation::Delete, "config/main", json!(null))
        .await
        .unwrap();
    let e = mount
        .call(Operation::List, "config", json!(null))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::NotFound));
}
