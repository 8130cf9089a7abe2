//! The MongoDB plugin against a real server: run only when `SECRETHUB_TEST_MONGODB_URL` names
//! one (`mongodb://admin:password@host:27017/admin`, an admin with `userAdminAnyDatabase` and
//! `readWriteAnyDatabase`), with `cargo test -p secrethub-database --test it mongodb -- --ignored`.
//! Without it these tests are reported as ignored, never as passed. They have never run in
//! this project's CI, which has no MongoDB server (see README).
//!
//! Each test names its users with a prefix of its own and drops them when it ends.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use serde_json::{json, Value};

use crate::harness::{unique, Mount};

pub(crate) const IGNORED: &str =
    "needs a real MongoDB: set SECRETHUB_TEST_MONGODB_URL and run with --ignored";

/// The admin URL, or a panic saying how to set it.
pub(crate) fn admin_url() -> String {
    std::env::var("SECRETHUB_TEST_MONGODB_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| panic!("{IGNORED}"))
}

/// `(host:port, user, password)` of a `mongodb://user:password@host:port/…` URL.
pub(crate) fn parts(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("mongodb://").expect("a mongodb:// URL");
    let (userinfo, rest) = rest.rsplit_once('@').expect("credentials in the URL");
    let (user, password) = userinfo.split_once(':').expect("user:password");
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let decode = |s: &str| {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() + 1 {
                if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8(out).expect("UTF-8")
    };
    (host.to_string(), decode(user), decode(password))
}

/// A client for `url` that gives up quickly.
pub(crate) async fn client(url: &str) -> Client {
    let mut options = ClientOptions::parse(url).await.expect("valid URL");
    options.server_selection_timeout = Some(Duration::from_secs(5));
    Client::with_options(options).expect("client")
}

/// The admin's client.
pub(crate) async fn admin() -> Client {
    client(&admin_url()).await
}

/// Users (`db.user`) whose names start with `prefix`, in every database.
pub(crate) async fn users_with_prefix(prefix: &str) -> Vec<String> {
    let reply = admin()
        .await
        .database("admin")
        .run_command(doc! {"usersInfo": {"forAllDBs": true}, "filter": {"user": {"$regex": format!("^{prefix}")}}})
        .await
        .expect("usersInfo");
    reply
        .get_array("users")
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_document())
                .map(|u| u.get_str("_id").unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `user`/`password` (of database `db`) can log in and run `ping`.
pub(crate) async fn can_log_in(db: &str, user: &str, password: &str) -> bool {
    let (host, _, _) = parts(&admin_url());
    let mut options = ClientOptions::parse(format!("mongodb://{host}/?directConnection=true"))
        .await
        .expect("URL");
    options.server_selection_timeout = Some(Duration::from_secs(5));
    let mut credential = mongodb::options::Credential::default();
    credential.username = Some(user.to_string());
    credential.password = Some(password.to_string());
    credential.source = Some(db.to_string());
    options.credential = Some(credential);
    let Ok(c) = Client::with_options(options) else {
        return false;
    };
    c.database(db).run_command(doc! {"ping": 1}).await.is_ok()
}

/// Drops users by `db.user` name (cleanup; errors ignored).
pub(crate) async fn drop_users(ids: &[String]) {
    let admin = admin().await;
    for id in ids {
        if let Some((db, user)) = id.split_once('.') {
            let _ = admin
                .database(db)
                .run_command(doc! {"dropUser": user})
                .await;
        }
    }
}

/// A mount on the real server whose users are named `<prefix>…`.
fn config(prefix: &str) -> Value {
    json!({
        "plugin_name": "mongodb-database-plugin",
        "connection_url": admin_url(),
        "allowed_roles": "*",
        "username_template": format!("{prefix}{{{{random 10}}}}"),
    })
}

#[tokio::test]
#[ignore = "needs a real MongoDB: set SECRETHUB_TEST_MONGODB_URL and run with --ignored"]
async fn credential_can_do_what_its_roles_grant_and_nothing_more() {
    let prefix = unique("shubm");
    let db = format!("{prefix}_docs");
    let mount = Mount::new();
    mount.write("config/m", config(&prefix)).await;
    mount
        .write(
            "roles/rw",
            json!({"db_name": "m", "creation_statements":
                   json!({"db": "admin", "roles": [{"role": "readWrite", "db": db}]}).to_string()}),
        )
        .await;
    let creds = mount.creds("rw").await;
    assert!(can_log_in("admin", &creds.username, &creds.password).await);
    assert!(!can_log_in("admin", &creds.username, "not-the-password").await);
    let (host, _, _) = parts(&admin_url());
    let user_url = format!(
        "mongodb://{}:{}@{host}/admin?directConnection=true",
        creds.username, creds.password
    );
    let as_user = client(&user_url).await;
    as_user
        .database(&db)
        .collection::<Document>("c")
        .insert_one(doc! {"x": 1})
        .await
        .expect("readWrite on its database");
    let elsewhere = as_user
        .database(&format!("{prefix}_other"))
        .collection::<Document>("c")
        .insert_one(doc! {"x": 1})
        .await;
    assert!(elsewhere.is_err(), "wrote outside its role");
    mount.revoke(&creds.internal).await.unwrap();
    assert!(!can_log_in("admin", &creds.username, &creds.password).await);
    mount.revoke(&creds.internal).await.unwrap();
    let _ = admin().await.database(&db).drop().await;
    drop_users(&users_with_prefix(&prefix).await).await;
}

#[tokio::test]
#[ignore = "needs a real MongoDB: set SECRETHUB_TEST_MONGODB_URL and run with --ignored"]
async fn users_of_another_database_are_revoked_by_default() {
    let prefix = unique("shubm");
    let db = format!("{prefix}_docs");
    let mount = Mount::new();
    mount.write("config/m", config(&prefix)).await;
    mount
        .write(
            "roles/rw",
            json!({"db_name": "m", "creation_statements":
                   json!({"db": db, "roles": ["read"]}).to_string()}),
        )
        .await;
    let creds = mount.creds("rw").await;
    assert!(can_log_in(&db, &creds.username, &creds.password).await);
    mount.revoke(&creds.internal).await.unwrap();
    assert!(users_with_prefix(&prefix).await.is_empty());
    assert!(!can_log_in(&db, &creds.username, &creds.password).await);
}

#[tokio::test]
#[ignore = "needs a real MongoDB: set SECRETHUB_TEST_MONGODB_URL and run with --ignored"]
async fn rotate_root_changes_a_dedicated_admins_password() {
    // Never the URL's own admin: a user made for this test, dropped at the end.
    let prefix = unique("shubm");
    let admin_user = format!("{prefix}_admin");
    let first_password = format!("P{}", secrethub_common::random_alnum(20));
    admin()
        .await
        .database("admin")
        .run_command(doc! {"createUser": &admin_user, "pwd": &first_password,
        "roles": ["userAdminAnyDatabase"]})
        .await
        .expect("createUser for the test admin");
    let (host, _, _) = parts(&admin_url());
    let mount = Mount::new();
    mount
        .write(
            "config/m",
            json!({
                "plugin_name": "mongodb-database-plugin",
                "connection_url": format!("mongodb://{{{{username}}}}:{{{{password}}}}@{host}/admin?directConnection=true"),
                "username": admin_user,
                "password": first_password,
                "allowed_roles": "*",
                "username_template": format!("{prefix}{{{{random 10}}}}"),
            }),
        )
        .await;
    mount.write("rotate-root/m", json!({})).await;
    assert!(!can_log_in("admin", &admin_user, &first_password).await);
    mount
        .write(
            "roles/r",
            json!({"db_name": "m", "creation_statements": r#"{"roles": ["read"]}"#}),
        )
        .await;
    let creds = mount.creds("r").await;
    assert!(can_log_in("admin", &creds.username, &creds.password).await);
    mount.revoke(&creds.internal).await.unwrap();
    drop_users(&[format!("admin.{admin_user}")]).await;
}
