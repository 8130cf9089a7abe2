//! `secrethub scan` through the real binary on a small microservice tree: the secrets in its
//! `.env`, Spring `application.yml`, Kubernetes `Secret` (base64 under `data:`), CI config
//! and a PEM file are found with their file, line, rule and type; placeholders, an allowed
//! line, a lock file and `node_modules` are not; no output (text, JSON, SARIF, stderr)
//! carries a secret; the exit code says whether anything was found. `advise.rs` is the
//! report, plan and apply; `git.rs` is `--git` and `--staged`.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::harness::SECRETHUB;

mod advise;
mod apply;
mod git;

/// The fixture's secrets, each of which must never appear in any output.
const DB_PASSWORD: &str = "Kp9wLq2vX7mNz";
const STRIPE: &str = "sk_live_51Hq3xN8vLp2ZtRk2vLq9wXz4mNp3sYb6cHf1j";
const SPRING_PASSWORD: &str = "r7TqV2pWx9LmZk";
const K8S_URL_PASSWORD: &str = "Wq8zR3nT6vY1pL";
const CI_TOKEN: &str = "glpat-x7Rk2vLq9wXz4mNp3sYb";
const PEM_BODY: &str = "MIIEowIBAAKCAQEAu7Qm5p9xKJ4t2vLr8wN3sYb6cHf1jUa0eGi5oVtQwDk2vX";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn fixture(root: &Path) {
    write(
        root,
        ".env",
        &format!(
            "DATABASE_URL=postgresql://orders:{DB_PASSWORD}@db.prod.internal:5432/orders\n\
             STRIPE_SECRET_KEY={STRIPE}\n\
             REDIS_PASSWORD=${{REDIS_PASSWORD}}\n"
        ),
    );
    write(
        root,
        "orders/src/main/resources/application.yml",
        &format!(
            "spring:\n  datasource:\n    url: jdbc:postgresql://db:5432/orders\n    \
             username: orders\n    password: {SPRING_PASSWORD}\n"
        ),
    );
    let url = base64::engine::general_purpose::STANDARD.encode(format!(
        "postgresql://orders:{K8S_URL_PASSWORD}@db.prod.internal:5432/orders"
    ));
    write(
        root,
        "k8s/orders-secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: orders-db\ntype: Opaque\ndata:\n  \
             DATABASE_URL: {url}\n"
        ),
    );
    write(
        root,
        ".gitlab-ci.yml",
        &format!("deploy:\n  variables:\n    GITLAB_TOKEN: {CI_TOKEN}\n"),
    );
    write(
        root,
        "certs/tls.key",
        &format!("-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\n"),
    );
    // Decoys: placeholders, an accepted line, a lock file, vendored code.
    write(
        root,
        "helm/values.yaml",
        "db:\n  password: {{ .Values.db.password }}\n  apiKey: changeme\n",
    );
    write(
        root,
        "docs/example.env",
        &format!("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nSTRIPE={STRIPE} # secrethub:allow\n"),
    );
    write(
        root,
        "package-lock.json",
        &format!("{{\"x\": \"{STRIPE}\"}}\n"),
    );
    write(
        root,
        "node_modules/pkg/.env",
        &format!("TOKEN={CI_TOKEN}\n"),
    );
}

