//! The operator's first day, end to end with the embedded storage file: init, unseal, login,
//! a KV secret, a read-only policy and token, a restart that comes back sealed with the data
//! intact, and a seal that makes the API answer 503.

use crate::harness::{self, assert_errors_shape, Cli, ServerProcess, PLAIN_LISTENER};

const APP_READ_POLICY: &str = r#"path "secret/data/app/*" {
  capabilities = ["read"]
}
"#;

#[tokio::test]
async fn cli_flow_with_file_storage_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").join("secrethub.db");
    std::fs::create_dir_all(data.parent().expect("has a parent")).expect("data dir");
    let config = format!(
        "storage \"file\" {{\n  path = {:?}\n}}\n{PLAIN_LISTENER}",
        data
    );
    let config = harness::write_file(dir.path(), "server.hcl", &config);
    let home = dir.path().join("home");

    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(server.addr(), &home);

    // Sealed and uninitialised: `status` says so with exit code 2.
    assert_eq!(cli.run(&["status"]).code, 2);
    let init = cli
        .ok(&[
            "operator",
            "init",
            "-key-shares",
            "5",
            "-key-threshold",
            "3",
            "-format=json",
        ])
        .json();
    let keys = harness::unseal_keys(&init);
    assert_eq!(keys.len(), 5, "{init}");
    let root = harness::root_token(&init);
    for key in &keys[..2] {
        cli.ok(&["operator", "unseal", key]);
        assert_eq!(
            cli.run(&["status"]).code,
            2,
            "still sealed below the threshold"
        );
    }
    cli.ok(&["operator", "unseal", &keys[2]]);
    assert_eq!(cli.run(&["status"]).code, 0, "unsealed at the threshold");

    // `login` stores the token in ~/.secrethub-token, private to the user; later commands
    // carry no token of their own and use it.
    cli.ok(&["login", &root]);
    let helper = home.join(".secrethub-token");
    assert_eq!(
        std::fs::read_to_string(&helper)
            .expect("token helper file")
            .trim(),
        root
    );
    assert_token_file_is_private(&helper);

    cli.ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
    cli.ok(&["kv", "put", "secret/app/db", "password=s3cret"]);
    let got = cli.ok(&["kv", "get", "-field=password", "secret/app/db"]);
    assert_eq!(got.stdout, "s3cret");

    let policy = harness::write_file(dir.path(), "app-read.hcl", APP_READ_POLICY);
    cli.ok(&[
        "policy",
        "write",
        "app-read",
        policy.to_str().expect("UTF-8 path"),
    ]);
    let created = cli
        .ok(&[
            "token",
            "create",
            "-policy=app-read",
            "-ttl=1h",
            "-format=json",
        ])
        .json();
    let app_token = created["auth"]["client_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no client_token in {created}"))
        .to_string();
    assert_eq!(created["auth"]["lease_duration"], 3600, "{created}");
    assert!(
        created["auth"]["policies"]
            .as_array()
            .is_some_and(|p| p.contains(&"app-read".into())),
        "{created}"
    );

    let app = cli.clone().env("SECRETHUB_TOKEN", &app_token);
    assert_app_token_reads_but_cannot_write(&app);

    // Restart on the same file: the server comes back sealed and keeps everything.
    let status = server.stop().await;
    assert!(
        status.success(),
        "server did not exit cleanly on SIGTERM: {status}"
    );
    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(server.addr(), &home);
    assert_eq!(cli.run(&["status"]).code, 2, "a restarted server is sealed");
    // Any three shares will do; use a different set than before.
    for key in &keys[2..] {
        cli.ok(&["operator", "unseal", key]);
    }
    assert_eq!(cli.run(&["status"]).code, 0);
    assert_eq!(
        cli.ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        "s3cret"
    );
    assert_app_token_reads_but_cannot_write(&cli.clone().env("SECRETHUB_TOKEN", &app_token));

    // Sealing makes every API call answer 503 in Vault's error shape.
    cli.ok(&["operator", "seal"]);
    assert_eq!(cli.run(&["status"]).code, 2);
    let (code, body) = server.get_json("secret/data/app/db", &root).await;
    assert_eq!(code, 503, "{body}");
    assert_errors_shape(code, &body);
}

fn assert_app_token_reads_but_cannot_write(app: &Cli) {
    let read = app.run(&["kv", "get", "-field=password", "secret/app/db"]);
    assert_eq!(
        (read.code, read.stdout.as_str()),
        (0, "s3cret"),
        "a read-only token can read: {read:?}"
    );
    let write = app.run(&["kv", "put", "secret/app/db", "password=stolen"]);
    assert_eq!(write.code, 2, "a read-only token cannot write: {write:?}");
    assert!(write.stderr.contains("permission denied"), "{write:?}");
}

#[cfg(unix)]
fn assert_token_file_is_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .expect("token helper metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "token helper file mode is {mode:o}");
}

#[cfg(not(unix))]
fn assert_token_file_is_private(_: &std::path::Path) {}
