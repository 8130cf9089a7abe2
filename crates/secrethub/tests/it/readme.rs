//! Every command the README shows is run by a test, so the README cannot drift from the
//! binary. This test reads README.md's ```sh blocks and checks each command against
//! [`STEPS`]: a command is either run here, in order, by one `sh -e` script against a real dev
//! server (as written, or with its placeholders such as `…` and `<lease_id>` filled in), or
//! names the test that runs it elsewhere (that test must exist). A README command missing from
//! the table fails the test, and so does a table entry the README no longer shows.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::{self, PgDatabase, ServerProcess, SECRETHUB};

/// How a README command is covered.
enum How {
    /// Run as the README writes it.
    AsWritten,
    /// Run as this shell text (the README's placeholders filled in).
    As(&'static str),
    /// Run by another test: `(file under crates/secrethub/tests/it, test function)`.
    Elsewhere(&'static str, &'static str),
    /// The suite's own entry point (`.ci/run` runs it, and this test is part of it).
    Runner,
}

/// One step of the scenario: a README command, or a line the scenario adds (preparing files,
/// capturing an ID, checking what a user would see).
enum Step {
    Readme(&'static str, How),
    Extra(&'static str),
}

use How::*;
use Step::*;

/// The README's commands in the order the script runs them, with the lines the scenario adds.
const STEPS: &[Step] = &[
    Readme("cargo run --release -- server --dev", Elsewhere("harness.rs", "dev_with")),
    Readme("scripts/test", Runner),
    // Using it.
    Readme(
        "export SECRETHUB_ADDR=http://127.0.0.1:8200 SECRETHUB_TOKEN=<root token printed by the dev server>",
        As("export SECRETHUB_ADDR=\"$ADDR\" SECRETHUB_TOKEN=\"$ROOT\""),
    ),
    Readme("secrethub kv put secret/app/db password=s3cret", AsWritten),
    Readme("secrethub kv get -field=password secret/app/db", AsWritten),
    Readme("secrethub kv put secret/app/db password=rotated", AsWritten),
    Readme("secrethub kv rollback -version=1 secret/app/db", AsWritten),
    Extra("test \"$(secrethub kv get -field=password secret/app/db)\" = s3cret"),
    Readme("secrethub policy write app-read app-read.hcl", AsWritten),
    Readme("secrethub token create -policy=app-read -ttl=1h", AsWritten),
    Extra("APP_TOKEN=$(secrethub token create -policy=app-read -ttl=1h -field=token)"),
    Extra("test \"$(SECRETHUB_TOKEN=$APP_TOKEN secrethub kv get -field=password secret/app/db)\" = s3cret"),
    Extra("! SECRETHUB_TOKEN=$APP_TOKEN secrethub kv put secret/app/db password=stolen"),
    // A real server.
    Readme("secrethub server -config server.hcl", Elsewhere("file_storage.rs", "cli_flow_with_file_storage_survives_restart")),
    Readme("secrethub operator init -key-shares 5 -key-threshold 3", Elsewhere("tls.rs", "tls_listener_serves_https_to_clients_that_trust_it")),
    Readme("secrethub operator unseal <key>     # three times", Elsewhere("tls.rs", "tls_listener_serves_https_to_clients_that_trust_it")),
    Readme("secrethub login <root token>", As("secrethub login \"$ROOT\"")),
    Readme("secrethub secrets enable -path=secret kv-v2", Elsewhere("file_storage.rs", "cli_flow_with_file_storage_survives_restart")),
    // The database engine, on the machine's PostgreSQL.
    Readme("secrethub secrets enable database", AsWritten),
    Readme(
        "secrethub write database/config/analytics plugin_name=postgresql-database-plugin connection_url='postgresql://{{username}}:{{password}}@db.internal:5432/analytics_db' username=secrethub_admin password=… allowed_roles='readonly-analytics'",
        As("secrethub write database/config/analytics plugin_name=postgresql-database-plugin connection_url=\"postgresql://{{username}}:{{password}}@127.0.0.1:5432/$DB?sslmode=disable\" username=postgres password=unused allowed_roles='readonly-analytics'"),
    ),
    Readme(
        "secrethub write database/roles/readonly-analytics db_name=analytics default_ttl=1h max_ttl=24h creation_statements=@create.sql",
        AsWritten,
    ),
    Readme("secrethub read database/creds/readonly-analytics", AsWritten),
    Extra("LEASE_ID=$(secrethub read -format=json database/creds/readonly-analytics | sed -n 's/.*\"lease_id\": *\"\\([^\"]*\\)\".*/\\1/p')"),
    Readme("secrethub lease renew -increment=1h <lease_id>", As("secrethub lease renew -increment=1h \"$LEASE_ID\"")),
    Readme("secrethub lease revoke -prefix database/creds/readonly-analytics", AsWritten),
    // MySQL, Redis and MongoDB: configs and roles are written here (the connection is not
    // verified: `db`, `mongo` do not resolve); issuing runs in the plugins' own real-server tests.
    Readme(
        "secrethub write database/config/shop plugin_name=mysql-database-plugin connection_url='{{username}}:{{password}}@tcp(db:3306)/' username=secrethub_admin password=… allowed_roles=app",
        As("secrethub write database/config/shop plugin_name=mysql-database-plugin connection_url='{{username}}:{{password}}@tcp(db:3306)/' username=secrethub_admin password=unused allowed_roles=app verify_connection=false"),
    ),
    Readme(
        "secrethub write database/roles/app db_name=shop default_ttl=1h max_ttl=24h creation_statements=\"CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON shop.* TO '{{name}}'@'%';\"",
        AsWritten,
    ),
    Readme(
        "secrethub write database/config/cache plugin_name=redis-database-plugin host=127.0.0.1 port=6379 username=secrethub_admin password=… allowed_roles=reader",
        As("secrethub write database/config/cache plugin_name=redis-database-plugin host=127.0.0.1 port=6379 username=secrethub_admin password=unused allowed_roles=reader verify_connection=false"),
    ),
    Readme(
        "secrethub write database/roles/reader db_name=cache creation_statements='[\"~cache:*\", \"+@read\"]' default_ttl=15m",
        AsWritten,
    ),
    Readme(
        "secrethub read database/creds/reader          # AUTH <username> <password>; NOPERM outside its rules",
        Elsewhere("redis.rs", "bao_cli_issues_and_revokes_redis_credentials"),
    ),
    Readme(
        "secrethub write database/config/docs plugin_name=mongodb-database-plugin connection_url='mongodb://{{username}}:{{password}}@mongo:27017/admin' username=secrethub_admin password=… allowed_roles=docs-rw",
        As("secrethub write database/config/docs plugin_name=mongodb-database-plugin connection_url='mongodb://{{username}}:{{password}}@mongo:27017/admin' username=secrethub_admin password=unused allowed_roles=docs-rw verify_connection=false"),
    ),
    Readme(
        "secrethub write database/roles/docs-rw db_name=docs creation_statements='{\"db\": \"admin\", \"roles\": [{\"role\": \"readWrite\", \"db\": \"docs\"}]}'",
        AsWritten,
    ),
    // Auth methods.
    Readme("secrethub auth enable approle", AsWritten),
    Readme(
        "secrethub write auth/approle/role/billing token_policies=billing token_ttl=20m secret_id_ttl=10m secret_id_num_uses=1",
        AsWritten,
    ),
    Readme(
        "secrethub read auth/approle/role/billing/role-id ; secrethub write -f auth/approle/role/billing/secret-id",
        AsWritten,
    ),
    Extra("ROLE_ID=$(secrethub read -field=role_id auth/approle/role/billing/role-id)"),
    Extra("SECRET_ID=$(secrethub write -f -field=secret_id auth/approle/role/billing/secret-id)"),
    Readme(
        "secrethub write auth/approle/login role_id=… secret_id=…",
        As("secrethub write auth/approle/login role_id=\"$ROLE_ID\" secret_id=\"$SECRET_ID\""),
    ),
    Readme(
        "secrethub login -method=userpass username=alice          # password prompted",
        Elsewhere("auth_cli.rs", "approle_and_userpass_logins_with_the_secrethub_cli"),
    ),
    Readme(
        "secrethub login -method=jwt role=deploy jwt=$ACTIONS_ID_TOKEN",
        Elsewhere("ci_jwt.rs", "a_ci_job_exchanges_its_oidc_token_for_database_credentials"),
    ),
    Readme(
        "secrethub login -method=kubernetes role=app               # reads the pod's service account token",
        Elsewhere("cli_logins.rs", "kubernetes_login_with_the_secrethub_cli"),
    ),
    Readme(
        "secrethub login -method=aws role=ec2-app header_value=secrethub.example.com   # AWS_* credentials",
        Elsewhere("cli_logins.rs", "aws_login_with_the_secrethub_cli"),
    ),
    Readme(
        "secrethub write sys/quotas/rate-limit/logins path=auth/approle/ role=billing rate=5 interval=1m block_interval=5m",
        AsWritten,
    ),
    Extra("test \"$(secrethub read -field=rate sys/quotas/rate-limit/logins)\" = 5"),
    // Agent, `secrethub run` and templates.
    Readme(
        "secrethub run --env DB_URL='postgresql://${secret:database/creds/readonly-analytics#username}:${secret:database/creds/readonly-analytics#password}@db:5432/analytics' -- ./app",
        AsWritten,
    ),
    Extra("grep -q '^DB_URL=postgresql://shub_' app.out"),
    Extra("secrethub kv put secret/app/api key=api-key-value"),
    Readme(
        "secrethub run --env-file app.env --mask -- ./app     # values may be ${secret:secret/app/api#key}; --mask hides them in the output",
        AsWritten,
    ),
    Extra("grep -q '^API_KEY=api-key-value$' app.out"),
    Readme("secrethub template render config.tmpl.yaml > config.yaml", AsWritten),
    Extra("grep -q '^password: s3cret$' config.yaml"),
    Readme("secrethub agent -config agent.hcl", Elsewhere("agent.rs", "agent_renews_database_credentials_and_replaces_them_before_max_ttl")),
    // Secret scanning.
    Readme("secrethub scan .", Elsewhere("scan/mod.rs", "scan_finds_the_fixtures_secrets_and_nothing_else_in_every_format")),
    Readme("secrethub scan -format=sarif . > scan.sarif", Elsewhere("scan/mod.rs", "scan_finds_the_fixtures_secrets_and_nothing_else_in_every_format")),
    Readme("secrethub scan --git .", Elsewhere("scan/git.rs", "scan_git_reports_each_secret_with_the_commit_that_brought_it_in")),
    Readme("secrethub scan --staged", Elsewhere("scan/git.rs", "scan_staged_fails_only_on_what_the_next_commit_would_add")),
    Readme("secrethub scan rules check", Elsewhere("scan/mod.rs", "scan_rules_check_runs_every_rules_examples")),
    Readme("secrethub advise --input request.json . > report.json", Elsewhere("scan/advise.rs", "advise_writes_the_documents_report_from_the_tree_and_the_request")),
    Readme("secrethub advise --input request.json --plan plan/ .", Elsewhere("scan/apply.rs", "the_plan_applied_to_a_server_moves_the_secrets_and_run_resolves_the_references")),
    Readme("secrethub advise --apply plan/", Elsewhere("scan/apply.rs", "the_plan_applied_to_a_server_moves_the_secrets_and_run_resolves_the_references")),
];

/// The commands of README.md's ```sh blocks (continuation lines joined).
fn readme_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + 6..];
        let end = body.find("```").unwrap_or(body.len());
        let mut current = String::new();
        for line in body[..end].lines() {
            let line = line.trim();
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
            if let Some(joined) = current.strip_suffix('\\') {
                current = joined.trim_end().to_string();
                continue;
            }
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        rest = &body[end..];
        rest = rest.strip_prefix("```").unwrap_or(rest);
    }
    out
}

/// The contents of the README's ```hcl block that follows `marker`.
fn hcl_after(readme: &str, marker: &str) -> String {
    let from = readme.find(marker).expect("the README names the file");
    let block = &readme[from..];
    let start = block.find("```hcl\n").expect("an hcl block follows") + 7;
    let end = block[start..].find("```").expect("the block ends");
    block[start..start + end].to_string()
}

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn every_readme_command_is_in_the_table_and_every_entry_in_the_readme() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let shown: BTreeSet<String> = readme_commands(&readme).into_iter().collect();
    let covered: BTreeSet<String> = STEPS
        .iter()
        .filter_map(|s| match s {
            Readme(cmd, _) => Some(cmd.to_string()),
            Extra(_) => None,
        })
        .collect();
    let untested: Vec<_> = shown.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&shown).collect();
    assert!(
        untested.is_empty() && stale.is_empty(),
        "README commands no test runs: {untested:#?}\ntable entries the README no longer shows: {stale:#?}"
    );
    for step in STEPS {
        if let Readme(cmd, Elsewhere(file, test)) = step {
            let source =
                std::fs::read_to_string(repo_root().join("crates/secrethub/tests/it").join(file))
                    .unwrap_or_else(|e| panic!("{cmd:?} names {file}: {e}"));
            assert!(
                source.contains(&format!("fn {test}(")),
                "{cmd:?} names {file}::{test}, which does not exist"
            );
        }
    }
}

