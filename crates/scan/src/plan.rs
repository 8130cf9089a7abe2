//! The migration plan (issue 17, part 4): what `secrethub advise --plan DIR` writes for a
//! person to review and `--apply DIR` performs. No value is ever written into a plan: a KV
//! import names the file, position and fingerprint of its value, which `--apply` reads from
//! the file at apply time, and a rewrite names the reference that replaces it.
//!
//! Each secret goes to KV v2 at `<mount>/<service>/<file>` under its setting's name; each
//! service gets a policy that reads only its own paths (and its database roles' creds); each
//! literal in a `.env` or config file is replaced by a `${secret:…}` reference that
//! `secrethub run --env-file` or `secrethub template render` resolve.
//!
//! Besides the KV imports the plan sets up what replaces static secrets, each step one thing
//! `--apply` writes and reads back (so a second apply finds it in place):
//! - `database.rs`: a PostgreSQL or MySQL URL with a password becomes a connection and a role
//!   of the `database` engine, the admin login read from the file at apply time;
//! - `access.rs`: how each service logs in: a `kubernetes` role per service bound to its
//!   service account and namespace (from the manifests, `manifests.rs`) on Kubernetes, an
//!   AppRole role elsewhere, and a `jwt` role bound to the repository for secrets found in
//!   GitHub Actions or GitLab CI (the repository from the checkout's `origin`, `tree.rs`);
//! - a rotation schedule for each secret that stays static, kept as KV metadata beside it
//!   (third-party keys are rotated by a person; the metadata says when and how).
//!
//! What needs a person's input (the Kubernetes API address and CA, a cloud account for AWS
//! roles, a database URL without a usable shape) is a `Proposal`: shown, never applied.

mod access;
mod database;
mod manifests;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::advise::{rotation_for, AdviceRequest};
use crate::inventory::Assessment;

pub use database::{percent_decode, url_username};
pub use tree::{read_tree, Tree};

/// Where the database engine is mounted (the plan enables it there when it is absent).
pub const DATABASE_MOUNT: &str = "database";

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

/// Whether a mount is a secrets engine (`sys/mounts`) or an auth method (`sys/auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A secrets engine.
    Secrets,
    /// An auth method.
    Auth,
}

/// Who may log in through an auth role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Binding {
    /// Pods running as one of these service accounts in one of these namespaces.
    Kubernetes {
        /// `bound_service_account_names`.
        service_accounts: Vec<String>,
        /// `bound_service_account_namespaces`.
        namespaces: Vec<String>,
    },
    /// CI jobs whose ID token (JWT) carries these claims.
    Jwt {
        /// `bound_audiences`: the `aud` the job asks its token for.
        bound_audiences: Vec<String>,
        /// `bound_claims`: the repository (GitHub `repository`, GitLab `project_path`).
        bound_claims: BTreeMap<String, String>,
        /// `user_claim`: what names the caller (its entity alias).
        user_claim: String,
    },
    /// Whoever holds the role's role ID and a secret ID.
    Approle,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Enable a secrets engine or auth method at `path` unless it is there (applied).
    EnableMount {
        /// Secrets engine or auth method.
        kind: MountKind,
        /// The mount path, without a trailing slash.
        path: String,
        /// Its type (`kv`, `database`, `kubernetes`, `jwt`, `approle`).
        engine: String,
        /// Mount options (`version` = `2` for KV).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        options: BTreeMap<String, String>,
    },
    /// Store the value found at `source` in KV v2 (applied).
    KvPut {
        /// `<mount>/<service>/<file>` (the logical path, without `data/`).
        path: String,
        /// The field.
        key: String,
        /// Where the value is read at apply time.
        source: Source,
    },
    /// When a static secret is due for rotation, kept in its KV metadata as
    /// `rotation_period.<key>` and `rotation_method.<key>` (applied).
    Rotation {
        /// The KV path, as in `KvPut`.
        path: String,
        /// The field.
        key: String,
        /// Days between rotations.
        interval_days: u32,
        /// Who or what rotates it.
        method: String,
    },
    /// A policy per service (applied).
    Policy {
        /// `<service>` (also the file `policies/<service>.hcl`).
        name: String,
        /// Its HCL.
        hcl: String,
    },
    /// A `database/config/<name>` connection (applied). Its admin login is the URL's user
    /// and password, read from `source` at apply time (from the KV import of that value once
    /// the file holds a reference instead).
    DatabaseConnection {
        /// The connection's name.
        name: String,
        /// `plugin_name`.
        plugin: String,
        /// `connection_url` with `{{username}}` and `{{password}}` in place of the login.
        connection_url: String,
        /// `allowed_roles`.
        allowed_roles: Vec<String>,
        /// Where the URL's password is.
        source: Source,
    },
    /// A `database/roles/<name>` role issuing users of `connection` (applied).
    DatabaseRole {
        /// The role's name.
        name: String,
        /// `db_name`.
        connection: String,
        /// `creation_statements`.
        creation_statements: Vec<String>,
        /// `default_ttl`, seconds.
        default_ttl: u64,
        /// `max_ttl`, seconds.
        max_ttl: u64,
    },
    /// A `jwt` mount's issuer: OIDC discovery at `issuer`, tokens from it only (applied).
    JwtConfig {
        /// The auth mount.
        mount: String,
        /// `oidc_discovery_url` and `bound_issuer`.
        issuer: String,
    },
    /// A role of an auth method giving a service's workload or CI its policies (applied).
    AuthRole {
        /// The auth mount (`kubernetes`, `jwt`, `approle`).
        mount: String,
        /// The role's name (the service's).
        name: String,
        /// Who may log in.
        binding: Binding,
        /// `token_policies`.
        policies: Vec<String>,
        /// `token_ttl`, seconds.
        token_ttl: u64,
        /// `token_max_ttl`, seconds.
        token_max_ttl: u64,
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
    /// Something a person completes (a Kubernetes API address, an AWS role): shown, never
    /// applied.
    Proposal {
        /// What to do, with the command to run.
        what: String,
    },
}

