//! `secrethub scan` through the real binary on a small microservice tree: the secrets in its
//! `.env`, Spring `application.yml`, Kubernetes `Secret` (base64 under `data:`), CI config
//! and a PEM file are found with their file, line, rule and type; placeholders, an allowed
//! line, a lock file and `node_modules` are not; no output (text, JSON, SARIF, stderr)
//! carries a secret; the exit code says whether anything was found.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use secrethub_testkit::pg_cluster::{self, Cluster};
use serde_json::{json, Value};

use crate::bao_cli::bao_binary;
use crate::harness::{Cli, SECRETHUB};

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

fn scan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SECRETHUB)
        .arg("scan")
        .args(args)
        .output()
        .expect("secrethub runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in [
        DB_PASSWORD,
        STRIPE,
        SPRING_PASSWORD,
        K8S_URL_PASSWORD,
        CI_TOKEN,
        PEM_BODY,
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret reached the output of scan {args:?}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
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

    let out = Command::new(SECRETHUB)
        .args(["scan", "-format=json"])
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for secret in [
        COMPOSE_PG,
        COMPOSE_STRIPE,
        TFVARS,
        TF_KEY_ID,
        TF_SECRET,
        PROPERTIES,
        WEBHOOK,
        TOML,
        INI,
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret reached the output"
        );
    }
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

/// The strategy document's example input.
const DOC_REQUEST: &str = r#"{
  "query": "Design secret management for a Kubernetes-based microservices platform with dynamic database credentials",
  "constraints": {
    "platform": "Kubernetes",
    "cloud_provider": "AWS",
    "secret_types": ["database_credentials", "api_keys", "tls_certs", "signing_keys"],
    "compliance": ["SOC2", "GDPR"],
    "num_services": 25
  },
  "reference_excerpt": "Secrets currently stored in Kubernetes Secrets (base64 encoded), some hardcoded in application.yml..."
}"#;

/// Checks `report` against the document's output shape: every key, and each value's type.
fn assert_document_shape(report: &Value) {
    let obj = report.as_object().expect("an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "access_policy",
            "confidence",
            "dynamic_secret_design",
            "platform_recommendation",
            "rotation_schedule",
            "secret_inventory"
        ]
    );
    for entry in report["secret_inventory"].as_array().unwrap() {
        assert!(entry["type"].is_string() && entry["count"].is_u64());
        assert!(entry["current_storage"].is_string() && entry["risk_level"].is_string());
        assert!(entry["dynamic_eligible"].is_boolean());
    }
    for key in ["primary", "justification", "deployment", "fallback"] {
        assert!(report["platform_recommendation"][key].is_string(), "{key}");
    }
    for key in [
        "auth_method",
        "policy_scope",
        "least_privilege",
        "break_glass",
    ] {
        assert!(report["access_policy"][key].is_string(), "{key}");
    }
    for row in report["rotation_schedule"].as_array().unwrap() {
        assert!(row["secret_type"].is_string() && row["interval_days"].is_u64());
        assert!(row["method"].is_string() && row["notification"].is_string());
    }
    let c = report["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
}

