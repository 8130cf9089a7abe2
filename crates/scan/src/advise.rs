//! `secrethub advise` (issue 17, part 3): the strategy document's input (`query`,
//! `constraints`, `reference_excerpt`) and a scan's classified findings turned into the
//! document's output, in exactly its shape. Every field is derived from the findings and the
//! constraints: what was found decides which designs appear, the platform and cloud decide
//! the auth method and fallback, compliance the rotation intervals, and `confidence` how much
//! of the inventory rests on rules that know a secret by its shape.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::inventory::{inventory, Assessment};
use crate::rules::RuleSet;

/// The document's input.
#[derive(Debug, Default, Deserialize)]
pub struct AdviceRequest {
    /// What the user asks, in words.
    #[serde(default)]
    pub query: String,
    /// Platform, cloud, secret types, compliance, number of services.
    #[serde(default)]
    pub constraints: Constraints,
    /// What the user already knows about where secrets are.
    #[serde(default)]
    pub reference_excerpt: String,
}

/// The document's `constraints`.
#[derive(Debug, Default, Deserialize)]
pub struct Constraints {
    /// `Kubernetes`, `VMs`, `ECS`, …
    pub platform: Option<String>,
    /// `AWS`, `GCP`, `Azure`.
    pub cloud_provider: Option<String>,
    /// The secret types the user cares about (the document's names).
    #[serde(default)]
    pub secret_types: Vec<String>,
    /// `SOC2`, `GDPR`, `PCI-DSS`, `HIPAA`, …
    #[serde(default)]
    pub compliance: Vec<String>,
    /// How many services share the platform.
    pub num_services: Option<u32>,
}

fn mentions(haystack: &str, word: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&word.to_ascii_lowercase())
}

impl AdviceRequest {
    /// The platform: the constraint, else what the query or excerpt names.
    pub(crate) fn kubernetes(&self) -> bool {
        match &self.constraints.platform {
            Some(p) => mentions(p, "kubernetes") || mentions(p, "k8s"),
            None => {
                mentions(&self.query, "kubernetes")
                    || mentions(&self.reference_excerpt, "kubernetes")
            }
        }
    }

    fn cloud(&self) -> Option<String> {
        self.constraints.cloud_provider.clone().or_else(|| {
            ["AWS", "GCP", "Azure"]
                .into_iter()
                .find(|c| mentions(&self.query, c))
                .map(str::to_string)
        })
    }

    fn compliance(&self, name: &str) -> bool {
        self.constraints.compliance.iter().any(|c| {
            c.replace(['-', ' '], "")
                .eq_ignore_ascii_case(&name.replace('-', ""))
        })
    }
}

/// The strategy document's output for `request` and the classified findings.
pub fn advise(rules: &RuleSet, request: &AdviceRequest, assessed: &[Assessment]) -> Value {
    let inventory = inventory(assessed);
    let plugins: BTreeSet<&str> = assessed
        .iter()
        .filter(|a| a.dynamic_eligible)
        .filter_map(|a| a.replace_with.plugin)
        .collect();
    let engines: BTreeSet<&str> = assessed
        .iter()
        .filter(|a| a.dynamic_eligible)
        .map(|a| a.replace_with.engine)
        .collect();
    let in_ci = assessed.iter().any(|a| a.current_storage == "CI config");
    let cloud = request.cloud();
    let kubernetes = request.kubernetes();
    let services = request.constraints.num_services;

    let mut out = Map::new();
    out.insert("secret_inventory".into(), json!(inventory));
    out.insert(
        "platform_recommendation".into(),
        platform(&engines, &plugins, kubernetes, cloud.as_deref(), services),
    );
    out.insert(
        "dynamic_secret_design".into(),
        dynamic_design(request, &engines, &plugins, cloud.as_deref()),
    );
    out.insert(
        "access_policy".into(),
        access_policy(request, kubernetes, in_ci, services),
    );
    out.insert("rotation_schedule".into(), rotation(request, assessed));
    out.insert(
        "confidence".into(),
        json!(confidence(rules, request, assessed)),
    );
    Value::Object(out)
}

