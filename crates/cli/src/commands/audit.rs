//! `audit enable|list|disable` (audit devices under `sys/audit`) and `audit verify`: with
//! `-device=NAME` the server verifies the device's file with the chain key and the position it
//! keeps behind the barrier (`sys/audit-verify/NAME`); with a FILE only the chain's structure is
//! checked locally with `secrethub_audit::verify_file`, which cannot see a chain recomputed
//! without the key or a cut tail.

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
    /// Check an audit log's chain (exit 2 when it is broken): `-device=NAME` has the server
    /// verify it with the chain key; a FILE alone gets a structural check only
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
    /// Have the server verify the file this audit device writes, with its chain key and
    /// checkpoint (needs a token with sudo on sys/audit-verify/NAME)
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub(crate) device: Option<String>,
    /// Audit log written by a file device, checked locally (structure only)
    #[arg(required_unless_present = "device")]
    file: Option<PathBuf>,
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
        AuditCommand::Verify(args) => match &args.device {
            Some(device) => verify_on_server(ctx, device).await,
            None => verify(ctx.format, &args),
        },
    }
}

/// `audit verify -device=NAME`: 0 when the server finds the log intact, 2 when it does not.
async fn verify_on_server(ctx: &Ctx, device: &str) -> CmdResult {
    let path = sanitize_path(device);
    let answer = ctx
        .client
        .read(&format!("sys/audit-verify/{path}"))
        .await
        .map_err(|e| Failure::api("Error verifying the audit log", &e))?
        .unwrap_or(Value::Null);
    let data = body_data(&answer).clone();
    let ok = data["ok"] == json!(true);
    if ctx.format == Format::Json {
        output::out(&output::json(&data));
        return Ok(if ok { 0 } else { 2 });
    }
    let file = data["file"].as_str().unwrap_or(device);
    let mut text = match data["problem"].as_str() {
        Some(problem) => format!("{file}: {problem}"),
        None => format!("{file}: {}", data["message"].as_str().unwrap_or("ok")),
    };
    for found in data["problems_at_unseal"].as_array().into_iter().flatten() {
        text.push_str(&format!("\n{file}: {}", found.as_str().unwrap_or_default()));
    }
    text.push_str(&format!(
        "\nlast line written: seq {}; stored checkpoint: seq {}",
        data["head_seq"], data["checkpoint_seq"]
    ));
    if ok {
        output::out(&text);
        Ok(0)
    } else {
        output::err(&text);
        Ok(2)
    }
}

/// `audit verify FILE`: 0 when the chain holds, 2 when it breaks, 1 when the file is unreadable.
pub(crate) fn verify(format: Format, args: &VerifyArgs) -> CmdResult {
    let Some(file) = &args.file else {
        return Err(Failure::local("audit verify needs a FILE or -device=NAME"));
    };
    let report = secrethub_audit::verify_file(file)
        .map_err(|e| Failure::local(format!("Error verifying {}: {e}", file.display())))?;
    let note = if report.lines > 0 && report.unkeyed_lines == report.lines {
        "structure only; this file's lines carry no mac (written before chain keys), so a chain \
         recomputed with SHA-256 or a cut tail cannot be detected"
    } else {
        "structure only: a chain recomputed without the key or a cut tail cannot be detected \
         here; `audit verify -device=NAME` has the server check the macs and its checkpoint"
    };
    match format {
        Format::Json => {
            let problem = report
                .first_problem
                .as_ref()
                .map(|p| json!({ "line": p.line, "reason": p.reason }));
            output::out(&output::json(&json!({
                "file": file.display().to_string(),
                "lines": report.lines,
                "ok": report.is_ok(),
                "first_problem": problem,
                "last_hash": report.last_hash,
                "note": note,
            })));
        }
        Format::Table => {
            let text = format!("{}: {report} ({note})", file.display());
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
            device: None,
            file: Some(PathBuf::from("/nonexistent/secrethub-audit.log")),
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
            verify(
                Format::Json,
                &VerifyArgs {
                    device: None,
                    file: Some(empty)
                }
            )
            .unwrap(),
            0
        );
        let garbage = dir.path().join("garbage.log");
        std::fs::write(&garbage, "not an audit entry\n").unwrap();
        assert_eq!(
            verify(
                Format::Json,
                &VerifyArgs {
                    device: None,
                    file: Some(garbage)
                }
            )
            .unwrap(),
            2
        );
    }
}
