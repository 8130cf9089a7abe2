//! `secrethub advise`: the strategy document's report for a tree (`--input`), the migration
//! plan written for review (`--plan DIR`), and the plan performed against a server
//! (`--apply DIR`): KV imports (values read from the files at apply time), policies, then the
//! rewrites of the literals into `${secret:…}` references. Applying twice changes nothing
//! the second time; every step prints what it did.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;
use secrethub_client::Client;
use secrethub_scan::{Plan, RuleSet, Step, WalkOptions};
use serde_json::{json, Value};

use crate::commands::scan::scan_all;
use crate::output;
use crate::settings::{client_config, Env, GlobalArgs};

/// The strategy report for a tree, and its migration plan:
/// secrethub advise --input request.json [--plan DIR] [PATH...] | secrethub advise --apply DIR
#[derive(Parser)]
#[command(name = "secrethub advise")]
struct AdviseArgs {
    /// The document's input: {"query", "constraints", "reference_excerpt"} (JSON)
    #[arg(long, value_name = "FILE", required_unless_present = "apply")]
    input: Option<PathBuf>,
    /// Also write the migration plan into this directory, for review
    #[arg(long, value_name = "DIR")]
    plan: Option<PathBuf>,
    /// Perform the plan in this directory against the server (SECRETHUB_ADDR/TOKEN)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["input", "plan"])]
    apply: Option<PathBuf>,
    /// The KV v2 mount the plan imports secrets into
    #[arg(long = "kv-mount", default_value = "secret", value_name = "MOUNT")]
    kv_mount: String,
    /// Leave out paths matching this pattern (repeatable)
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// The directory to scan (default: the current directory)
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
}

/// Runs `secrethub advise` with the arguments after `advise`; answers the exit code (0, or
/// 2 when it failed).
pub(crate) fn main(args: &[OsString]) -> u8 {
    let parsed = std::iter::once(OsString::from("secrethub advise")).chain(args.iter().cloned());
    let cli = match AdviseArgs::try_parse_from(parsed) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match &cli.apply {
        Some(dir) => apply(dir),
        None => report(&cli),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            output::err(&format!("Error: {e}"));
            2
        }
    }
}

fn rules() -> Result<RuleSet, String> {
    RuleSet::builtin().map_err(|e| format!("loading the scan rules: {e}"))
}

