//! `secrethub advise`: the strategy document's report from the fixture tree and the request
//! (the plan and `--apply` are in `apply.rs`).

use std::process::Command;

use serde_json::Value;

use super::{
    fixture, write, CI_TOKEN, DB_PASSWORD, K8S_URL_PASSWORD, PEM_BODY, SPRING_PASSWORD, STRIPE,
};
use crate::harness::SECRETHUB;

/// The strategy document's example input.
pub(super) const DOC_REQUEST: &str = r#"{
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
pub(super) fn assert_document_shape(report: &Value) {
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
