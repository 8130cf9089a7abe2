//! `read`, `write`, `delete`, `list` and `patch`: raw access to any API path, as in Vault.

use secrethub_common::JsonMap;
use serde_json::Value;

use super::{ensure_trailing_slash, sanitize_path};
use crate::input::parse_kv_args;
use crate::output::{self, format_value, Format};
use crate::{CmdResult, Ctx, Failure};

/// `read [-field=NAME] PATH [K=V ...]`
#[derive(clap::Args)]
pub(crate) struct ReadArgs {
    /// Print only this field of the answer
    #[arg(long)]
    pub(crate) field: Option<String>,
    /// API path, without /v1/ (e.g. secret/app, sys/mounts)
    pub(crate) path: String,
    /// Query parameters as key=value (e.g. ttl=1h), sent as ?key=value like Vault
    pub(crate) data: Vec<String>,
}

/// `write|patch [-f] [-field=NAME] PATH [K=V ... | - | @file.json]`
#[derive(clap::Args)]
pub(crate) struct WriteArgs {
    /// Write even when no data is given
    #[arg(short = 'f', long = "force")]
    pub(crate) force: bool,
    /// Print only this field of the answer
    #[arg(long)]
    pub(crate) field: Option<String>,
    /// API path, without /v1/
    pub(crate) path: String,
    /// Data as key=value, key=@file, key=- (stdin), or - alone for a JSON object on stdin
    pub(crate) data: Vec<String>,
}

/// `delete PATH`, `list PATH`
#[derive(clap::Args)]
pub(crate) struct PathArgs {
    /// API path, without /v1/
    pub(crate) path: String,
}

pub(crate) async fn read(ctx: &Ctx, args: ReadArgs) -> CmdResult {
    let path = sanitize_path(&args.path);
    let body = parse_kv_args(&args.data, &mut std::io::stdin().lock())
        .map_err(|e| Failure::local(format!("Failed to parse K=V data: {e}")))?;
    let query = query_pairs(&body);
    let secret = ctx
        .client
        .read_with_query(&path, &query)
        .await
        .map_err(|e| Failure::api(format!("Error reading {path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {path}")))?;
    print_answer(ctx.format, &secret, args.field.as_deref())
}

pub(crate) async fn write(ctx: &Ctx, args: WriteArgs) -> CmdResult {
    let (path, body) = write_body(&args)?;
    let answer = ctx
        .client
        .write(&path, &body)
        .await
        .map_err(|e| Failure::api(format!("Error writing data to {path}"), &e))?;
    print_write_answer(ctx.format, &path, answer, args.field.as_deref())
}

pub(crate) async fn patch(ctx: &Ctx, args: WriteArgs) -> CmdResult {
    let (path, body) = write_body(&args)?;
    let answer = ctx
        .client
        .patch(&path, &body)
        .await
        .map_err(|e| Failure::api(format!("Error writing data to {path}"), &e))?;
    print_write_answer(ctx.format, &path, answer, args.field.as_deref())
}

pub(crate) async fn delete(ctx: &Ctx, args: PathArgs) -> CmdResult {
    let path = sanitize_path(&args.path);
    ctx.client
        .delete(&path)
        .await
        .map_err(|e| Failure::api(format!("Error deleting {path}"), &e))?;
    if ctx.format == Format::Table {
        output::out(&format!("Success! Data deleted (if it existed) at: {path}"));
    }
    Ok(0)
}

pub(crate) async fn list(ctx: &Ctx, args: PathArgs) -> CmdResult {
    let path = ensure_trailing_slash(&sanitize_path(&args.path));
    let secret = ctx
        .client
        .list(&path)
        .await
        .map_err(|e| Failure::api(format!("Error listing {path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {path}")))?;
    print_list_answer(ctx.format, &path, &secret)
}

/// Prints a LIST answer, or Vault's "No entries found" (exit 2) when it has no keys.
pub(crate) fn print_list_answer(format: Format, path: &str, secret: &Value) -> CmdResult {
    let has_keys = secret
        .get("data")
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .is_some_and(|k| !k.is_empty());
    if !has_keys {
        return Err(Failure::remote(format!("No entries found at {path}")));
    }
    output::print_list(format, secret);
    Ok(0)
}

/// Prints an answer as a table or JSON, or only `-field`.
pub(crate) fn print_answer(format: Format, secret: &Value, field: Option<&str>) -> CmdResult {
    match field {
        Some(field) => output::print_field(format, output::secret_field(secret, field), field),
        None => {
            output::print_secret(format, secret);
            Ok(0)
        }
    }
}

/// Vault prints "Success! Data written to: PATH" when a write answers nothing.
fn print_write_answer(
    format: Format,
    path: &str,
    answer: Option<Value>,
    field: Option<&str>,
) -> CmdResult {
    match answer {
        Some(secret) => print_answer(format, &secret, field),
        None => {
            if format == Format::Table {
                output::out(&format!("Success! Data written to: {path}"));
            }
            Ok(0)
        }
    }
}

/// Flattens parsed `K=V` arguments into query pairs: a repeated key (a list) becomes one pair
/// per value, non-string JSON values their `%v` text. Keys come out sorted, as Go's
/// `url.Values.Encode` orders them.
pub(crate) fn query_pairs(body: &JsonMap) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in body {
        match value {
            Value::Array(items) => {
                pairs.extend(items.iter().map(|v| (key.clone(), format_value(v))));
            }
            other => pairs.push((key.clone(), format_value(other))),
        }
    }
    // Stable, so the values of one key keep their command-line order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

fn write_body(args: &WriteArgs) -> Result<(String, Value), Failure> {
    let path = sanitize_path(&args.path);
    if args.data.is_empty() && !args.force {
        return Err(Failure::local("Must supply data or use -force"));
    }
    let body = parse_kv_args(&args.data, &mut std::io::stdin().lock())
        .map_err(|e| Failure::local(format!("Failed to parse K=V data: {e}")))?;
    Ok((path, Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_pairs_flatten_lists_and_sort_keys() {
        let body = json!({"ttl": "1h", "a": ["2", "1"], "n": 3, "flag": true});
        let Value::Object(map) = body else {
            unreachable!("a JSON object literal")
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            query_pairs(&map),
            [
                pair("a", "2"),
                pair("a", "1"),
                pair("flag", "true"),
                pair("n", "3"),
                pair("ttl", "1h")
            ]
        );
    }
}
