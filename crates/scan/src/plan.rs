//! The migration plan (issue 17, part 4): what `secrethub advise --plan DIR` writes for a
//! person to review and `--apply DIR` performs. No value is ever written into a plan: a KV
//! import names the file, position and fingerprint of its value, which `--apply` reads from
//! the file at apply time, and a rewrite names the reference that replaces it.
//!
//! Each secret goes to KV v2 at `<mount>/<service>/<file>` under its setting's name; each
//! service gets a policy that reads only its own paths (and its database roles' creds); each
//! literal in a `.env` or config file is replaced by a `${secret:…}` reference that
//! `secrethub run --env-file` or `secrethub template render` resolve. What needs a person's
//! input (a database admin login, an auth method's cluster address) is proposed, not applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::inventory::Assessment;

/// Directories that hold a kind of file rather than one service's files.
const GENERIC_DIRS: &[&str] = &[
    "k8s",
    "kubernetes",
    "manifests",
    "deploy",
    "deployment",
    "helm",
    "charts",
    "config",
    "configs",
    "src",
    "certs",
    "docs",
    ".github",
    ".gitlab",
    "ci",
    "infra",
    "terraform",
];

/// Where a value is, so `--apply` can read it and check it is still the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Relative to the plan's root.
    pub file: String,
    /// 1-based line and column.
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
    /// The value's fingerprint.
    pub fingerprint: String,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Store the value found at `source` in KV v2 (applied).
    KvPut {
        /// `<mount>/<service>/<file>` (the logical path, without `data/`).
        path: String,
        /// The field.
        key: String,
        /// Where the value is read at apply time.
        source: Source,
    },
    /// A policy per service (applied).
    Policy {
        /// `<service>` (also the file `policies/<service>.hcl`).
        name: String,
        /// Its HCL.
        hcl: String,
    },
    /// Replace the literal at `source` with `reference` (applied, after the KV imports).
    Rewrite {
        /// Where the literal is.
        source: Source,
        /// `${secret:<path>#<key>}`.
        reference: String,
        /// What resolves it (`secrethub run --env-file`, `secrethub template render`).
        resolved_by: String,
    },
    /// Something a person completes (a database admin login, an auth method role): shown,
    /// never applied.
    Proposal {
        /// What to do, with the command to run.
        what: String,
    },
}

/// The plan: its root and steps, in the order `--apply` performs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The scanned directory, absolute.
    pub root: String,
    /// The KV v2 mount the secrets go to.
    pub kv_mount: String,
    /// The steps.
    pub steps: Vec<Step>,
}

/// The service a file belongs to: its first directory that is not a generic one (`k8s`,
/// `src`, …), else `app`.
pub fn service_of(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts
        .into_iter()
        .find(|p| !GENERIC_DIRS.contains(&p.to_ascii_lowercase().as_str()))
        .map(sanitize)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "app".to_string())
}

/// Lowercase letters, digits and `-`, as a path segment and a policy name.
fn sanitize(s: &str) -> String {
    let out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.trim_matches('-').to_string()
}

