//! Auth methods end to end, with the real binary and both CLIs: the AppRole flow of the
//! issue typed with `secrethub`, `secrethub login -method=userpass|approle`, the token living
//! as long as its role, and OpenBao's own CLI logging in the same way.

use serde_json::Value;

use crate::bao_cli::bao_binary;
use crate::harness::{self, Cli, ServerProcess};

const BILLING: &str = "path \"secret/data/billing/*\" {\n  capabilities = [\"read\"]\n}\n";

#[tokio::test]
async fn approle_and_userpass_logins_with_the_secrethub_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let admin =
        Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
    let policy = harness::write_file(dir.path(), "billing.hcl", BILLING);
    admin.ok(&["policy", "write", "billing", policy.to_str().unwrap()]);
    admin.ok(&["kv", "put", "secret/billing/stripe", "key=sk_test_123"]);

    let out = admin.ok(&["auth", "enable", "approle"]);
    assert!(
        out.stdout.contains("Enabled the approle auth method"),
        "{out:?}"
    );
    admin.ok(&[
        "write",
        "auth/approle/role/billing",
        "token_policies=billing",
        "token_ttl=20m",
        "secret_id_ttl=10m",
        "secret_id_num_uses=1",
    ]);
    let role_id = admin
        .ok(&[
            "read",
            "-field=role_id",
            "auth/approle/role/billing/role-id",
        ])
        .stdout;
    let secret_id = admin
        .ok(&[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/billing/secret-id",
        ])
        .stdout;
    let out = admin.ok(&["auth", "list"]);
    assert!(
        out.stdout.contains("approle/") && out.stdout.contains("token/"),
        "{out:?}"
    );

    // The machine logs in with role_id + secret_id (no token of its own).
    let machine = Cli::secrethub(server.addr(), &dir.path().join("machine"));
    let login = machine
        .ok(&[
            "write",
            "-format=json",
            "auth/approle/login",
            &format!("role_id={role_id}"),
            &format!("secret_id={secret_id}"),
        ])
        .json();
    let token = login["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(login["auth"]["lease_duration"], 1200);
    assert_eq!(login["auth"]["metadata"]["role_name"], "billing");
    let as_machine = machine.clone().env("SECRETHUB_TOKEN", &token);
    let out = as_machine.ok(&["kv", "get", "-field=key", "secret/billing/stripe"]);
    assert_eq!(out.stdout, "sk_test_123");
    let lookup = as_machine.ok(&["token", "lookup", "-format=json"]).json();
    assert_eq!(lookup["data"]["display_name"], "approle-billing");
    assert!(!lookup["data"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .is_empty());

    // secret_id_num_uses=1: the same secret ID cannot log in twice.
    let again = machine.run(&[
        "write",
        "auth/approle/login",
        &format!("role_id={role_id}"),
        &format!("secret_id={secret_id}"),
    ]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(
        again.stderr.contains("invalid role or secret ID"),
        "{again:?}"
    );

    // `login -method=approle` stores the token for later commands.
    let fresh = admin
        .ok(&[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/billing/secret-id",
        ])
        .stdout;
    let out = machine.ok(&[
        "login",
        "-method=approle",
        &format!("role_id={role_id}"),
        &format!("secret_id={fresh}"),
    ]);
    assert!(
        out.stdout.contains("Success! You are now authenticated"),
        "{out:?}"
    );
    let out = machine.ok(&["kv", "get", "-field=key", "secret/billing/stripe"]);
    assert_eq!(out.stdout, "sk_test_123");

    // Deleting the role stops renewal of the tokens it issued.
    admin.ok(&["delete", "auth/approle/role/billing"]);
    let out = as_machine.run(&["token", "renew"]);
    assert_eq!(out.code, 2, "{out:?}");

    // userpass: a person, with the password prompted for or given.
    admin.ok(&["auth", "enable", "userpass"]);
    admin.ok(&[
        "write",
        "auth/userpass/users/alice",
        "password=correct horse battery",
        "token_policies=billing",
    ]);
    let person = Cli::secrethub(server.addr(), &dir.path().join("person"));
    let out = person.ok(&[
        "login",
        "-method=userpass",
        "username=alice",
        "password=correct horse battery",
    ]);
    assert!(
        out.stdout.contains("userpass-alice") || out.stdout.contains("token_meta_username"),
        "{out:?}"
    );
    let out = person.ok(&["kv", "get", "-field=key", "secret/billing/stripe"]);
    assert_eq!(out.stdout, "sk_test_123");
    let bad = person.run(&[
        "login",
        "-method=userpass",
        "username=alice",
        "password=wrong",
    ]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("invalid username or password"),
        "{bad:?}"
    );
    let text = server.log();
    assert!(
        !text.contains("correct horse battery"),
        "passwords never reach the log"
    );
    assert!(!text.contains(&secret_id), "secret IDs never reach the log");
}

#[tokio::test]
async fn bao_cli_logs_in_with_userpass_and_approle() {
    let bao_path = bao_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    let bao = Cli::bao(&bao_path, server.addr(), &dir.path().join("home"));
    let admin = bao.clone().env("VAULT_TOKEN", &root);
    admin.ok(&["auth", "enable", "userpass"]);
    admin.ok(&[
        "write",
        "auth/userpass/users/bob",
        "password=hunter2-hunter2",
        "token_policies=default",
    ]);
    let out = bao.ok(&[
        "login",
        "-method=userpass",
        "-format=json",
        "username=bob",
        "password=hunter2-hunter2",
    ]);
    let v: Value = out.json();
    assert_eq!(v["auth"]["metadata"]["username"], "bob", "{out:?}");
    let out = bao.ok(&["token", "lookup", "-format=json"]);
    assert_eq!(out.json()["data"]["display_name"], "userpass-bob");

    admin.ok(&["auth", "enable", "approle"]);
    admin.ok(&[
        "write",
        "auth/approle/role/ci",
        "token_policies=default",
        "token_ttl=5m",
    ]);
    let role_id = admin
        .ok(&["read", "-field=role_id", "auth/approle/role/ci/role-id"])
        .stdout;
    let secret_id = admin
        .ok(&[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/ci/secret-id",
        ])
        .stdout;
    let out = bao.ok(&[
        "write",
        "-format=json",
        "auth/approle/login",
        &format!("role_id={role_id}"),
        &format!("secret_id={secret_id}"),
    ]);
    let v: Value = out.json();
    assert_eq!(v["auth"]["lease_duration"], 300, "{out:?}");
    let out = admin.ok(&["auth", "list", "-format=json"]);
    let mounts: Value = out.json();
    assert_eq!(mounts["approle/"]["type"], "approle");
    assert_eq!(mounts["userpass/"]["type"], "userpass");
}
