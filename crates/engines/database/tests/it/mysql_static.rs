//! Static roles with the MySQL plugin against the machine's MariaDB: SecretHub takes over an
//! existing user's password (Vault's default `ALTER USER '{{username}}'@'%' IDENTIFIED BY
//! '{{password}}'`), static-creds log in, rotate-role changes the password; a missing user,
//! or one defined only at another host, is a 400 with no role stored, and
//! `rotation_statements` naming the host work.

use mysql_async::prelude::Queryable;
use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use serde_json::{json, Value};

use crate::harness::Mount;
use crate::mysql::{code, connect, root, MyServer, ADDR};

/// An existing user at `host` with a password of its own, named with the test's prefix so
/// its clean-up drops it; answers (name, password).
async fn existing_user(s: &MyServer, suffix: &str, host: &str) -> (String, String) {
    let user = format!("{}{suffix}", s.prefix());
    let password = format!("Own-{}", secrethub_common::random_alnum(16));
    root()
        .await
        .query_drop(format!(
            "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}';\
             GRANT SELECT ON {}.* TO '{user}'@'{host}'",
            s.db
        ))
        .await
        .unwrap();
    (user, password)
}

async fn mount(s: &MyServer) -> Mount {
    let mount = Mount::new();
    mount
        .write("config/main", s.config("mysql-database-plugin", ADDR))
        .await;
    mount
}

/// Logs in as `user` and reads the test table; the MySQL error code on failure.
async fn login(s: &MyServer, user: &str, password: &str) -> Result<(), u16> {
    let mut c = connect(user, password, Some(&s.db))
        .await
        .map_err(|e| code(&e))?;
    let v: Option<i32> = c
        .query_first("SELECT v FROM t")
        .await
        .map_err(|e| code(&e))?;
    assert_eq!(v, Some(1));
    Ok(())
}

async fn write_static(mount: &Mount, name: &str, body: Value) -> Result<(), EngineError> {
    let path = format!("static-roles/{name}");
    let req = mount.request(Operation::Update, &path, body);
    mount.engine.handle(req).await.map(drop)
}

fn bad_request(r: Result<(), EngineError>) -> String {
    let e = r.expect_err("expected a 400");
    assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
    e.to_string()
}

#[tokio::test]
async fn a_static_role_takes_over_and_rotates_a_mysql_users_password() {
    let s = MyServer::create().await;
    let (user, original) = existing_user(&s, "svc", "%").await;
    login(&s, &user, &original).await.unwrap();
    let mount = mount(&s).await;
    mount
        .write(
            "static-roles/billing",
            json!({"db_name": "main", "username": user, "rotation_period": "24h"}),
        )
        .await;
    assert_eq!(login(&s, &user, &original).await, Err(1045));

    let creds = mount.read("static-creds/billing").await;
    assert_eq!(creds["username"], json!(user));
    assert_eq!(creds["rotation_period"], json!(86_400));
    let first = creds["password"].as_str().unwrap().to_string();
    login(&s, &user, &first).await.unwrap();

    mount.write("rotate-role/billing", json!({})).await;
    let second = mount.read("static-creds/billing").await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    login(&s, &user, &second).await.unwrap();
    assert_eq!(login(&s, &user, &first).await, Err(1045));
}

#[tokio::test]
async fn a_missing_user_or_another_host_is_a_400_and_stores_nothing() {
    let s = MyServer::create().await;
    let mount = mount(&s).await;
    let ghost = format!("{}ghost", s.prefix());
    let msg = bad_request(
        write_static(
            &mount,
            "ghost",
            json!({"db_name": "main", "username": ghost, "rotation_period": "1h"}),
        )
        .await,
    );
    assert_eq!(
        msg,
        format!("user \"{ghost}\" does not exist on connection \"main\"")
    );

    // Defined at another host only: the default statement cannot alter it, and says why.
    let (elsewhere, original) = existing_user(&s, "net", "10.9.%").await;
    let msg = bad_request(
        write_static(
            &mount,
            "net",
            json!({"db_name": "main", "username": elsewhere, "rotation_period": "1h"}),
        )
        .await,
    );
    assert_eq!(
        msg,
        format!(
            "user \"{elsewhere}\" on connection \"main\" is defined at host '10.9.%' and not \
             at '%', which the default rotation statement alters; give rotation_statements \
             naming the host"
        )
    );
    let listed = mount
        .call(Operation::List, "static-roles", Value::Null)
        .await;
    assert!(matches!(listed, Err(EngineError::NotFound)));

    // A syntax error in custom statements: a 400 in our words, without the password.
    let msg = bad_request(
        write_static(
            &mount,
            "net",
            json!({"db_name": "main", "username": elsewhere, "rotation_period": "1h",
                   "rotation_statements": "ALTER USR '{{name}}'@'10.9.%' IDENTIFIED BY '{{password}}'"}),
        )
        .await,
    );
    assert_eq!(
        msg,
        "rotating a static role's password failed on connection \"main\": syntax error \
         (MySQL error 1064, SQLSTATE 42000)"
    );

    // rotation_statements naming the host work; the stored hash is that of static-creds.
    mount
        .write(
            "static-roles/net",
            json!({"db_name": "main", "username": elsewhere, "rotation_period": "1h",
                   "rotation_statements": "ALTER USER '{{name}}'@'10.9.%' IDENTIFIED BY '{{password}}'"}),
        )
        .await;
    let password = mount.read("static-creds/net").await["password"]
        .as_str()
        .unwrap()
        .to_string();
    let hash_matches = |pw: String| {
        let user = elsewhere.clone();
        async move {
            let m: Option<i64> = root()
                .await
                .exec_first(
                    "SELECT authentication_string = PASSWORD(?) FROM mysql.user \
                     WHERE User = ? AND Host = '10.9.%'",
                    (pw, user),
                )
                .await
                .unwrap();
            m == Some(1)
        }
    };
    assert!(hash_matches(password).await);
    assert!(!hash_matches(original).await);
}
