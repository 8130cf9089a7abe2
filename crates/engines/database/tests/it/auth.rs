//! Against the private cluster with scram-sha-256 authentication: issued credentials really
//! log in (with the SCRAM verifier SecretHub computed), a wrong password does not, revoked
//! and expired users cannot, renew moves VALID UNTIL, and rotate-root replaces the admin
//! password.

use secrethub_common::{now_unix, ErrorKind};
use secrethub_engine::{Operation, TimerOutcome};
use serde_json::{json, Value};

use crate::cluster::{cluster, Cluster, ClusterExt as _};
use crate::harness::{unique, valid_until, Mount, CREATE};

/// A mount whose config `name` logs in as `user`/`password`, with one role `app`.
async fn mount_with(c: &Cluster, name: &str, user: &str, password: &str, extra: Value) -> Mount {
    let mount = Mount::new();
    let mut body = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": c.url(),
        "username": user,
        "password": password,
        "allowed_roles": "*",
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    mount.write(&format!("config/{name}"), body).await;
    mount
        .write(
            "roles/app",
            json!({"db_name": name, "creation_statements": CREATE}),
        )
        .await;
    mount
}

#[tokio::test]
async fn credentials_log_in_until_revoked() {
    let c = cluster().await;
    let mount = mount_with(c, "pg", "postgres", &c.password, json!({})).await;
    let creds = mount.creds("app").await;
    c.login(&creds.username, &creds.password).await.unwrap();
    let wrong = c
        .login(&creds.username, "not-the-password")
        .await
        .unwrap_err();
    assert!(wrong.contains("password authentication failed"), "{wrong}");
    // The server stored the verifier SecretHub computed (4096 rounds, 16-byte salt).
    let stored: String = c
        .admin()
        .await
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&creds.username],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");

    mount.revoke(&creds.internal).await.unwrap();
    let gone = c.login(&creds.username, &creds.password).await.unwrap_err();
    assert!(gone.contains("password authentication failed"), "{gone}");
}

#[tokio::test]
async fn clear_text_mode_also_logs_in() {
    let c = cluster().await;
    let extra = json!({"password_authentication": "password"});
    let mount = mount_with(c, "pg", "postgres", &c.password, extra).await;
    let creds = mount.creds("app").await;
    c.login(&creds.username, &creds.password).await.unwrap();
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn valid_until_is_enforced_and_renew_moves_it() {
    let c = cluster().await;
    let mount = mount_with(c, "pg", "postgres", &c.password, json!({})).await;
    let creds = mount.creds("app").await;
    let admin = c.admin().await;

    let past = now_unix() - 60;
    mount.renew(&creds.internal, past).await.unwrap();
    assert_eq!(valid_until(&admin, &creds.username).await, Some(past));
    let refused = c.login(&creds.username, &creds.password).await.unwrap_err();
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );

    let future = now_unix() + 3600;
    mount.renew(&creds.internal, future).await.unwrap();
    assert_eq!(valid_until(&admin, &creds.username).await, Some(future));
    c.login(&creds.username, &creds.password).await.unwrap();
    mount.revoke(&creds.internal).await.unwrap();
}

/// A superuser of its own, so rotating its password does not disturb other tests.
async fn own_admin(c: &Cluster) -> (String, String) {
    let (user, password) = (unique("adm"), secrethub_common::random_alnum(20));
    c.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN SUPERUSER PASSWORD '{password}'"
        ))
        .await
        .unwrap();
    (user, password)
}

#[tokio::test]
async fn rotate_root_replaces_the_admin_password() {
    let c = cluster().await;
    let (user, old) = own_admin(c).await;
    let mount = mount_with(c, "pg", &user, &old, json!({})).await;
    let before = mount.creds("app").await;

    mount
        .call(Operation::Update, "rotate-root/pg", json!(null))
        .await
        .unwrap();
    let refused = c.login(&user, &old).await.unwrap_err();
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );
    let stored: Value = mount.storage.get_json("config/pg").await.unwrap().unwrap();
    let new = stored["password"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(stored.get("pending_password").is_none());
    c.login(&user, new).await.unwrap();
    assert!(!mount.read("config/pg").await.to_string().contains(new));

    // The engine keeps working with the new password, for old and new leases.
    let after = mount.creds("app").await;
    c.login(&after.username, &after.password).await.unwrap();
    mount.revoke(&before.internal).await.unwrap();
    mount.revoke(&after.internal).await.unwrap();
}

