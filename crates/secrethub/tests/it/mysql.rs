//! The MySQL plugin through the real binary, against the machine's MariaDB 10.11
//! (127.0.0.1:3306): OpenBao's `bao` CLI configures `mysql-database-plugin` and reads
//! credentials exactly as it would from OpenBao, revocation and expiry end the credential's
//! open sessions, and the SIGKILL crash workload of `crash.rs` leaves no MySQL user behind.
//! Each test has a database, an admin user (with a password) and a role name of its own, all
//! dropped when it ends; logins are checked with the `mariadb` client over TCP.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bao_cli::bao_binary;
use crate::crash::kill_during_issuance_and_revocation;
use crate::harness::{self, Cli, ServerProcess};

/// The `mariadb` client over TCP as `user`.
fn client(user: &str, password: &str) -> Command {
    let mut c = Command::new("mariadb");
    c.args([
        "-h",
        "127.0.0.1",
        "-P",
        "3306",
        "--protocol=TCP",
        "-N",
        "-u",
        user,
    ]);
    if !password.is_empty() {
        c.arg(format!("-p{password}"));
    }
    c
}

/// `mariadb` over TCP as `user`; (exit code, stdout trimmed).
pub(crate) fn mariadb(user: &str, password: &str, sql: &str) -> (i32, String) {
    let out = client(user, password)
        .args(["-e", sql])
        .output()
        .expect("the mariadb client runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

pub(crate) fn root(sql: &str) -> String {
    mariadb("root", "", sql).1
}

fn users_with_prefix(prefix: &str) -> Vec<String> {
    let pattern = prefix.replace('_', "\\\\_");
    root(&format!(
        "SELECT User FROM mysql.user WHERE User LIKE '{pattern}%'"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

/// A session of `user` that would run for a minute: the child ends early only when the
/// server ends the session.
fn open_session(user: &str, password: &str) -> Child {
    client(user, password)
        .args(["-e", "SELECT SLEEP(60)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the mariadb client runs")
}

/// Whether the session ended within `limit`.
fn ends_within(session: &mut Child, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(_)) = session.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = session.kill();
    false
}

/// A database, an admin user with every privilege and a password, and a role name of 7
/// characters (MySQL's default names keep it whole); dropped with every user it made.
pub(crate) struct MysqlPlace {
    pub(crate) db: String,
    pub(crate) admin: String,
    pub(crate) password: String,
    pub(crate) role: String,
    pub(crate) prefix: String,
}

impl MysqlPlace {
    pub(crate) fn create(kind: char) -> MysqlPlace {
        let tag = secrethub_common::random_alnum(6).to_lowercase();
        let place = MysqlPlace {
            db: format!("it_bin_{tag}"),
            admin: format!("it_adm_{tag}"),
            password: format!("Adm-{}", secrethub_common::random_alnum(20)),
            role: format!("{kind}{tag}"),
            prefix: format!("shub_{kind}{tag}_"),
        };
        root(&format!(
            "CREATE DATABASE {db}; CREATE TABLE {db}.t (v INT); INSERT INTO {db}.t VALUES (7); \
             CREATE USER '{a}'@'%' IDENTIFIED BY '{p}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{a}'@'%' WITH GRANT OPTION",
            db = place.db,
            a = place.admin,
            p = place.password
        ));
        place
    }

    pub(crate) fn url(&self) -> String {
        format!(
            "{{{{username}}}}:{{{{password}}}}@tcp(127.0.0.1:3306)/{}",
            self.db
        )
    }

    pub(crate) fn creation_statements(&self) -> String {
        format!(
            "CREATE USER '{{{{name}}}}'@'%' IDENTIFIED BY '{{{{password}}}}'; \
             GRANT SELECT ON {}.* TO '{{{{name}}}}'@'%';",
            self.db
        )
    }
}

impl Drop for MysqlPlace {
    fn drop(&mut self) {
        for u in users_with_prefix(&self.prefix) {
            root(&format!("DROP USER IF EXISTS '{u}'@'%'"));
        }
        root(&format!(
            "DROP USER IF EXISTS '{}'@'%'; DROP DATABASE IF EXISTS {}",
            self.admin, self.db
        ));
    }
}

#[tokio::test]
async fn bao_cli_issues_mysql_credentials_and_revocation_and_expiry_end_sessions() {
    let bao_path = bao_binary();
    let place = MysqlPlace::create('b');
    let dir = tempfile::tempdir().expect("tempdir");
    let root_token = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root_token, &[]).await;
    let bao = Cli::bao(&bao_path, server.addr(), &dir.path().join("home"))
        .env("VAULT_TOKEN", &root_token);

    bao.ok(&["secrets", "enable", "database"]);
    bao.ok(&[
        "write",
        "database/config/shop",
        "plugin_name=mysql-database-plugin",
        &format!("connection_url={}", place.url()),
        &format!("username={}", place.admin),
        &format!("password={}", place.password),
        "allowed_roles=*",
    ]);
    let role_path = format!("database/roles/{}", place.role);
    bao.ok(&[
        "write",
        &role_path,
        "db_name=shop",
        &format!("creation_statements={}", place.creation_statements()),
        "default_ttl=1h",
        "max_ttl=24h",
    ]);

    let creds = bao
        .ok(&[
            "read",
            "-format=json",
            &format!("database/creds/{}", place.role),
        ])
        .json();
    let username = creds["data"]["username"].as_str().expect("username");
    let password = creds["data"]["password"].as_str().expect("password");
    assert!(
        username.starts_with(&place.prefix) && username.len() == 32,
        "{username}"
    );
    assert_eq!(creds["lease_duration"], 3600);
    let select = format!("SELECT v FROM {}.t", place.db);
    assert_eq!(mariadb(username, password, &select), (0, "7".to_string()));
    let (code, _) = mariadb(
        username,
        password,
        &format!("INSERT INTO {}.t VALUES (8)", place.db),
    );
    assert_ne!(code, 0, "the credential may only SELECT");
    assert_ne!(mariadb(username, "wrong", "SELECT 1").0, 0);

    let config = bao
        .ok(&["read", "-format=json", "database/config/shop"])
        .json();
    assert!(!config.to_string().contains(&place.password), "{config}");
    assert_eq!(config["data"]["plugin_name"], "mysql-database-plugin");

    // Revocation drops the user and ends the session it has open.
    let mut session = open_session(username, password);
    std::thread::sleep(Duration::from_millis(500));
    assert!(session.try_wait().expect("session status").is_none());
    let lease = creds["lease_id"].as_str().expect("lease_id");
    bao.ok(&["lease", "revoke", lease]);
    assert!(
        ends_within(&mut session, Duration::from_secs(5)),
        "the session outlived the revocation"
    );
    assert_ne!(mariadb(username, password, "SELECT 1").0, 0);

    // Expiry does the same, without anyone asking.
    bao.ok(&["write", &role_path, "default_ttl=2s", "max_ttl=2s"]);
    let creds = bao
        .ok(&[
            "read",
            "-format=json",
            &format!("database/creds/{}", place.role),
        ])
        .json();
    let username = creds["data"]["username"].as_str().expect("username");
    let password = creds["data"]["password"].as_str().expect("password");
    assert_eq!(creds["lease_duration"], 2);
    let mut session = open_session(username, password);
    assert!(
        ends_within(&mut session, Duration::from_secs(20)),
        "the session outlived the lease's expiry"
    );
    assert_ne!(mariadb(username, password, "SELECT 1").0, 0);
    // Expiry locks the account at once and drops it when the revocation is confirmed, a
    // moment later.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !users_with_prefix(&place.prefix).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the expired user was never dropped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_mysql_issuance_and_revocation_leaves_no_users() {
    let place = MysqlPlace::create('c');
    kill_during_issuance_and_revocation(
        &place.role,
        json!({
            "plugin_name": "mysql-database-plugin", "connection_url": place.url(),
            "username": place.admin, "password": place.password, "allowed_roles": "*",
        }),
        json!({"default_ttl": "1h", "max_ttl": "2h",
               "creation_statements": place.creation_statements()}),
    )
    .await;
    let left = users_with_prefix(&place.prefix);
    assert!(
        left.is_empty(),
        "MySQL users created by SecretHub outlived every lease and intent: {left:?}"
    );
}
