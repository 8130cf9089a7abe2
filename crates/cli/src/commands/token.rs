//! `token create|lookup|renew|revoke|capabilities`: the token store under `auth/token/`.

use serde_json::{json, Map, Value};

use crate::commands::generic::print_answer;
use crate::input::parse_string_pairs;
use crate::output::{self, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a child token (or an orphan with -orphan)
    Create(CreateArgs),
    /// Show a token's properties (your own when none is given)
    Lookup(LookupArgs),
    /// Extend a token's lease (your own when none is given)
    Renew(RenewArgs),
    /// Revoke a token and, unless -mode=orphan, its children
    Revoke(RevokeArgs),
    /// Show the capabilities a token has on a path
    Capabilities(CapabilitiesArgs),
}

#[derive(clap::Args)]
pub(crate) struct CreateArgs {
    /// Policy to attach (repeatable)
    #[arg(long = "policy")]
    policies: Vec<String>,
    /// Initial TTL (e.g. 1h)
    #[arg(long)]
    ttl: Option<String>,
    /// Hard limit past which the token cannot be renewed
    #[arg(long = "explicit-max-ttl")]
    explicit_max_ttl: Option<String>,
    /// Make a periodic token renewed by this period
    #[arg(long)]
    period: Option<String>,
    /// Allow renewal
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    renewable: bool,
    /// Create a token with no parent (not revoked with its creator)
    #[arg(long)]
    orphan: bool,
    /// Do not attach the "default" policy
    #[arg(long = "no-default-policy")]
    no_default_policy: bool,
    /// Number of uses before the token is revoked (0: unlimited)
    #[arg(long = "use-limit")]
    use_limit: Option<u64>,
    /// Display name
    #[arg(long = "display-name")]
    display_name: Option<String>,
    /// Metadata as key=value (repeatable)
    #[arg(long)]
    metadata: Vec<String>,
    /// Create against this token role
    #[arg(long)]
    role: Option<String>,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct LookupArgs {
    /// Treat the argument as an accessor instead of a token
    #[arg(long)]
    accessor: bool,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
    /// Token (or accessor); your own token when omitted
    token: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct RenewArgs {
    /// Treat the argument as an accessor instead of a token
    #[arg(long)]
    accessor: bool,
    /// Requested lease extension (e.g. 1h)
    #[arg(long, short = 'i')]
    increment: Option<String>,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
    /// Token (or accessor); your own token when omitted
    token: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct RevokeArgs {
    /// Treat the argument as an accessor instead of a token
    #[arg(long)]
    accessor: bool,
    /// Revoke the token used for this request
    #[arg(long = "self")]
    revoke_self: bool,
    /// "orphan" keeps the children (they become orphans)
    #[arg(long)]
    mode: Option<String>,
    /// Token (or accessor) to revoke
    token: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct CapabilitiesArgs {
    /// [TOKEN] PATH: the token is your own when only PATH is given
    #[arg(num_args = 1..=2, required = true)]
    args: Vec<String>,
}

pub(crate) async fn run(ctx: &Ctx, command: TokenCommand) -> CmdResult {
    match command {
        TokenCommand::Create(args) => create(ctx, args).await,
        TokenCommand::Lookup(args) => {
            let (path, body) = match (args.token, args.accessor) {
                (None, false) => ("auth/token/lookup-self", None),
                (None, true) => {
                    return Err(Failure::local("Not enough arguments (expected 1, got 0)"))
                }
                (Some(t), false) => ("auth/token/lookup", Some(json!({ "token": t }))),
                (Some(a), true) => ("auth/token/lookup-accessor", Some(json!({ "accessor": a }))),
            };
            let method = if body.is_some() { "POST" } else { "GET" };
            let secret = ask(ctx, method, path, body, "Error looking up token").await?;
            print_answer(ctx.format, &secret, args.field.as_deref())
        }
        TokenCommand::Renew(args) => {
            let mut body = Map::new();
            if let Some(increment) = args.increment {
                body.insert("increment".into(), json!(increment));
            }
            let path = match (args.token, args.accessor) {
                (None, false) => "auth/token/renew-self",
                (None, true) => {
                    return Err(Failure::local("Not enough arguments (expected 1, got 0)"))
                }
                (Some(t), false) => {
                    body.insert("token".into(), json!(t));
                    "auth/token/renew"
                }
                (Some(a), true) => {
                    body.insert("accessor".into(), json!(a));
                    "auth/token/renew-accessor"
                }
            };
            let secret = ask(
                ctx,
                "PUT",
                path,
                Some(Value::Object(body)),
                "Error renewing token",
            )
            .await?;
            print_answer(ctx.format, &secret, args.field.as_deref())
        }
        TokenCommand::Revoke(args) => revoke(ctx, args).await,
        TokenCommand::Capabilities(args) => capabilities(ctx, args).await,
    }
}

async fn create(ctx: &Ctx, args: CreateArgs) -> CmdResult {
    let body = create_body(&args).map_err(Failure::local)?;
    let path = match &args.role {
        Some(role) => format!("auth/token/create/{role}"),
        None => "auth/token/create".to_string(),
    };
    let secret = ask(ctx, "POST", &path, Some(body), "Error creating token").await?;
    print_answer(ctx.format, &secret, args.field.as_deref())
}

/// The `auth/token/create` body; unset options are left out so the server's defaults apply.
pub(crate) fn create_body(args: &CreateArgs) -> Result<Value, String> {
    let mut body = Map::new();
    if !args.policies.is_empty() {
        body.insert("policies".into(), json!(args.policies));
    }
    for (key, value) in [
        ("ttl", &args.ttl),
        ("explicit_max_ttl", &args.explicit_max_ttl),
        ("period", &args.period),
        ("display_name", &args.display_name),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), json!(value));
        }
    }
    body.insert("renewable".into(), json!(args.renewable));
    if args.orphan {
        body.insert("no_parent".into(), json!(true));
    }
    if args.no_default_policy {
        body.insert("no_default_policy".into(), json!(true));
    }
    if let Some(uses) = args.use_limit {
        body.insert("num_uses".into(), json!(uses));
    }
    if !args.metadata.is_empty() {
        body.insert(
            "meta".into(),
            Value::Object(parse_string_pairs(&args.metadata, "metadata")?),
        );
    }
    Ok(Value::Object(body))
}

async fn revoke(ctx: &Ctx, args: RevokeArgs) -> CmdResult {
    let orphan = match args.mode.as_deref() {
        None | Some("") => false,
        Some("orphan") => true,
        Some(other) => {
            return Err(Failure::local(format!(
                "Invalid mode: {other} (only \"orphan\" is supported)"
            )))
        }
    };
    let (path, body) = match (args.revoke_self, args.token, args.accessor) {
        (true, Some(_), _) => {
            return Err(Failure::local(
                "Cannot give a token or accessor together with -self",
            ))
        }
        (true, None, _) => ("auth/token/revoke-self", None),
        (false, None, _) => return Err(Failure::local("Not enough arguments (expected 1, got 0)")),
        (false, Some(a), true) => ("auth/token/revoke-accessor", Some(json!({ "accessor": a }))),
        (false, Some(t), false) if orphan => {
            ("auth/token/revoke-orphan", Some(json!({ "token": t })))
        }
        (false, Some(t), false) => ("auth/token/revoke", Some(json!({ "token": t }))),
    };
    ctx.client
        .request("PUT", path, body.as_ref(), &[])
        .await
        .map_err(|e| Failure::api("Error revoking token", &e))?;
    output::out("Success! Revoked token (if it existed)");
    Ok(0)
}

async fn capabilities(ctx: &Ctx, args: CapabilitiesArgs) -> CmdResult {
    let (path, body, target) = match args.args.as_slice() {
        [path] => (
            "sys/capabilities-self",
            json!({ "paths": [path] }),
            path.clone(),
        ),
        [token, path] => (
            "sys/capabilities",
            json!({ "token": token, "paths": [path] }),
            path.clone(),
        ),
        _ => return Err(Failure::local("Expected [TOKEN] PATH")),
    };
    let secret = ask(ctx, "POST", path, Some(body), "Error checking capabilities").await?;
    let caps = capabilities_of(&secret, &target);
    match ctx.format {
        Format::Json => output::out(&output::json(&json!(caps))),
        Format::Table => output::out(&caps.join(", ")),
    }
    Ok(0)
}

/// The sorted capabilities for `path`: the per-path key, else the combined `capabilities`.
pub(crate) fn capabilities_of(secret: &Value, path: &str) -> Vec<String> {
    let data = secret
        .get("data")
        .filter(|d| d.is_object())
        .unwrap_or(secret);
    let list = data
        .get(path)
        .or_else(|| data.get("capabilities"))
        .and_then(Value::as_array);
    let mut caps: Vec<String> = list
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    caps.sort();
    caps
}

/// Sends a request that must answer something.
async fn ask(
    ctx: &Ctx,
    method: &str,
    path: &str,
    body: Option<Value>,
    context: &str,
) -> Result<Value, Failure> {
    ctx.client
        .request(method, path, body.as_ref(), &[])
        .await
        .map_err(|e| Failure::api(context, &e))?
        .ok_or_else(|| Failure::remote(format!("{context}: empty answer from {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn body(argv: &[&str]) -> Value {
        let argv = crate::argv::normalize(
            std::iter::once("t")
                .chain(argv.iter().copied())
                .map(Into::into),
        );
        create_body(&Wrapper::try_parse_from(argv).unwrap().args).unwrap()
    }

    #[test]
    fn create_body_carries_only_given_options() {
        assert_eq!(body(&[]), json!({"renewable": true}));
        assert_eq!(
            body(&[
                "-policy=a",
                "-policy",
                "b",
                "-ttl=1h",
                "-orphan",
                "-renewable=false",
                "-use-limit=3",
                "-metadata=team=ops"
            ]),
            json!({
                "policies": ["a", "b"], "ttl": "1h", "renewable": false, "no_parent": true,
                "num_uses": 3, "meta": {"team": "ops"}
            })
        );
        assert_eq!(body(&["-renewable"])["renewable"], json!(true));
    }

    #[test]
    fn capabilities_are_read_per_path_or_combined() {
        let per_path =
            json!({"data": {"secret/x": ["update", "read"], "capabilities": ["read", "update"]}});
        assert_eq!(capabilities_of(&per_path, "secret/x"), ["read", "update"]);
        let combined = json!({"capabilities": ["deny"]});
        assert_eq!(capabilities_of(&combined, "secret/y"), ["deny"]);
    }
}