/// What a step writes: an API path and its body. `--apply` reads the path first and writes
/// only when a field the server shows differs, so applying twice writes nothing new.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The API path (without `/v1/`).
    pub path: String,
    /// The fields written.
    pub body: Map<String, Value>,
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Step {
    /// The path and body of a step that is one write (`Policy`, `DatabaseConnection`
    /// without its login, `DatabaseRole`, `JwtConfig`, `AuthRole`); `None` for the others.
    pub fn target(&self) -> Option<Target> {
        let (path, body) = match self {
            Step::Policy { name, hcl } => {
                (format!("sys/policies/acl/{name}"), json!({ "policy": hcl }))
            }
            Step::DatabaseConnection {
                name,
                plugin,
                connection_url,
                allowed_roles,
                ..
            } => (
                format!("{DATABASE_MOUNT}/config/{name}"),
                json!({
                    "plugin_name": plugin,
                    "connection_url": connection_url,
                    "allowed_roles": allowed_roles,
                    "verify_connection": true,
                }),
            ),
            Step::DatabaseRole {
                name,
                connection,
                creation_statements,
                default_ttl,
                max_ttl,
            } => (
                format!("{DATABASE_MOUNT}/roles/{name}"),
                json!({
                    "db_name": connection,
                    "creation_statements": creation_statements,
                    "default_ttl": default_ttl,
                    "max_ttl": max_ttl,
                }),
            ),
            // The keys are fetched at write time when the issuer can be reached, else at the
            // first login: a plan applied from a network without the CI's issuer still works.
            Step::JwtConfig { mount, issuer } => (
                format!("auth/{mount}/config"),
                json!({
                    "oidc_discovery_url": issuer,
                    "bound_issuer": issuer,
                    "skip_jwks_validation": true,
                }),
            ),
            Step::AuthRole {
                mount,
                name,
                binding,
                policies,
                token_ttl,
                token_max_ttl,
            } => {
                let mut body = match binding {
                    Binding::Kubernetes {
                        service_accounts,
                        namespaces,
                    } => json!({
                        "bound_service_account_names": service_accounts,
                        "bound_service_account_namespaces": namespaces,
                    }),
                    Binding::Jwt {
                        bound_audiences,
                        bound_claims,
                        user_claim,
                    } => json!({
                        "role_type": "jwt",
                        "bound_audiences": bound_audiences,
                        "bound_claims": bound_claims,
                        "bound_claims_type": "string",
                        "user_claim": user_claim,
                    }),
                    Binding::Approle => json!({}),
                };
                if let Value::Object(m) = &mut body {
                    m.insert("token_policies".into(), json!(policies));
                    m.insert("token_ttl".into(), json!(token_ttl));
                    m.insert("token_max_ttl".into(), json!(token_max_ttl));
                }
                (format!("auth/{mount}/role/{name}"), body)
            }
            _ => return None,
        };
        Some(Target {
            path,
            body: object(body),
        })
    }
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

/// What a plan is made from.
pub struct PlanInput<'a> {
    /// The scanned directory, absolute.
    pub root: &'a str,
    /// The KV v2 mount the secrets go to.
    pub kv_mount: &'a str,
    /// The strategy request: its platform and compliance decide auth methods and TTLs.
    pub request: &'a AdviceRequest,
    /// The classified findings.
    pub assessed: &'a [Assessment],
    /// A file's text by its path from the root (to name settings and read URLs).
    pub text_of: &'a dyn Fn(&str) -> Option<String>,
    /// The tree's Kubernetes manifests and git remote.
    pub tree: &'a Tree,
}

