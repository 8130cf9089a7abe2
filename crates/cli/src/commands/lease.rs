//! `lease lookup|renew|revoke|list`: Vault's lease commands over `sys/leases/*`, plus `list`
//! (Vault users spell it `vault list sys/leases/lookup/PREFIX`).

use std::time::Duration;

use secrethub_client::RevokeTarget;
use secrethub_common::parse_duration;

use super::generic::{print_answer, print_list_answer};
use super::{ensure_trailing_slash, sanitize_path};
use crate::output;
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum LeaseCommand {
    /// Show a lease's issue and expiry times, TTL and renewability
    Lookup(LookupArgs),
    /// Extend a lease (the server may grant less than asked)
    Renew(RenewArgs),
    /// Revoke a lease, or every lease under a prefix with -prefix
    Revoke(RevokeArgs),
    /// List lease IDs and sub-prefixes under a prefix
    List(ListArgs),
}

#[derive(clap::Args)]
pub(crate) struct LookupArgs {
    /// Print only this field of the lease
    #[arg(long)]
    field: Option<String>,
    /// Full lease ID (e.g. database/creds/readonly/2f6a614c...)
    lease_id: String,
}

#[derive(clap::Args)]
pub(crate) struct RenewArgs {
    /// Requested extension (e.g. 1h, or seconds); the lease's own TTL when omitted
    #[arg(long, short = 'i')]
    increment: Option<String>,
    /// Print only this field of the answer
    #[arg(long)]
    field: Option<String>,
    /// Full lease ID
    lease_id: String,
}

#[derive(clap::Args)]
pub(crate) struct RevokeArgs {
    /// Drop the leases even if the secrets engine cannot revoke them (needs -prefix)
    #[arg(long, short = 'f')]
    force: bool,
    /// Treat the argument as a prefix and revoke every lease under it
    #[arg(long)]
    prefix: bool,
    /// Revoke before answering instead of queueing; on failure the caller retries
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "BOOL")]
    sync: bool,
    /// Lease ID, or prefix with -prefix
    id: String,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    /// Lease ID prefix (e.g. database/creds/readonly); the top level when omitted
    #[arg(default_value = "")]
    prefix: String,
}

pub(crate) async fn run(ctx: &Ctx, command: LeaseCommand) -> CmdResult {
    match command {
        LeaseCommand::Lookup(args) => lookup(ctx, args).await,
        LeaseCommand::Renew(args) => renew(ctx, args).await,
        LeaseCommand::Revoke(args) => revoke(ctx, args).await,
        LeaseCommand::List(args) => list(ctx, args).await,
    }
}

async fn lookup(ctx: &Ctx, args: LookupArgs) -> CmdResult {
    let id = args.lease_id.trim();
    let secret = ctx
        .client
        .lease_lookup(id)
        .await
        // Vault's own wording, lower case included.
        .map_err(|e| Failure::api(format!("error looking up lease id {id}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No lease found with id {id}")))?;
    print_answer(ctx.format, &secret, args.field.as_deref())
}

async fn renew(ctx: &Ctx, args: RenewArgs) -> CmdResult {
    let increment = match &args.increment {
        Some(text) => {
            parse_duration(text).map_err(|e| Failure::local(format!("Invalid -increment: {e}")))?
        }
        None => Duration::ZERO,
    };
    let id = args.lease_id.trim();
    let secret = ctx
        .client
        .lease_renew(id, increment)
        .await
        .map_err(|e| Failure::api(format!("Error renewing {id}"), &e))?
        .ok_or_else(|| Failure::remote(format!("Error renewing {id}: empty answer")))?;
    print_answer(ctx.format, &secret, args.field.as_deref())
}

async fn revoke(ctx: &Ctx, args: RevokeArgs) -> CmdResult {
    if args.force && !args.prefix {
        return Err(Failure::local(
            "Specifying -force requires also specifying -prefix",
        ));
    }
    let id = args.id.trim();
    let (target, context) = match (args.force, args.prefix) {
        (true, _) => (
            RevokeTarget::ForcePrefix(id),
            format!("Error force revoking leases with prefix {id}"),
        ),
        (false, true) => (
            RevokeTarget::Prefix(id),
            format!("Error revoking leases with prefix {id}"),
        ),
        (false, false) => (
            RevokeTarget::Lease(id),
            format!("Error revoking lease {id}"),
        ),
    };
    if args.force {
        output::err(
            "Warning! Force-removing leases can leave secrets engines holding credentials \
             the server no longer tracks!",
        );
    }
    ctx.client
        .lease_revoke(target, args.sync)
        .await
        .map_err(|e| Failure::api(context, &e))?;
    // Force revocation is always synchronous; otherwise only -sync waits for the outcome.
    let message = match target {
        RevokeTarget::ForcePrefix(_) => {
            format!("Success! Force revoked any leases with prefix: {id}")
        }
        _ if !args.sync => "All revocation operations queued successfully!".to_string(),
        RevokeTarget::Prefix(_) => format!("Success! Revoked any leases with prefix: {id}"),
        RevokeTarget::Lease(_) => format!("Success! Revoked lease: {id}"),
    };
    output::out(&message);
    Ok(0)
}

async fn list(ctx: &Ctx, args: ListArgs) -> CmdResult {
    let prefix = sanitize_path(&args.prefix);
    let path = ensure_trailing_slash(&format!("sys/leases/lookup/{prefix}"));
    let secret = ctx
        .client
        .lease_list(&prefix)
        .await
        .map_err(|e| Failure::api(format!("Error listing {path}"), &e))?
        .ok_or_else(|| Failure::remote(format!("No value found at {path}")))?;
    print_list_answer(ctx.format, &path, &secret)
}