#[test]
fn advise_writes_the_documents_report_from_the_tree_and_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    fixture(&root);
    let input = dir.path().join("request.json");
    std::fs::write(&input, DOC_REQUEST).unwrap();
    let out = Command::new(SECRETHUB)
        .args(["advise", &format!("--input={}", input.display())])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        DB_PASSWORD,
        STRIPE,
        SPRING_PASSWORD,
        K8S_URL_PASSWORD,
        CI_TOKEN,
        PEM_BODY,
    ] {
        assert!(!stdout.contains(secret), "a secret reached the advice");
    }
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_document_shape(&report);
    // Derived from this tree: its Kubernetes Secret and .env database URLs, its live Stripe key.
    let storages: Vec<&str> = report["secret_inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["current_storage"].as_str().unwrap())
        .collect();
    assert!(storages.contains(&"Kubernetes Secrets") && storages.contains(&".env"));
    assert_eq!(
        report["dynamic_secret_design"]["database"]["engine"],
        "SecretHub database secrets engine (postgresql-database-plugin)"
    );
    assert!(report["access_policy"]["auth_method"]
        .as_str()
        .unwrap()
        .ends_with("JWT/OIDC for CI pipelines"));

    // Another tree, other constraints: another report.
    let other = dir.path().join("other");
    write(
        &other,
        "deploy.sh",
        "export MYSQL_URL=mysql://shop:Zq8wLx2vR7mNp@10.0.0.5:3306/shop\n",
    );
    std::fs::write(
        &input,
        r#"{"query": "Two VMs", "constraints": {"platform": "VMs", "num_services": 2}}"#,
    )
    .unwrap();
    let out = Command::new(SECRETHUB)
        .args(["advise", &format!("--input={}", input.display())])
        .arg(&other)
        .output()
        .unwrap();
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_document_shape(&second);
    assert_ne!(second, report);
    assert_eq!(
        second["access_policy"]["auth_method"],
        "AppRole per service"
    );
    assert_eq!(
        second["dynamic_secret_design"]["database"]["engine"],
        "SecretHub database secrets engine (mysql-database-plugin)"
    );
    assert!(second["dynamic_secret_design"].get("cloud_iam").is_none());
}

/// A secret in the fixture's GitHub Actions workflow.
const NPM_TOKEN: &str = "npm_Rk2vLq9wXz4mNp3sYb6cHf1jUa0eGi5oVtQw";

/// Every secret the plan fixtures hold: none may reach a plan file or an output.
const PLAN_SECRETS: [&str; 7] = [
    DB_PASSWORD,
    STRIPE,
    SPRING_PASSWORD,
    K8S_URL_PASSWORD,
    CI_TOKEN,
    PEM_BODY,
    NPM_TOKEN,
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in PLAN_SECRETS {
        assert!(!text.contains(secret), "a secret reached {what}");
    }
}