fn platform(
    engines: &BTreeSet<&str>,
    plugins: &BTreeSet<&str>,
    kubernetes: bool,
    cloud: Option<&str>,
    services: Option<u32>,
) -> Value {
    let mut reasons = Vec::new();
    if engines.contains("database") {
        let names: Vec<&str> = plugins
            .iter()
            .map(|p| p.trim_end_matches("-database-plugin"))
            .collect();
        reasons.push(if names.is_empty() {
            "dynamic database credentials with leases".to_string()
        } else {
            format!("dynamic database credentials for {}", names.join(", "))
        });
    }
    if engines.contains("aws") || engines.contains("gcp") || engines.contains("azure") {
        reasons.push("short-lived cloud credentials instead of static keys".into());
    }
    if engines.contains("pki") {
        reasons.push("short-lived certificates from its PKI".into());
    }
    reasons.push(if kubernetes {
        "Kubernetes-native auth".into()
    } else {
        "AppRole and JWT auth for services and CI".into()
    });
    reasons.push("transit for encryption and signing keys that never leave it".into());
    let deployment = match (kubernetes, services) {
        (true, _) => "SecretHub on Kubernetes with HA (PostgreSQL storage)".to_string(),
        (false, Some(n)) if n > 10 => "SecretHub with HA on PostgreSQL storage".to_string(),
        _ => "SecretHub as one binary on its embedded storage".to_string(),
    };
    let fallback = match cloud.map(str::to_ascii_uppercase).as_deref() {
        Some("AWS") => "AWS Secrets Manager for AWS-native secrets",
        Some("GCP") => "GCP Secret Manager for GCP-native secrets",
        Some("AZURE") => "Azure Key Vault for Azure-native secrets",
        _ => "encrypted KV v2 backups for the static secrets",
    };
    let mut justification = reasons.join(", ");
    if let Some(first) = justification.get(..1) {
        justification = first.to_uppercase() + &justification[1..];
    }
    json!({
        "primary": "SecretHub",
        "justification": justification,
        "deployment": deployment,
        "fallback": fallback,
    })
}

/// Whether a compliance regime asks for short-lived access and shorter rotation intervals.
fn strict(request: &AdviceRequest) -> bool {
    request.compliance("PCI-DSS") || request.compliance("HIPAA")
}

/// Session length, in seconds, for dynamic credentials and service tokens: 15 minutes under
/// the regimes that ask for short-lived access, else an hour.
pub(crate) fn short_ttl_secs(request: &AdviceRequest) -> u64 {
    if strict(request) {
        15 * 60
    } else {
        60 * 60
    }
}

/// The longest a dynamic credential or service token lives, renewals included.
pub(crate) const MAX_TTL_SECS: u64 = 24 * 60 * 60;

fn short_ttl(request: &AdviceRequest) -> &'static str {
    if strict(request) {
        "15m"
    } else {
        "1h"
    }
}

fn dynamic_design(
    request: &AdviceRequest,
    engines: &BTreeSet<&str>,
    plugins: &BTreeSet<&str>,
    cloud: Option<&str>,
) -> Value {
    let mut design = Map::new();
    if engines.contains("database") {
        let engine = if plugins.is_empty() {
            "SecretHub database secrets engine".to_string()
        } else {
            let list: Vec<&str> = plugins.iter().copied().collect();
            format!("SecretHub database secrets engine ({})", list.join(", "))
        };
        design.insert(
            "database".into(),
            json!({
                "engine": engine,
                "ttl": short_ttl(request),
                "max_ttl": "24h",
                "rotation": "automatic on lease expiry",
            }),
        );
    }
    let cloud_keys =
        engines.contains("aws") || engines.contains("gcp") || engines.contains("azure");
    let method = match cloud.map(str::to_ascii_uppercase).as_deref() {
        Some("GCP") => Some("GCP service account impersonation (short-lived access tokens)"),
        Some("AZURE") => Some("Azure workload identity (short-lived tokens)"),
        Some("AWS") => Some("AWS STS AssumeRole"),
        _ if engines.contains("aws") => Some("AWS STS AssumeRole"),
        _ => None,
    };
    if let Some(method) = method.filter(|_| cloud_keys || cloud.is_some()) {
        design.insert(
            "cloud_iam".into(),
            json!({
                "method": method,
                "session_duration": short_ttl(request),
                "scope": "per-service IAM role",
            }),
        );
    }
    Value::Object(design)
}

