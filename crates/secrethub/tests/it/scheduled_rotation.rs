//! Scheduled rotations through the real binary and OpenBao's `bao` CLI, against the machine's
//! MariaDB (real password checks): a static role's password changes on its own every
//! `rotation_period` with nobody reading it, keeps doing so after a SIGKILL and restart (the
//! timer lives in storage), and each background rotation leaves an audit entry; a
//! connection's `rotation_period` rotates its admin password while credentials keep being
//! issued. A static role's read answers the same fields as OpenBao 2.7.2's, compared in the
//! same test.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bao_cli::bao_binary;
use crate::compat_clients::BaoDev;
use crate::harness::{self, Cli, ServerProcess, PLAIN_LISTENER};
use crate::mysql::{mariadb, root, MysqlPlace};

/// How long a rotation due every 5 s may take to show (a retry after a failure included).
const ROTATION_DEADLINE: Duration = Duration::from_secs(30);

/// A server on an embedded storage file in `dir`, initialised and unsealed; answers it with
/// its root token and unseal key.
async fn persistent_server(dir: &Path) -> (ServerProcess, String, String) {
    let data = dir.join("data.db");
    let config = harness::write_file(
        dir,
        "server.hcl",
        &format!(
            "storage \"file\" {{\n  path = \"{}\"\n}}\n{PLAIN_LISTENER}",
            data.display()
        ),
    );
    let server = ServerProcess::with_config(dir, &config, None).await;
    let init = harness::init_and_unseal(&Cli::secrethub(server.addr(), &dir.join("home")), 1, 1);
    let root = harness::root_token(&init);
    let key = harness::unseal_keys(&init)[0].clone();
    (server, root, key)
}

/// The same server again after a SIGKILL, unsealed.
async fn restart(dir: &Path, server: ServerProcess, key: &str) -> ServerProcess {
    drop(server); // SIGKILL
    let server = ServerProcess::with_config(dir, &dir.join("server.hcl"), None).await;
    let unsealed = server
        .http()
        .put(server.url("sys/unseal"))
        .json(&json!({ "key": key }))
        .send()
        .await
        .expect("unseal answers");
    let (status, body) = harness::json_of(unsealed).await;
    assert_eq!(
        (status, body["sealed"].clone()),
        (200, json!(false)),
        "{body}"
    );
    server
}

/// A MariaDB login user of the place's (dropped with it), with a password of its own.
fn existing_user(place: &MysqlPlace, suffix: &str) -> (String, String) {
    let user = format!("{}{suffix}", place.prefix);
    let password = format!("Own-{}", secrethub_common::random_alnum(20));
    root(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
    ));
    (user, password)
}

/// Enables `database/` and writes the connection `shop` to the place's database as its
/// admin, with `extra` fields.
fn enable_shop(cli: &Cli, place: &MysqlPlace, extra: &[&str]) {
    cli.ok(&["secrets", "enable", "database"]);
    let url = format!("connection_url={}", place.url());
    let username = format!("username={}", place.admin);
    let password = format!("password={}", place.password);
    let mut args = vec![
        "write",
        "database/config/shop",
        "plugin_name=mysql-database-plugin",
        &url,
        &username,
        &password,
    ];
    args.extend_from_slice(extra);
    cli.ok(&args);
}

fn logs_in(user: &str, password: &str) -> bool {
    mariadb(user, password, "SELECT 1").0 == 0
}

/// `bao read -format=json <path>`'s `data`.
fn read_data(bao: &Cli, path: &str) -> Value {
    bao.ok(&["read", "-format=json", path]).json()["data"].clone()
}

