//! Static roles on the private cluster: SecretHub takes over an existing user's password
//! (the old one stops working), hands out the current one with its time to the next
//! rotation, rotates on demand and when due, finishes an interrupted rotation before
//! answering, and refuses bad input without storing anything.

use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation, TimerOutcome};
use serde_json::{json, Value};

use crate::cluster::{cluster, Cluster, ClusterExt as _};
use crate::harness::{unique, Mount};

/// A login user on the cluster with a password of its own; answers (name, password).
async fn existing_user(c: &Cluster) -> (String, String) {
    let (user, password) = (unique("svc"), secrethub_common::random_alnum(20));
    c.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN PASSWORD '{password}'"
        ))
        .await
        .unwrap();
    (user, password)
}

async fn mount(c: &Cluster, allowed: &str) -> Mount {
    let mount = Mount::new();
    mount
        .write(
            "config/pg",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": c.url(),
                "username": "postgres",
                "password": c.password,
                "allowed_roles": allowed,
            }),
        )
        .await;
    mount
}

fn bad_request(r: Result<impl Sized, EngineError>) -> String {
    match r {
        Ok(_) => panic!("expected a 400"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn a_static_role_takes_over_and_rotates_the_password() {
    let c = cluster().await;
    let (user, original) = existing_user(c).await;
    let mount = mount(c, "*").await;
    mount
        .write(
            "static-roles/billing",
            json!({"db_name": "pg", "username": user, "rotation_period": "24h"}),
        )
        .await;
    assert!(
        c.login(&user, &original).await.is_err(),
        "the old password still works"
    );

    let creds = mount.read("static-creds/billing").await;
    assert_eq!(creds["username"], json!(user));
    assert_eq!(creds["rotation_period"], json!(86_400));
    let ttl = creds["ttl"].as_u64().unwrap();
    assert!((86_390..=86_400).contains(&ttl), "{creds}");
    assert!(creds["last_vault_rotation"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let first = creds["password"].as_str().unwrap().to_string();
    c.login(&user, &first).await.unwrap();

    let role = mount.read("static-roles/billing").await;
    assert_eq!(role["username"], json!(user));
    assert!(role.get("password").is_none(), "{role}");

    mount.write("rotate-role/billing", json!({})).await;
    let second = mount.read("static-creds/billing").await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    c.login(&user, &second).await.unwrap();
    assert!(c.login(&user, &first).await.is_err());

    let list = mount
        .call(Operation::List, "static-roles", Value::Null)
        .await
        .unwrap();
    assert_eq!(
        Value::Object(list.data.unwrap()),
        json!({"keys": ["billing"]})
    );
    // Deleting the role leaves the user (and its password) as they are.
    mount
        .call(Operation::Delete, "static-roles/billing", Value::Null)
        .await
        .unwrap();
    c.login(&user, &second).await.unwrap();
}

#[tokio::test]
async fn the_timer_rotates_a_due_role_and_finishes_an_interrupted_rotation() {
    let c = cluster().await;
    let (user, _) = existing_user(c).await;
    let mount = mount(c, "*").await;
    let timer = "rotate-role/due";
    let before = secrethub_common::now_unix();
    mount
        .write(
            "static-roles/due",
            json!({"db_name": "pg", "username": user, "rotation_period": 3600}),
        )
        .await;
    // The write set the role's timer to its next rotation.
    let due = mount.timers.due(timer).unwrap();
    assert!((before + 3600..=before + 3602).contains(&due), "{due}");
    let first = mount.read("static-creds/due").await["password"]
        .as_str()
        .unwrap()
        .to_string();

    // Fired early (or a stale timer): nothing happens and it is set again for the same time.
    assert_eq!(
        mount.fire(timer).await.unwrap(),
        TimerOutcome::NotDue { next: Some(due) }
    );
    assert_eq!(
        mount.read("static-creds/due").await["password"],
        json!(first)
    );

    // Made due: its timer's run rotates it and sets the next run a period later.
    let key = "static-role/due";
    let mut stored: Value = mount.storage.get_json(key).await.unwrap().unwrap();
    stored["last_rotation"] = json!(secrethub_common::now_unix() - 3601);
    mount.storage.put_json(key, &stored).await.unwrap();
    // A read does not rotate: it answers the password in force.
    assert_eq!(mount.read("static-creds/due").await["ttl"], json!(0));
    let ran = mount.fire(timer).await.unwrap();
    let TimerOutcome::Ran { next: Some(next) } = ran else {
        panic!("{ran:?}")
    };
    assert!(next >= secrethub_common::now_unix() + 3590, "{next}");
    let creds = mount.read("static-creds/due").await;
    let second = creds["password"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert!(creds["ttl"].as_u64().unwrap() > 3590, "{creds}");
    c.login(&user, &second).await.unwrap();

    // A rotation that stored its pending password and then died, before or after the
    // database changed it: the next read sets the pending one and answers it.
    let mut stored: Value = mount.storage.get_json(key).await.unwrap().unwrap();
    stored["pending_password"] = json!("Pending-Password-1");
    mount.storage.put_json(key, &stored).await.unwrap();
    let creds = mount.read("static-creds/due").await;
    assert_eq!(creds["password"], json!("Pending-Password-1"));
    c.login(&user, "Pending-Password-1").await.unwrap();
    assert!(c.login(&user, &second).await.is_err());
    let stored: Value = mount.storage.get_json(key).await.unwrap().unwrap();
    assert!(stored.get("pending_password").is_none(), "{stored}");

    // The same, finished by the timer's run rather than a read.
    let mut stored: Value = mount.storage.get_json(key).await.unwrap().unwrap();
    stored["pending_password"] = json!("Pending-Password-2");
    mount.storage.put_json(key, &stored).await.unwrap();
    assert!(matches!(
        mount.fire(timer).await.unwrap(),
        TimerOutcome::Ran { next: Some(_) }
    ));
    c.login(&user, "Pending-Password-2").await.unwrap();

    // Deleting the role clears its timer; a stale run of it drops itself.
    mount
        .call(Operation::Delete, "static-roles/due", Value::Null)
        .await
        .unwrap();
    assert_eq!(mount.timers.due(timer), None);
    assert_eq!(
        mount.fire(timer).await.unwrap(),
        TimerOutcome::NotDue { next: None }
    );
}

#[tokio::test]
async fn a_scheduled_role_reads_and_times_as_vault_says() {
    let c = cluster().await;
    let (user, _) = existing_user(c).await;
    let mount = mount(c, "*").await;
    mount
        .write(
            "static-roles/weekly",
            json!({"db_name": "pg", "username": user, "rotation_schedule": "0 0 * * SAT", "rotation_window": "2h"}),
        )
        .await;
    let role = mount.read("static-roles/weekly").await;
    assert_eq!(role["rotation_schedule"], json!("0 0 * * SAT"));
    assert_eq!(role["rotation_window"], json!(7200));
    assert!(role.get("rotation_period").is_none(), "{role}");
    // The timer is set to the next Saturday, 00:00 UTC.
    let now = secrethub_common::now_unix();
    let due = mount.timers.due("rotate-role/weekly").unwrap();
    assert_eq!(due % 86_400, 0);
    assert_eq!((due / 86_400 + 4) % 7, 6, "a Saturday");
    assert!(due > now && due <= now + 7 * 86_400);
    let ttl = role["ttl"].as_u64().unwrap() as i64;
    assert!((due - now - ttl).abs() <= 1, "{role}");

    // Switching to a period drops the schedule and its window.
    mount
        .write("static-roles/weekly", json!({"rotation_period": "1h"}))
        .await;
    let role = mount.read("static-roles/weekly").await;
    assert_eq!(role["rotation_period"], json!(3600));
    assert!(role.get("rotation_schedule").is_none(), "{role}");
}

#[tokio::test]
async fn bad_static_roles_are_refused_and_store_nothing() {
    let c = cluster().await;
    let (user, original) = existing_user(c).await;
    let mount = mount(c, "allowed-*").await;
    let write = |name: &str, body: Value| {
        let path = format!("static-roles/{name}");
        let req = mount.request(Operation::Update, &path, body);
        mount.engine.handle(req)
    };
    for (name, body, want) in [
        (
            "allowed-a",
            json!({"username": user, "rotation_period": "1h"}),
            "db_name is required",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "rotation_period": "1h"}),
            "username is required",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user}),
            "rotation_period or rotation_schedule is required",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user, "rotation_period": "2s"}),
            "rotation_period must be 5s or more",
        ),
        (
            "allowed-a",
            json!({"db_name": "nope", "username": user, "rotation_period": "1h"}),
            "connection \"nope\" does not exist",
        ),
        (
            "other",
            json!({"db_name": "pg", "username": user, "rotation_period": "1h"}),
            "\"other\" is not an allowed role",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user, "rotation_period": "1h", "rotation_schedule": "0 * * * *"}),
            "mutually exclusive",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user, "rotation_schedule": "0 25 * * *"}),
            "rotation_schedule: hour: 25 is outside 0-23",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user, "rotation_schedule": "0 0 * * *", "rotation_window": "10m"}),
            "rotation_window must be 1h0m0s or more",
        ),
        (
            "allowed-a",
            json!({"db_name": "pg", "username": user, "rotation_period": "1h", "rotation_statements": "ALTER ROLE {{nme}}"}),
            "rotation_statements: unknown template variable",
        ),
    ] {
        let msg = bad_request(write(name, body.clone()).await);
        assert!(msg.contains(want), "{body}: {msg}");
    }
    // A user that does not exist: the database refuses, nothing is stored.
    let ghost = unique("ghost");
    let msg = bad_request(
        write(
            "allowed-ghost",
            json!({"db_name": "pg", "username": ghost, "rotation_period": "1h"}),
        )
        .await,
    );
    assert_eq!(
        msg,
        "rotating a static role's password failed on connection \"pg\": undefined object (SQLSTATE 42704)"
    );
    let listed = mount
        .call(Operation::List, "static-roles", Value::Null)
        .await;
    assert!(matches!(listed, Err(EngineError::NotFound)));
    // Nothing touched the real user's password.
    c.login(&user, &original).await.unwrap();

    // The username of an existing static role cannot change.
    mount
        .write(
            "static-roles/allowed-b",
            json!({"db_name": "pg", "username": user, "rotation_period": "1h"}),
        )
        .await;
    let msg = bad_request(write("allowed-b", json!({"username": "someone_else"})).await);
    assert_eq!(msg, "cannot update static account username");
    let e = mount
        .call(Operation::Read, "static-creds/missing", Value::Null)
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
}
