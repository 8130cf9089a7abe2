//! From findings to the strategy document's inventory (issue 17, part 2): where each secret
//! is kept (`current_storage`), how bad it is that it is there (`risk_level`), and whether a
//! dynamic secret can replace it, with which SecretHub engine.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rules::RuleSet;
use crate::scan::Finding;
use crate::SecretType;

/// The document's risk levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Test or local-only values.
    Low,
    /// Readable by few, limited reach.
    Medium,
    /// Grants real access.
    High,
    /// Grants wide access, or is exposed to many readers.
    Critical,
}

impl Risk {
    fn from_score(score: i32) -> Risk {
        match score {
            i32::MIN..=0 => Risk::Low,
            1 => Risk::Medium,
            2 => Risk::High,
            _ => Risk::Critical,
        }
    }
}

/// What would replace a secret in SecretHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replacement {
    /// The engine (`database`, `aws`, `pki`, `transit`, `kv`) or auth method (`auth`).
    pub engine: &'static str,
    /// The database plugin, for `database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<&'static str>,
    /// In a sentence.
    pub how: &'static str,
}

/// One finding, classified.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// The finding itself.
    #[serde(flatten)]
    pub finding: Finding,
    /// Where it is kept, in the document's words (`Kubernetes Secrets`, `.env`, …).
    pub current_storage: &'static str,
    /// How bad it is where it is.
    pub risk_level: Risk,
    /// Whether a dynamic secret can replace it.
    pub dynamic_eligible: bool,
    /// What replaces it.
    pub replace_with: Replacement,
}

/// One line of the document's `secret_inventory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryEntry {
    /// The document's secret type.
    #[serde(rename = "type")]
    pub secret_type: &'static str,
    /// How many distinct secrets (by fingerprint).
    pub count: usize,
    /// Where they are kept.
    pub current_storage: &'static str,
    /// The worst of them.
    pub risk_level: Risk,
    /// Whether they can become dynamic secrets.
    pub dynamic_eligible: bool,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Where a secret is kept, from its file's name and shape; `git history only` for a value
/// `scan --git` found in history and no longer in HEAD's files.
pub fn storage_of(f: &Finding) -> &'static str {
    if f.origin.as_ref().is_some_and(|o| o.history_only) {
        return "git history only";
    }
    if f.decoded_from.is_some() {
        return "Kubernetes Secrets";
    }
    let path = f.path.as_str();
    let name = file_name(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    if path.contains(".github/workflows/")
        || name == ".gitlab-ci.yml"
        || name == "jenkinsfile"
        || path.contains(".circleci/")
        || name == "azure-pipelines.yml"
        || name == "bitbucket-pipelines.yml"
    {
        "CI config"
    } else if name.starts_with(".env") || name.ends_with(".env") {
        ".env"
    } else if name.starts_with("application") && matches!(ext, "yml" | "yaml") {
        "application.yml (hardcoded)"
    } else if name.starts_with("application") && ext == "properties" {
        "application.properties (hardcoded)"
    } else if name.starts_with("docker-compose") || name.starts_with("compose.") {
        "docker-compose"
    } else if matches!(ext, "tf" | "tfvars" | "hcl") {
        "Terraform"
    } else if name.starts_with("values") && matches!(ext, "yml" | "yaml") {
        "Helm values"
    } else if path.contains("k8s/") || path.contains("kubernetes/") || path.contains("manifests/") {
        "Kubernetes manifests"
    } else if matches!(ext, "pem" | "key" | "p12" | "pfx" | "jks" | "keystore") {
        "key files"
    } else if matches!(
        ext,
        "rs" | "go" | "java" | "kt" | "py" | "js" | "ts" | "rb" | "php" | "cs" | "scala" | "swift"
    ) {
        "source code (hardcoded)"
    } else {
        "config files"
    }
}

/// A database plugin from a URL's scheme, when SecretHub has it.
fn plugin_of(scheme: &str) -> Option<&'static str> {
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => Some("postgresql-database-plugin"),
        "mysql" | "mariadb" => Some("mysql-database-plugin"),
        "mongodb" | "mongodb+srv" => Some("mongodb-database-plugin"),
        "redis" | "rediss" => Some("redis-database-plugin"),
        _ => None,
    }
}

