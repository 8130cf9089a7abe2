//! `kv get|put|patch|rollback|delete|undelete|destroy|list|metadata`: the KV engine with Vault's version
//! detection. Like Vault's CLI, each command first asks `sys/internal/ui/mounts/<path>` which
//! mount holds the path and its `options.version`, then builds `secret/data/app` (v2) or uses
//! the path as is (v1).

use secrethub_client::KvTarget;
use serde_json::{json, Map, Value};

use crate::commands::generic::print_list_answer;
use crate::input::{parse_kv_args, parse_string_pairs};
use crate::output::{self, header_for_map, pad_equal_signs, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum KvCommand {
    /// Read a secret (the latest version, or -version)
    Get(GetArgs),
    /// Write a secret (a new version on KV v2)
    Put(PutArgs),
    /// Merge fields into the latest version (KV v2)
    Patch(PutArgs),
    /// Write an earlier version's data again as the newest version (KV v2)
    Rollback(RollbackArgs),
    /// Delete the latest version, or -versions (KV v2 keeps them for undelete)
    Delete(VersionsArgs),
    /// Restore deleted versions (KV v2)
    Undelete(VersionsArgs),
    /// Permanently remove versions (KV v2)
    Destroy(VersionsArgs),
    /// List keys under a path
    List(PathArgs),
    /// Read, write or delete a secret's metadata (KV v2)
    Metadata {
        #[command(subcommand)]
        command: MetadataCommand,
    },
}

#[derive(clap::Subcommand)]
pub(crate) enum MetadataCommand {
    /// Show metadata and every version's state
    Get(PathArgs),
    /// Set max-versions, cas-required, delete-version-after, custom metadata
    Put(MetadataPutArgs),
    /// Delete all versions and the metadata
    Delete(PathArgs),
}

#[derive(clap::Args)]
pub(crate) struct PathArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// Secret path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct GetArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// Version to read (KV v2)
    #[arg(long)]
    version: Option<u64>,
    /// Print only this field of the secret
    #[arg(long)]
    field: Option<String>,
    /// Secret path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct PutArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// Check-and-set: write only if the current version is N (0: only if absent)
    #[arg(long)]
    cas: Option<i64>,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
    /// Secret path
    path: String,
    /// Data as key=value, key=@file, key=- (stdin), or - alone for a JSON object on stdin
    data: Vec<String>,
}

#[derive(clap::Args)]
pub(crate) struct RollbackArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// The version whose data becomes the newest version
    #[arg(long)]
    version: Option<u64>,
    /// Secret path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct VersionsArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// Comma-separated version numbers
    #[arg(long, value_delimiter = ',')]
    versions: Vec<u64>,
    /// Secret path
    path: String,
}

#[derive(clap::Args)]
pub(crate) struct MetadataPutArgs {
    /// Mount path of the KV engine; PATH is then relative to it
    #[arg(long)]
    mount: Option<String>,
    /// Versions to keep (0: the mount's setting)
    #[arg(long = "max-versions")]
    max_versions: Option<u64>,
    /// Require check-and-set on every write
    #[arg(long = "cas-required", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cas_required: Option<bool>,
    /// Delete versions this long after they are written (e.g. 768h)
    #[arg(long = "delete-version-after")]
    delete_version_after: Option<String>,
    /// Custom metadata as key=value (repeatable)
    #[arg(long = "custom-metadata")]
    custom_metadata: Vec<String>,
    /// Secret path
    path: String,
}

pub(crate) async fn run(ctx: &Ctx, command: KvCommand) -> CmdResult {
    match command {
        KvCommand::Get(args) => get(ctx, args).await,
        KvCommand::Put(args) => put(ctx, args, false).await,
        KvCommand::Patch(args) => put(ctx, args, true).await,
        KvCommand::Rollback(args) => rollback(ctx, args).await,
        KvCommand::Delete(args) => delete(ctx, args).await,
        KvCommand::Undelete(args) => versions_op(ctx, args, "undelete").await,
        KvCommand::Destroy(args) => versions_op(ctx, args, "destroy").await,
        KvCommand::List(args) => list(ctx, args).await,
        KvCommand::Metadata { command } => metadata(ctx, command).await,
    }
}

