//! `secrets enable|disable|list|tune` (secrets engines, `sys/mounts`) and
//! `auth enable|disable|list|tune` (auth methods, `sys/auth`): the same commands on two
//! mount tables.

use serde_json::{json, Map, Value};

use super::{body_data, ensure_trailing_slash, sanitize_path};
use crate::input::parse_string_pairs;
use crate::output::{self, table, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum SecretsCommand {
    /// Mount a secrets engine (kv-v2 is kv with version 2)
    Enable(EnableArgs),
    /// Unmount a secrets engine, deleting its data
    Disable(PathArgs),
    /// List mounted secrets engines
    List(ListArgs),
    /// Change a mount's TTLs or description
    Tune(TuneArgs),
}

#[derive(clap::Args)]
pub(crate) struct EnableArgs {
    /// Mount path (defaults to the type)
    #[arg(long)]
    path: Option<String>,
    /// Human-friendly description
    #[arg(long)]
    description: Option<String>,
    /// Default lease TTL (e.g. 1h)
    #[arg(long = "default-lease-ttl")]
    default_lease_ttl: Option<String>,
    /// Maximum lease TTL
    #[arg(long = "max-lease-ttl")]
    max_lease_ttl: Option<String>,
    /// Engine version option (kv: 1 or 2)
    #[arg(long)]
    version: Option<u32>,
    /// Engine option as key=value (repeatable)
    #[arg(long = "options")]
    options: Vec<String>,
    /// Engine type, e.g. kv, kv-v2, database, transit
    engine_type: String,
}

#[derive(clap::Args)]
pub(crate) struct PathArgs {
    /// Mount path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    /// Show TTLs, options and UUIDs
    #[arg(long)]
    detailed: bool,
}

#[derive(clap::Args)]
pub(crate) struct TuneArgs {
    /// Default lease TTL (e.g. 1h)
    #[arg(long = "default-lease-ttl")]
    default_lease_ttl: Option<String>,
    /// Maximum lease TTL
    #[arg(long = "max-lease-ttl")]
    max_lease_ttl: Option<String>,
    /// Human-friendly description
    #[arg(long)]
    description: Option<String>,
    /// Mount path
    path: String,
}

/// Which mount table a command works on.
#[derive(Clone, Copy)]
pub(crate) enum Table {
    /// `sys/mounts`.
    Secrets,
    /// `sys/auth`.
    Auth,
}

impl Table {
    fn sys_path(self) -> &'static str {
        match self {
            Table::Secrets => "sys/mounts",
            Table::Auth => "sys/auth",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Table::Secrets => "secrets engine",
            Table::Auth => "auth method",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Table::Secrets => "secrets engines",
            Table::Auth => "auth methods",
        }
    }
}

pub(crate) async fn run(ctx: &Ctx, command: SecretsCommand) -> CmdResult {
    run_on(ctx, command, Table::Secrets).await
}

pub(crate) async fn run_on(ctx: &Ctx, command: SecretsCommand, t: Table) -> CmdResult {
    let (sys, noun) = (t.sys_path(), t.noun());
    match command {
        SecretsCommand::Enable(args) => {
            let (path, body) = enable_request(&args).map_err(Failure::local)?;
            ctx.client
                .request("POST", &format!("{sys}/{path}"), Some(&body), &[])
                .await
                .map_err(|e| Failure::api("Error enabling", &e))?;
            let shown = ensure_trailing_slash(&path);
            output::out(&format!(
                "Success! Enabled the {} {noun} at: {shown}",
                args.engine_type
            ));
            Ok(0)
        }
        SecretsCommand::Disable(args) => {
            let path = sanitize_path(&args.path);
            ctx.client
                .delete(&format!("{sys}/{path}"))
                .await
                .map_err(|e| Failure::api(format!("Error disabling {noun} at {path}"), &e))?;
            let shown = ensure_trailing_slash(&path);
            output::out(&format!(
                "Success! Disabled the {noun} (if it existed) at: {shown}"
            ));
            Ok(0)
        }
        SecretsCommand::List(args) => {
            let answer = ctx
                .client
                .read(sys)
                .await
                .map_err(|e| Failure::api(format!("Error listing {}", t.plural()), &e))?
                .unwrap_or(Value::Null);
            let mounts = mounts_of(&answer);
            match ctx.format {
                Format::Json => output::out(&output::json(&Value::Object(mounts))),
                Format::Table => output::out(&mounts_table(&mounts, args.detailed)),
            }
            Ok(0)
        }
        SecretsCommand::Tune(args) => {
            let path = sanitize_path(&args.path);
            let mut body = Map::new();
            for (key, value) in [
                ("default_lease_ttl", args.default_lease_ttl),
                ("max_lease_ttl", args.max_lease_ttl),
                ("description", args.description),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), json!(value));
                }
            }
            ctx.client
                .request(
                    "POST",
                    &format!("{sys}/{path}/tune"),
                    Some(&Value::Object(body)),
                    &[],
                )
                .await
                .map_err(|e| Failure::api(format!("Error tuning {noun} {path}"), &e))?;
            let shown = ensure_trailing_slash(&path);
            output::out(&format!("Success! Tuned the {noun} at: {shown}"));
            Ok(0)
        }
    }
}

