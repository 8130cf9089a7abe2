//! The MySQL plugin against the machine's MariaDB 10.11 (127.0.0.1:3306, real password
//! checks, `skip_name_resolve`, so users are created at `'%'`). Every test has a database, an
//! admin user (with a password, so the engine authenticates for real) and a role name of its
//! own; the `mariadb` client drops all of them, and every user named after the role, when the
//! test's [`MyServer`] is dropped, even after a failure.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use secrethub_common::ErrorKind;
use secrethub_engine::{EngineError, Operation};
use serde_json::{json, Value};

use crate::harness::Mount;

pub(crate) const ADDR: &str = "127.0.0.1:3306";

/// A connection to the shared server as `user`.
pub(crate) async fn connect(
    user: &str,
    password: &str,
    db: Option<&str>,
) -> mysql_async::Result<Conn> {
    let opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some(user))
        .pass(Some(password))
        .db_name(db)
        // Over TCP, as clients log in, not the unix socket mysql_async prefers on loopback.
        .prefer_socket(false);
    Conn::new(opts).await
}

/// The server's root (no password over TCP on this machine), for setting up and checking.
pub(crate) async fn root() -> Conn {
    connect("root", "", None)
        .await
        .expect("root on the shared mariadb")
}

/// Runs SQL as root with the `mariadb` client; for clean-up in `Drop`, which cannot await.
fn root_sync(sql: &str) {
    let _ = std::process::Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "--protocol=TCP",
            "-u",
            "root",
            "-e",
            sql,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Users whose names start with `prefix`.
pub(crate) async fn users_with_prefix(prefix: &str) -> Vec<String> {
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    root()
        .await
        .exec("SELECT User FROM mysql.user WHERE User LIKE ?", (pattern,))
        .await
        .expect("list users")
}

pub(crate) async fn user_exists(name: &str) -> bool {
    let n: Option<u64> = root()
        .await
        .exec_first("SELECT COUNT(*) FROM mysql.user WHERE User = ?", (name,))
        .await
        .expect("count users");
    n.unwrap_or(0) > 0
}

/// A test's place on the shared server: a database with table `t` (one row), an admin user
/// with every privilege and a password, and a role name (7 characters, so MySQL's default
/// names keep it whole: `shub_<role>_<random>_<unix>` is 32).
pub(crate) struct MyServer {
    pub(crate) db: String,
    pub(crate) admin: String,
    pub(crate) admin_password: String,
    pub(crate) role: String,
}

impl MyServer {
    pub(crate) async fn create() -> Self {
        let tag = secrethub_common::random_alnum(6).to_ascii_lowercase();
        let s = Self {
            db: format!("it_my_{tag}"),
            admin: format!("it_adm_{tag}"),
            admin_password: format!("Adm-{}", secrethub_common::random_alnum(20)),
            role: format!("m{tag}"),
        };
        root()
            .await
            .query_drop(format!(
                "CREATE DATABASE {db}; CREATE TABLE {db}.t (v INT); INSERT INTO {db}.t VALUES (1);\
                 CREATE USER '{a}'@'%' IDENTIFIED BY '{p}';\
                 GRANT ALL PRIVILEGES ON *.* TO '{a}'@'%' WITH GRANT OPTION",
                db = s.db,
                a = s.admin,
                p = s.admin_password
            ))
            .await
            .expect("set up the test database and admin");
        s
    }

    /// Users made by this test's role.
    pub(crate) fn prefix(&self) -> String {
        format!("shub_{}_", self.role)
    }

    /// `connection_url` for the server at `addr` (`host:port`).
    pub(crate) fn url(&self, addr: &str) -> String {
        format!("{{{{username}}}}:{{{{password}}}}@tcp({addr})/{}", self.db)
    }

    /// A `database/config/:name` body for `plugin_name`.
    pub(crate) fn config(&self, plugin_name: &str, addr: &str) -> Value {
        json!({
            "plugin_name": plugin_name,
            "connection_url": self.url(addr),
            "username": self.admin,
            "password": self.admin_password,
            "allowed_roles": "*",
        })
    }

    /// Creation statements granting SELECT on this test's database.
    pub(crate) fn select_only(&self) -> Value {
        json!([
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
            format!("GRANT SELECT ON {}.* TO '{{{{name}}}}'@'%'", self.db),
        ])
    }

    /// A mount with connection `main` (`mysql-database-plugin`) and this test's role.
    pub(crate) async fn mount(&self, role_body: Value) -> Mount {
        let mount = Mount::new();
        mount
            .write("config/main", self.config("mysql-database-plugin", ADDR))
            .await;
        let mut body = role_body;
        body["db_name"] = "main".into();
        mount.write(&format!("roles/{}", self.role), body).await;
        mount
    }
}

impl Drop for MyServer {
    fn drop(&mut self) {
        let pattern = format!("{}%", self.prefix().replace('_', "\\\\_"));
        // A procedure-free sweep: list the users, then drop them one statement each.
        let out = std::process::Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                "3306",
                "--protocol=TCP",
                "-u",
                "root",
                "-N",
                "-e",
            ])
            .arg(format!(
                "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User LIKE '{pattern}'"
            ))
            .output();
        if let Ok(out) = out {
            for account in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((u, h)) = account.split_once('@') {
                    root_sync(&format!("DROP USER IF EXISTS '{u}'@'{h}'"));
                }
            }
        }
        root_sync(&format!(
            "DROP USER IF EXISTS '{}'@'%'; DROP DATABASE IF EXISTS {}",
            self.admin, self.db
        ));
    }
}

