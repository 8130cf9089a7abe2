//! `secrethub advise --apply DIR`: performs `DIR/plan.json` against the server in
//! `SECRETHUB_ADDR`, step by step, printing one line per step: what it wrote, or that it was
//! already in place.
//!
//! Every write is preceded by a read: a mount that is there, a KV field that holds the value,
//! a policy, role or connection whose fields the server shows as the plan has them, is left
//! alone, so a second apply writes nothing. A jwt mount that trusts another issuer is never
//! reconfigured (its config is the whole mount's). A step that fails is reported on stderr
//! and the others go on (a database that refuses the connection does not stop the auth
//! roles), except that a literal whose KV import failed is never rewritten into a reference;
//! the command then exits non-zero. Values (KV imports, a database connection's admin
//! password) are read from the source files at this moment, or for a password already
//! replaced by its reference, from the KV copy the plan made; they are sent to the server and
//! never printed.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use secrethub_client::Client;
use secrethub_scan::{MountKind, Plan, RuleSet, Source, Step, Target};
use serde_json::{json, Map, Value};

use crate::output;
use crate::settings::{client_config, Env, GlobalArgs};

/// Performs `dir/plan.json` against the server.
pub(super) fn apply(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("plan.json"))
        .map_err(|e| format!("reading {}: {e}", dir.join("plan.json").display()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| format!("plan.json: {e}"))?;
    let config = client_config(&GlobalArgs::default(), &Env::from_process())?;
    let client = Client::new(config).map_err(|e| format!("creating the client: {e}"))?;
    let rules = super::rules()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut applier = Applier {
        client: &client,
        rules: &rules,
        plan: &plan,
        files: Files {
            root: Path::new(&plan.root),
            texts: HashMap::new(),
        },
        failed_imports: HashSet::new(),
    };
    runtime.block_on(applier.run())
}

struct Applier<'a> {
    client: &'a Client,
    rules: &'a RuleSet,
    plan: &'a Plan,
    files: Files<'a>,
    /// The sources whose KV import failed: their literals stay as they are.
    failed_imports: HashSet<(String, usize, String)>,
}

fn source_key(s: &Source) -> (String, usize, String) {
    (s.file.clone(), s.line, s.fingerprint.clone())
}

/// How a write went.
enum Outcome {
    Written,
    Updated,
    InPlace,
}

impl Outcome {
    fn said(&self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Updated => "updated",
            Outcome::InPlace => "already in place",
        }
    }
}

/// Whether a field as the server shows it is what the plan wants: numbers by value, lists
/// element by element, maps key by key; an empty list may be shown as `null`.
fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Array(a), Value::Null) => a.is_empty(),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| same(x, y)))
        }
        (a, b) => a == b,
    }
}

/// Whether every field of `body` that the server shows in `current` (its `data`, or a
/// database connection's `connection_details`) has the planned value. Fields it never shows
/// (a password, `skip_jwks_validation`) cannot be compared and do not count.
fn in_place(body: &Map<String, Value>, current: &Value) -> bool {
    let data = current.get("data").unwrap_or(current);
    body.iter().all(|(k, want)| {
        let shown = data
            .get(k)
            .or_else(|| data.get("connection_details").and_then(|d| d.get(k)));
        shown.is_none_or(|have| same(want, have))
    })
}

