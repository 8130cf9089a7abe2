//! The seed documents' configuration as written, through the real binary against a real dev
//! server: the integration story's bare `${secret:ai/anthropic/api-key}` references (read
//! under the default KV mount), its provider names (`local-file`, …) as aliases, and the user
//! guide's environment variables: `SECRETHUB_CORE_URL` in place of `SECRETHUB_ADDR`,
//! `DATABASE_URL` for PostgreSQL storage, and clear errors for values that cannot be used.

use crate::harness::{self, Cli, PgDatabase, ServerProcess, PLAIN_LISTENER};

/// A dev server whose `secret/` holds the story's two AI secrets: one written as
/// `{"value": …}`, one with a single field of another name.
async fn story_server(dir: &std::path::Path) -> (ServerProcess, Cli) {
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir, &root, &[]).await;
    let admin = Cli::secrethub(server.addr(), &dir.join("admin")).env("SECRETHUB_TOKEN", &root);
    admin.ok(&[
        "kv",
        "put",
        "secret/ai/anthropic/api-key",
        "value=sk-ant-story-1",
    ]);
    admin.ok(&[
        "kv",
        "put",
        "secret/ai/anthropic/endpoint",
        "api-key=https://api.anthropic.example",
    ]);
    (server, admin)
}

/// The story's `config.yaml`, its AI part.
const CONFIG_YAML: &str = "ai:
  providers:
    anthropic:
      apiKey: '${secret:ai/anthropic/api-key}'
      endpoint: '${secret:ai/anthropic/endpoint}'
";

#[tokio::test]
async fn bare_references_are_read_under_the_default_kv_mount() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, admin) = story_server(dir.path()).await;
    let template = harness::write_file(dir.path(), "config.yaml", CONFIG_YAML);
    let template = template.to_str().unwrap();

    let out = admin.ok(&["template", "render", template]);
    assert_eq!(
        out.stdout,
        "ai:\n  providers:\n    anthropic:\n      apiKey: 'sk-ant-story-1'\n      endpoint: 'https://api.anthropic.example'\n"
    );

    // secrethub run, addressed through the user guide's SECRETHUB_CORE_URL alone.
    let core_url = admin
        .clone()
        .env("SECRETHUB_ADDR", "")
        .env("SECRETHUB_CORE_URL", server.addr());
    let out = core_url.ok(&[
        "run",
        "--env",
        "KEY=${secret:ai/anthropic/api-key}",
        "--",
        "sh",
        "-c",
        "echo \"key=$KEY\"",
    ]);
    assert_eq!(out.stdout, "key=sk-ant-story-1\n");

    // Paths under a mount are read as before; without a default mount a bare path has none.
    let out = admin.ok(&[
        "run",
        "--env",
        "KEY=${secret:secret/ai/anthropic/api-key}",
        "--",
        "sh",
        "-c",
        "echo \"key=$KEY\"",
    ]);
    assert_eq!(out.stdout, "key=sk-ant-story-1\n");
    let off = admin.run(&["template", "render", "--default-kv-mount", "", template]);
    assert_ne!(off.code, 0, "{off:?}");
    assert!(off.stderr.contains("ai/anthropic/api-key"), "{off:?}");
    assert!(!off.stderr.contains("sk-ant-story-1"), "{off:?}");

    // Another default mount, from agent.hcl's vault stanza; the flag wins over it. The file's
    // address is dead: SECRETHUB_ADDR wins over it.
    admin.ok(&["secrets", "enable", "-path=team", "kv-v2"]);
    admin.ok(&[
        "kv",
        "put",
        "team/ai/anthropic/api-key",
        "value=sk-ant-team",
    ]);
    let config = harness::write_file(
        dir.path(),
        "run.hcl",
        "vault {\n  address = \"http://127.0.0.1:9\"\n  default_kv_mount = \"team\"\n}\n",
    );
    let config = config.to_str().unwrap();
    let key_only = harness::write_file(dir.path(), "key.tmpl", "${secret:ai/anthropic/api-key}");
    let key_only = key_only.to_str().unwrap();
    let out = admin.ok(&["template", "render", "-config", config, key_only]);
    assert_eq!(out.stdout, "sk-ant-team");
    let out = admin.ok(&[
        "template",
        "render",
        "-config",
        config,
        "--default-kv-mount",
        "secret",
        key_only,
    ]);
    assert_eq!(out.stdout, "sk-ant-story-1");
}

