//! `database/test-connection` against the private cluster: a report (reachable or why not,
//! version, round trip, the admin user's privileges, warnings) for a config body that is
//! never saved, and the same check behind `verify_connection` on a config write.

use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation, Response};
use serde_json::{json, Value};

use crate::cluster::{cluster, Cluster, ClusterExt as _};
use crate::harness::{unique, Mount};

fn body(url: &str, user: &str, password: &str) -> Value {
    json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": url,
        "username": user,
        "password": password,
    })
}

async fn test(mount: &Mount, body: Value) -> Result<Response, EngineError> {
    mount.call(Operation::Update, "test-connection", body).await
}

async fn report(mount: &Mount, body: Value) -> (Value, Vec<String>) {
    let r = test(mount, body).await.expect("a report, not an error");
    (Value::Object(r.data.expect("report data")), r.warnings)
}

/// A login role with `attributes` on the cluster; answers (name, password).
async fn login_role(c: &Cluster, attributes: &str) -> (String, String) {
    let (user, password) = (unique("tc"), secrethub_common::random_alnum(20));
    c.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN {attributes} PASSWORD '{password}'"
        ))
        .await
        .unwrap();
    (user, password)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_superuser_connection_is_ready_and_nothing_is_saved() {
    let c = cluster().await;
    let mount = Mount::new();
    let (data, warnings) = report(&mount, body(&c.url(), "postgres", &c.password)).await;
    assert_eq!(data["reachable"], json!(true), "{data}");
    assert_eq!(data["ready"], json!(true), "{data}");
    assert!(
        data["server_version"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL 1"),
        "{data}"
    );
    assert!(data["round_trip_ms"].as_f64().unwrap() > 0.0, "{data}");
    assert_eq!(
        data["privileges"],
        json!([{"name": "CREATEROLE", "held": true, "needed_for": "creating and dropping users"}])
    );
    assert!(data.get("error").is_none());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!data.to_string().contains(&c.password));
    // Nothing was saved.
    let listed = mount.call(Operation::List, "config", json!(null)).await;
    assert!(matches!(listed, Err(EngineError::NotFound)));
}

#[tokio::test]
async fn failures_say_why_without_the_password() {
    let c = cluster().await;
    let mount = Mount::new();
    let wrong = "Wrong-Password-1";
    let (data, _) = report(&mount, body(&c.url(), "postgres", wrong)).await;
    assert_eq!(data["reachable"], json!(false), "{data}");
    assert_eq!(data["error_kind"], json!("auth"), "{data}");
    assert_eq!(data["ready"], json!(false));
    assert!(!data.to_string().contains(wrong), "{data}");

    let refused = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
        free_port()
    );
    let (data, _) = report(&mount, body(&refused, "postgres", "x")).await;
    assert_eq!(data["error_kind"], json!("refused"), "{data}");

    let unknown_host =
        "postgresql://{{username}}:{{password}}@no-such-host.invalid:5432/postgres?sslmode=disable";
    let (data, _) = report(&mount, body(unknown_host, "postgres", "x")).await;
    assert_eq!(data["error_kind"], json!("dns"), "{data}");
}

#[tokio::test]
async fn the_admin_users_privileges_are_checked() {
    let c = cluster().await;
    let mount = Mount::new();
    let (createrole, pw) = login_role(c, "CREATEROLE").await;
    let (data, warnings) = report(&mount, body(&c.url(), &createrole, &pw)).await;
    assert_eq!(data["ready"], json!(true), "{data}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("is not a superuser") && warnings[0].contains("GRANT"),
        "{warnings:?}"
    );

    let (plain, pw) = login_role(c, "").await;
    let (data, warnings) = report(&mount, body(&c.url(), &plain, &pw)).await;
    assert_eq!(data["reachable"], json!(true), "{data}");
    assert_eq!(data["ready"], json!(false), "{data}");
    assert_eq!(data["privileges"][0]["held"], json!(false), "{data}");
    assert!(
        warnings.iter().any(|w| w.contains("lacks CREATEROLE")),
        "{warnings:?}"
    );

    // A config write with verify_connection (the default) makes the same check.
    let written = mount
        .call(Operation::Update, "config/pg", body(&c.url(), &plain, &pw))
        .await
        .unwrap();
    assert!(
        written
            .warnings
            .iter()
            .any(|w| w.contains("lacks CREATEROLE")),
        "{:?}",
        written.warnings
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_config_is_a_400() {
    let c = cluster().await;
    let mount = Mount::new();
    for (b, want) in [
        (
            json!({"connection_url": c.url()}),
            "plugin_name is required",
        ),
        (
            json!({"plugin_name": "nope-database-plugin"}),
            "unknown plugin_name \"nope-database-plugin\"",
        ),
        (
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": c.url(), "conection_url": "x"}),
            "unknown field for postgresql-database-plugin: conection_url",
        ),
        (
            json!({"plugin_name": "postgresql-database-plugin"}),
            "connection_url is required",
        ),
    ] {
        let e = test(&mount, b.clone()).await.err().unwrap();
        assert_eq!(e.kind(), ErrorKind::BadRequest, "{b}: {e}");
        assert!(e.to_string().starts_with(want), "{b}: {e}");
    }
}

#[tokio::test]
async fn the_guides_separate_fields_work_like_a_url() {
    let c = cluster().await;
    let mount = Mount::new();
    let form = json!({
        "plugin_name": "postgresql-database-plugin",
        "host": "127.0.0.1",
        "port": c.port,
        "database": "postgres",
        "username": "postgres",
        "password": c.password,
        "ssl": false,
        "allowed_roles": "*",
    });
    let (data, _) = report(&mount, form.clone()).await;
    assert_eq!(data["ready"], json!(true), "{data}");
    mount.write("config/form", form).await;
    let shown = mount.read("config/form").await;
    assert_eq!(shown["connection_details"]["host"], json!("127.0.0.1"));
    assert_eq!(shown["connection_details"]["ssl"], json!(false));
    mount
        .write(
            "roles/app",
            json!({"db_name": "form", "creation_statements": crate::harness::CREATE}),
        )
        .await;
    let creds = mount.creds("app").await;
    c.login(&creds.username, &creds.password).await.unwrap();
    mount.revoke(&creds.internal).await.unwrap();
    // The guide's default is TLS, which this cluster does not offer: the report says so.
    let (data, _) = report(
        &mount,
        json!({"plugin_name": "postgresql-database-plugin", "host": "127.0.0.1", "port": c.port,
               "username": "postgres", "password": c.password}),
    )
    .await;
    assert_eq!(data["reachable"], json!(false), "{data}");
    assert_eq!(data["error_kind"], json!("tls"), "{data}");
}