fn warnings_of(answer: Option<&Value>) -> Vec<String> {
    answer
        .and_then(|a| a.get("warnings"))
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Applier<'_> {
    async fn run(&mut self) -> Result<(), String> {
        let mut failed = 0;
        for step in &self.plan.steps {
            let done = match step {
                Step::EnableMount {
                    kind,
                    path,
                    engine,
                    options,
                } => self.enable_mount(*kind, path, engine, options).await,
                Step::KvPut { path, key, source } => {
                    let done = self.kv_put(path, key, source).await;
                    if done.is_err() {
                        self.failed_imports.insert(source_key(source));
                    }
                    done
                }
                Step::Rotation {
                    path,
                    key,
                    interval_days,
                    method,
                } => self.rotation(path, key, *interval_days, method).await,
                Step::DatabaseConnection { name, source, .. } => {
                    self.database_connection(step, name, source).await
                }
                Step::Policy { name, .. } => self.ensure(&format!("policy {name}"), step).await,
                Step::JwtConfig { mount, issuer } => self.jwt_config(step, mount, issuer).await,
                Step::DatabaseRole { .. } | Step::AuthRole { .. } => self.ensure("", step).await,
                Step::Rewrite {
                    source, reference, ..
                } => self.rewrite(source, reference),
                Step::Proposal { what } => Ok(format!("to do by hand: {what}")),
            };
            match done {
                Ok(line) => output::out(&line),
                Err(e) => {
                    failed += 1;
                    output::err(&format!("error: {e}"));
                }
            }
        }
        if failed > 0 {
            return Err(format!(
                "{failed} of {} steps failed (see above); the others were applied. Fix the cause and apply again: what is in place is left alone",
                self.plan.steps.len()
            ));
        }
        Ok(())
    }

    /// Reads the step's target and writes it unless the server already shows the planned
    /// fields; `label` names it in the output (else its path). `extra` fields (a login) are
    /// written along but not compared.
    async fn ensure(&self, label: &str, step: &Step) -> Result<String, String> {
        let Some(Target { path, body }) = step.target() else {
            return Err("the step has nothing to write".into());
        };
        let label = if label.is_empty() {
            path.as_str()
        } else {
            label
        };
        let (outcome, warnings) = self.write_unless_in_place(&path, body, None).await?;
        let mut line = format!("{label}: {}", outcome.said());
        for w in warnings {
            line.push_str(&format!("\n  warning: {w}"));
        }
        Ok(line)
    }

    /// The jwt mount's issuer, unless the mount already trusts another one: its config is
    /// the whole mount's, and replacing it would lock out whoever logs in through it now.
    async fn jwt_config(&self, step: &Step, mount: &str, issuer: &str) -> Result<String, String> {
        let path = format!("auth/{mount}/config");
        let current = self
            .client
            .read(&path)
            .await
            .map_err(|e| format!("{path}: reading: {e}"))?;
        let data = current.as_ref().map(|c| c.get("data").unwrap_or(c));
        let trusted = data
            .map(|d| {
                [&d["oidc_discovery_url"], &d["jwks_url"], &d["bound_issuer"]]
                    .into_iter()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if trusted.iter().any(|t| *t != issuer) {
            return Err(format!(
                "{path} already trusts {}; left as it is. Enable another jwt mount for {issuer} and change the plan's mount, or configure this one by hand",
                trusted.join(", ")
            ));
        }
        self.ensure("", step).await
    }

    async fn write_unless_in_place(
        &self,
        path: &str,
        body: Map<String, Value>,
        extra: Option<Map<String, Value>>,
    ) -> Result<(Outcome, Vec<String>), String> {
        let current = self
            .client
            .read(path)
            .await
            .map_err(|e| format!("{path}: reading: {e}"))?;
        let outcome = match &current {
            Some(c) if in_place(&body, c) => return Ok((Outcome::InPlace, Vec::new())),
            Some(_) => Outcome::Updated,
            None => Outcome::Written,
        };
        let mut body = body;
        body.extend(extra.unwrap_or_default());
        let answer = self
            .client
            .write(path, &Value::Object(body))
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        Ok((outcome, warnings_of(answer.as_ref())))
    }

    async fn enable_mount(
        &self,
        kind: MountKind,
        path: &str,
        engine: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, String> {
        let (table, what) = match kind {
            MountKind::Secrets => ("sys/mounts", "secrets engine"),
            MountKind::Auth => ("sys/auth", "auth method"),
        };
        let mounts = self
            .client
            .read(table)
            .await
            .map_err(|e| format!("reading {table}: {e}"))?
            .unwrap_or_default();
        let key = format!("{path}/");
        let existing = mounts
            .get("data")
            .and_then(|d| d.get(&key))
            .or_else(|| mounts.get(&key));
        if let Some(m) = existing {
            let kind_there = m["type"].as_str().unwrap_or_default();
            let version = m["options"]["version"].as_str().unwrap_or("1");
            let wanted_version = options.get("version").map(String::as_str);
            let same_type = kind_there == engine || (engine == "kv" && kind_there == "kv-v2");
            if !same_type {
                return Err(format!(
                    "{path}/ is a {kind_there} {what}, the plan needs {engine} there"
                ));
            }
            if engine == "kv" && wanted_version.is_some_and(|v| v != version) && kind_there == "kv"
            {
                return Err(format!(
                    "{path}/ is KV version {version}, the plan needs version 2 (secrethub kv enable-versioning {path}/)"
                ));
            }
            return Ok(format!("mount {path}/ ({engine}): already enabled"));
        }
        let body = match kind {
            MountKind::Secrets => json!({ "type": engine, "options": options }),
            MountKind::Auth => json!({ "type": engine }),
        };
        self.client
            .write(&format!("{table}/{path}"), &body)
            .await
            .map_err(|e| format!("enabling {engine} at {path}/: {e}"))?;
        Ok(format!("mount {path}/ ({engine}): enabled"))
    }

    fn data_path(&self, path: &str, part: &str) -> String {
        let mount = &self.plan.kv_mount;
        let logical = path.strip_prefix(&format!("{mount}/")).unwrap_or(path);
        format!("{mount}/{part}/{logical}")
    }

    async fn kv_put(&mut self, path: &str, key: &str, source: &Source) -> Result<String, String> {
        let data_path = self.data_path(path, "data");
        let current = self
            .client
            .read(&data_path)
            .await
            .map_err(|e| format!("reading {path}: {e}"))?;
        let mut data = current
            .as_ref()
            .and_then(|v| v["data"]["data"].as_object().cloned())
            .unwrap_or_default();
        let found = self.files.value(self.rules, source)?;
        let Some((value, _)) = found else {
            if data.contains_key(key) {
                return Ok(format!("kv {path}#{key}: already imported"));
            }
            return Err(format!(
                "{}:{}: the value the plan names is no longer there and {path}#{key} is not set",
                source.file, source.line
            ));
        };
        if data.get(key).and_then(Value::as_str) == Some(value.as_str()) {
            return Ok(format!("kv {path}#{key}: unchanged"));
        }
        data.insert(key.to_string(), Value::String(value));
        self.client
            .write(&data_path, &json!({ "data": data }))
            .await
            .map_err(|e| format!("writing {path}: {e}"))?;
        Ok(format!(
            "kv {path}#{key}: imported from {}:{}",
            source.file, source.line
        ))
    }

    /// The schedule as two entries of the secret's `custom_metadata`, merged in with a PATCH
    /// so the other entries stay.
    async fn rotation(
        &self,
        path: &str,
        key: &str,
        interval_days: u32,
        method: &str,
    ) -> Result<String, String> {
        let metadata_path = self.data_path(path, "metadata");
        let wanted = json!({
            format!("rotation_period.{key}"): format!("{}h", interval_days * 24),
            format!("rotation_method.{key}"): method,
        });
        let current = self
            .client
            .read(&metadata_path)
            .await
            .map_err(|e| format!("reading {path}'s metadata: {e}"))?;
        let shown = current
            .as_ref()
            .map(|c| c["data"]["custom_metadata"].clone())
            .unwrap_or_default();
        let label = format!("rotation of {path}#{key} (every {interval_days} days)");
        let in_place = wanted
            .as_object()
            .is_some_and(|w| w.iter().all(|(k, v)| shown.get(k) == Some(v)));
        if in_place {
            return Ok(format!("{label}: already in place"));
        }
        self.client
            .patch(&metadata_path, &json!({ "custom_metadata": wanted }))
            .await
            .map_err(|e| format!("{label}: {e}"))?;
        Ok(format!("{label}: written"))
    }

    /// The connection, with the admin login from the URL in the file (its password from the
    /// KV copy once the file holds a reference), written unless it is in place; a refused
    /// connection is the server's message.
    async fn database_connection(
        &mut self,
        step: &Step,
        name: &str,
        source: &Source,
    ) -> Result<String, String> {
        let Some(Target { path, mut body }) = step.target() else {
            return Err("the step has nothing to write".into());
        };
        let text = self.files.text(&source.file)?;
        let before = text
            .lines()
            .nth(source.line.saturating_sub(1))
            .and_then(|l| l.get(..source.column.saturating_sub(1)))
            .unwrap_or_default();
        let username = secrethub_scan::url_username(before).ok_or_else(|| {
            format!(
                "{path}: {}:{}: no database URL with a user there any more",
                source.file, source.line
            )
        })?;
        body.insert("username".into(), username.into());
        let current = self
            .client
            .read(&path)
            .await
            .map_err(|e| format!("{path}: reading: {e}"))?;
        if current.as_ref().is_some_and(|c| in_place(&body, c)) {
            return Ok(format!("{path}: already in place"));
        }
        let password = self.url_password(source).await?;
        let login = Map::from_iter([("password".to_string(), Value::String(password))]);
        let (outcome, warnings) = self
            .write_unless_in_place(&path, body, Some(login))
            .await
            .map_err(|e| format!("database connection {name}: {e}"))?;
        let mut line = format!("{path}: {}", outcome.said());
        for w in warnings {
            line.push_str(&format!("\n  warning: {w}"));
        }
        Ok(line)
    }

    /// The URL's password, decoded: from the file, else from the KV import of that value.
    async fn url_password(&mut self, source: &Source) -> Result<String, String> {
        let found = self.files.value(self.rules, source)?;
        if let Some((raw, _)) = found {
            return Ok(secrethub_scan::percent_decode(&raw));
        }
        let import = self.plan.steps.iter().find_map(|s| match s {
            Step::KvPut {
                path,
                key,
                source: s,
            } if s == source => Some((path, key)),
            _ => None,
        });
        let Some((path, key)) = import else {
            return Err(format!(
                "{}:{}: the database password is no longer there",
                source.file, source.line
            ));
        };
        let stored = self
            .client
            .read(&self.data_path(path, "data"))
            .await
            .map_err(|e| format!("reading {path}: {e}"))?;
        stored
            .as_ref()
            .and_then(|v| v["data"]["data"][key.as_str()].as_str())
            .map(secrethub_scan::percent_decode)
            .ok_or_else(|| {
                format!(
                    "{}:{}: the database password is neither in the file nor in {path}#{key}",
                    source.file, source.line
                )
            })
    }

    fn rewrite(&mut self, source: &Source, reference: &str) -> Result<String, String> {
        if self.failed_imports.contains(&source_key(source)) {
            return Err(format!(
                "{}:{}: left as it is, since its value could not be imported",
                source.file, source.line
            ));
        }
        let found = self.files.value(self.rules, source)?;
        let text = self.files.text(&source.file)?;
        match found {
            Some((_, Some((start, end)))) => {
                let rewritten = format!("{}{reference}{}", &text[..start], &text[end..]);
                self.files.write(&source.file, rewritten)?;
                Ok(format!(
                    "rewrite {}:{}: now {reference}",
                    source.file, source.line
                ))
            }
            _ if text.contains(reference) => Ok(format!(
                "rewrite {}:{}: already done",
                source.file, source.line
            )),
            _ => Err(format!(
                "{}:{}: the value to rewrite is no longer there",
                source.file, source.line
            )),
        }
    }
}

/// A value read back from its file, with its byte span when it is there literally.
type Found = (String, Option<(usize, usize)>);

/// The plan's source files, each read once and kept as the rewrites change it, so a file
/// with many secrets is not read again for every import and rewrite.
struct Files<'a> {
    root: &'a Path,
    texts: HashMap<String, String>,
}

impl Files<'_> {
    fn text(&mut self, rel: &str) -> Result<&str, String> {
        if !self.texts.contains_key(rel) {
            let text = std::fs::read_to_string(self.root.join(rel))
                .map_err(|e| format!("reading {rel}: {e}"))?;
            self.texts.insert(rel.to_string(), text);
        }
        Ok(self.texts[rel].as_str())
    }

    /// The value the plan names at `source` and its span, if it is still in the file.
    fn value(&mut self, rules: &RuleSet, source: &Source) -> Result<Option<Found>, String> {
        let text = self.text(&source.file)?;
        Ok(secrethub_scan::value_at(
            rules,
            &source.file,
            text,
            source.line,
            &source.fingerprint,
        ))
    }

    fn write(&mut self, rel: &str, text: String) -> Result<(), String> {
        std::fs::write(self.root.join(rel), &text).map_err(|e| format!("rewriting {rel}: {e}"))?;
        self.texts.insert(rel.to_string(), text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_compared_as_the_server_shows_them() {
        let body = json!({
            "token_ttl": 3600,
            "token_policies": ["app"],
            "bound_claims": {"repository": "acme/shop"},
            "connection_url": "postgresql://{{username}}:{{password}}@db/x",
            "skip_jwks_validation": true,
        });
        let body = body.as_object().unwrap();
        let shown = json!({"data": {
            "token_ttl": 3600.0,
            "token_policies": ["app"],
            "bound_claims": {"repository": "acme/shop"},
            "connection_details": {"connection_url": "postgresql://{{username}}:{{password}}@db/x"},
        }});
        assert!(in_place(body, &shown));
        let mut other = shown.clone();
        other["data"]["token_policies"] = json!(["app", "default"]);
        assert!(!in_place(body, &other));
        let mut other = shown;
        other["data"]["bound_claims"]["repository"] = json!("acme/other");
        assert!(!in_place(body, &other));
        assert!(same(&json!([]), &Value::Null));
    }
}