/// The KV path segment of a file: its name without extension (`.env` → `env`).
fn file_key(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.trim_start_matches('.');
    let stem = stem.split('.').next().unwrap_or(stem);
    let s = sanitize(stem);
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// The setting's name on the finding's line: `KEY` of `KEY=value` / `key: value`, the last
/// segment of a YAML key path, or the rule.
fn setting_name(a: &Assessment, line_text: &str) -> String {
    if let Some(path) = a.finding.context.get("key_path") {
        if let Some(last) = path.rsplit('.').next() {
            return last.to_string();
        }
    }
    let before = &line_text[..line_text.len().min(a.finding.column.saturating_sub(1))];
    let key = before
        .split(['=', ':'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_start_matches("export ")
        .trim_matches(|c| c == '"' || c == '\'' || c == '-' || c == ' ');
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if valid {
        let name = key.rsplit('.').next().unwrap_or(key);
        // A URL's password is part of the setting, not all of it.
        if matches!(a.finding.rule.as_str(), "database-url" | "jdbc-password") {
            format!("{name}_password")
        } else {
            name.to_string()
        }
    } else {
        a.finding.rule.replace('-', "_")
    }
}

fn resolved_by(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with(".env") || name.ends_with(".env") {
        "secrethub run --env-file"
    } else {
        "secrethub template render"
    }
}

/// The plan for the classified findings of the tree at `root`; `text_of` gives a file's
/// text (to name settings).
pub fn plan(
    root: &str,
    kv_mount: &str,
    assessed: &[Assessment],
    text_of: &dyn Fn(&str) -> Option<String>,
) -> Plan {
    let mut steps = Vec::new();
    let mut services: BTreeMap<String, bool> = BTreeMap::new();
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    let mut rewrites = Vec::new();
    let mut proposals = Vec::new();
    // Each file's text, read once however many findings it has.
    let mut texts: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for a in assessed {
        let f = &a.finding;
        let service = service_of(&f.path);
        let database = a.replace_with.engine == "database" && a.dynamic_eligible;
        *services.entry(service.clone()).or_default() |= database;
        let line_text = texts
            .entry(f.path.as_str())
            .or_insert_with(|| text_of(&f.path))
            .as_deref()
            .and_then(|t| t.lines().nth(f.line - 1))
            .unwrap_or_default()
            .to_string();
        let path = format!("{kv_mount}/{service}/{}", file_key(&f.path));
        let name = setting_name(a, &line_text);
        let mut key = name.clone();
        let mut n = 2;
        while !used.insert((path.clone(), key.clone())) {
            key = format!("{name}_{n}");
            n += 1;
        }
        let source = Source {
            file: f.path.clone(),
            line: f.line,
            column: f.column,
            fingerprint: f.fingerprint.clone(),
        };
        steps.push(Step::KvPut {
            path: path.clone(),
            key: key.clone(),
            source: source.clone(),
        });
        if f.decoded_from.is_some() {
            proposals.push(Step::Proposal {
                what: format!(
                    "{}:{}: a Kubernetes Secret's data; render it from {path}#{key} with the agent or external-secrets instead of committing it",
                    f.path, f.line
                ),
            });
        } else {
            rewrites.push(Step::Rewrite {
                source,
                reference: format!("${{secret:{path}#{key}}}"),
                resolved_by: resolved_by(&f.path).to_string(),
            });
        }
        if database {
            let plugin = a.replace_with.plugin.unwrap_or("<plugin>");
            proposals.push(Step::Proposal {
                what: format!(
                    "{}:{}: make it dynamic: secrethub write database/config/{service} plugin_name={plugin} connection_url=… username=<admin> password=<admin password> allowed_roles='{service}-*', then database/roles/{service}-app with default_ttl=1h max_ttl=24h",
                    f.path, f.line
                ),
            });
        }
    }
    for (service, database) in &services {
        let mut hcl = format!(
            "# {service}: reads its own secrets and nothing else.\npath \"{kv_mount}/data/{service}/*\" {{\n  capabilities = [\"read\"]\n}}\n"
        );
        if *database {
            hcl.push_str(&format!(
                "path \"database/creds/{service}-*\" {{\n  capabilities = [\"read\"]\n}}\n"
            ));
        }
        steps.push(Step::Policy {
            name: service.clone(),
            hcl,
        });
    }
    steps.extend(rewrites);
    steps.extend(proposals);
    Plan {
        root: root.to_string(),
        kv_mount: kv_mount.to_string(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_file_keys() {
        assert_eq!(service_of(".env"), "app");
        assert_eq!(
            service_of("orders/src/main/resources/application.yml"),
            "orders"
        );
        assert_eq!(service_of("k8s/orders-secret.yaml"), "app");
        assert_eq!(service_of("services/Billing_API/.env"), "services");
        assert_eq!(file_key(".env"), "env");
        assert_eq!(file_key("application.yml"), "application");
        assert_eq!(file_key("docker-compose.prod.yml"), "docker-compose");
    }
}
