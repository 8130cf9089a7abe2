//! `database/test-connection` with the Redis plugin: version, round trip and the admin user's
//! ACL rights as the server itself judges them (`ACL DRYRUN`), nothing saved.

use secrethub_engine::Operation;
use serde_json::{json, Value};

use super::{names, RawConn};
use crate::harness::Mount;

async fn report(mount: &Mount, user: &str, password: &str) -> Value {
    report_at(mount, 6379, user, password).await
}

async fn report_at(mount: &Mount, port: u16, user: &str, password: &str) -> Value {
    let r = mount
        .call(
            Operation::Update,
            "test-connection",
            json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1", "port": port,
                   "username": user, "password": password}),
        )
        .await
        .unwrap_or_else(|e| panic!("test-connection failed: {e}"));
    let mut data = r.data.unwrap_or_default();
    data.insert("warnings".into(), json!(r.warnings));
    Value::Object(data)
}

#[tokio::test]
async fn reports_version_rights_and_failures() {
    let n = names().await;
    let mount = Mount::new();
    let full = report(&mount, &n.admin, &n.admin_password).await;
    assert_eq!(full["reachable"], true, "{full}");
    assert_eq!(full["ready"], true, "{full}");
    assert!(
        full["server_version"]
            .as_str()
            .unwrap()
            .starts_with("Redis 7"),
        "{full}"
    );
    let held: Vec<&str> = full["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["held"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["ACL SETUSER", "ACL DELUSER"], "{full}");
    // The machine's Redis has no ACL file.
    assert!(full.to_string().contains("no ACL file"), "{full}");

    // An admin that may not create users: connected, not ready.
    let limited = format!("{}_lim", n.admin);
    let pw = "Lim-password-1";
    let mut c = RawConn::open().await;
    let ok = c
        .cmd(&[
            "ACL",
            "SETUSER",
            &limited,
            "on",
            &format!(">{pw}"),
            "~*",
            "+@all",
            "-acl|setuser",
        ])
        .await;
    assert_eq!(ok, "OK");
    let partial = report(&mount, &limited, pw).await;
    c.cmd(&["ACL", "DELUSER", &limited]).await;
    assert_eq!(partial["reachable"], true, "{partial}");
    assert_eq!(partial["ready"], false, "{partial}");
    assert_eq!(partial["privileges"][0]["name"], "ACL SETUSER");
    assert_eq!(partial["privileges"][0]["held"], false, "{partial}");
    assert_eq!(partial["privileges"][1]["held"], true, "{partial}");

    let wrong = report(&mount, &n.admin, "not-the-password").await;
    assert_eq!(wrong["reachable"], false, "{wrong}");
    assert_eq!(wrong["error_kind"], "auth", "{wrong}");
    assert!(!wrong.to_string().contains("not-the-password"), "{wrong}");

    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = report_at(&mount, port, &n.admin, &n.admin_password).await;
    assert_eq!(refused["reachable"], false, "{refused}");
    assert_eq!(refused["error_kind"], "refused", "{refused}");
    // Nothing was saved.
    let listed = mount.call(Operation::List, "config", json!(null)).await;
    assert!(listed
        .map(|r| r.data.unwrap_or_default().is_empty())
        .unwrap_or(true));
}