fn bad_request(result: Result<impl Sized, EngineError>) -> String {
    match result {
        Ok(_) => panic!("expected a 400"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
            e.to_string()
        }
    }
}

/// The server's error code for a failed call, or 0 for a client-side error.
pub(crate) fn code(e: &mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        _ => 0,
    }
}

/// Whether an open session still answers.
pub(crate) async fn still_open(conn: &mut Conn) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(5), conn.query_drop("SELECT 1")).await,
        Ok(Ok(()))
    )
}

#[tokio::test]
async fn credentials_do_what_the_statements_grant_and_nothing_more() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    let creds = mount.creds(&s.role).await;
    assert!(
        creds.username.starts_with(&s.prefix()),
        "{}",
        creds.username
    );
    assert_eq!(creds.username.len(), 32, "{}", creds.username);

    let mut c = connect(&creds.username, &creds.password, Some(&s.db))
        .await
        .unwrap();
    let v: Option<i32> = c.query_first("SELECT v FROM t").await.unwrap();
    assert_eq!(v, Some(1));
    let e = c.query_drop("INSERT INTO t VALUES (2)").await.unwrap_err();
    assert_eq!(code(&e), 1142, "{e}");
    let e = c.query_drop("SELECT * FROM mysql.user").await.unwrap_err();
    assert_eq!(code(&e), 1142, "{e}");
    let e = c.query_drop("CREATE USER 'x_nope'@'%'").await.unwrap_err();
    assert_eq!(code(&e), 1227, "{e}");
    let e = connect(&creds.username, "not-the-password", None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), 1045, "{e}");

    // Renewal is lease-only: nothing to run, and the user is untouched.
    mount
        .renew(&creds.internal, secrethub_common::now_unix() + 600)
        .await
        .unwrap();
    assert!(still_open(&mut c).await);
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn a_syntax_error_after_create_user_leaves_no_user_and_no_password() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": [
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
            "CREATE USER '{{name}}'@'localhost' IDENTIFIED BY '{{password}}'",
            "GRANT SELEC ON *.* TO '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
        ]}))
        .await;
    let msg = bad_request(mount.try_creds(&s.role, Value::Null).await);
    assert_eq!(
        msg,
        "creating user failed on connection \"main\": syntax error (MySQL error 1064, SQLSTATE 42000)"
    );
    let intents = mount.intents.all();
    assert_eq!(intents.len(), 1);
    let name = intents[0]["username"].as_str().unwrap();
    // Both accounts the statements made are gone, '%' and 'localhost'.
    assert!(!user_exists(name).await, "{name} was left behind");
    mount.revoke(&intents[0]).await.unwrap();
}