/// Finds the mount and version of `path` (or of `-mount`) with the preflight request.
async fn resolve(ctx: &Ctx, mount: Option<&str>, path: &str) -> Result<KvTarget, Failure> {
    ctx.client
        .kv_target_in(mount, path)
        .await
        .map_err(|e| Failure::remote(e.to_string()))
}

async fn get(ctx: &Ctx, args: GetArgs) -> CmdResult {
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    let mut full_path = target.api_path("data");
    if let Some(version) = args.version.filter(|_| target.v2) {
        full_path = format!("{full_path}?version={version}");
    }
    let secret = ctx
        .client
        .read(&full_path)
        .await
        .map_err(|e| Failure::api(format!("Error reading {full_path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {full_path}")))?;
    if !target.v2 {
        return crate::commands::generic::print_answer(ctx.format, &secret, args.field.as_deref());
    }
    let outer = secret.get("data").cloned().unwrap_or(Value::Null);
    if let Some(field) = args.field.as_deref() {
        let inner = outer.get("data").filter(|d| d.is_object());
        let Some(inner) = inner else {
            return Err(Failure::remote(format!("No data found at {full_path}")));
        };
        // `-field=data` means the secret's own "data" key if it has one, else the whole map.
        let value = match inner.get(field) {
            None if field == "data" => Some(inner.clone()),
            found => found.cloned(),
        };
        return output::print_field(ctx.format, value, field);
    }
    if ctx.format == Format::Json {
        output::print_secret(ctx.format, &secret);
        return Ok(0);
    }
    output::print_warnings(&secret);
    output::out(&v2_sections(&full_path, &outer));
    Ok(0)
}

/// The table output of `kv get` on v2: path, metadata and data sections.
pub(crate) fn v2_sections(full_path: &str, outer: &Value) -> String {
    let mut text = path_section("Secret Path", full_path);
    if let Some(Value::Object(metadata)) = outer.get("metadata") {
        text.push_str(&map_section("Metadata", metadata));
        text.push('\n');
    }
    if let Some(Value::Object(data)) = outer.get("data") {
        text.push_str(&map_section("Data", data));
    }
    text.trim_end_matches('\n').to_string()
}

fn path_section(title: &str, path: &str) -> String {
    format!(
        "{}\n{path}\n\n",
        pad_equal_signs(title, path.chars().count())
    )
}

fn map_section(title: &str, map: &Map<String, Value>) -> String {
    let mut text = header_for_map(title, map.keys());
    text.push('\n');
    if let Some(table) = output::map_table(map) {
        text.push_str(&table);
        text.push('\n');
    }
    text
}

async fn put(ctx: &Ctx, args: PutArgs, patch: bool) -> CmdResult {
    if args.data.is_empty() {
        return Err(Failure::local("Must supply data"));
    }
    let data = parse_kv_args(&args.data, &mut std::io::stdin().lock())
        .map_err(|e| Failure::local(format!("Failed to parse K=V data: {e}")))?;
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    if patch && !target.v2 {
        return Err(Failure::remote(
            "K/V engine mount must be version 2 for patch support",
        ));
    }
    let full_path = target.api_path("data");
    let body = if target.v2 {
        let mut body = json!({ "data": data });
        if let Some(cas) = args.cas {
            body["options"] = json!({ "cas": cas });
        }
        body
    } else {
        Value::Object(data)
    };
    let context = format!("Error writing data to {full_path}");
    let answer = if patch {
        ctx.client.patch(&full_path, &body).await
    } else {
        ctx.client.write(&full_path, &body).await
    }
    .map_err(|e| Failure::api(context, &e))?;
    print_write_answer(ctx, &full_path, answer, args.field.as_deref(), target.v2)
}

