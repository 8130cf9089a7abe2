//! The plan's derivation from findings, manifests and the git remote.

use super::*;
use crate::inventory::assess;
use crate::rules::RuleSet;

const DB_PASSWORD: &str = "Kp9wLq2vX7mNz";
const STRIPE: &str = "sk_live_51Hq3xN8vLp2ZtRk2vLq9wXz4mNp3sYb6cHf1j";
const CI_TOKEN: &str = "glpat-x7Rk2vLq9wXz4mNp3sYb";

fn files() -> Vec<(&'static str, String)> {
    vec![
        (
            ".env",
            format!(
                "DATABASE_URL=postgresql://orders_admin:{DB_PASSWORD}@db.internal:6432/orders?sslmode=require\n\
                 STRIPE_SECRET_KEY={STRIPE}\n"
            ),
        ),
        (
            "billing/.env",
            format!("DB=mysql://billing:{DB_PASSWORD}@10.0.0.5/billing\n"),
        ),
        (
            ".github/workflows/deploy.yml",
            format!("jobs:\n  deploy:\n    env:\n      GITLAB_TOKEN: {CI_TOKEN}\n"),
        ),
    ]
}

fn plan_for(request: &str, tree: &Tree) -> Plan {
    let rules = RuleSet::builtin().unwrap();
    let files = files();
    let assessed: Vec<Assessment> = files
        .iter()
        .flat_map(|(path, text)| rules.scan_text(path, text))
        .map(|f| assess(&rules, &f))
        .collect();
    let text_of = |rel: &str| {
        files
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(_, t)| t.clone())
    };
    let request: AdviceRequest = serde_json::from_str(request).unwrap();
    plan(&PlanInput {
        root: "/repo",
        kv_mount: "secret",
        request: &request,
        assessed: &assessed,
        text_of: &text_of,
        tree,
    })
}

fn kubernetes_tree() -> Tree {
    Tree {
        manifests: vec![(
            "k8s/app.yaml".into(),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: shop\n\
             spec:\n  template:\n    spec:\n      containers: []\n"
                .into(),
        )],
        git_remote: Some("git@github.com:acme/shop.git".into()),
    }
}

fn proposals(plan: &Plan) -> Vec<&str> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Proposal { what } => Some(what.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn services_and_file_keys() {
    assert_eq!(service_of(".env"), "app");
    assert_eq!(
        service_of("orders/src/main/resources/application.yml"),
        "orders"
    );
    assert_eq!(service_of("k8s/orders-secret.yaml"), "app");
    assert_eq!(service_of("services/Billing_API/.env"), "services");
    assert_eq!(service_of(".github/workflows/deploy.yml"), "github-actions");
    assert_eq!(service_of("ops/.gitlab-ci.yml"), "gitlab-ci");
    assert_eq!(file_key(".env"), "env");
    assert_eq!(file_key("application.yml"), "application");
    assert_eq!(file_key("docker-compose.prod.yml"), "docker-compose");
}

#[test]
fn database_urls_become_connections_and_roles_without_their_login() {
    let plan = plan_for(r#"{"constraints": {"platform": "VMs"}}"#, &Tree::default());
    let json = serde_json::to_string(&plan).unwrap();
    assert!(
        !json.contains(DB_PASSWORD) && !json.contains("orders_admin"),
        "{json}"
    );
    let connection = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::DatabaseConnection { name, .. } if name == "app"))
        .unwrap();
    let target = connection.target().unwrap();
    assert_eq!(target.path, "database/config/app");
    assert_eq!(
        serde_json::Value::Object(target.body),
        json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": "postgresql://{{username}}:{{password}}@db.internal:6432/orders?sslmode=require",
            "allowed_roles": ["app"],
            "verify_connection": true,
        })
    );
    let Step::DatabaseConnection { source, .. } = connection else {
        unreachable!()
    };
    assert_eq!((source.file.as_str(), source.line), (".env", 1));
    let role = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::DatabaseRole {
                name,
                creation_statements,
                default_ttl,
                max_ttl,
                ..
            } if name == "billing" => Some((creation_statements, *default_ttl, *max_ttl)),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        role.0,
        &[
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `billing`.* TO '{{name}}'@'%';"
        ]
    );
    assert_eq!((role.1, role.2), (3600, 86400));
    // Each service's policy reads its own creds only.
    let policy = |name: &str| {
        plan.steps
            .iter()
            .find_map(|s| match s {
                Step::Policy { name: n, hcl } if n == name => Some(hcl.clone()),
                _ => None,
            })
            .unwrap()
    };
    assert!(policy("app").contains("path \"database/creds/app\""));
    assert!(!policy("app").contains("creds/billing"));
    assert!(policy("billing").contains("path \"database/creds/billing\""));
    // Mounts come first: KV v2, then the database engine.
    assert!(
        matches!(&plan.steps[0], Step::EnableMount { path, engine, .. } if path == "secret" && engine == "kv")
    );
    assert!(matches!(&plan.steps[1], Step::EnableMount { path, .. } if path == "database"));
}