fn access_policy(
    request: &AdviceRequest,
    kubernetes: bool,
    in_ci: bool,
    services: Option<u32>,
) -> Value {
    let mut auth = if kubernetes {
        "Kubernetes service account (SecretHub Kubernetes auth)".to_string()
    } else {
        "AppRole per service".to_string()
    };
    if in_ci {
        auth.push_str("; JWT/OIDC for CI pipelines");
    }
    let scope = if kubernetes {
        "per-namespace, per-service"
    } else {
        "per-service"
    };
    let least = match services {
        Some(n) => format!(
            "each of the {n} services can only read its own paths (secret/data/<service>/*, database/creds/<service>)"
        ),
        None => "each service can only read its own paths (secret/data/<service>/*, database/creds/<service>)".to_string(),
    };
    let audited: Vec<&str> = request
        .constraints
        .compliance
        .iter()
        .map(String::as_str)
        .collect();
    let break_glass = if audited.is_empty() {
        "emergency policy with 1h TTL, granted by an operator quorum, every use audited".to_string()
    } else {
        format!(
            "emergency policy with 1h TTL, granted by an operator quorum, every use audited ({})",
            audited.join(", ")
        )
    };
    json!({
        "auth_method": auth,
        "policy_scope": scope,
        "least_privilege": least,
        "break_glass": break_glass,
    })
}

/// How often a static secret of `secret_type` is rotated, in days, and how.
pub(crate) fn rotation_for(request: &AdviceRequest, secret_type: &str) -> (u32, &'static str) {
    let strict = strict(request);
    match secret_type {
        "api_keys" => (if strict { 60 } else { 90 }, "manual with rotation runbook"),
        "database_credentials" => (
            if strict { 30 } else { 90 },
            "SecretHub static role with rotation_period",
        ),
        "signing_keys" => (
            if strict { 90 } else { 180 },
            "transit key with auto_rotate_period",
        ),
        _ => (if strict { 30 } else { 90 }, "scheduled rotation"),
    }
}

fn rotation(request: &AdviceRequest, assessed: &[Assessment]) -> Value {
    let static_types: BTreeSet<&str> = assessed
        .iter()
        .filter(|a| !a.dynamic_eligible)
        .map(|a| a.finding.secret_type.as_str())
        .collect();
    let rows: Vec<Value> = static_types
        .iter()
        .map(|t| {
            let (days, method) = rotation_for(request, t);
            json!({
                "secret_type": t,
                "interval_days": days,
                "method": method,
                "notification": "alert 14 days before the rotation is due",
            })
        })
        .collect();
    Value::Array(rows)
}