/// Prints what a data write answered: the new version's metadata on v2, as Vault's CLI does.
fn print_write_answer(
    ctx: &Ctx,
    full_path: &str,
    answer: Option<Value>,
    field: Option<&str>,
    v2: bool,
) -> CmdResult {
    let Some(secret) = answer else {
        if ctx.format == Format::Table {
            output::out(&format!("Success! Data written to: {full_path}"));
        }
        return Ok(0);
    };
    if let Some(field) = field {
        return output::print_field(ctx.format, output::secret_field(&secret, field), field);
    }
    if ctx.format == Format::Json || !v2 {
        output::print_secret(ctx.format, &secret);
        return Ok(0);
    }
    output::print_warnings(&secret);
    let metadata = secret
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let text = path_section("Secret Path", full_path) + &map_section("Metadata", &metadata);
    output::out(text.trim_end_matches('\n'));
    Ok(0)
}

/// `kv rollback -version=N`: reads version N and writes its data as a new version, with
/// check-and-set on the version that was current, so a concurrent write is not overwritten.
async fn rollback(ctx: &Ctx, args: RollbackArgs) -> CmdResult {
    let Some(version) = args.version.filter(|v| *v > 0) else {
        return Err(Failure::local("Must specify a version to roll back to"));
    };
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    if !target.v2 {
        return Err(Failure::remote(
            "K/V engine mount must be version 2 for rollback support",
        ));
    }
    let metadata_path = target.api_path("metadata");
    let metadata = ctx
        .client
        .read(&metadata_path)
        .await
        .map_err(|e| Failure::api(format!("Error reading {metadata_path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {metadata_path}")))?;
    let metadata = &metadata["data"];
    let current = metadata["current_version"].as_u64().unwrap_or(0);
    let state = &metadata["versions"][version.to_string()];
    if state.is_null() {
        return Err(Failure::remote(format!(
            "Cannot roll back to a version that does not exist: {version}"
        )));
    }
    if state["destroyed"].as_bool() == Some(true) {
        return Err(Failure::remote(format!(
            "Cannot roll back to a destroyed version: {version}"
        )));
    }
    if state["deletion_time"]
        .as_str()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(Failure::remote(format!(
            "Cannot roll back to a deleted version: {version}"
        )));
    }
    if version == current {
        return Err(Failure::remote(format!(
            "Version {version} is already the current version"
        )));
    }
    let full_path = target.api_path("data");
    let old_path = format!("{full_path}?version={version}");
    let old = ctx
        .client
        .read(&old_path)
        .await
        .map_err(|e| Failure::api(format!("Error reading {old_path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {old_path}")))?;
    let data = old["data"]["data"].clone();
    let body = json!({ "data": data, "options": { "cas": current } });
    let answer = ctx
        .client
        .write(&full_path, &body)
        .await
        .map_err(|e| Failure::api(format!("Error writing data to {full_path}"), &e))?;
    print_write_answer(ctx, &full_path, answer, None, true)
}

async fn delete(ctx: &Ctx, args: VersionsArgs) -> CmdResult {
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    let (full_path, result) = if args.versions.is_empty() {
        let path = target.api_path("data");
        let result = ctx.client.delete(&path).await;
        (path, result)
    } else {
        if !target.v2 {
            return Err(Failure::local(
                "Versions can only be deleted on KV version 2",
            ));
        }
        let path = target.api_path("delete");
        let result = ctx
            .client
            .write(&path, &json!({ "versions": args.versions }))
            .await;
        (path, result)
    };
    result.map_err(|e| Failure::api(format!("Error deleting {full_path}"), &e))?;
    if ctx.format == Format::Table {
        output::out(&format!(
            "Success! Data deleted (if it existed) at: {full_path}"
        ));
    }
    Ok(0)
}

async fn versions_op(ctx: &Ctx, args: VersionsArgs, op: &str) -> CmdResult {
    if args.versions.is_empty() {
        return Err(Failure::local(format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {op}."
        )));
    }
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    if !target.v2 {
        return Err(Failure::remote(format!(
            "{op} is not supported on KV version 1"
        )));
    }
    let full_path = target.api_path(op);
    ctx.client
        .write(&full_path, &json!({ "versions": args.versions }))
        .await
        .map_err(|e| Failure::api(format!("Error writing data to {full_path}"), &e))?;
    if ctx.format == Format::Table {
        output::out(&format!("Success! Data written to: {full_path}"));
    }
    Ok(0)
}

