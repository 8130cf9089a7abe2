//! `secrethub advise`: the strategy document's report for a tree (`--input`), the migration
//! plan written for review (`--plan DIR`), and the plan performed against a server
//! (`--apply DIR`, `apply.rs`): mounts, KV imports (values read from the files at apply
//! time), rotation schedules, policies, database connections and roles, auth roles, then the
//! rewrites of the literals into `${secret:…}` references. Applying twice changes nothing
//! the second time; every step prints what it did.

mod apply;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;
use secrethub_common::format_duration;
use secrethub_scan::{Binding, MountKind, Plan, RuleSet, Step, WalkOptions};

use crate::commands::scan::{scan_all, scan_tree_and_history};
use crate::output;

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
    /// Also count what only the git history of PATH's repository still holds (as `git
    /// history only`); no plan moves those
    #[arg(long, conflicts_with = "plan")]
    git: bool,
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
        Some(dir) => apply::apply(dir),
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

pub(super) fn rules() -> Result<RuleSet, String> {
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
    let found = if cli.git {
        scan_tree_and_history(&rules, &root, &options)?
    } else {
        scan_all(&rules, std::slice::from_ref(&root), &options)?
    };
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
        let tree = secrethub_scan::read_tree(&root, &cli.ignore);
        let plan = secrethub_scan::plan(&secrethub_scan::PlanInput {
            root: &root.to_string_lossy(),
            kv_mount: &cli.kv_mount,
            request: &request,
            assessed: &assessed,
            text_of: &text_of,
            tree: &tree,
        });
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
            Step::EnableMount {
                kind, path, engine, ..
            } => {
                let kind = match kind {
                    MountKind::Secrets => "the secrets engine",
                    MountKind::Auth => "the auth method",
                };
                format!("- enable {kind} {engine} at {path}/ unless it is there")
            }
            Step::Rotation {
                path,
                key,
                interval_days,
                method,
            } => format!(
                "- rotate {path}#{key} every {interval_days} days ({method}); kept in its KV metadata"
            ),
            Step::DatabaseConnection {
                name,
                plugin,
                connection_url,
                source,
                ..
            } => format!(
                "- database connection {name}: {plugin} at {connection_url}, the admin login read from {}:{} when applied",
                source.file, source.line
            ),
            Step::DatabaseRole {
                name,
                default_ttl,
                max_ttl,
                ..
            } => format!(
                "- database role {name}: a user per lease, default_ttl {}, max_ttl {} (read database/creds/{name})",
                human(*default_ttl),
                human(*max_ttl)
            ),
            Step::JwtConfig { mount, issuer } => {
                format!("- auth/{mount}/config: ID tokens issued by {issuer}")
            }
            Step::AuthRole {
                mount,
                name,
                binding,
                policies,
                token_ttl,
                ..
            } => format!(
                "- auth/{mount}/role/{name}: {}, policies {}, tokens for {}",
                who(binding),
                policies.join(","),
                human(*token_ttl)
            ),
        };
        readme.push_str(&line);
        readme.push('\n');
    }
    std::fs::write(dir.join("README.md"), readme).map_err(io)
}

fn human(secs: u64) -> String {
    format_duration(std::time::Duration::from_secs(secs))
}

/// Who may log in through a role, for the plan's README.
fn who(binding: &Binding) -> String {
    match binding {
        Binding::Kubernetes {
            service_accounts,
            namespaces,
        } => format!(
            "service account {} in namespace {}",
            service_accounts.join(","),
            namespaces.join(",")
        ),
        Binding::Jwt {
            bound_audiences,
            bound_claims,
            ..
        } => {
            let claims: Vec<String> = bound_claims
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "ID tokens with {} for {}",
                claims.join(", "),
                bound_audiences.join(",")
            )
        }
        Binding::Approle => "a role ID and secret ID".to_string(),
    }
}