#[tokio::test]
async fn the_story_provider_names_work_as_types_and_in_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, admin) = story_server(dir.path()).await;
    harness::write_file(
        dir.path(),
        "dev.yaml",
        "git:\n  github:\n    token: ghp-from-file\n",
    );
    let config = harness::write_file(
        dir.path(),
        "run.hcl",
        "provider \"dev\" {\n  type = \"local-file\"\n  path = \"dev.yaml\"\n}\n",
    );
    let template = harness::write_file(
        dir.path(),
        "app.tmpl",
        "token=${secret:local-file:git/github#token} again=${secret:dev:git/github#token} \
         key=${secret:ai/anthropic/api-key}\n",
    );
    let out = admin.ok(&[
        "template",
        "render",
        "-config",
        config.to_str().unwrap(),
        template.to_str().unwrap(),
    ]);
    assert_eq!(
        out.stdout,
        "token=ghp-from-file again=ghp-from-file key=sk-ant-story-1\n"
    );
}

/// The storage type `sys/seal-status` reports.
fn storage_type(cli: &Cli) -> String {
    let status = cli.run(&["status", "-format=json"]);
    status.json()["storage_type"]
        .as_str()
        .unwrap_or_else(|| panic!("{status:?}"))
        .to_string()
}

#[tokio::test]
async fn database_url_selects_postgresql_storage_over_the_config_file() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    // The file asks for an embedded database file; DATABASE_URL wins over it.
    let config = harness::write_file(
        dir.path(),
        "server.hcl",
        &format!("storage \"file\" {{\n  path = \"data.db\"\n}}\n{PLAIN_LISTENER}"),
    );
    let env = [
        ("DATABASE_URL", db.url()),
        ("LEASE_CLEANUP_INTERVAL", "250".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = ServerProcess::with_config_env(dir.path(), &config, &env).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home"));
    let init = harness::init_and_unseal(&cli, 1, 1);
    let cli = cli.env("SECRETHUB_TOKEN", &harness::root_token(&init));
    assert_eq!(storage_type(&cli), "postgresql");
    cli.ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
    cli.ok(&["kv", "put", "secret/app", "k=in-postgres"]);
    assert!(
        !dir.path().join("data.db").exists(),
        "the file storage was opened"
    );
    drop(server);

    // Restarted with DATABASE_URL: the same data, sealed until unsealed.
    let server = ServerProcess::with_config_env(dir.path(), &config, &env).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home"))
        .env("SECRETHUB_TOKEN", &harness::root_token(&init));
    assert_eq!(cli.run(&["status"]).code, 2, "sealed");
    cli.ok(&["operator", "unseal", &harness::unseal_keys(&init)[0]]);
    let out = cli.ok(&["kv", "get", "-field=k", "secret/app"]);
    assert_eq!(out.stdout.trim(), "in-postgres");
    drop(server);

    // Without the variable the file's storage stanza applies: a new, empty storage.
    let other = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(other.addr(), &dir.path().join("home2"));
    let status = cli.run(&["status", "-format=json"]);
    assert_eq!(status.json()["initialized"], false, "{status:?}");
}

#[tokio::test]
async fn dev_keeps_memory_storage_whatever_database_url_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let env = [("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")];
    let server = ServerProcess::dev(dir.path(), &root, &env).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home")).env("SECRETHUB_TOKEN", &root);
    assert_eq!(storage_type(&cli), "inmem");
    assert!(
        server.log().contains("DATABASE_URL is ignored"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn unusable_values_stop_the_command_naming_the_variable_not_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = harness::write_file(dir.path(), "server.hcl", PLAIN_LISTENER);
    let config = config.to_str().unwrap();
    let cli = Cli::secrethub("http://127.0.0.1:9", &dir.path().join("home"));
    for (name, value, args) in [
        (
            "DATABASE_URL",
            "mysql://root:hunter2@db/app",
            vec!["server", "-config", config],
        ),
        (
            "LEASE_CLEANUP_INTERVAL",
            "hunter2",
            vec!["server", "-config", config],
        ),
        (
            "LEASE_RENEWAL_THRESHOLD",
            "hunter2",
            vec!["run", "--", "true"],
        ),
        (
            "LEASE_RENEWAL_RETRIES",
            "hunter2",
            vec!["run", "--", "true"],
        ),
    ] {
        let out = cli.clone().env(name, value).run(&args);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("invalid environment variable {name}")),
            "{out:?}"
        );
        assert!(!out.stderr.contains("hunter2"), "{out:?}");
    }
}