/// The report on stdout, and the plan when `--plan` asks for it.
fn report(cli: &AdviseArgs) -> Result<(), String> {
    let input = cli.input.as_deref().ok_or("--input is required")?;
    let text =
        std::fs::read_to_string(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let request: secrethub_scan::AdviceRequest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let rules = rules()?;
    let root = cli.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let options = WalkOptions {
        ignore: cli.ignore.clone(),
        ..WalkOptions::default()
    };
    let found = scan_all(&rules, std::slice::from_ref(&root), &options)?;
    let assessed: Vec<_> = found
        .findings
        .iter()
        .map(|f| secrethub_scan::assess(&rules, f))
        .collect();
    let advice = secrethub_scan::advise(&rules, &request, &assessed);
    output::out(&serde_json::to_string_pretty(&advice).unwrap_or_default());
    if let Some(dir) = &cli.plan {
        let root = std::fs::canonicalize(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let text_of = |rel: &str| std::fs::read_to_string(root.join(rel)).ok();
        let plan =
            secrethub_scan::plan(&root.to_string_lossy(), &cli.kv_mount, &assessed, &text_of);
        write_plan(dir, &plan, &assessed)?;
        output::err(&format!(
            "plan written to {} ({} steps); review it, then: secrethub advise --apply {}",
            dir.display(),
            plan.steps.len(),
            dir.display()
        ));
    }
    Ok(())
}

/// `plan.json` (what `--apply` reads), `policies/<service>.hcl` and a `README.md` listing
/// each step with masked values.
fn write_plan(
    dir: &Path,
    plan: &Plan,
    assessed: &[secrethub_scan::Assessment],
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("writing the plan in {}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("policies")).map_err(io)?;
    let json = serde_json::to_string_pretty(plan).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("plan.json"), json + "\n").map_err(io)?;
    let mut readme = format!(
        "# Migration plan for {}\n\nApply with `secrethub advise --apply {}` (SECRETHUB_ADDR and SECRETHUB_TOKEN set).\n\n",
        plan.root,
        dir.display()
    );
    let masked = |fingerprint: &str| {
        assessed
            .iter()
            .find(|a| a.finding.fingerprint == fingerprint)
            .map(|a| a.finding.masked.clone())
            .unwrap_or_default()
    };
    for step in &plan.steps {
        let line = match step {
            Step::KvPut { path, key, source } => format!(
                "- import {} from {}:{} into {path}#{key}",
                masked(&source.fingerprint),
                source.file,
                source.line
            ),
            Step::Policy { name, hcl } => {
                std::fs::write(dir.join("policies").join(format!("{name}.hcl")), hcl)
                    .map_err(io)?;
                format!("- policy {name} (policies/{name}.hcl)")
            }
            Step::Rewrite {
                source,
                reference,
                resolved_by,
            } => format!(
                "- rewrite {}:{}:{} to {reference} (resolved by {resolved_by})",
                source.file, source.line, source.column
            ),
            Step::Proposal { what } => format!("- to do by hand: {what}"),
        };
        readme.push_str(&line);
        readme.push('\n');
    }
    std::fs::write(dir.join("README.md"), readme).map_err(io)
}

/// Performs `dir/plan.json` against the server.
fn apply(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("plan.json"))
        .map_err(|e| format!("reading {}: {e}", dir.join("plan.json").display()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| format!("plan.json: {e}"))?;
    let config = client_config(&GlobalArgs::default(), &Env::from_process())?;
    let client = Client::new(config).map_err(|e| format!("creating the client: {e}"))?;
    let rules = rules()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(apply_steps(&client, &rules, &plan))
}

async fn apply_steps(client: &Client, rules: &RuleSet, plan: &Plan) -> Result<(), String> {
    let mut files = Files {
        root: Path::new(&plan.root),
        texts: Default::default(),
    };
    let mount = &plan.kv_mount;
    for step in &plan.steps {
        match step {
            Step::KvPut { path, key, source } => {
                let logical = path.strip_prefix(&format!("{mount}/")).unwrap_or(path);
                let data_path = format!("{mount}/data/{logical}");
                let current = client
                    .read(&data_path)
                    .await
                    .map_err(|e| format!("reading {path}: {e}"))?;
                let mut data = current
                    .as_ref()
                    .and_then(|v| v["data"]["data"].as_object().cloned())
                    .unwrap_or_default();
                let text = files.text(&source.file)?;
                let found = secrethub_scan::value_at(
                    rules,
                    &source.file,
                    text,
                    source.line,
                    &source.fingerprint,
                );
                let Some((value, _)) = found else {
                    if data.contains_key(key) {
                        output::out(&format!("kv {path}#{key}: already imported"));
                        continue;
                    }
                    return Err(format!(
                        "{}:{}: the value the plan names is no longer there and {path}#{key} is not set",
                        source.file, source.line
                    ));
                };
                if data.get(key).and_then(Value::as_str) == Some(value.as_str()) {
                    output::out(&format!("kv {path}#{key}: unchanged"));
                    continue;
                }
                data.insert(key.clone(), Value::String(value));
                client
                    .write(&data_path, &json!({ "data": data }))
                    .await
                    .map_err(|e| format!("writing {path}: {e}"))?;
                output::out(&format!(
                    "kv {path}#{key}: imported from {}:{}",
                    source.file, source.line
                ));
            }
            Step::Policy { name, hcl } => {
                let policy_path = format!("sys/policies/acl/{name}");
                let current = client
                    .read(&policy_path)
                    .await
                    .map_err(|e| format!("reading policy {name}: {e}"))?;
                let same = current
                    .as_ref()
                    .and_then(|v| v["data"]["policy"].as_str().or(v["policy"].as_str()))
                    == Some(hcl.as_str());
                if same {
                    output::out(&format!("policy {name}: unchanged"));
                    continue;
                }
                client
                    .write(&policy_path, &json!({ "policy": hcl }))
                    .await
                    .map_err(|e| format!("writing policy {name}: {e}"))?;
                output::out(&format!("policy {name}: written"));
            }
            Step::Rewrite {
                source, reference, ..
            } => {
                let text = files.text(&source.file)?;
                let found = secrethub_scan::value_at(
                    rules,
                    &source.file,
                    text,
                    source.line,
                    &source.fingerprint,
                );
                match found {
                    Some((_, Some((start, end)))) => {
                        let rewritten = format!("{}{reference}{}", &text[..start], &text[end..]);
                        files.write(&source.file, rewritten)?;
                        output::out(&format!(
                            "rewrite {}:{}: now {reference}",
                            source.file, source.line
                        ));
                    }
                    _ if text.contains(reference.as_str()) => {
                        output::out(&format!(
                            "rewrite {}:{}: already done",
                            source.file, source.line
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "{}:{}: the value to rewrite is no longer there",
                            source.file, source.line
                        ))
                    }
                }
            }
            Step::Proposal { what } => output::out(&format!("to do by hand: {what}")),
        }
    }
    Ok(())
}

/// The plan's source files, each read once and kept as the rewrites change it, so a file
/// with many secrets is not read again for every import and rewrite.
struct Files<'a> {
    root: &'a Path,
    texts: std::collections::HashMap<String, String>,
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

    fn write(&mut self, rel: &str, text: String) -> Result<(), String> {
        std::fs::write(self.root.join(rel), &text).map_err(|e| format!("rewriting {rel}: {e}"))?;
        self.texts.insert(rel.to_string(), text);
        Ok(())
    }
}
