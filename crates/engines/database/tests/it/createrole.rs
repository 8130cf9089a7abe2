//! An admin with `CREATEROLE` but not superuser, as the README's and the seed guide's setup
//! describe, on the private cluster: revoking a credential whose session is open ends the
//! session and drops the user although the creation statements never granted the user to
//! the admin (the engine does, in the creation's transaction). A superuser admin gets no
//! such grant, and a grant that fails leaves no user behind.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{cluster, Cluster, ClusterExt as _};
use crate::harness::{connect, role_exists, unique, Mount, CREATE};

/// A login role with `CREATEROLE` (or `SUPERUSER`), and a table it may grant SELECT on, as
/// the seed guide sets them up (CONNECT it has through PUBLIC: granting it in parallel tests
/// races on the database's row); answers (admin, password, table).
async fn admin_role(c: &Cluster, attribute: &str) -> (String, String, String) {
    let (user, password, table) = (
        unique("adm"),
        secrethub_common::random_alnum(20),
        unique("tbl"),
    );
    c.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN {attribute} PASSWORD '{password}';\n\
             CREATE TABLE {table} (i int);\n\
             GRANT SELECT ON {table} TO {user} WITH GRANT OPTION;"
        ))
        .await
        .unwrap();
    (user, password, table)
}

/// A mount whose connection `pg` logs in as `user`, with role `app` created by `statements`.
async fn mount_as(c: &Cluster, user: &str, password: &str, statements: Value) -> Mount {
    let mount = Mount::new();
    mount
        .write(
            "config/pg",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": c.url(),
                "username": user,
                "password": password,
                "allowed_roles": "*",
            }),
        )
        .await;
    mount
        .write(
            "roles/app",
            json!({"db_name": "pg", "creation_statements": statements}),
        )
        .await;
    mount
}

/// Issues a credential, opens a session with it, revokes the lease: the revocation
/// succeeds (so the lease would not go irrevocable), the user is gone and its session ended.
async fn issue_use_revoke(c: &Cluster, mount: &Mount, table: &str) -> String {
    let creds = mount.creds("app").await;
    let session = connect(&c.conn(&creds.username, &creds.password))
        .await
        .expect("log in with the credential");
    session
        .simple_query(&format!("SELECT count(*) FROM {table}"))
        .await
        .expect("the credential reads the table");

    mount.revoke(&creds.internal).await.expect("revocation");
    assert!(!role_exists(&c.admin().await, &creds.username).await);
    let mut ended = false;
    for _ in 0..50 {
        if session.simple_query("SELECT 1").await.is_err() {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the credential's session survived its revocation");
    creds.username
}

/// Whether `admin` is a member of `role`.
async fn is_member(c: &Cluster, admin: &str, role: &str) -> bool {
    c.admin()
        .await
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_auth_members m \
             JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles a ON a.oid = m.member \
             WHERE r.rolname = $1 AND a.rolname = $2)",
            &[&role, &admin],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn createrole_admin_revokes_with_the_default_statements() {
    let c = cluster().await;
    let (admin, password, table) = admin_role(c, "CREATEROLE").await;
    let statements = json!([
        CREATE,
        format!("GRANT SELECT ON {table} TO \"{{{{name}}}}\";")
    ]);
    let mount = mount_as(c, &admin, &password, statements).await;
    issue_use_revoke(c, &mount, &table).await;
    // The plain CREATE of most tests too, twice on the same pool (the check is cached).
    mount
        .write(
            "roles/app",
            json!({"db_name": "pg", "creation_statements": CREATE}),
        )
        .await;
    let creds = mount.creds("app").await;
    assert!(is_member(c, &admin, &creds.username).await);
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!role_exists(&c.admin().await, &creds.username).await);
}

#[tokio::test]
async fn createrole_admin_with_statements_that_grant_it_themselves() {
    let c = cluster().await;
    let (admin, password, table) = admin_role(c, "CREATEROLE").await;
    // As Vault's docs suggest for such an admin: the engine's own grant then repeats it.
    let statements = json!([
        CREATE,
        format!("GRANT SELECT ON {table} TO \"{{{{name}}}}\"; GRANT \"{{{{name}}}}\" TO {admin};")
    ]);
    let mount = mount_as(c, &admin, &password, statements).await;
    issue_use_revoke(c, &mount, &table).await;
}

#[tokio::test]
async fn a_grant_that_fails_fails_the_creation_and_leaves_no_user() {
    let c = cluster().await;
    let (admin, password, _table) = admin_role(c, "CREATEROLE").await;
    // The user is made a member of the admin, so granting it to the admin would be circular.
    let statements = json!([format!(
        "CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' IN ROLE {admin};"
    )]);
    let mount = mount_as(c, &admin, &password, statements).await;
    let e = mount.try_creds("app", Value::Null).await.err().unwrap();
    assert!(e.to_string().contains("creating user failed"), "{e}");
    let intents = mount.intents.all();
    let username = intents.last().unwrap()["username"].as_str().unwrap();
    assert!(!role_exists(&c.admin().await, username).await);
}

#[tokio::test]
async fn superuser_admin_is_not_granted_the_users() {
    let c = cluster().await;
    let (admin, password, table) = admin_role(c, "SUPERUSER").await;
    let statements = json!([
        CREATE,
        format!("GRANT SELECT ON {table} TO \"{{{{name}}}}\";")
    ]);
    let mount = mount_as(c, &admin, &password, statements).await;
    let creds = mount.creds("app").await;
    assert!(!is_member(c, &admin, &creds.username).await);
    mount.revoke(&creds.internal).await.unwrap();
    issue_use_revoke(c, &mount, &table).await;
}