#[tokio::test]
async fn a_role_name_too_long_is_refused_when_the_role_is_written() {
    let s = MyServer::create().await;
    let mount = Mount::new();
    let mut config = s.config("mysql-database-plugin", ADDR);
    config["username_template"] = json!("{{.RoleName}}_{{random 8}}");
    mount.write("config/main", config).await;
    let long = format!("{}_{}", s.role, "r".repeat(30));
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                &format!("roles/{long}"),
                json!({"db_name": "main", "creation_statements": s.select_only()}),
            )
            .await,
    );
    assert_eq!(
        msg,
        format!(
            "role name {long:?} is too long for its connection: the username_template makes \
             names of 47 characters and the plugin allows 32"
        )
    );
    let missing = mount
        .call(Operation::Read, &format!("roles/{long}"), Value::Null)
        .await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    assert!(mount.intents.all().is_empty());

    // The default names shorten the role part instead: a long role name is fine.
    let mount = Mount::new();
    mount
        .write("config/main", s.config("mysql-database-plugin", ADDR))
        .await;
    mount
        .write(
            &format!("roles/{long}"),
            json!({"db_name": "main", "creation_statements": s.select_only()}),
        )
        .await;
    let creds = mount.creds(&long).await;
    assert_eq!(creds.username.len(), 32);
    assert!(
        creds.username.starts_with(&s.prefix()),
        "{}",
        creds.username
    );
    connect(&creds.username, &creds.password, None)
        .await
        .unwrap();
    mount.revoke(&creds.internal).await.unwrap();
}

#[tokio::test]
async fn bad_connections_are_a_fast_400_and_store_nothing() {
    let s = MyServer::create().await;
    let mount = Mount::new();
    let started = Instant::now();
    let msg = bad_request(
        mount
            .call(
                Operation::Update,
                "config/main",
                s.config("mysql-database-plugin", "127.0.0.1:1"),
            )
            .await,
    );
    assert!(
        msg.starts_with("error verifying connection \"main\": "),
        "{msg}"
    );
    assert!(msg.contains("Connection refused"), "{msg}");

    let mut wrong = s.config("mysql-database-plugin", ADDR);
    wrong["password"] = json!("Wrong-Admin-Password");
    let msg = bad_request(mount.call(Operation::Update, "config/main", wrong).await);
    assert_eq!(
        msg,
        "error verifying connection \"main\": access denied (wrong user name or password) \
         (MySQL error 1045, SQLSTATE 28000)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let missing = mount
        .call(Operation::Read, "config/main", Value::Null)
        .await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));

    // Unknown fields and DSN parameters are refused by name, before any connection.
    let mut typo = s.config("mysql-database-plugin", ADDR);
    typo["conection_url"] = json!("x");
    let msg = bad_request(mount.call(Operation::Update, "config/main", typo).await);
    assert_eq!(
        msg,
        "unknown field for mysql-database-plugin: conection_url"
    );
    let mut param = s.config("mysql-database-plugin", ADDR);
    param["connection_url"] = json!(format!("{}?sql_mode=ANSI", s.url(ADDR)));
    let msg = bad_request(mount.call(Operation::Update, "config/main", param).await);
    assert_eq!(
        msg,
        "invalid connection_url: unsupported parameter \"sql_mode\""
    );
}

#[tokio::test]
async fn config_reads_never_show_the_password_even_one_written_into_the_url() {
    let s = MyServer::create().await;
    let mount = Mount::new();
    let mut config = s.config("mysql-database-plugin", ADDR);
    config["connection_url"] = json!(format!(
        "{}:{}@tcp({ADDR})/{}",
        s.admin, s.admin_password, s.db
    ));
    config.as_object_mut().unwrap().remove("password");
    mount.write("config/literal", config).await;
    let data = mount.read("config/literal").await;
    let shown = data.to_string();
    assert!(!shown.contains(&s.admin_password), "{shown}");
    assert_eq!(
        data["connection_details"]["connection_url"],
        json!(format!("{}:*****@tcp({ADDR})/{}", s.admin, s.db))
    );
    mount
        .write("config/templated", s.config("mysql-database-plugin", ADDR))
        .await;
    let data = mount.read("config/templated").await;
    assert!(!data.to_string().contains(&s.admin_password));
    assert!(data["connection_details"].get("password").is_none());
}

