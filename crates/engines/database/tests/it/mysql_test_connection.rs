//! `database/test-connection` with the MySQL plugin against the machine's MariaDB: a report
//! with the server's version, a round trip and the admin's privileges (`CREATE USER`,
//! `GRANT OPTION`, `CONNECTION ADMIN or SUPER`; `PROCESS` only on MySQL); failures classified
//! (auth, refused) without the password; an admin without `CONNECTION ADMIN` is connected but
//! not ready, and really leaves a revoked user's session open, as the report warns.

use mysql_async::prelude::Queryable;
use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::Mount;
use crate::mysql::{connect, root, still_open, user_exists, MyServer, ADDR};

/// The report for `user`/`password` at `addr`, with the response's warnings beside it.
async fn report(mount: &Mount, s: &MyServer, addr: &str, user: &str, password: &str) -> Value {
    let body = json!({
        "plugin_name": "mysql-database-plugin",
        "connection_url": s.url(addr),
        "username": user,
        "password": password,
    });
    let r = mount
        .call(Operation::Update, "test-connection", body)
        .await
        .unwrap_or_else(|e| panic!("test-connection failed: {e}"));
    let mut data = r.data.unwrap_or_default();
    data.insert("warnings".into(), json!(r.warnings));
    Value::Object(data)
}

fn held(report: &Value) -> Vec<(String, bool)> {
    report["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["held"] == true))
        .collect()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_full_admin_is_ready_and_failures_say_why() {
    let s = MyServer::create().await;
    let mount = Mount::new();
    let full = report(&mount, &s, ADDR, &s.admin, &s.admin_password).await;
    assert_eq!(full["reachable"], true, "{full}");
    assert_eq!(full["ready"], true, "{full}");
    assert!(
        full["server_version"]
            .as_str()
            .unwrap()
            .starts_with("MariaDB 10.11."),
        "{full}"
    );
    assert!(full["round_trip_ms"].as_f64().unwrap() > 0.0, "{full}");
    assert_eq!(
        held(&full),
        [
            ("CREATE USER".into(), true),
            ("GRANT OPTION".into(), true),
            // MariaDB ends sessions with KILL CONNECTION USER: no PROCESS needed.
            ("CONNECTION ADMIN or SUPER".into(), true),
        ]
    );
    // On loopback, not read-only: nothing to warn about.
    assert_eq!(full["warnings"], json!([]), "{full}");
    assert!(!full.to_string().contains(&s.admin_password));

    let wrong = "Not-The-Password-1";
    let denied = report(&mount, &s, ADDR, &s.admin, wrong).await;
    assert_eq!(denied["reachable"], false, "{denied}");
    assert_eq!(denied["error_kind"], "auth", "{denied}");
    assert_eq!(
        denied["error"],
        "access denied (wrong user name or password) (MySQL error 1045, SQLSTATE 28000)"
    );
    assert_eq!(denied["ready"], false);
    assert!(!denied.to_string().contains(wrong), "{denied}");

    let closed = format!("127.0.0.1:{}", free_port());
    let refused = report(&mount, &s, &closed, &s.admin, &s.admin_password).await;
    assert_eq!(refused["reachable"], false, "{refused}");
    assert_eq!(refused["error_kind"], "refused", "{refused}");
    assert!(!refused.to_string().contains(&s.admin_password));

    // Nothing was saved.
    let listed = mount.call(Operation::List, "config", Value::Null).await;
    assert!(listed.map_or(true, |r| r.data.unwrap_or_default().is_empty()));
}

#[tokio::test]
async fn an_admin_without_connection_admin_is_not_ready_and_sessions_outlive_revocation() {
    let s = MyServer::create().await;
    // Named with the role's prefix, so the test's clean-up drops it.
    let (admin, password) = (format!("{}adm", s.prefix()), "Lim-Admin-Password-1");
    root()
        .await
        .query_drop(format!(
            "CREATE USER '{admin}'@'%' IDENTIFIED BY '{password}';\
             GRANT SELECT, CREATE USER ON *.* TO '{admin}'@'%' WITH GRANT OPTION"
        ))
        .await
        .unwrap();
    let mount = Mount::new();
    let limited = report(&mount, &s, ADDR, &admin, password).await;
    assert_eq!(limited["reachable"], true, "{limited}");
    assert_eq!(limited["ready"], false, "{limited}");
    assert_eq!(
        held(&limited),
        [
            ("CREATE USER".into(), true),
            ("GRANT OPTION".into(), true),
            ("CONNECTION ADMIN or SUPER".into(), false),
        ]
    );
    let warnings = limited["warnings"].to_string();
    assert!(
        warnings.contains(
            "lacks CONNECTION ADMIN or SUPER (needed for ending a revoked user's open sessions"
        ),
        "{warnings}"
    );
    assert!(!warnings.contains("PROCESS"), "{warnings}");

    // A config write verifies the same way: saved, with the warnings.
    let mut config = s.config("mysql-database-plugin", ADDR);
    config["username"] = admin.clone().into();
    config["password"] = password.into();
    let written = mount
        .call(Operation::Update, "config/main", config)
        .await
        .unwrap();
    assert!(
        written
            .warnings
            .iter()
            .any(|w| w.contains("lacks CONNECTION ADMIN")),
        "{:?}",
        written.warnings
    );

    // What the warning says: the user is dropped, its open session is not ended.
    mount
        .write(
            &format!("roles/{}", s.role),
            json!({"db_name": "main", "creation_statements": s.select_only()}),
        )
        .await;
    let creds = mount.creds(&s.role).await;
    let mut open = connect(&creds.username, &creds.password, None)
        .await
        .unwrap();
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!user_exists(&creds.username).await);
    assert!(
        still_open(&mut open).await,
        "the session was ended after all"
    );
}