/// How much of the inventory rests on rules that know a secret by its shape (priority 10),
/// rather than by the name it is assigned to; fewer constraints given, a little less.
fn confidence(rules: &RuleSet, request: &AdviceRequest, assessed: &[Assessment]) -> f64 {
    let strong = assessed
        .iter()
        .filter(|a| {
            rules
                .rules()
                .iter()
                .any(|r| r.id == a.finding.rule && r.priority >= 10)
        })
        .count();
    let share = if assessed.is_empty() {
        0.0
    } else {
        strong as f64 / assessed.len() as f64
    };
    let c = &request.constraints;
    let given = [
        c.platform.is_some(),
        c.cloud_provider.is_some(),
        !c.compliance.is_empty(),
        c.num_services.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    let value = 0.5 + 0.4 * share + 0.025 * given as f64;
    (value.min(0.99) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::assess;

    fn assessed(files: &[(&str, &str)]) -> (RuleSet, Vec<Assessment>) {
        let rules = RuleSet::builtin().unwrap();
        let mut out = Vec::new();
        for (path, text) in files {
            for f in crate::shapes::scan_file(&rules, path, text) {
                out.push(assess(&rules, &f));
            }
        }
        (rules, out)
    }

    fn request(json: &str) -> AdviceRequest {
        serde_json::from_str(json).unwrap()
    }

    const DOC_INPUT: &str = r#"{
        "query": "Design secret management for a Kubernetes-based microservices platform with dynamic database credentials",
        "constraints": {"platform": "Kubernetes", "cloud_provider": "AWS",
            "secret_types": ["database_credentials", "api_keys", "tls_certs", "signing_keys"],
            "compliance": ["SOC2", "GDPR"], "num_services": 25},
        "reference_excerpt": "Secrets currently stored in Kubernetes Secrets (base64 encoded), some hardcoded in application.yml..."
    }"#;

    #[test]
    fn the_report_has_the_documents_shape_and_follows_the_findings() {
        let (rules, found) = assessed(&[
            (
                ".env",
                "DATABASE_URL=postgresql://app:Kp9wLq2vX7mNz@db.prod:5432/orders\n",
            ),
            (
                "src/main/resources/application.yml",
                "stripe:\n  key: sk_live_51Hq3xN8vLp2ZtRk2vLq9wXz4mNp3sYb6cHf1j\n",
            ),
        ]);
        let report = advise(&rules, &request(DOC_INPUT), &found);
        let keys: Vec<&str> = report
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
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
        assert_eq!(report["secret_inventory"].as_array().unwrap().len(), 2);
        assert_eq!(
            report["dynamic_secret_design"]["database"]["engine"],
            "SecretHub database secrets engine (postgresql-database-plugin)"
        );
        assert_eq!(
            report["dynamic_secret_design"]["cloud_iam"]["method"],
            "AWS STS AssumeRole"
        );
        assert_eq!(
            report["access_policy"]["auth_method"],
            "Kubernetes service account (SecretHub Kubernetes auth)"
        );
        assert!(report["access_policy"]["least_privilege"]
            .as_str()
            .unwrap()
            .starts_with("each of the 25 services"));
        assert_eq!(report["rotation_schedule"][0]["secret_type"], "api_keys");
        assert_eq!(report["rotation_schedule"][0]["interval_days"], 90);
        assert_eq!(
            report["platform_recommendation"]["fallback"],
            "AWS Secrets Manager for AWS-native secrets"
        );
        let confidence = report["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
    }

    #[test]
    fn another_repository_and_constraints_give_another_report() {
        let (rules, found) = assessed(&[(
            ".gitlab-ci.yml",
            "deploy:\n  variables:\n    DB_PASSWORD: r7TqV2pWx9LmZk\n    SIGNING_SECRET_JWT: x\n",
        )]);
        let req = request(
            r#"{"query": "Secrets for a few VMs", "constraints": {"platform": "VMs", "compliance": ["PCI-DSS"]}}"#,
        );
        let report = advise(&rules, &req, &found);
        assert_eq!(
            report["access_policy"]["auth_method"],
            "AppRole per service; JWT/OIDC for CI pipelines"
        );
        assert!(report["dynamic_secret_design"].get("cloud_iam").is_none());
        assert_eq!(report["dynamic_secret_design"]["database"]["ttl"], "15m");
        assert_eq!(
            report["platform_recommendation"]["deployment"],
            "SecretHub as one binary on its embedded storage"
        );
        // Resting on a generic rule only: less confident than the report above.
        assert!(report["confidence"].as_f64().unwrap() < 0.6, "{report}");
    }
}
