//! `secrethub scan` through the real binary on a small microservice tree: the secrets in its
//! `.env`, Spring `application.yml`, Kubernetes `Secret` (base64 under `data:`), CI config
//! and a PEM file are found with their file, line, rule and type; placeholders, an allowed
//! line, a lock file and `node_modules` are not; no output (text, JSON, SARIF, stderr)
//! carries a secret; the exit code says whether anything was found.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::harness::SECRETHUB;

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

#[tokio::test]
async fn the_plan_applied_to_a_server_moves_the_secrets_and_run_resolves_the_references() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    fixture(&root);
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
    let mut written = String::new();
    for entry in [
        "plan.json",
        "README.md",
        "policies/app.hcl",
        "policies/orders.hcl",
    ] {
        written.push_str(&std::fs::read_to_string(plan_dir.join(entry)).unwrap());
    }
    for secret in [
        DB_PASSWORD,
        STRIPE,
        SPRING_PASSWORD,
        K8S_URL_PASSWORD,
        CI_TOKEN,
        PEM_BODY,
    ] {
        assert!(!written.contains(secret), "a secret reached the plan");
    }
    assert!(
        written.contains("path \"secret/data/orders/*\""),
        "{written}"
    );
    assert!(
        written.contains("path \"database/creds/orders-*\""),
        "{written}"
    );

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
        client()
            .args(["advise", &format!("--apply={}", plan.display())])
            .output()
            .unwrap()
    };
    let out = apply(&plan_dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("kv secret/app/env#DATABASE_URL_password: imported from .env:1"),
        "{stdout}"
    );
    assert!(stdout.contains("policy orders: written"), "{stdout}");

    // The literals are gone from the files; references stand in their place.
    let env = std::fs::read_to_string(root.join(".env")).unwrap();
    assert!(!env.contains(DB_PASSWORD) && !env.contains(STRIPE), "{env}");
    assert!(
        env.contains(
            "postgresql://orders:${secret:secret/app/env#DATABASE_URL_password}@db.prod.internal"
        ),
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
    assert_eq!(
        printed,
        format!("postgresql://orders:{DB_PASSWORD}@db.prod.internal:5432/orders\n{STRIPE}\n")
    );
    let render = client()
        .args(["template", "render"])
        .arg(root.join("orders/src/main/resources/application.yml"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&render.stdout).contains(&format!("password: {SPRING_PASSWORD}"))
    );

    // Applying again changes nothing.
    let out = apply(&plan_dir);
    let again = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{again}");
    assert!(
        !again.contains("imported from")
            && !again.contains(": written")
            && !again.contains(": now "),
        "{again}"
    );
    assert!(again.contains("already"), "{again}");
}