#[tokio::test]
async fn a_root_rotation_plan_sets_a_timer_that_rotates_when_due() {
    let c = cluster().await;
    let (user, old) = own_admin(c).await;
    let extra = json!({"rotation_period": "1h"});
    let mount = mount_with(c, "pg", &user, &old, extra).await;
    let timer = "rotate-root/pg";
    let due = mount.timers.due(timer).unwrap();
    assert!(
        (now_unix() + 3590..=now_unix() + 3600).contains(&due),
        "{due}"
    );
    let config = mount.read("config/pg").await;
    assert_eq!(config["rotation_period"], json!(3600));
    assert_eq!(config["disable_automated_rotation"], json!(false));

    // Early: nothing changes.
    assert_eq!(
        mount.fire(timer).await.unwrap(),
        TimerOutcome::NotDue { next: Some(due) }
    );
    c.login(&user, &old).await.unwrap();

    // Due: the run rotates the admin password and sets the next one an hour on.
    let mut stored: Value = mount.storage.get_json("config/pg").await.unwrap().unwrap();
    stored["root_rotation"]["last"] = json!(now_unix() - 3601);
    mount.storage.put_json("config/pg", &stored).await.unwrap();
    let ran = mount.fire(timer).await.unwrap();
    assert!(
        matches!(ran, TimerOutcome::Ran { next: Some(t) } if t >= now_unix() + 3590),
        "{ran:?}"
    );
    assert!(c.login(&user, &old).await.is_err());
    let stored: Value = mount.storage.get_json("config/pg").await.unwrap().unwrap();
    c.login(&user, stored["password"].as_str().unwrap())
        .await
        .unwrap();
    let creds = mount.creds("app").await;
    c.login(&creds.username, &creds.password).await.unwrap();
    mount.revoke(&creds.internal).await.unwrap();

    // Disabled: the plan stays, the timer goes, and a stale run does nothing.
    mount
        .write("config/pg", json!({"disable_automated_rotation": true}))
        .await;
    assert_eq!(mount.timers.due(timer), None);
    assert_eq!(
        mount.read("config/pg").await["disable_automated_rotation"],
        json!(true)
    );
    assert_eq!(
        mount.fire(timer).await.unwrap(),
        TimerOutcome::NotDue { next: None }
    );
    // A schedule with its window replaces the period; deleting the config clears the timer.
    mount
        .write(
            "config/pg",
            json!({"disable_automated_rotation": false, "rotation_schedule": "30 2 * * *", "rotation_window": "1h"}),
        )
        .await;
    let config = mount.read("config/pg").await;
    assert_eq!(config["rotation_schedule"], json!("30 2 * * *"));
    assert_eq!(config["rotation_window"], json!(3600));
    assert_eq!(mount.timers.due(timer).unwrap() % 86_400, 2 * 3600 + 1800);
    mount
        .call(Operation::Delete, "config/pg", Value::Null)
        .await
        .unwrap();
    assert_eq!(mount.timers.due(timer), None);
}

#[tokio::test]
async fn interrupted_rotation_is_finished_on_next_use() {
    let c = cluster().await;
    let (user, real) = own_admin(c).await;
    let mount = mount_with(c, "pg", &user, &real, json!({})).await;
    // As if the process died after the database took the new password but before it was
    // stored: the stored password is stale and the working one is pending.
    let mut stored: Value = mount.storage.get_json("config/pg").await.unwrap().unwrap();
    stored["password"] = "stale-password".into();
    stored["pending_password"] = real.clone().into();
    stored["revision"] = "changed".into();
    mount.storage.put_json("config/pg", &stored).await.unwrap();

    let creds = mount.creds("app").await;
    c.login(&creds.username, &creds.password).await.unwrap();
    let stored: Value = mount.storage.get_json("config/pg").await.unwrap().unwrap();
    assert_eq!(stored["password"], real.as_str());
    assert!(stored.get("pending_password").is_none());
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn bad_admin_password_is_a_clear_400() {
    let c = cluster().await;
    let mount = Mount::new();
    let e = mount
        .call(
            Operation::Create,
            "config/analytics",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": c.url(),
                "username": "postgres",
                "password": "Wrong-Secret-42",
            }),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    let msg = e.to_string();
    assert!(
        msg.starts_with("error verifying connection \"analytics\": "),
        "{msg}"
    );
    assert!(msg.contains("password authentication failed"), "{msg}");
    assert!(!msg.contains("Wrong-Secret-42"), "{msg}");
}