/// Polls `static-creds/<role>` (which never rotates by itself being read) until the password
/// differs from `old`; answers the new one.
fn wait_for_rotation(bao: &Cli, role: &str, old: &str) -> String {
    let deadline = Instant::now() + ROTATION_DEADLINE;
    loop {
        let creds = read_data(bao, &format!("database/static-creds/{role}"));
        let password = creds["password"].as_str().expect("password").to_string();
        if password != old {
            return password;
        }
        assert!(
            Instant::now() < deadline,
            "no rotation within {ROTATION_DEADLINE:?}: {creds}"
        );
        std::thread::sleep(harness::POLL_INTERVAL);
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_static_role_rotates_on_its_own_across_a_kill_and_reads_like_openbao() {
    let place = MysqlPlace::create('s');
    let (svc, original) = existing_user(&place, "svc");
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, root_token, key) = persistent_server(dir.path()).await;
    let bao_path = bao_binary();
    let home = dir.path().join("bao-home");
    let bao = Cli::bao(&bao_path, server.addr(), &home).env("VAULT_TOKEN", &root_token);
    let audit_log = dir.path().join("audit.log");
    bao.ok(&[
        "audit",
        "enable",
        "file",
        &format!("file_path={}", audit_log.display()),
    ]);
    enable_shop(&bao, &place, &["allowed_roles=billing"]);
    bao.ok(&[
        "write",
        "database/static-roles/billing",
        "db_name=shop",
        &format!("username={svc}"),
        "rotation_period=5s",
    ]);
    assert!(
        !logs_in(&svc, &original),
        "the user's own password still works"
    );
    let creds = read_data(&bao, "database/static-creds/billing");
    assert_eq!(creds["username"], json!(svc));
    assert_eq!(creds["rotation_period"], json!(5));
    assert!(creds["ttl"].as_u64().is_some_and(|t| t <= 5), "{creds}");
    let first = creds["password"].as_str().expect("password").to_string();
    assert!(logs_in(&svc, &first));

    // Nobody asks: the timer rotates it, and the audit log says the scheduler did.
    let second = wait_for_rotation(&bao, "billing", &first);
    assert!(logs_in(&svc, &second));
    assert!(!logs_in(&svc, &first), "the replaced password still works");
    let audit = std::fs::read_to_string(&audit_log).expect("audit log");
    let entry = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["request"]["path"] == "database/rotate-role/billing")
        .unwrap_or_else(|| panic!("no audit entry for the scheduled rotation:\n{audit}"));
    assert_eq!(entry["auth"]["display_name"], "secrethub-scheduler");
    assert_eq!(entry["request"]["operation"], "update");
    assert!(!audit.contains(&second), "a password reached the audit log");

    // SIGKILL and restart: the schedule is in storage and goes on.
    let server = restart(dir.path(), server, &key).await;
    let bao = Cli::bao(&bao_path, server.addr(), &home).env("VAULT_TOKEN", &root_token);
    let current = read_data(&bao, "database/static-creds/billing")["password"]
        .as_str()
        .expect("password")
        .to_string();
    let after_restart = wait_for_rotation(&bao, "billing", &current);
    assert!(logs_in(&svc, &after_restart));

    // A static role reads with the same fields as OpenBao's.
    let openbao = BaoDev::start(dir.path()).await;
    let (other, _) = existing_user(&place, "obao");
    let theirs = Cli::bao(&bao_path, &openbao.addr, &dir.path().join("openbao-home"))
        .env("VAULT_TOKEN", &openbao.root_token);
    enable_shop(&theirs, &place, &["allowed_roles=billing"]);
    theirs.ok(&[
        "write",
        "database/static-roles/billing",
        "db_name=shop",
        &format!("username={other}"),
        "rotation_period=24h",
    ]);
    let ours_role = read_data(&bao, "database/static-roles/billing");
    let ours_creds = read_data(&bao, "database/static-creds/billing");
    let their_role = read_data(&theirs, "database/static-roles/billing");
    let their_creds = read_data(&theirs, "database/static-creds/billing");
    let missing: Vec<_> = keys(&their_role)
        .difference(&keys(&ours_role))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "static-roles read lacks OpenBao's {missing:?}: ours {ours_role}, theirs {their_role}"
    );
    let missing: Vec<_> = keys(&their_creds)
        .difference(&keys(&ours_creds))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "static-creds read lacks OpenBao's {missing:?}"
    );

    // Vault's cron schedule with a window (OpenBao 2.7 has only rotation_period).
    bao.ok(&[
        "write",
        "database/static-roles/billing",
        "rotation_schedule=0 0 * * SAT",
        "rotation_window=2h",
    ]);
    let role = read_data(&bao, "database/static-roles/billing");
    assert_eq!(role["rotation_schedule"], "0 0 * * SAT");
    assert_eq!(role["rotation_window"], 7200);
    assert!(role.get("rotation_period").is_none(), "{role}");
}

#[tokio::test]
async fn a_connections_rotation_period_rotates_its_admin_password_while_creds_keep_working() {
    let place = MysqlPlace::create('r');
    let dir = tempfile::tempdir().expect("tempdir");
    let root_token = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root_token, &[]).await;
    let bao = Cli::bao(&bao_binary(), server.addr(), &dir.path().join("home"))
        .env("VAULT_TOKEN", &root_token);
    enable_shop(&bao, &place, &["allowed_roles=*", "rotation_period=5s"]);
    let role_path = format!("database/roles/{}", place.role);
    bao.ok(&[
        "write",
        &role_path,
        "db_name=shop",
        &format!("creation_statements={}", place.creation_statements()),
    ]);
    let config = read_data(&bao, "database/config/shop");
    assert_eq!(config["rotation_period"], 5);
    assert_eq!(config["disable_automated_rotation"], false);

    let deadline = Instant::now() + ROTATION_DEADLINE;
    while logs_in(&place.admin, &place.password) {
        assert!(
            Instant::now() < deadline,
            "the admin password did not rotate within {ROTATION_DEADLINE:?}"
        );
        std::thread::sleep(harness::POLL_INTERVAL);
    }
    let creds = bao
        .ok(&[
            "read",
            "-format=json",
            &format!("database/creds/{}", place.role),
        ])
        .json();
    let username = creds["data"]["username"].as_str().expect("username");
    let password = creds["data"]["password"].as_str().expect("password");
    assert!(logs_in(username, password));

    // Turned off, the plan stays and reads so.
    bao.ok(&[
        "write",
        "database/config/shop",
        "disable_automated_rotation=true",
    ]);
    let config = read_data(&bao, "database/config/shop");
    assert_eq!(config["disable_automated_rotation"], true);
    assert_eq!(config["rotation_period"], 5);
}
