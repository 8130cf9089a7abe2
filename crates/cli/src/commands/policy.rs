//! `policy list|read|write|delete`: ACL policies under `sys/policies/acl/`.

use std::io::Read;

use serde_json::{json, Value};

use crate::output::{self, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// List policy names
    List,
    /// Print a policy's HCL
    Read(NameArgs),
    /// Upload a policy from FILE (- reads stdin)
    Write(WriteArgs),
    /// Delete a policy
    Delete(NameArgs),
}

#[derive(clap::Args)]
pub(crate) struct NameArgs {
    /// Policy name
    name: String,
}

#[derive(clap::Args)]
pub(crate) struct WriteArgs {
    /// Policy name (stored in lower case)
    name: String,
    /// HCL file, or - for stdin
    file: String,
}

pub(crate) async fn run(ctx: &Ctx, command: PolicyCommand) -> CmdResult {
    match command {
        PolicyCommand::List => {
            let answer = ctx
                .client
                .list("sys/policies/acl")
                .await
                .map_err(|e| Failure::api("Error listing policies", &e))?;
            let mut names: Vec<String> = answer
                .as_ref()
                .and_then(|a| a.get("data"))
                .and_then(|d| d.get("keys"))
                .and_then(Value::as_array)
                .map(|k| {
                    k.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            match ctx.format {
                Format::Json => output::out(&output::json(&json!(names))),
                Format::Table => {
                    for name in names {
                        output::out(&name);
                    }
                }
            }
            Ok(0)
        }
        PolicyCommand::Read(args) => {
            let name = normalize_name(&args.name);
            let answer = ctx
                .client
                .read(&format!("sys/policies/acl/{name}"))
                .await
                .map_err(|e| Failure::api(format!("Error reading policy named {name}"), &e))?
                .ok_or_else(|| Failure::remote(format!("No policy named: {name}")))?;
            let data = super::body_data(&answer);
            match ctx.format {
                Format::Json => output::out(&output::json(&data)),
                Format::Table => {
                    let rules = data
                        .get("policy")
                        .or_else(|| data.get("rules"))
                        .and_then(Value::as_str);
                    output::out(rules.unwrap_or_default().trim_end());
                }
            }
            Ok(0)
        }
        PolicyCommand::Write(args) => {
            let name = normalize_name(&args.name);
            let rules = read_policy_file(&args.file).map_err(Failure::local)?;
            ctx.client
                .write(
                    &format!("sys/policies/acl/{name}"),
                    &json!({ "policy": rules }),
                )
                .await
                .map_err(|e| Failure::api("Error uploading policy", &e))?;
            output::out(&format!("Success! Uploaded policy: {name}"));
            Ok(0)
        }
        PolicyCommand::Delete(args) => {
            let name = normalize_name(&args.name);
            ctx.client
                .delete(&format!("sys/policies/acl/{name}"))
                .await
                .map_err(|e| Failure::api(format!("Error deleting {name}"), &e))?;
            output::out(&format!("Success! Deleted policy: {name}"));
            Ok(0)
        }
    }
}

/// Vault stores policy names in lower case; the CLI does the same so `Admin` and `admin` agree.
fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

fn read_policy_file(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut rules = String::new();
        std::io::stdin()
            .read_to_string(&mut rules)
            .map_err(|e| format!("Error reading policy from stdin: {e}"))?;
        return Ok(rules);
    }
    std::fs::read_to_string(file).map_err(|e| format!("Error opening policy file {file}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased_and_files_read() {
        assert_eq!(normalize_name(" Admin "), "admin");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.hcl");
        std::fs::write(&file, "path \"secret/*\" { capabilities = [\"read\"] }\n").unwrap();
        assert!(read_policy_file(file.to_str().unwrap())
            .unwrap()
            .contains("capabilities"));
        assert!(read_policy_file("/nonexistent/p.hcl")
            .unwrap_err()
            .contains("/nonexistent/p.hcl"));
    }
}
