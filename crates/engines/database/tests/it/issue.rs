//! Issuing credentials on the shared cluster: the intent, the user, its expiry and grants,
//! TTL selection, the seed facts, templates and concurrency.

use std::time::Duration;

use secrethub_common::now_unix;
use serde_json::json;

use crate::harness::{role_exists, valid_until, LocalDb, Mount, CREATE};

async fn setup(roles: &str) -> (LocalDb, Mount) {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    db.configure(&mount, "analytics", roles).await;
    db.admin()
        .await
        .batch_execute("CREATE TABLE things (id int); INSERT INTO things VALUES (1)")
        .await
        .unwrap();
    (db, mount)
}

#[tokio::test]
async fn issues_a_user_with_expiry_and_grants() {
    let (db, mount) = setup("ro-*").await;
    mount
        .write(
            "roles/ro-app",
            json!({
                "db_name": "analytics",
                "creation_statements": [CREATE, "GRANT SELECT ON things TO \"{{name}}\";"],
                "default_ttl": "1h",
                "max_ttl": "24h",
            }),
        )
        .await;

    let before = now_unix();
    let creds = mount.creds("ro-app").await;
    let after = now_unix();

    // Username and password shapes.
    let u = &creds.username;
    assert!(u.starts_with("shub_ro_app_"), "{u}");
    let tail: Vec<&str> = u["shub_ro_app_".len()..].split('_').collect();
    assert_eq!(tail.len(), 2, "{u}");
    assert_eq!(tail[0].len(), 8);
    assert!(tail[0]
        .bytes()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    let stamp: i64 = tail[1].parse().unwrap();
    assert!((before..=after).contains(&stamp));
    assert_eq!(creds.password.len(), 32);
    assert!(creds.password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        creds.data.keys().collect::<Vec<_>>(),
        ["password", "username"]
    );

    // The intent recorded before CREATE ROLE is exactly the lease's internal data.
    assert_eq!(
        creds.internal,
        json!({"v": 1, "db_name": "analytics", "role": "ro-app", "username": u})
    );
    assert_eq!(mount.intents.all(), vec![creds.internal.clone()]);
    assert_eq!(creds.ttl, Duration::from_secs(3600));
    assert_eq!(creds.max_ttl, Duration::from_secs(86_400));
    assert!(creds.warnings.is_empty());

    // The role exists with VALID UNTIL = lease expiry and exactly the grants asked for.
    let admin = db.admin().await;
    let until = valid_until(&admin, u).await.expect("role exists");
    assert!((before + 3600..=after + 3600).contains(&until), "{until}");
    let row = admin
        .query_one(
            "SELECT has_table_privilege($1, 'things', 'SELECT'), has_table_privilege($1, 'things', 'INSERT'), \
             (SELECT rolpassword FROM pg_authid WHERE rolname = $1)",
            &[u],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert!(!row.get::<_, bool>(1));
    assert!(row.get::<_, String>(2).starts_with("SCRAM-SHA-256$4096:"));
    let session = db.login(u).await.unwrap();
    let n: i32 = session
        .query_one("SELECT id FROM things", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    mount.revoke(&creds.internal).await.unwrap();
    assert!(!role_exists(&admin, u).await);
}

#[tokio::test]
async fn ttl_is_requested_then_role_then_the_guides_defaults_and_capped() {
    let (db, mount) = setup("*").await;
    for (role, body) in [
        ("short", json!({"default_ttl": "10m", "max_ttl": "1h"})),
        ("plain", json!({})),
    ] {
        let mut body = body;
        body["db_name"] = "analytics".into();
        body["creation_statements"] = CREATE.into();
        mount.write(&format!("roles/{role}"), body).await;
    }
    let admin = db.admin().await;
    for (role, request, want, capped) in [
        ("short", json!({"ttl": "30m"}), 1800, false),
        ("short", json!({}), 600, false),
        ("short", json!({"ttl": 7200}), 3600, true),
        ("plain", json!({}), crate::harness::MOUNT_DEFAULT_TTL, false),
        (
            "plain",
            json!({"ttl": "48h"}),
            crate::harness::MOUNT_MAX_TTL,
            true,
        ),
    ] {
        let before = now_unix();
        let creds = mount.try_creds(role, request.clone()).await.unwrap();
        assert_eq!(creds.ttl.as_secs(), want, "{role} {request}");
        assert_eq!(!creds.warnings.is_empty(), capped, "{role} {request}");
        let until = valid_until(&admin, &creds.username).await.unwrap();
        assert!((before + want as i64..=now_unix() + want as i64).contains(&until));
        mount.revoke(&creds.internal).await.unwrap();
    }
}

#[tokio::test]
async fn seed_flag_adds_host_port_and_database() {
    let (db, mount) = setup("*").await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "analytics", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount
        .try_creds("app", json!({"_seed": true, "ttl": 60}))
        .await
        .unwrap();
    assert_eq!(creds.ttl.as_secs(), 60);
    assert_eq!(creds.data["host"], "127.0.0.1");
    assert_eq!(creds.data["port"], 5432);
    assert_eq!(creds.data["database"], db.name.as_str());
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn username_template_and_password_policy_apply() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    mount
        .write(
            "config/custom",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": db.url(),
                "username": "postgres",
                "password": "x",
                "allowed_roles": ["reporting"],
                "username_template": "app-{{.RoleName | truncate 4}}-{{random 6 | lowercase}}-{{unix_time}}",
                "password_policy": "length = 20\nrule \"charset\" {\n charset = \"abcdef\"\n min-chars = 1\n}\nrule \"charset\" {\n charset = \"0123456789\"\n min-chars = 4\n}",
            }),
        )
        .await;
    mount
        .write(
            "roles/reporting",
            json!({"db_name": "custom", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount.creds("reporting").await;
    let parts: Vec<&str> = creds.username.split('-').collect();
    assert_eq!(parts[..2], ["app", "repo"], "{}", creds.username);
    assert_eq!(parts[2].len(), 6);
    assert_eq!(creds.password.len(), 20);
    assert!(creds
        .password
        .chars()
        .all(|c| "abcdef0123456789".contains(c)));
    assert!(creds.password.chars().filter(char::is_ascii_digit).count() >= 4);
    assert!(role_exists(&db.admin().await, &creds.username).await);
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn concurrent_issuance_on_a_small_pool() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    mount
        .write(
            "config/small",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": db.url(),
                "username": "postgres",
                "password": "x",
                "allowed_roles": "*",
                "max_open_connections": 2,
            }),
        )
        .await;
    mount
        .write(
            "roles/many",
            json!({"db_name": "small", "creation_statements": CREATE}),
        )
        .await;
    let issued = futures::future::join_all((0..12).map(|_| mount.creds("many"))).await;
    let mut names: Vec<&str> = issued.iter().map(|c| c.username.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 12);
    let admin = db.admin().await;
    for c in &issued {
        assert!(role_exists(&admin, &c.username).await);
    }
    let revoked = futures::future::join_all(issued.iter().map(|c| mount.revoke(&c.internal))).await;
    assert!(revoked.iter().all(Result::is_ok), "{revoked:?}");
    for c in &issued {
        assert!(!role_exists(&admin, &c.username).await);
    }
}

#[tokio::test]
async fn sslmode_require_encrypts_the_engine_connections() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    mount
        .write(
            "config/tls",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": db.url().replace("sslmode=disable", "sslmode=require"),
                "username": "postgres",
                "password": "x",
                "allowed_roles": "*",
            }),
        )
        .await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "tls", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount.creds("app").await;
    let rows = db
        .admin()
        .await
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'secrethub' AND a.datname = $1",
            &[&db.name],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.get::<_, bool>(0)));
    mount.revoke(&creds.internal).await.unwrap();
}
