//! `audit enable|list|disable` (audit devices under `sys/audit`) and `audit verify FILE`, which
//! checks a file device's hash chain locally with `secrethub_audit::verify_file`.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::{body_data, ensure_trailing_slash, sanitize_path};
use crate::input::parse_string_pairs;
use crate::output::{self, table, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Enable an audit device, e.g. `audit enable file file_path=/var/log/secrethub/audit.log`
    Enable(EnableArgs),
    /// List enabled audit devices
    List(ListArgs),
    /// Disable an audit device
    Disable(PathArgs),
    /// Check an audit log file's hash chain (exit 2 when it is broken)
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub(crate) struct EnableArgs {
    /// Device path (defaults to the type)
    #[arg(long)]
    path: Option<String>,
    /// Human-friendly description
    #[arg(long)]
    description: Option<String>,
    /// Device type, e.g. file
    device_type: String,
    /// Device options as key=value (file_path=..., hmac_accessor=...)
    options: Vec<String>,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    /// Show options too
    #[arg(long)]
    detailed: bool,
}

#[derive(clap::Args)]
pub(crate) struct PathArgs {
    /// Device path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// Audit log written by a file device
    file: PathBuf,
}

pub(crate) async fn run(ctx: &Ctx, command: AuditCommand) -> CmdResult {
    match command {
        AuditCommand::Enable(args) => {
            let path = sanitize_path(args.path.as_deref().unwrap_or(&args.device_type));
            let options = parse_string_pairs(&args.options, "option").map_err(Failure::local)?;
            let mut body = Map::new();
            body.insert("type".into(), json!(args.device_type));
            if let Some(description) = &args.description {
                body.insert("description".into(), json!(description));
            }
            body.insert("options".into(), Value::Object(options));
            ctx.client
                .write(&format!("sys/audit/{path}"), &Value::Object(body))
                .await
                .map_err(|e| Failure::api("Error enabling audit device", &e))?;
            let shown = ensure_trailing_slash(&path);
            output::out(&format!(
                "Success! Enabled the {} audit device at: {shown}",
                args.device_type
            ));
            Ok(0)
        }
        AuditCommand::List(args) => {
            let answer = ctx
                .client
                .read("sys/audit")
                .await
                .map_err(|e| Failure::api("Error listing audits", &e))?
                .unwrap_or(Value::Null);
            let devices = devices_of(&answer);
            if ctx.format == Format::Json {
                output::out(&output::json(&Value::Object(devices)));
                return Ok(0);
            }
            if devices.is_empty() {
                // Vault answers this with exit code 2, so scripts can test for "no audit".
                output::out("No audit devices are enabled.");
                return Ok(2);
            }
            output::out(&devices_table(&devices, args.detailed));
            Ok(0)
        }
        AuditCommand::Disable(args) => {
            let path = sanitize_path(&args.path);
            ctx.client
                .delete(&format!("sys/audit/{path}"))
                .await
                .map_err(|e| Failure::api("Error disabling audit device", &e))?;
            let shown = ensure_trailing_slash(&path);
            output::out(&format!(
                "Success! Disabled audit device (if it was enabled) at: {shown}"
            ));
            Ok(0)
        }
        AuditCommand::Verify(args) => verify(ctx.format, &args),
    }
}

/// `audit verify FILE`: 0 when the chain holds, 2 when it breaks, 1 when the file is unreadable.
pub(crate) fn verify(format: Format, args: &VerifyArgs) -> CmdResult {
    let report = secrethub_audit::verify_file(&args.file)
        .map_err(|e| Failure::local(format!("Error verifying {}: {e}", args.file.display())))?;
    match format {
        Format::Json => {
            let problem = report
                .first_problem
                .as_ref()
                .map(|p| json!({ "line": p.line, "reason": p.reason }));
            output::out(&output::json(&json!({
                "file": args.file.display().to_string(),
                "lines": report.lines,
                "ok": report.is_ok(),
                "first_problem": problem,
                "last_hash": report.last_hash,
            })));
        }
        Format::Table => {
            let text = format!("{}: {report}", args.file.display());
            if report.is_ok() {
                output::out(&text);
            } else {
                output::err(&text);
            }
        }
    }
    Ok(if report.is_ok() { 0 } else { 2 })
}

/// The device entries of a `sys/audit` answer (keys ending in `/`).
fn devices_of(answer: &Value) -> Map<String, Value> {
    body_data(answer)
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| k.ends_with('/') && v.is_object())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn devices_table(devices: &Map<String, Value>, detailed: bool) -> String {
    let text =
        |entry: &Value, key: &str| entry.get(key).map(output::format_value).unwrap_or_default();
    let rows = devices
        .iter()
        .map(|(path, entry)| {
            let mut row = vec![
                path.clone(),
                text(entry, "type"),
                text(entry, "description"),
            ];
            if detailed {
                row.push(text(entry, "options"));
            }
            row
        })
        .collect();
    if detailed {
        table::table(&["Path", "Type", "Description", "Options"], rows)
    } else {
        table::table(&["Path", "Type", "Description"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_table_lists_paths() {
        let answer = json!({"file/": {"type": "file", "description": "", "options": {"file_path": "/tmp/a.log"}}});
        let devices = devices_of(&answer);
        let expected = "\
Path     Type    Description
----     ----    -----------
file/    file    n/a";
        assert_eq!(devices_table(&devices, false), expected);
        assert!(devices_table(&devices, true).ends_with("map[file_path:/tmp/a.log]"));
    }

    #[test]
    fn verify_reports_unreadable_files_as_local_errors() {
        let args = VerifyArgs {
            file: PathBuf::from("/nonexistent/secrethub-audit.log"),
        };
        let failure = verify(Format::Table, &args).unwrap_err();
        assert_eq!(failure.code, 1);
        assert!(
            failure.message.contains("/nonexistent/secrethub-audit.log"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn verify_accepts_an_empty_log_and_flags_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.log");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(
            verify(Format::Json, &VerifyArgs { file: empty }).unwrap(),
            0
        );
        let garbage = dir.path().join("garbage.log");
        std::fs::write(&garbage, "not an audit entry\n").unwrap();
        assert_eq!(
            verify(Format::Json, &VerifyArgs { file: garbage }).unwrap(),
            2
        );
    }
}