/// The mount path and `sys/mounts/<path>` body for `secrets enable`.
pub(crate) fn enable_request(args: &EnableArgs) -> Result<(String, Value), String> {
    let mut engine_type = args.engine_type.trim().to_string();
    let path = sanitize_path(args.path.as_deref().unwrap_or(&engine_type));
    let mut options = parse_string_pairs(&args.options, "options")?;
    // `kv-v2` is shorthand for kv with version 2, as in Vault.
    if engine_type == "kv-v2" {
        engine_type = "kv".to_string();
        options.insert("version".into(), json!("2"));
    }
    if let Some(version) = args.version {
        options.insert("version".into(), json!(version.to_string()));
    }
    let mut config = Map::new();
    if let Some(ttl) = &args.default_lease_ttl {
        config.insert("default_lease_ttl".into(), json!(ttl));
    }
    if let Some(ttl) = &args.max_lease_ttl {
        config.insert("max_lease_ttl".into(), json!(ttl));
    }
    let mut body = Map::new();
    body.insert("type".into(), json!(engine_type));
    if let Some(description) = &args.description {
        body.insert("description".into(), json!(description));
    }
    if !config.is_empty() {
        body.insert("config".into(), Value::Object(config));
    }
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    Ok((path, Value::Object(body)))
}

/// The mount entries of a `sys/mounts` answer (keys ending in `/`).
pub(crate) fn mounts_of(answer: &Value) -> Map<String, Value> {
    let data = body_data(answer);
    data.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| k.ends_with('/') && v.is_object())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Vault's `secrets list` and `audit list` style table of mount entries.
pub(crate) fn mounts_table(mounts: &Map<String, Value>, detailed: bool) -> String {
    let text =
        |entry: &Value, key: &str| entry.get(key).map(output::format_value).unwrap_or_default();
    let ttl = |entry: &Value, key: &str| match entry
        .get("config")
        .and_then(|c| c.get(key))
        .and_then(Value::as_u64)
    {
        None | Some(0) => "system".to_string(),
        Some(secs) => table::human_duration(secs),
    };
    let rows = mounts
        .iter()
        .map(|(path, entry)| {
            if detailed {
                let options = match entry.get("options") {
                    Some(Value::Object(o)) if !o.is_empty() => {
                        output::format_value(&Value::Object(o.clone()))
                    }
                    _ => String::new(),
                };
                vec![
                    path.clone(),
                    text(entry, "type"),
                    text(entry, "accessor"),
                    ttl(entry, "default_lease_ttl"),
                    ttl(entry, "max_lease_ttl"),
                    options,
                    text(entry, "description"),
                    text(entry, "uuid"),
                ]
            } else {
                vec![
                    path.clone(),
                    text(entry, "type"),
                    text(entry, "accessor"),
                    text(entry, "description"),
                ]
            }
        })
        .collect();
    if detailed {
        table::table(
            &[
                "Path",
                "Plugin",
                "Accessor",
                "Default TTL",
                "Max TTL",
                "Options",
                "Description",
                "UUID",
            ],
            rows,
        )
    } else {
        table::table(&["Path", "Type", "Accessor", "Description"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: EnableArgs,
    }

    fn enable(argv: &[&str]) -> (String, Value) {
        let argv = crate::argv::normalize(
            std::iter::once("t")
                .chain(argv.iter().copied())
                .map(Into::into),
        );
        enable_request(&Wrapper::try_parse_from(argv).unwrap().args).unwrap()
    }

    #[test]
    fn kv_v2_shorthand_and_flags() {
        assert_eq!(
            enable(&["kv-v2"]),
            (
                "kv-v2".to_string(),
                json!({"type": "kv", "options": {"version": "2"}})
            )
        );
        assert_eq!(
            enable(&[
                "-path=team/",
                "-version=2",
                "-default-lease-ttl=1h",
                "-description=Team KV",
                "kv"
            ]),
            (
                "team".to_string(),
                json!({"type": "kv", "description": "Team KV", "config": {"default_lease_ttl": "1h"}, "options": {"version": "2"}})
            )
        );
    }

    #[test]
    fn list_table_and_mount_extraction() {
        let answer = json!({
            "request_id": "r",
            "data": {
                "secret/": {"type": "kv", "accessor": "kv_1", "description": "", "config": {"default_lease_ttl": 0, "max_lease_ttl": 3600}, "options": {"version": "2"}, "uuid": "u1"},
                "sys/": {"type": "system", "accessor": "system_2", "description": "system endpoints"}
            }
        });
        let mounts = mounts_of(&answer);
        assert_eq!(mounts.len(), 2);
        let expected = "\
Path       Type      Accessor    Description
----       ----      --------    -----------
secret/    kv        kv_1        n/a
sys/       system    system_2    system endpoints";
        assert_eq!(mounts_table(&mounts, false), expected);
        let detailed = mounts_table(&mounts, true);
        assert!(
            detailed.contains(
                "secret/    kv        kv_1        system         1h         map[version:2]"
            ),
            "{detailed}"
        );
    }
}