/// The CI system a file configures, if any.
fn ci_of(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.starts_with(".github/workflows/") || path.contains("/.github/workflows/") {
        Some("github-actions")
    } else if name == ".gitlab-ci.yml" {
        Some("gitlab-ci")
    } else {
        None
    }
}

/// The service a file belongs to: the CI system for a CI config (`github-actions`,
/// `gitlab-ci`), else its first directory that is not a generic one (`k8s`, `src`, …), else
/// `app`.
pub fn service_of(path: &str) -> String {
    if let Some(ci) = ci_of(path) {
        return ci.to_string();
    }
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

fn mount(kind: MountKind, path: &str, engine: &str) -> Step {
    Step::EnableMount {
        kind,
        path: path.to_string(),
        engine: engine.to_string(),
        options: BTreeMap::new(),
    }
}

/// The plan for the classified findings of a tree (see the module docs).
pub fn plan(input: &PlanInput) -> Plan {
    let kv_mount = input.kv_mount;
    let mut imports = Vec::new();
    let mut rotations = Vec::new();
    let mut services: BTreeSet<String> = BTreeSet::new();
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    let mut rewrites = Vec::new();
    let mut proposals = Vec::new();
    let mut databases = database::Databases::default();
    // Each file's text, read once however many findings it has.
    let mut texts: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for a in input.assessed {
        let f = &a.finding;
        let service = service_of(&f.path);
        services.insert(service.clone());
        let text = texts
            .entry(f.path.as_str())
            .or_insert_with(|| (input.text_of)(&f.path))
            .as_deref()
            .unwrap_or_default();
        let line_text = text.lines().nth(f.line - 1).unwrap_or_default();
        let path = format!("{kv_mount}/{service}/{}", file_key(&f.path));
        let name = setting_name(a, line_text);
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
        imports.push(Step::KvPut {
            path: path.clone(),
            key: key.clone(),
            source: source.clone(),
        });
        if !a.dynamic_eligible {
            let (interval_days, method) = rotation_for(input.request, f.secret_type.as_str());
            rotations.push(Step::Rotation {
                path: path.clone(),
                key: key.clone(),
                interval_days,
                method: method.to_string(),
            });
        }
        if f.decoded_from.is_some() {
            proposals.push(Step::Proposal {
                what: format!(
                    "{}:{}: a Kubernetes Secret's data; render it from {path}#{key} with the agent or external-secrets instead of committing it",
                    f.path, f.line
                ),
            });
        } else {
            rewrites.push(Step::Rewrite {
                source: source.clone(),
                reference: format!("${{secret:{path}#{key}}}"),
                resolved_by: resolved_by(&f.path).to_string(),
            });
        }
        if a.dynamic_eligible && matches!(a.replace_with.engine, "aws" | "gcp" | "azure") {
            proposals.push(Step::Proposal {
                what: format!(
                    "{}:{}: a static {} key, kept in {path}#{key} for now: SecretHub has no {} secrets engine yet; give {service} a role of its own with least privilege and short-lived credentials from the cloud's STS or workload identity, then revoke this key",
                    f.path, f.line, a.replace_with.engine, a.replace_with.engine
                ),
            });
        }
        if a.replace_with.engine == "database" && a.dynamic_eligible {
            databases.add(a, &service, text, source);
        }
    }
    let ttls = database::Ttls {
        default: crate::advise::short_ttl_secs(input.request),
        max: crate::advise::MAX_TTL_SECS,
    };
    let database_steps = databases.steps(ttls);
    let access = access::derive(input, &services);

    let mut steps = vec![Step::EnableMount {
        kind: MountKind::Secrets,
        path: kv_mount.to_string(),
        engine: "kv".into(),
        options: BTreeMap::from([("version".to_string(), "2".to_string())]),
    }];
    if !database_steps.is_empty() {
        steps.push(mount(MountKind::Secrets, DATABASE_MOUNT, "database"));
    }
    for (path, engine) in &access.mounts {
        steps.push(mount(MountKind::Auth, path, engine));
    }
    steps.extend(imports);
    steps.extend(rotations);
    for service in &services {
        let mut hcl = format!(
            "# {service}: reads its own secrets and nothing else.\npath \"{kv_mount}/data/{service}/*\" {{\n  capabilities = [\"read\"]\n}}\n"
        );
        for role in databases.roles_of(service) {
            hcl.push_str(&format!(
                "path \"{DATABASE_MOUNT}/creds/{role}\" {{\n  capabilities = [\"read\"]\n}}\n"
            ));
        }
        steps.push(Step::Policy {
            name: service.clone(),
            hcl,
        });
    }
    steps.extend(database_steps);
    steps.extend(access.steps);
    steps.extend(rewrites);
    steps.extend(proposals);
    steps.extend(databases.proposals());
    steps.extend(access.proposals);
    Plan {
        root: input.root.to_string(),
        kv_mount: kv_mount.to_string(),
        steps,
    }
}

#[cfg(test)]
mod tests;
