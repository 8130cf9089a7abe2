//! `secrethub advise --apply`: the migration plan written from a Kubernetes checkout, then
//! applied to a dev server, with the bao CLI checking what it set up, and a step that fails
//! leaving the rest applied.

use std::path::Path;
use std::process::Command;

use secrethub_testkit::pg_cluster::{self, Cluster};
use serde_json::{json, Value};

use super::advise::DOC_REQUEST;
use super::{
    fixture, write, CI_TOKEN, DB_PASSWORD, K8S_URL_PASSWORD, PEM_BODY, SPRING_PASSWORD, STRIPE,
};
use crate::bao_cli::bao_binary;
use crate::harness::{Cli, SECRETHUB};

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
/// `secrethub advise --input=<request> --plan=<dir>/plan <root>`, the request written to
/// `<dir>/request.json`; the plan directory and the command's output.
fn write_plan(
    dir: &Path,
    request: &str,
    root: &Path,
) -> (std::path::PathBuf, std::process::Output) {
    let input = dir.join("request.json");
    std::fs::write(&input, request).unwrap();
    let plan_dir = dir.join("plan");
    let out = Command::new(SECRETHUB)
        .args(["advise", &format!("--input={}", input.display())])
        .arg(format!("--plan={}", plan_dir.display()))
        .arg(root)
        .output()
        .unwrap();
    (plan_dir, out)
}

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
    let (plan_dir, out) = write_plan(dir.path(), DOC_REQUEST, &root);
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
    let (plan_dir, out) = write_plan(dir.path(), r#"{"constraints": {"platform": "VMs"}}"#, &root);
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