#[tokio::test]
async fn legacy_plugin_names_make_16_character_users() {
    let s = MyServer::create().await;
    for plugin in [
        "mysql-legacy-database-plugin",
        "mysql-aurora-database-plugin",
        "mysql-rds-database-plugin",
    ] {
        let mount = Mount::new();
        mount.write("config/old", s.config(plugin, ADDR)).await;
        mount
            .write(
                &format!("roles/{}", s.role),
                json!({"db_name": "old", "creation_statements": s.select_only()}),
            )
            .await;
        let creds = mount.creds(&s.role).await;
        assert_eq!(creds.username.len(), 16, "{plugin}: {}", creds.username);
        // No room for the unix time: `shub_`, two characters of the role, 8 random.
        let prefix = format!("shub_{}_", &s.role[..2]);
        assert!(creds.username.starts_with(&prefix), "{}", creds.username);
        connect(&creds.username, &creds.password, None)
            .await
            .unwrap();
        mount.revoke(&creds.internal).await.unwrap();
        assert!(!user_exists(&creds.username).await);
    }
}

#[tokio::test]
async fn rotate_root_replaces_the_admin_password() {
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    mount.write("rotate-root/main", json!({})).await;
    let e = connect(&s.admin, &s.admin_password, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), 1045, "{e}");
    // The engine uses the new password it stored.
    let creds = mount.creds(&s.role).await;
    mount.revoke(&creds.internal).await.unwrap();
}

/// Latency of creation and revocation through the engine against the same statements sent
/// raw on one open connection, interleaved so both see the same server load. Run by hand:
/// `cargo test -p secrethub-database --test it mysql::latency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn latency_vs_raw_statements() {
    const N: usize = 200;
    let s = MyServer::create().await;
    let mount = s
        .mount(json!({"creation_statements": s.select_only()}))
        .await;
    let mut raw = connect(&s.admin, &s.admin_password, None).await.unwrap();
    let (mut create, mut revoke, mut raw_create, mut raw_drop) = (vec![], vec![], vec![], vec![]);
    for i in 0..N {
        let t = Instant::now();
        let c = mount.creds(&s.role).await;
        create.push(t.elapsed());
        let t = Instant::now();
        mount.revoke(&c.internal).await.unwrap();
        revoke.push(t.elapsed());

        let name = format!("{}raw{i}", s.prefix());
        let t = Instant::now();
        raw.query_drop(format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY 'Abcdefghijklmnopqrstuvwxyz012345'; \
             GRANT SELECT ON {}.* TO '{name}'@'%'",
            s.db
        ))
        .await
        .unwrap();
        raw_create.push(t.elapsed());
        let t = Instant::now();
        raw.query_drop(format!("DROP USER '{name}'@'%'"))
            .await
            .unwrap();
        raw_drop.push(t.elapsed());
    }
    let pct = |v: &mut Vec<Duration>, p: usize| {
        v.sort();
        v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1000.0
    };
    eprintln!(
        "creation p50 {:.2} ms p99 {:.2} ms (raw CREATE USER+GRANT p50 {:.2} ms p99 {:.2} ms)",
        pct(&mut create, 50),
        pct(&mut create, 99),
        pct(&mut raw_create, 50),
        pct(&mut raw_create, 99)
    );
    eprintln!(
        "revocation p50 {:.2} ms p99 {:.2} ms (raw DROP USER p50 {:.2} ms p99 {:.2} ms)",
        pct(&mut revoke, 50),
        pct(&mut revoke, 99),
        pct(&mut raw_drop, 50),
        pct(&mut raw_drop, 99)
    );
}