const ROTATE: Replacement = Replacement {
    engine: "kv",
    plugin: None,
    how: "stays static: kept in KV v2 and rotated on a schedule",
};

fn replacement(rules: &RuleSet, f: &Finding) -> (bool, Replacement) {
    let replace_with = rules
        .rules()
        .iter()
        .find(|r| r.id == f.rule)
        .and_then(|r| r.replace_with.as_deref());
    let scheme = f.context.get("scheme").map(String::as_str).unwrap_or("");
    match (replace_with, f.secret_type) {
        (Some("database"), _) => match plugin_of(scheme) {
            Some(plugin) => (
                true,
                Replacement {
                    engine: "database",
                    plugin: Some(plugin),
                    how: "a database user per lease, made on demand and revoked at expiry",
                },
            ),
            None => (false, ROTATE),
        },
        (Some("aws"), _) => (
            true,
            Replacement {
                engine: "aws",
                plugin: None,
                how: "STS AssumeRole credentials per service instead of static access keys",
            },
        ),
        (Some("gcp"), _) | (Some("azure"), _) => (
            true,
            Replacement {
                engine: if replace_with == Some("gcp") {
                    "gcp"
                } else {
                    "azure"
                },
                plugin: None,
                how: "short-lived cloud credentials per service instead of a static key",
            },
        ),
        (_, SecretType::DatabaseCredentials) => {
            let name = f.context.get("name").map(String::as_str).unwrap_or("");
            let key_path = f.context.get("key_path").map(String::as_str).unwrap_or("");
            let lower = format!("{name} {key_path}").to_ascii_lowercase();
            let database = [
                "db",
                "database",
                "datasource",
                "postgres",
                "mysql",
                "mongo",
                "redis",
            ]
            .iter()
            .any(|w| lower.contains(w));
            if database {
                (
                    true,
                    Replacement {
                        engine: "database",
                        plugin: None,
                        how: "a database user per lease (the plugin from the connection's URL)",
                    },
                )
            } else {
                (false, ROTATE)
            }
        }
        (_, SecretType::ServiceTokens) => (
            true,
            Replacement {
                engine: "auth",
                plugin: None,
                how: "short-lived tokens from an auth method (Kubernetes, AppRole, JWT for CI)",
            },
        ),
        (_, SecretType::TlsCerts) => (
            true,
            Replacement {
                engine: "pki",
                plugin: None,
                how: "short-lived certificates issued by the pki engine",
            },
        ),
        (_, SecretType::SigningKeys) => (
            false,
            Replacement {
                engine: "transit",
                plugin: None,
                how: "the key stays in transit and signs there; it never leaves SecretHub",
            },
        ),
        _ => (false, ROTATE),
    }
}

/// How exposed a secret is where it is kept (added to its type's base risk).
fn exposure(storage: &str) -> i32 {
    match storage {
        "source code (hardcoded)"
        | "application.yml (hardcoded)"
        | "application.properties (hardcoded)"
        | "CI config"
        | "Helm values"
        | "docker-compose" => 1,
        _ => 0,
    }
}

fn risk_of(f: &Finding, storage: &str) -> Risk {
    let base = match f.secret_type {
        SecretType::InfrastructureSecrets => 3,
        _ => 2,
    };
    let host = f
        .context
        .get("host")
        .map(|h| h.to_ascii_lowercase())
        .unwrap_or_default();
    let local = ["localhost", "127.0.0.1", "::1", "example", "test"]
        .iter()
        .any(|w| host.contains(w))
        || f.context.get("mode").is_some_and(|m| m == "test");
    let production = [
        "prod",
        "rds.amazonaws.com",
        "database.windows.net",
        "cloudsql",
    ]
    .iter()
    .any(|w| host.contains(w))
        || f.context.get("mode").is_some_and(|m| m == "live");
    let score = base + exposure(storage) + i32::from(production) - 3 * i32::from(local);
    Risk::from_score(score)
}

/// Classifies one finding.
pub fn assess(rules: &RuleSet, f: &Finding) -> Assessment {
    let current_storage = storage_of(f);
    let (dynamic_eligible, replace_with) = replacement(rules, f);
    Assessment {
        risk_level: risk_of(f, current_storage),
        current_storage,
        dynamic_eligible,
        replace_with,
        finding: f.clone(),
    }
}

