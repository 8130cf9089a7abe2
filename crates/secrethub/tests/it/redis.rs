//! The Redis plugin through the real binary, against the machine's Redis 7 (127.0.0.1:6379,
//! ACL enabled): OpenBao's `bao` CLI configures it and reads credentials exactly as it would
//! from OpenBao, and the SIGKILL crash workload of `crash.rs` leaves no ACL user behind.
//! Each test has an admin user and a user prefix of its own, deleted when it ends.

use serde_json::json;

use crate::bao_cli::bao_binary;
use crate::crash::kill_during_issuance_and_revocation;
use crate::harness::{self, Cli, ServerProcess};

/// `redis-cli` with its arguments; stdout, trimmed.
fn redis_cli(args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "--no-auth-warning"])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Who `username`/`password` is once logged in. A failed AUTH leaves redis-cli logged in as
/// `default`, so only an answer equal to `username` means the credential works.
fn whoami(username: &str, password: &str) -> String {
    redis_cli(&["--user", username, "--pass", password, "ACL", "WHOAMI"])
}

fn users_with_prefix(prefix: &str) -> Vec<String> {
    redis_cli(&["ACL", "USERS"])
        .lines()
        .filter(|u| u.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// An admin user with a password and full rights, and the prefix of the users a role makes;
/// all deleted on drop, so a failed run leaves nothing on the shared server.
struct RedisPlace {
    role: String,
    admin: String,
    password: String,
    prefix: String,
}

impl RedisPlace {
    fn create(kind: &str) -> RedisPlace {
        let role = format!("{kind}{}", secrethub_common::random_alnum(8).to_lowercase());
        let admin = format!("probe_adm_{role}");
        let password = format!("Adm-{}", secrethub_common::random_alnum(20));
        let ok = redis_cli(&[
            "ACL",
            "SETUSER",
            &admin,
            "reset",
            "on",
            &format!(">{password}"),
            "~*",
            "&*",
            "+@all",
        ]);
        assert_eq!(ok, "OK");
        RedisPlace {
            prefix: format!("shub_{role}_"),
            role,
            admin,
            password,
        }
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "plugin_name": "redis-database-plugin", "host": "127.0.0.1", "port": 6379,
            "username": self.admin, "password": self.password, "allowed_roles": "*",
        })
    }
}

impl Drop for RedisPlace {
    fn drop(&mut self) {
        for u in users_with_prefix(&self.prefix) {
            redis_cli(&["ACL", "DELUSER", &u]);
        }
        redis_cli(&["ACL", "DELUSER", &self.admin]);
    }
}

#[tokio::test]
async fn bao_cli_issues_and_revokes_redis_credentials() {
    let bao_path = bao_binary();
    let place = RedisPlace::create("bao");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let bao =
        Cli::bao(&bao_path, server.addr(), &dir.path().join("home")).env("VAULT_TOKEN", &root);

    bao.ok(&["secrets", "enable", "database"]);
    bao.ok(&[
        "write",
        "database/config/cache",
        "plugin_name=redis-database-plugin",
        "host=127.0.0.1",
        "port=6379",
        &format!("username={}", place.admin),
        &format!("password={}", place.password),
        "allowed_roles=*",
    ]);
    let role_path = format!("database/roles/{}", place.role);
    bao.ok(&[
        "write",
        &role_path,
        "db_name=cache",
        r#"creation_statements=["~cache:*", "+@read", "+acl|whoami"]"#,
        "default_ttl=15m",
    ]);
    // A typo in a rule is refused when the role is written.
    let bad = bao.run(&[
        "write",
        &role_path,
        "db_name=cache",
        r#"creation_statements=["~cache:*", "+@reed"]"#,
    ]);
    assert_eq!(
        bad.code, 0,
        "a category only the server knows: {}",
        bad.stderr
    );
    let bad = bao.run(&[
        "write",
        &role_path,
        "db_name=cache",
        r#"creation_statements=["bogus"]"#,
    ]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("is not a Redis ACL rule"),
        "{}",
        bad.stderr
    );
    // The unknown category above is refused at issue time, creating nothing.
    let refused = bao.run(&["read", &format!("database/creds/{}", place.role)]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("Code: 400"), "{}", refused.stderr);
    assert!(users_with_prefix(&place.prefix).is_empty());
    bao.ok(&[
        "write",
        &role_path,
        r#"creation_statements=["~cache:*", "+@read", "+acl|whoami"]"#,
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
    assert!(username.starts_with(&place.prefix), "{username}");
    assert_eq!(creds["lease_duration"], 900);
    assert_eq!(whoami(username, password), username);
    assert_eq!(whoami(username, "wrong"), "default");

    let config = bao
        .ok(&["read", "-format=json", "database/config/cache"])
        .json();
    assert!(!config.to_string().contains(&place.password), "{config}");
    assert_eq!(config["data"]["plugin_name"], "redis-database-plugin");

    let lease = creds["lease_id"].as_str().expect("lease_id");
    bao.ok(&["lease", "revoke", lease]);
    assert_eq!(whoami(username, password), "default");
    assert!(users_with_prefix(&place.prefix).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_redis_issuance_and_revocation_leaves_no_acl_users() {
    let place = RedisPlace::create("crash");
    kill_during_issuance_and_revocation(
        &place.role,
        place.config(),
        json!({"default_ttl": "1h", "max_ttl": "2h",
               "creation_statements": r#"["~crash:*", "+@read"]"#}),
    )
    .await;
    let left = users_with_prefix(&place.prefix);
    assert!(
        left.is_empty(),
        "ACL users created by SecretHub outlived every lease and intent: {left:?}"
    );
}
