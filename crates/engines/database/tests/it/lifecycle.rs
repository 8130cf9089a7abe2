//! Renewal and revocation on the shared cluster: default and custom statements, idempotence,
//! intents whose user never existed, and a database that is unreachable for a while.

use secrethub_common::{now_unix, ErrorKind};
use serde_json::json;

use crate::harness::{role_exists, valid_until, with_app_role, LocalDb, Mount, CREATE};
use crate::proxy::Proxy;

#[tokio::test]
async fn default_revocation_ends_sessions_drops_objects_and_is_idempotent() {
    let (db, mount) = with_app_role(json!({
        "creation_statements": [CREATE, "GRANT CREATE ON SCHEMA public TO \"{{name}}\";"],
    }))
    .await;
    let creds = mount.creds("app").await;
    let session = db.login(&creds.username).await.unwrap();
    session
        .batch_execute("CREATE TABLE made_by_user (x int)")
        .await
        .unwrap();

    mount.revoke(&creds.internal).await.unwrap();
    let admin = db.admin().await;
    assert!(!role_exists(&admin, &creds.username).await);
    // Its session was terminated and what it owned is gone.
    assert!(session.simple_query("SELECT 1").await.is_err());
    let table = admin
        .query_opt("SELECT 1 FROM pg_class WHERE relname = 'made_by_user'", &[])
        .await
        .unwrap();
    assert!(table.is_none());

    // Twice is fine, and so is an intent whose user was never created.
    mount.revoke(&creds.internal).await.unwrap();
    let never =
        json!({"v": 1, "db_name": "main", "role": "app", "username": "shub_never_created_1"});
    mount.revoke(&never).await.unwrap();
    let lease = mount.lease(&never, false, 0);
    mount.engine.revoke(&lease, &mount.storage).await.unwrap();
}

#[tokio::test]
async fn renew_moves_valid_until_with_default_and_custom_statements() {
    let (db, mount) = with_app_role(json!({"creation_statements": CREATE})).await;
    let admin = db.admin().await;
    let creds = mount.creds("app").await;
    let target = now_unix() + 7200;
    mount.renew(&creds.internal, target).await.unwrap();
    assert_eq!(valid_until(&admin, &creds.username).await, Some(target));

    mount
        .write(
            "roles/app",
            json!({"renew_statements": "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}' CONNECTION LIMIT 3"}),
        )
        .await;
    let target = now_unix() + 600;
    mount.renew(&creds.internal, target).await.unwrap();
    assert_eq!(valid_until(&admin, &creds.username).await, Some(target));
    let limit: i32 = admin
        .query_one(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1",
            &[&creds.username],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(limit, 3);

    // Renewing a user that is gone is an error, not a silent success.
    mount.revoke(&creds.internal).await.unwrap();
    let e = mount.renew(&creds.internal, target).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
}

#[tokio::test]
async fn custom_revocation_survives_role_deletion() {
    let (db, mount) = with_app_role(json!({
        "creation_statements": [CREATE, "GRANT SELECT ON pg_class TO \"{{name}}\";"],
        "revocation_statements": "REVOKE ALL ON pg_class FROM \"{{name}}\"; DROP ROLE \"{{name}}\";",
    }))
    .await;
    let creds = mount.creds("app").await;
    assert_eq!(
        creds.internal["revocation_statements"],
        json!(["REVOKE ALL ON pg_class FROM \"{{name}}\"; DROP ROLE \"{{name}}\";"])
    );
    let admin = db.admin().await;
    assert!(role_exists(&admin, &creds.username).await);

    // The role is deleted: the statements recorded with the lease still revoke.
    let deleted = mount
        .call(
            secrethub_engine::Operation::Delete,
            "roles/app",
            json!(null),
        )
        .await;
    assert!(deleted.is_ok());
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!role_exists(&admin, &creds.username).await);
    // The custom statements fail now (no such role), which counts as revoked.
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn unreachable_database_fails_revoke_until_it_is_back() {
    let mut db = LocalDb::create().await;
    let mount = Mount::new();
    db.track(&mount);
    let proxy = Proxy::start("127.0.0.1:5432").await;
    mount
        .write(
            "config/flaky",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": format!(
                    "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/{}?sslmode=disable",
                    proxy.port, db.name
                ),
                "username": "postgres",
                "password": "x",
                "allowed_roles": "*",
            }),
        )
        .await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "flaky", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount.creds("app").await;
    let admin = db.admin().await;

    proxy.set_down(true);
    let e = mount.revoke(&creds.internal).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string()
            .contains("connection \"flaky\" is unavailable"),
        "{e}"
    );
    assert!(role_exists(&admin, &creds.username).await);
    let e = mount
        .renew(&creds.internal, now_unix() + 60)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let e = mount.try_creds("app", json!(null)).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    // No connection, so no intent was recorded: core has nothing to clean up.
    assert_eq!(mount.intents.all(), vec![creds.internal.clone()]);

    proxy.set_down(false);
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!role_exists(&admin, &creds.username).await);
}