/// The document's `secret_inventory`: one entry per type, storage and eligibility, counting
/// distinct secrets (the same value in two files is one secret), worst risk first.
pub fn inventory(assessments: &[Assessment]) -> Vec<InventoryEntry> {
    type Key = (&'static str, &'static str, bool);
    let mut groups: BTreeMap<Key, (std::collections::BTreeSet<&str>, Risk)> = BTreeMap::new();
    for a in assessments {
        let key = (
            a.finding.secret_type.as_str(),
            a.current_storage,
            a.dynamic_eligible,
        );
        let entry = groups
            .entry(key)
            .or_insert_with(|| (Default::default(), Risk::Low));
        entry.0.insert(a.finding.fingerprint.as_str());
        entry.1 = entry.1.max(a.risk_level);
    }
    let mut out: Vec<InventoryEntry> = groups
        .into_iter()
        .map(
            |((secret_type, current_storage, dynamic_eligible), (secrets, risk_level))| {
                InventoryEntry {
                    secret_type,
                    count: secrets.len(),
                    current_storage,
                    risk_level,
                    dynamic_eligible,
                }
            },
        )
        .collect();
    out.sort_by(|a, b| b.risk_level.cmp(&a.risk_level).then(b.count.cmp(&a.count)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assess_text(path: &str, text: &str) -> Vec<Assessment> {
        let rules = RuleSet::builtin().unwrap();
        rules
            .scan_text(path, text)
            .iter()
            .map(|f| assess(&rules, f))
            .collect()
    }

    #[test]
    fn a_production_postgres_url_becomes_a_database_role() {
        let a = assess_text(
            ".env",
            "DATABASE_URL=postgresql://app:Kp9wLq2vX7mNz@orders.prod.internal:5432/orders\n",
        );
        let a = &a[0];
        assert_eq!(a.current_storage, ".env");
        assert_eq!(a.risk_level, Risk::Critical);
        assert!(a.dynamic_eligible);
        assert_eq!(a.replace_with.engine, "database");
        assert_eq!(a.replace_with.plugin, Some("postgresql-database-plugin"));
        // A local one is low risk.
        let local = assess_text(
            "docker-compose.yml",
            "DATABASE_URL: mysql://app:Kp9wLq2vX7mNz@localhost:3306/app\n",
        );
        assert_eq!(local[0].current_storage, "docker-compose");
        assert_eq!(local[0].risk_level, Risk::Low);
        assert_eq!(local[0].replace_with.plugin, Some("mysql-database-plugin"));
    }

    #[test]
    fn third_party_keys_are_rotated_and_cloud_keys_assumed() {
        let a = assess_text(
            "src/main/resources/application.yml",
            "stripe:\n  key: sk_live_51Hq3xN8vLp2ZtRk2vLq9wXz4mNp3sYb6cHf1j\n\
             aws_access_key_id: AKIAQYLPMN5HFIQR7KBX\n",
        );
        assert_eq!(a[0].current_storage, "application.yml (hardcoded)");
        assert_eq!(a[0].risk_level, Risk::Critical);
        assert!(!a[0].dynamic_eligible);
        assert_eq!(a[0].replace_with.engine, "kv");
        assert_eq!(a[1].finding.secret_type, SecretType::InfrastructureSecrets);
        assert!(a[1].dynamic_eligible);
        assert_eq!(a[1].replace_with.engine, "aws");
    }

    #[test]
    fn the_inventory_counts_distinct_secrets_per_type_and_storage() {
        let rules = RuleSet::builtin().unwrap();
        let url = "postgresql://app:Kp9wLq2vX7mNz@db.prod:5432/orders";
        let mut found = rules.scan_text("svc-a/.env", &format!("DB={url}\n"));
        found.extend(rules.scan_text("svc-b/.env", &format!("DB={url}\n")));
        found.extend(rules.scan_text(
            "svc-b/.env",
            "OTHER=postgresql://app:Zq8wLx2vR7mNp@db.prod:5432/billing\n",
        ));
        let all: Vec<Assessment> = found.iter().map(|f| assess(&rules, f)).collect();
        let inv = inventory(&all);
        assert_eq!(
            inv,
            [InventoryEntry {
                secret_type: "database_credentials",
                count: 2,
                current_storage: ".env",
                risk_level: Risk::Critical,
                dynamic_eligible: true,
            }]
        );
    }
}