async fn list(ctx: &Ctx, args: PathArgs) -> CmdResult {
    let target = resolve(ctx, args.mount.as_deref(), &args.path).await?;
    let full_path = format!("{}/", target.api_path("metadata"));
    let secret = ctx
        .client
        .list(&full_path)
        .await
        .map_err(|e| Failure::api(format!("Error listing {full_path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {full_path}")))?;
    print_list_answer(ctx.format, &full_path, &secret)
}

async fn metadata(ctx: &Ctx, command: MetadataCommand) -> CmdResult {
    let (mount, path) = match &command {
        MetadataCommand::Get(a) | MetadataCommand::Delete(a) => {
            (a.mount.as_deref(), a.path.as_str())
        }
        MetadataCommand::Put(a) => (a.mount.as_deref(), a.path.as_str()),
    };
    let target = resolve(ctx, mount, path).await?;
    if !target.v2 {
        return Err(Failure::remote("Metadata not supported on KV Version 1"));
    }
    let full_path = target.api_path("metadata");
    match command {
        MetadataCommand::Get(_) => {
            let secret = ctx
                .client
                .read(&full_path)
                .await
                .map_err(|e| Failure::api(format!("Error reading {full_path}"), &e))?
                .ok_or_else(|| Failure::remote(format!("No value found at {full_path}")))?;
            if ctx.format == Format::Json {
                output::print_secret(ctx.format, &secret);
            } else {
                output::print_warnings(&secret);
                let data = secret
                    .get("data")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                output::out(&metadata_sections(&full_path, data));
            }
            Ok(0)
        }
        MetadataCommand::Put(args) => {
            let mut body = Map::new();
            if let Some(n) = args.max_versions {
                body.insert("max_versions".into(), json!(n));
            }
            if let Some(required) = args.cas_required {
                body.insert("cas_required".into(), json!(required));
            }
            if let Some(after) = args.delete_version_after {
                body.insert("delete_version_after".into(), json!(after));
            }
            if !args.custom_metadata.is_empty() {
                let custom = parse_string_pairs(&args.custom_metadata, "custom-metadata")
                    .map_err(Failure::local)?;
                body.insert("custom_metadata".into(), Value::Object(custom));
            }
            ctx.client
                .write(&full_path, &Value::Object(body))
                .await
                .map_err(|e| Failure::api(format!("Error writing data to {full_path}"), &e))?;
            if ctx.format == Format::Table {
                output::out(&format!("Success! Data written to: {full_path}"));
            }
            Ok(0)
        }
        MetadataCommand::Delete(_) => {
            ctx.client
                .delete(&full_path)
                .await
                .map_err(|e| Failure::api(format!("Error deleting {full_path}"), &e))?;
            if ctx.format == Format::Table {
                output::out(&format!(
                    "Success! Data deleted (if it existed) at: {full_path}"
                ));
            }
            Ok(0)
        }
    }
}

/// The table output of `kv metadata get`: the metadata, then one section per version in order.
pub(crate) fn metadata_sections(full_path: &str, mut data: Map<String, Value>) -> String {
    let versions = data.remove("versions");
    let mut text = path_section("Metadata Path", full_path) + &map_section("Metadata", &data);
    if let Some(Value::Object(versions)) = versions {
        let mut numbered: Vec<(u64, &Map<String, Value>)> = versions
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_object()?)))
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        for (n, version) in numbered {
            text.push('\n');
            text.push_str(&map_section(&format!("Version {n}"), version));
        }
    }
    text.trim_end_matches('\n').to_string()
}

#[cfg(test)]
use secrethub_client::add_prefix_to_kv_path;

#[cfg(test)]
#[path = "kv_tests.rs"]
mod tests;
