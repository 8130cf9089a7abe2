//! The seed documents' configuration as written, through the real binary against a real dev
//! server: the integration story's bare `${secret:ai/anthropic/api-key}` references (read
//! under the default KV mount), its provider names (`local-file`, …) as aliases, and the user
//! guide's `SECRETHUB_CORE_URL` in place of `SECRETHUB_ADDR`.

use crate::harness::{self, Cli, ServerProcess};

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
    let (_server, admin) = story_server(dir.path()).await;
    let template = harness::write_file(dir.path(), "config.yaml", CONFIG_YAML);
    let template = template.to_str().unwrap();

    let out = admin.ok(&["template", "render", template]);
    assert_eq!(
        out.stdout,
        "ai:\n  providers:\n    anthropic:\n      apiKey: 'sk-ant-story-1'\n      endpoint: 'https://api.anthropic.example'\n"
    );

    let out = admin.ok(&[
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

    // Another default mount, from agent.hcl's vault stanza; the flag wins over it.
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
        "vault {\n  default_kv_mount = \"team\"\n}\n",
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