/// Every file under `dir`, concatenated.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&all_text(&path));
        } else {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// A database of its own on the private, password-checking PostgreSQL cluster, owned by an
/// admin login of its own (CREATEROLE, not a superuser), with one table.
struct AppDatabase {
    cluster: &'static Cluster,
    admin: String,
    name: String,
}

impl AppDatabase {
    async fn create() -> AppDatabase {
        let cluster = tokio::task::spawn_blocking(pg_cluster::cluster)
            .await
            .expect("cluster start-up thread");
        let admin = crate::harness::unique_name("plan_admin");
        let name = crate::harness::unique_name("plan_db");
        let superuser = |sql: &str| {
            cluster
                .psql_as("postgres", &cluster.password, sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        superuser(&format!(
            "CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{DB_PASSWORD}'"
        ));
        superuser(&format!("CREATE DATABASE {name} OWNER {admin}"));
        let db = AppDatabase {
            cluster,
            admin,
            name,
        };
        db.psql(
            &db.admin,
            DB_PASSWORD,
            "CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2)",
        )
        .unwrap();
        db
    }

    /// The URL an application would have in its `.env`.
    fn url(&self) -> String {
        format!(
            "postgresql://{}:{DB_PASSWORD}@127.0.0.1:{}/{}?sslmode=disable",
            self.admin, self.cluster.port, self.name
        )
    }

    /// One statement in this database as `user`, over TCP with its password checked.
    fn psql(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.cluster.bin.join("psql"))
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p"])
            .arg(self.cluster.port.to_string())
            .args(["-U", user, "-d", &self.name, "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

/// The scan fixture turned into a checkout of `github.com/acme/<repo>` on Kubernetes: its
/// `.env` and `orders/.env` point at `db`, a Deployment of `orders` runs in `namespace`, and a
/// GitHub Actions workflow holds an npm token.
fn plan_fixture(root: &Path, db: &AppDatabase, namespace: &str, repo: &str) {
    fixture(root);
    write(
        root,
        ".env",
        &format!(
            "DATABASE_URL={}\nSTRIPE_SECRET_KEY={STRIPE}\nREDIS_PASSWORD=${{REDIS_PASSWORD}}\n",
            db.url()
        ),
    );
    write(root, "orders/.env", &format!("ORDERS_DB={}\n", db.url()));
    write(
        root,
        "k8s/orders.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: orders\n  namespace: {namespace}\n\
             spec:\n  template:\n    spec:\n      serviceAccountName: orders\n      containers:\n        - name: orders\n          image: shop/orders:1\n"
        ),
    );
    write(
        root,
        ".github/workflows/deploy.yml",
        &format!("on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      NPM_TOKEN: {NPM_TOKEN}\n"),
    );
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&[
        "remote",
        "add",
        "origin",
        &format!("https://github.com/acme/{repo}.git"),
    ]);
}

/// What a role, connection or config looks like to OpenBao's CLI.
fn bao_read(bao: &Cli, path: &str) -> Value {
    bao.ok(&["read", "-format=json", path]).json()["data"].clone()
}

#[tokio::test]
async fn the_plan_applied_to_a_server_moves_the_secrets_and_run_resolves_the_references() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let db = AppDatabase::create().await;
    let namespace = crate::harness::unique_name("shop").replace('_', "-");
    let repo = crate::harness::unique_name("shop");
    plan_fixture(&root, &db, &namespace, &repo);
    let input = dir.path().join("request.json");
    std::fs::write(&input, DOC_REQUEST).unwrap();
    let plan_dir = dir.path().join("plan");
    let out = Command::new(SECRETHUB)
        .args(["advise", &format!("--input={}", input.display())])
        .arg(format!("--plan={}", plan_dir.display()))
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = all_text(&plan_dir);
    assert_no_secret("the plan", &written);
    assert!(
        !written.contains(&format!("{}:", db.admin)),
        "the admin login reached the plan"
    );
    let policy = |name: &str| {
        std::fs::read_to_string(plan_dir.join(format!("policies/{name}.hcl"))).unwrap()
    };
    assert!(policy("orders").contains("path \"secret/data/orders/*\""));
    assert!(policy("app").contains("path \"database/creds/app\""));
    assert!(!policy("app").contains("creds/orders"));

    let token = crate::harness::unique_name("root");
    let server = crate::harness::ServerProcess::dev(dir.path(), &token, &[]).await;
    // The CLI as a user of that server.
    let client = || {
        let mut c = Command::new(SECRETHUB);
        c.env("SECRETHUB_ADDR", server.addr())
            .env("SECRETHUB_TOKEN", &token)
            .env("HOME", dir.path());
        c
    };
    let apply = |plan: &Path| {
        let out = client()
            .args(["advise", &format!("--apply={}", plan.display())])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_no_secret("the apply's output", &format!("{stdout}{stderr}"));
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        stdout
    };
    let stdout = apply(&plan_dir);
    for line in [
        "kv secret/app/env#DATABASE_URL_password: imported from .env:1",
        "mount database/ (database): enabled",
        "mount kubernetes/ (kubernetes): enabled",
        "mount jwt/ (jwt): enabled",
        "mount secret/ (kv): already enabled",
        "policy orders: written",
        "database/config/app: written",
        "database/roles/app: written",
        "database/config/orders: written",
        "auth/kubernetes/role/app: written",
        "auth/kubernetes/role/orders: written",
        "auth/jwt/config: written",
        "auth/jwt/role/github-actions: written",
        "rotation of secret/app/env#STRIPE_SECRET_KEY (every 90 days): written",
        "to do by hand: configure the kubernetes auth method with your cluster",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }

    // What the server holds, as OpenBao's CLI reads it.
    let bao = Cli::bao(&bao_binary(), server.addr(), &dir.path().join("bao-home"))
        .env("VAULT_TOKEN", &token);
    let role = bao_read(&bao, "auth/kubernetes/role/orders");
    assert_eq!(role["bound_service_account_names"], json!(["orders"]));
    assert_eq!(role["bound_service_account_namespaces"], json!([namespace]));
    assert_eq!(role["token_policies"], json!(["orders"]));
    assert_eq!(role["token_ttl"], 3600);
    // app has no workload in the manifests: the namespace they use, an account of its own.
    let role = bao_read(&bao, "auth/kubernetes/role/app");
    assert_eq!(role["bound_service_account_names"], json!(["app"]));
    assert_eq!(role["bound_service_account_namespaces"], json!([namespace]));
    let connection = bao_read(&bao, "database/config/app");
    assert_eq!(connection["plugin_name"], "postgresql-database-plugin");
    assert_eq!(connection["allowed_roles"], json!(["app"]));
    assert_eq!(
        connection["connection_details"]["username"],
        db.admin.as_str()
    );
    assert_eq!(
        connection["connection_details"]["connection_url"],
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/{}?sslmode=disable",
            db.cluster.port, db.name
        )
    );
    let role = bao_read(&bao, "database/roles/app");
    assert_eq!(role["db_name"], "app");
    assert_eq!(
        (role["default_ttl"].as_u64(), role["max_ttl"].as_u64()),
        (Some(3600), Some(86400))
    );
    assert!(
        role["creation_statements"]
            .as_array()
            .unwrap()
            .contains(&json!(format!(
                "GRANT CONNECT ON DATABASE \"{}\" TO \"{{{{name}}}}\";",
                db.name
            ))),
        "{role}"
    );
    let jwt = bao_read(&bao, "auth/jwt/role/github-actions");
    assert_eq!(
        jwt["bound_claims"],
        json!({ "repository": format!("acme/{repo}") })
    );
    assert_eq!(jwt["bound_audiences"], json!(["https://github.com/acme"]));
    assert_eq!(
        (jwt["role_type"].as_str(), jwt["user_claim"].as_str()),
        (Some("jwt"), Some("repository"))
    );
    assert_eq!(jwt["token_policies"], json!(["github-actions"]));
    assert_eq!(
        bao_read(&bao, "auth/jwt/config")["bound_issuer"],
        "https://token.actions.githubusercontent.com"
    );
    let metadata = bao
        .ok(&["kv", "metadata", "get", "-format=json", "secret/app/env"])
        .json();
    assert_eq!(
        metadata["data"]["custom_metadata"]["rotation_period.STRIPE_SECRET_KEY"],
        "2160h"
    );

    // app's policy: its own creds, which log in to its database and read its table; not
    // orders' creds.
    let app_token = bao
        .ok(&["token", "create", "-policy=app", "-field=token"])
        .stdout
        .trim()
        .to_string();
    let as_app = bao.clone().env("VAULT_TOKEN", &app_token);
    let creds = bao_read(&as_app, "database/creds/app");
    let (user, password) = (
        creds["username"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    assert_eq!(
        db.psql(user, password, "SELECT count(*) FROM items")
            .as_deref(),
        Ok("2")
    );
    assert!(db.psql(user, "wrong-password", "SELECT 1").is_err());
    let denied = as_app.run(&["read", "database/creds/orders"]);
    assert_ne!(denied.code, 0);
    assert!(denied.stderr.contains("permission denied"), "{denied:?}");

    // The literals are gone from the files; references stand in their place.
    let env = std::fs::read_to_string(root.join(".env")).unwrap();
    assert!(!env.contains(DB_PASSWORD) && !env.contains(STRIPE), "{env}");
    assert!(
        env.contains(&format!(
            "postgresql://{}:${{secret:secret/app/env#DATABASE_URL_password}}@127.0.0.1",
            db.admin
        )),
        "{env}"
    );
    let yml =
        std::fs::read_to_string(root.join("orders/src/main/resources/application.yml")).unwrap();
    assert!(
        yml.contains("password: ${secret:secret/orders/application#password}"),
        "{yml}"
    );

    // `secrethub run` and `template render` resolve them back to the values.
    let run = client()
        .current_dir(&root)
        .args([
            "run",
            "--env-file",
            ".env",
            "--",
            "printenv",
            "DATABASE_URL",
            "STRIPE_SECRET_KEY",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(printed, format!("{}\n{STRIPE}\n", db.url()));
    let render = client()
        .args(["template", "render"])
        .arg(root.join("orders/src/main/resources/application.yml"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&render.stdout).contains(&format!("password: {SPRING_PASSWORD}"))
    );

    // Applying again changes nothing: the same server state, and it says so.
    let state = |bao: &Cli| {
        [
            "auth/kubernetes/role/app",
            "auth/kubernetes/role/orders",
            "auth/jwt/role/github-actions",
            "auth/jwt/config",
            "database/config/app",
            "database/roles/app",
            "database/config/orders",
            "sys/policies/acl/app",
        ]
        .map(|p| bao_read(bao, p))
    };
    let before = state(&bao);
    let mounts_before = bao.ok(&["secrets", "list", "-format=json"]).json();
    let auth_before = bao.ok(&["auth", "list", "-format=json"]).json();
    let again = apply(&plan_dir);
    assert!(
        !again.contains("imported from")
            && !again.contains(": written")
            && !again.contains(": updated")
            && !again.contains(": enabled")
            && !again.contains(": now "),
        "{again}"
    );
    assert!(
        again.contains("database/config/app: already in place"),
        "{again}"
    );
    assert!(
        again.contains("auth/kubernetes/role/orders: already in place"),
        "{again}"
    );
    assert!(
        again.contains("mount database/ (database): already enabled"),
        "{again}"
    );
    assert_eq!(state(&bao), before);
    assert_eq!(
        bao.ok(&["secrets", "list", "-format=json"]).json(),
        mounts_before
    );
    assert_eq!(
        bao.ok(&["auth", "list", "-format=json"]).json(),
        auth_before
    );
    assert_no_secret("the plan after applying it", &all_text(&plan_dir));

    // A jwt mount someone configured for another issuer is not taken over.
    let other = "https://ci.example.invalid/jwks";
    bao.ok(&[
        "write",
        "auth/jwt/config",
        &format!("jwks_url={other}"),
        "skip_jwks_validation=true",
    ]);
    let out = client()
        .args(["advise", &format!("--apply={}", plan_dir.display())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: auth/jwt/config already trusts {other}; left as it is"
        )),
        "{stderr}"
    );
    assert_eq!(bao_read(&bao, "auth/jwt/config")["jwks_url"], other);
    assert_eq!(state(&bao)[2], before[2], "the jwt role is unchanged");
}

#[tokio::test]
async fn a_database_that_refuses_the_connection_fails_its_steps_and_the_rest_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    // Port 1: nothing listens there, the connection is refused at once.
    write(
        &root,
        ".env",
        &format!(
            "DATABASE_URL=postgresql://admin:{DB_PASSWORD}@127.0.0.1:1/shop\nSTRIPE_SECRET_KEY={STRIPE}\n"
        ),
    );
    let input = dir.path().join("request.json");
    std::fs::write(&input, r#"{"constraints": {"platform": "VMs"}}"#).unwrap();
    let plan_dir = dir.path().join("plan");
    let out = Command::new(SECRETHUB)
        .args(["advise", &format!("--input={}", input.display())])
        .arg(format!("--plan={}", plan_dir.display()))
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let token = crate::harness::unique_name("root");
    let server = crate::harness::ServerProcess::dev(dir.path(), &token, &[]).await;
    let out = Command::new(SECRETHUB)
        .env("SECRETHUB_ADDR", server.addr())
        .env("SECRETHUB_TOKEN", &token)
        .env("HOME", dir.path())
        .args(["advise", &format!("--apply={}", plan_dir.display())])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_no_secret("the apply's output", &format!("{stdout}{stderr}"));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("error: database connection app: database/config/app:"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of "), "{stderr}");
    // Everything else went on: the imports, the role, the AppRole login, the rewrites.
    for line in [
        "kv secret/app/env#STRIPE_SECRET_KEY: imported from .env:2",
        "database/roles/app: written",
        "auth/approle/role/app: written",
        "rewrite .env:2: now ${secret:secret/app/env#STRIPE_SECRET_KEY}",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

// `scan --git` and `scan --staged`: repositories made with the `git` program (the scanner
// reads them in process), each commit a minute after the last so the history is the same
// on every run.

/// Secrets committed in the repositories below; none may reach any output.
const GIT_DELETED: &str = "ghp_Zq8wLx2vR7mNp3sYb6cHf1jUa0eGi5oVtQwD";
const GIT_LIVE: &str = "sk_live_51Zq8wLx2vR7mNp3sYb6cHf1jUa0eGi5oVt";
const GIT_STAGED: &str = "glpat-Zq8wLx2vR7mNp3sYb6cH";

/// A repository in `dir` on branch `main`, with no user or system git configuration.
struct GitRepo {
    dir: std::path::PathBuf,
    clock: std::cell::Cell<u64>,
}

impl GitRepo {
    fn init(dir: &Path) -> GitRepo {
        std::fs::create_dir_all(dir).unwrap();
        let repo = GitRepo {
            dir: dir.to_path_buf(),
            clock: std::cell::Cell::new(1_700_000_000),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let date = format!("@{} +0000", self.clock.get());
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Grace Hopper")
            .env("GIT_AUTHOR_EMAIL", "grace@example.com")
            .env("GIT_COMMITTER_NAME", "Grace Hopper")
            .env("GIT_COMMITTER_EMAIL", "grace@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `text` at `rel` and stages it.
    fn stage(&self, rel: &str, text: &str) {
        write(&self.dir, rel, text);
        self.git(&["add", rel]);
    }

    /// Writes, stages and commits `rel`, a minute after the last commit; answers its id.
    fn commit(&self, rel: &str, text: &str, message: &str) -> String {
        self.stage(rel, text);
        self.clock.set(self.clock.get() + 60);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// `secrethub scan ARGS` in `cwd`: exit code, stdout, stderr; fails if a secret of these
/// repositories reached stdout or stderr.
fn scan_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SECRETHUB)
        .arg("scan")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("secrethub runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in [GIT_DELETED, GIT_LIVE, GIT_STAGED] {
        let tail = &secret[secret.len() - 16..];
        assert!(
            !stdout.contains(tail) && !stderr.contains(tail),
            "a secret reached the output of scan {args:?}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

#[test]
fn scan_git_reports_each_secret_with_the_commit_that_brought_it_in() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(&dir.path().join("shop"));
    let added = repo.commit("ci.env", &format!("GITHUB_TOKEN={GIT_DELETED}\n"), "ci");
    repo.commit(
        "ci.env",
        "GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "use the CI's token",
    );
    let live = repo.commit(
        "billing/app.env",
        &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "billing",
    );
    repo.commit(
        "billing/app.env",
        &format!("A=1\nSTRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "edit",
    );

    // From a subdirectory, `.` finds the repository.
    let sub = dir.path().join("shop/billing");
    let (code, stdout, stderr) = scan_in(&sub, &["--git", "."]);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("ci.env:1:14: github-token (api_keys) ghp_"),
        "{stdout}"
    );
    assert!(
        lines[0].ends_with(&format!(
            " in {} (2023-11-14, Grace Hopper), history only",
            &added[..12]
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("billing/app.env:1:19: stripe-"),
        "{stdout}"
    );
    assert!(
        lines[1].ends_with(&format!(" in {} (2023-11-14, Grace Hopper)", &live[..12])),
        "{stdout}"
    );
    assert!(
        stderr.contains("scanned 4 commits, 4 file contents"),
        "{stderr}"
    );

    let root = dir.path().join("shop");
    let root_arg = root.to_str().unwrap();
    let (code, stdout, _) = scan_in(dir.path(), &["--git", "-format=json", root_arg]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["commit"].as_str().unwrap(),
                f["current_storage"].as_str().unwrap(),
                f["date"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (added.as_str(), "git history only", "2023-11-14T22:14:20Z"),
            (live.as_str(), ".env", "2023-11-14T22:16:20Z"),
        ]
    );
    let inventory: Vec<&str> = report["secret_inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["current_storage"].as_str().unwrap())
        .collect();
    assert!(inventory.contains(&"git history only"), "{inventory:?}");

    let (code, stdout, _) = scan_in(dir.path(), &["--git", "-format=sarif", root_arg]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results[0]["properties"]["commit"], added.as_str());
    assert_eq!(results[0]["properties"]["history_only"], true);
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "billing/app.env"
    );

    // A baseline written by a history scan accepts its findings on the next one.
    let baseline = dir.path().join("baseline.json");
    let (_, json, _) = scan_in(dir.path(), &["--git", "-format=json", root_arg]);
    std::fs::write(&baseline, json).unwrap();
    let baseline_arg = format!("--baseline={}", baseline.display());
    let (code, stdout, stderr) = scan_in(dir.path(), &["--git", &baseline_arg, root_arg]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        stderr.contains("(2 more accepted by the baseline)"),
        "{stderr}"
    );

    // Not a repository: the scan itself failed.
    let (code, _, stderr) = scan_in(dir.path(), &["--git", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not in a git repository"), "{stderr}");
}

#[test]
fn scan_staged_fails_only_on_what_the_next_commit_would_add() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(dir.path());
    // Before the first commit everything staged is new.
    repo.stage("svc/app.env", &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"));
    let (code, stdout, stderr) = scan_in(&dir.path().join("svc"), &["--staged"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.starts_with("svc/app.env:1:19: stripe-"), "{stdout}");
    assert!(
        !stdout.contains(" in "),
        "a staged finding has no commit: {stdout}"
    );
    repo.commit(
        "svc/app.env",
        &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"),
        "app",
    );

    // An edit next to a committed secret, and a secret only in the working tree: nothing
    // the commit would add.
    repo.stage(
        "svc/app.env",
        &format!("LOG=info\nSTRIPE_SECRET_KEY={GIT_LIVE}\n"),
    );
    write(
        dir.path(),
        "svc/local.env",
        &format!("GITLAB_TOKEN={GIT_STAGED}\n"),
    );
    let (code, stdout, stderr) = scan_in(dir.path(), &["--staged"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(stderr.contains("scanned 1 staged files"), "{stderr}");

    // Staged, it is.
    repo.git(&["add", "svc/local.env"]);
    let (code, stdout, _) = scan_in(dir.path(), &["--staged", "-format=json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let found: Vec<(&str, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, [("svc/local.env", 1)]);
    assert!(report["findings"][0].get("commit").is_none(), "{stdout}");
}

#[test]
fn advise_git_counts_what_only_the_history_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    let repo = GitRepo::init(&root);
    repo.commit("ci.env", &format!("GITHUB_TOKEN={GIT_DELETED}\n"), "ci");
    repo.commit(
        "ci.env",
        "GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "use the CI's token",
    );
    repo.commit("app.env", &format!("STRIPE_SECRET_KEY={GIT_LIVE}\n"), "app");
    // Never committed: only the tree scan sees it.
    write(&root, "local.env", &format!("GITLAB_TOKEN={GIT_STAGED}\n"));
    let input = dir.path().join("request.json");
    std::fs::write(&input, DOC_REQUEST).unwrap();
    let input_arg = format!("--input={}", input.display());
    let advise = |extra: &[&str]| {
        let out = Command::new(SECRETHUB)
            .args(["advise", &input_arg])
            .args(extra)
            .arg(&root)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [GIT_DELETED, GIT_LIVE, GIT_STAGED] {
            assert!(
                !text.contains(&secret[secret.len() - 16..]),
                "a secret reached the advice"
            );
        }
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // (storage, count) of each inventory entry.
    let storages = |stdout: &str| -> Vec<(String, u64)> {
        let report: Value = serde_json::from_str(stdout).unwrap();
        assert_document_shape(&report);
        let mut out: Vec<(String, u64)> = report["secret_inventory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let storage = e["current_storage"].as_str().unwrap().to_string();
                (storage, e["count"].as_u64().unwrap())
            })
            .collect();
        out.sort();
        out
    };

    let (code, stdout) = advise(&["--git"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        storages(&stdout),
        [(".env".to_string(), 2), ("git history only".to_string(), 1)]
    );
    let (code, stdout) = advise(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(storages(&stdout), [(".env".to_string(), 2)]);
    // A plan moves the files' values; history cannot be moved.
    let plan_arg = format!("--plan={}", dir.path().join("plan").display());
    assert_eq!(advise(&["--git", &plan_arg]).0, Some(2));
}