#[tokio::test]
async fn readme_commands_work_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("root");
    let server = ServerProcess::dev(dir.path(), &root, &[]).await;
    // The dev server's banner tells the user what the README does. Its stdout is copied to a
    // file by a thread of the harness, so the line may land a moment after the health check.
    let banner = format!(
        "export SECRETHUB_ADDR='http://{}'",
        server.addr().trim_start_matches("http://")
    );
    let stdout = dir.path().join("server-1.stdout");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&stdout).is_ok_and(|s| s.contains(&banner)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the banner never said {banner:?}: {:?}",
            std::fs::read_to_string(&stdout)
        );
        tokio::time::sleep(harness::POLL_INTERVAL).await;
    }
    let db = PgDatabase::create();
    let work = dir.path();
    let files = [
        ("app-read.hcl", hcl_after(&readme, "`app-read.hcl`")),
        (
            "create.sql",
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';".into(),
        ),
        ("app.env", "API_KEY=${secret:secret/app/api#key}\n".into()),
        ("config.tmpl.yaml", "password: ${secret:secret/app/db#password}\n".into()),
        // The application `secrethub run` starts: records what it was given.
        ("app", "#!/bin/sh\nenv | grep -E '^(DB_URL|API_KEY)=' > app.out\n".into()),
    ];
    for (name, contents) in files {
        harness::write_file(work, name, &contents);
    }
    make_executable(&work.join("app"));

    let mut script = String::from("set -eu\n");
    for step in STEPS {
        let line = match step {
            Readme(cmd, AsWritten) => *cmd,
            Readme(_, As(text)) | Extra(text) => *text,
            Readme(_, Elsewhere(..) | Runner) => continue,
        };
        script.push_str(&format!("echo '+ step' >&2\n{line}\n"));
    }
    let bin_dir = Path::new(SECRETHUB)
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", work)
        .env("ADDR", server.addr())
        .env("ROOT", &root)
        .env("DB", db.name())
        .stdin(Stdio::null())
        .output()
        .expect("running sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let steps_run = stderr.matches("+ step").count();
    assert!(
        output.status.success(),
        "the README scenario stopped at step {steps_run}:\n{}\nstdout:\n{}\nstderr:\n{stderr}",
        script
            .lines()
            .filter(|l| !l.starts_with("echo '+ step'"))
            .nth(steps_run)
            .unwrap_or(""),
        String::from_utf8_lossy(&output.stdout),
    );
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