/// `secrethub scan ARGS` (in `cwd` when given): exit code, stdout, stderr; fails when any
/// of `never` reached stdout or stderr.
fn run_scan(cwd: Option<&Path>, args: &[&str], never: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(SECRETHUB);
    command.arg("scan").args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let out = command.output().expect("secrethub runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in never {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret reached the output of scan {args:?}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// `secrethub scan ARGS` over the fixture: none of its secrets may reach the output.
fn scan(args: &[&str]) -> (i32, String, String) {
    let secrets = [
        DB_PASSWORD,
        STRIPE,
        SPRING_PASSWORD,
        K8S_URL_PASSWORD,
        CI_TOKEN,
        PEM_BODY,
    ];
    run_scan(None, args, &secrets)
}

#[test]
fn scan_finds_the_fixtures_secrets_and_nothing_else_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(root);
    let root_arg = root.to_str().unwrap();

    let (code, stdout, stderr) = scan(&["-format=json", root_arg]);
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(String, u64, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (".env", 1, "database-url", "database_credentials"),
        (".env", 2, "stripe-key", "api_keys"),
        (".gitlab-ci.yml", 3, "gitlab-token", "api_keys"),
        ("certs/tls.key", 1, "private-key", "tls_certs"),
        (
            "k8s/orders-secret.yaml",
            7,
            "database-url",
            "database_credentials",
        ),
        (
            "orders/src/main/resources/application.yml",
            5,
            "generic-password",
            "database_credentials",
        ),
    ];
    let expected: Vec<(String, u64, String, String)> = expected
        .iter()
        .map(|(p, l, r, t)| (p.to_string(), *l, r.to_string(), t.to_string()))
        .collect();
    assert_eq!(found, expected, "{stdout}");
    assert_eq!(
        report["findings"][4]["decoded_from"],
        "base64 (Kubernetes Secret data)"
    );
    assert!(stderr.contains("6 findings"), "{stderr}");
    // Part 2: where each is kept, how risky, and what replaces it.
    let classified: Vec<(String, String, bool, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["current_storage"].as_str().unwrap().to_string(),
                f["risk_level"].as_str().unwrap().to_string(),
                f["dynamic_eligible"].as_bool().unwrap(),
                f["replace_with"]["engine"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (".env", "critical", true, "database"),
        (".env", "critical", false, "kv"),
        ("CI config", "critical", false, "kv"),
        ("key files", "high", true, "pki"),
        ("Kubernetes Secrets", "critical", true, "database"),
        ("application.yml (hardcoded)", "critical", true, "database"),
    ];
    let expected: Vec<(String, String, bool, String)> = expected
        .iter()
        .map(|(s, r, d, e)| (s.to_string(), r.to_string(), *d, e.to_string()))
        .collect();
    assert_eq!(classified, expected, "{stdout}");
    assert_eq!(
        report["findings"][0]["replace_with"]["plugin"],
        "postgresql-database-plugin"
    );
    let inventory = report["secret_inventory"].as_array().unwrap();
    assert_eq!(inventory.len(), 6, "{stdout}");
    assert!(inventory.iter().all(|e| e["count"] == 1));

    let (code, stdout, _) = scan(&[root_arg]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with(".env:1:34: database-url (database_credentials) Kp******(13 chars) "),
        "{stdout}"
    );

    let (code, stdout, _) = scan(&["-format=sarif", root_arg]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 6);

    // Nothing to find: exit 0.
    let (code, _, stderr) = scan(&[root.join("helm").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("0 findings"), "{stderr}");
}

/// The shapes besides the main fixture's: docker-compose, Terraform and `.tfvars`, Spring
/// `.properties`, a GitHub Actions workflow, TOML and INI; each with a decoy of its own
/// kind (`${VAR}`, `var.x`, `${{ secrets.X }}`) that must not be reported.
#[test]
fn scan_reads_compose_terraform_properties_workflows_toml_and_ini() {
    const COMPOSE_PG: &str = "Vt8qLm2xR7pKw4zN";
    const COMPOSE_STRIPE: &str = "sk_live_51HxQmT2eZvKYlo2C9aXbQwErTyUiOpAs";
    const TFVARS: &str = "Qw7rT2yU9iO4pL1k";
    const TF_KEY_ID: &str = "AKIAQ3EGRTPLX7VNM4ZK";
    const TF_SECRET: &str = "s8Kd2Lq9Vx4Rt7Wm1Np6Zb3Hc5Jf0Gy8Ta2Qe4U";
    const PROPERTIES: &str = "Hn4vB8cX2zL6qW9e";
    const WEBHOOK: &str = "Xq7Lm2Vp9Rt4Kz8Wn3Hb6Jc1";
    const TOML: &str = "Zr5tY8uI3oP7aS2d";
    const INI: &str = "Lk9jH3gF6dS1aQ8w";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "docker-compose.yml",
        &format!(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      \
             - POSTGRES_PASSWORD={COMPOSE_PG}\n      - POSTGRES_USER=${{PGUSER}}\n  api:\n    \
             environment:\n      STRIPE_API_KEY: {COMPOSE_STRIPE}\n"
        ),
    );
    write(
        root,
        "infra/terraform.tfvars",
        &format!("db_password = \"{TFVARS}\"\nregion      = \"eu-west-1\"\n"),
    );
    write(
        root,
        "infra/main.tf",
        &format!(
            "provider \"aws\" {{\n  region     = var.region\n  access_key = \"{TF_KEY_ID}\"\n  \
             secret_key = \"{TF_SECRET}\"\n}}\nvariable \"api_token\" {{\n  default = var.other\n}}\n"
        ),
    );
    write(
        root,
        "billing/src/main/resources/application.properties",
        &format!(
            "spring.datasource.url=jdbc:mysql://billing-db.prod.internal:3306/billing\n\
             spring.datasource.username=billing\nspring.datasource.password={PROPERTIES}\n\
             spring.mail.password=${{MAIL_PASSWORD}}\n"
        ),
    );
    write(
        root,
        ".github/workflows/deploy.yml",
        &format!(
            "jobs:\n  deploy:\n    env:\n      SLACK_WEBHOOK_URL: \
             https://hooks.slack.com/services/T024BE7LD/B01ABCDEF9G/{WEBHOOK}\n      \
             NPM_TOKEN: ${{{{ secrets.NPM_TOKEN }}}}\n"
        ),
    );
    write(
        root,
        "config.toml",
        &format!(
            "[database]\nhost = \"reports-db.prod.internal\"\npassword = \"{TOML}\"\n[cache]\n\
             password = \"${{CACHE_PASSWORD}}\"\n"
        ),
    );
    write(
        root,
        "settings.ini",
        &format!("[smtp]\nuser = mailer\npassword = {INI}\n"),
    );

    let secrets = [
        COMPOSE_PG,
        COMPOSE_STRIPE,
        TFVARS,
        TF_KEY_ID,
        TF_SECRET,
        PROPERTIES,
        WEBHOOK,
        TOML,
        INI,
    ];
    let (code, stdout, stderr) =
        run_scan(None, &["-format=json", root.to_str().unwrap()], &secrets);
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(String, u64, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["current_storage"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (".github/workflows/deploy.yml", 4, "CI config"),
        (
            "billing/src/main/resources/application.properties",
            3,
            "application.properties (hardcoded)",
        ),
        ("config.toml", 3, "config files"),
        ("docker-compose.yml", 5, "docker-compose"),
        ("docker-compose.yml", 9, "docker-compose"),
        ("infra/main.tf", 3, "Terraform"),
        ("infra/main.tf", 4, "Terraform"),
        ("infra/terraform.tfvars", 1, "Terraform"),
        ("settings.ini", 3, "config files"),
    ];
    let expected: Vec<(String, u64, String)> = expected
        .iter()
        .map(|(p, l, s)| (p.to_string(), *l, s.to_string()))
        .collect();
    assert_eq!(found, expected, "{stdout}");
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules[0], "slack-webhook");
    assert_eq!(rules[4], "stripe-key");
    assert_eq!(rules[5], "aws-access-key-id");
}

#[test]
fn scan_rules_check_runs_every_rules_examples() {
    let (code, stdout, stderr) = scan(&["rules", "check"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.ends_with("0 failing\n"), "{stdout}");
    let (code, stdout, _) = scan(&["rules", "list"]);
    assert_eq!(code, 0);
    assert!(stdout.lines().any(|l| l.starts_with("aws-access-key-id ")));
    let (code, _, stderr) = scan(&["-format=xml", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown report format"), "{stderr}");
}

#[test]
fn a_baseline_accepts_known_findings_and_ignore_patterns_leave_paths_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    fixture(&root);
    let root_arg = root.to_str().unwrap();
    let (_, stdout, _) = scan(&["-format=json", root_arg]);
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, stdout).unwrap();

    // A new secret after the baseline: only it is reported.
    let env = std::fs::read_to_string(root.join(".env")).unwrap();
    std::fs::write(
        root.join(".env"),
        format!("{env}NPM_TOKEN=npm_Rk2vLq9wXz4mNp3sYb6cHf1jUa0eGi5oVtQw\n"),
    )
    .unwrap();
    let baseline_arg = format!("--baseline={}", baseline.display());
    let (code, stdout, stderr) = scan(&[&baseline_arg, root_arg]);
    assert_eq!(code, 1);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(".env:4:11: npm-token "), "{stdout}");
    assert!(
        stderr.contains("1 finding (6 more accepted by the baseline)"),
        "{stderr}"
    );

    // Ignore patterns: the root's .secrethubignore and --ignore.
    std::fs::write(
        root.join(".secrethubignore"),
        "# fixtures\ncerts/\nk8s/*.yaml\n",
    )
    .unwrap();
    let (code, stdout, _) = scan(&["--ignore=.gitlab-ci.yml", root_arg]);
    assert_eq!(code, 1);
    let paths: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            ".env",
            ".env",
            ".env",
            "orders/src/main/resources/application.yml"
        ],
        "{stdout}"
    );
    let (code, _, stderr) = scan(&["--baseline=/nonexistent.json", root_arg]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the baseline"), "{stderr}");
}