#[test]
fn on_kubernetes_each_service_gets_a_role_for_its_account_and_ci_a_jwt_role() {
    let plan = plan_for(
        r#"{"constraints": {"platform": "Kubernetes", "compliance": ["PCI-DSS"]}}"#,
        &kubernetes_tree(),
    );
    let targets: Vec<Target> = plan.steps.iter().filter_map(Step::target).collect();
    let body = |path: &str| {
        serde_json::Value::Object(
            targets
                .iter()
                .find(|t| t.path == path)
                .unwrap_or_else(|| panic!("no {path} in {targets:?}"))
                .body
                .clone(),
        )
    };
    assert_eq!(
        body("auth/kubernetes/role/app"),
        json!({
            "bound_service_account_names": ["app"],
            "bound_service_account_namespaces": ["shop"],
            "token_policies": ["app"],
            "token_ttl": 900,
            "token_max_ttl": 86400,
        })
    );
    // billing has no workload in the manifests: the namespace they agree on.
    assert_eq!(
        body("auth/kubernetes/role/billing")["bound_service_account_namespaces"],
        json!(["shop"])
    );
    assert_eq!(
        body("auth/jwt/config"),
        json!({
            "oidc_discovery_url": "https://token.actions.githubusercontent.com",
            "bound_issuer": "https://token.actions.githubusercontent.com",
            "skip_jwks_validation": true,
        })
    );
    assert_eq!(
        body("auth/jwt/role/github-actions"),
        json!({
            "role_type": "jwt",
            "bound_audiences": ["https://github.com/acme"],
            "bound_claims": {"repository": "acme/shop"},
            "bound_claims_type": "string",
            "user_claim": "repository",
            "token_policies": ["github-actions"],
            "token_ttl": 900,
            "token_max_ttl": 3600,
        })
    );
    assert!(targets.iter().all(|t| !t.path.starts_with("auth/approle")));
    let mounts: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::EnableMount { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(mounts, ["secret", "database", "jwt", "kubernetes"]);
    // The cluster's address, the app's missing serviceAccountName and the database DB TTL.
    let todo = proposals(&plan);
    assert!(todo
        .iter()
        .any(|p| p.starts_with("configure the kubernetes auth method")));
    assert!(todo
        .iter()
        .any(|p| p.starts_with("k8s/app.yaml: Deployment app: set serviceAccountName: app")));
    assert!(plan.steps.iter().any(|s| matches!(
        s,
        Step::DatabaseRole {
            default_ttl: 900,
            ..
        }
    )));
}

#[test]
fn static_secrets_get_a_rotation_schedule_and_ci_without_a_repository_an_approle() {
    let plan = plan_for(r#"{"constraints": {"platform": "VMs"}}"#, &Tree::default());
    let rotations: Vec<(&str, &str, u32, &str)> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Rotation {
                path,
                key,
                interval_days,
                method,
            } => Some((path.as_str(), key.as_str(), *interval_days, method.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        rotations,
        [
            (
                "secret/app/env",
                "STRIPE_SECRET_KEY",
                90,
                "manual with rotation runbook"
            ),
            (
                "secret/github-actions/deploy",
                "GITLAB_TOKEN",
                90,
                "manual with rotation runbook"
            ),
        ]
    );
    let roles: Vec<String> = plan
        .steps
        .iter()
        .filter_map(Step::target)
        .map(|t| t.path)
        .filter(|p| p.starts_with("auth/"))
        .collect();
    assert_eq!(
        roles,
        [
            "auth/approle/role/app",
            "auth/approle/role/billing",
            "auth/approle/role/github-actions"
        ]
    );
    assert!(proposals(&plan)
        .iter()
        .any(|p| p.starts_with("github-actions: log in with the CI's ID token")));
}

#[test]
fn urls_a_person_must_set_up_are_proposed() {
    let rules = RuleSet::builtin().unwrap();
    let text = format!(
        "A=postgresql://app:{DB_PASSWORD}@db:5432/a;b\nB=mongodb://app:{DB_PASSWORD}@m:27017/x\n\
         C=postgresql://app:{STRIPE}@db:5432/c\n"
    );
    let assessed: Vec<Assessment> = rules
        .scan_text("svc/.env", &text)
        .iter()
        .map(|f| assess(&rules, f))
        .collect();
    assert_eq!(assessed.len(), 3);
    let text_of = |_: &str| Some(text.clone());
    let request = AdviceRequest::default();
    let plan = plan(&PlanInput {
        root: "/repo",
        kv_mount: "secret",
        request: &request,
        assessed: &assessed,
        text_of: &text_of,
        tree: &Tree::default(),
    });
    let connections: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::DatabaseConnection { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(connections, ["svc"]);
    // The ones left to a person are named so as not to clash with the one set up.
    let todo = proposals(&plan);
    let by_hand: Vec<&str> = todo
        .iter()
        .filter_map(|p| p.split_once(": make it dynamic: secrethub write "))
        .map(|(_, rest)| rest.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        by_hand,
        ["database/config/svc-2", "database/config/svc-3"],
        "{todo:?}"
    );
}
