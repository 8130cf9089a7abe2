//! `operator init|unseal|seal|rotate|key-status` and `status`: the seal lifecycle.

use secrethub_client::{InitRequest, InitResponse, SealStatus};
use secrethub_common::Sensitive;
use serde_json::{json, Value};

use super::body_data;
use crate::input::prompt_secret;
use crate::output::{self, table, Format};
use crate::{CmdResult, Ctx, Failure};

#[derive(clap::Subcommand)]
pub(crate) enum OperatorCommand {
    /// Initialise the server: split the root key into shares and create the root token
    Init(InitArgs),
    /// Supply one unseal key share (read from stdin when not given)
    Unseal(UnsealArgs),
    /// Seal the server
    Seal,
    /// Rotate the barrier encryption key
    Rotate,
    /// Show the barrier key's term and install time
    KeyStatus,
}

#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Number of key shares to split the root key into
    #[arg(long = "key-shares", default_value_t = 5)]
    key_shares: u32,
    /// Number of shares needed to unseal
    #[arg(long = "key-threshold", default_value_t = 3)]
    key_threshold: u32,
}

#[derive(clap::Args)]
pub(crate) struct UnsealArgs {
    /// Discard the key shares supplied so far
    #[arg(long)]
    reset: bool,
    /// The key share; prompted for on stdin when omitted (keeps it out of shell history)
    key: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, command: OperatorCommand) -> CmdResult {
    match command {
        OperatorCommand::Init(args) => init(ctx, args).await,
        OperatorCommand::Unseal(args) => unseal(ctx, args).await,
        OperatorCommand::Seal => {
            ctx.client
                .seal()
                .await
                .map_err(|e| Failure::api("Error sealing", &e))?;
            output::out("Success! SecretHub is sealed.");
            Ok(0)
        }
        OperatorCommand::Rotate => {
            ctx.client
                .request("PUT", "sys/rotate", None, &[])
                .await
                .map_err(|e| Failure::api("Error rotating key", &e))?;
            let status = key_status(ctx).await?;
            if ctx.format == Format::Table {
                output::out("Success! Rotated key\n");
            }
            print_key_status(ctx.format, &status);
            Ok(0)
        }
        OperatorCommand::KeyStatus => {
            let status = key_status(ctx).await?;
            print_key_status(ctx.format, &status);
            Ok(0)
        }
    }
}

async fn init(ctx: &Ctx, args: InitArgs) -> CmdResult {
    let req = InitRequest {
        secret_shares: args.key_shares,
        secret_threshold: args.key_threshold,
    };
    let resp = ctx
        .client
        .init(&req)
        .await
        .map_err(|e| Failure::api("Error initializing", &e))?;
    match ctx.format {
        Format::Json => output::out(&output::json(&machine_init(&req, &resp))),
        Format::Table => output::out(&init_text(&req, &resp)),
    }
    Ok(0)
}

/// Vault's `operator init -format=json` shape, which scripts parse (`.unseal_keys_b64[0]`).
pub(crate) fn machine_init(req: &InitRequest, resp: &InitResponse) -> Value {
    let expose =
        |keys: &[Sensitive<String>]| keys.iter().map(|k| k.expose().clone()).collect::<Vec<_>>();
    json!({
        "unseal_keys_b64": expose(&resp.keys_base64),
        "unseal_keys_hex": expose(&resp.keys),
        "unseal_shares": req.secret_shares,
        "unseal_threshold": req.secret_threshold,
        "recovery_keys_b64": [],
        "recovery_keys_hex": [],
        "recovery_keys_shares": 0,
        "recovery_keys_threshold": 0,
        "root_token": resp.root_token.expose(),
    })
}

/// The table output of `operator init`: one line per key share, the root token, advice.
pub(crate) fn init_text(req: &InitRequest, resp: &InitResponse) -> String {
    // Base64 shares when the server sent one per hex share, as Vault prints.
    let keys = if resp.keys_base64.len() == resp.keys.len() {
        &resp.keys_base64
    } else {
        &resp.keys
    };
    let mut lines: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| format!("Unseal Key {}: {}", i + 1, key.expose()))
        .collect();
    lines.push(String::new());
    lines.push(format!("Initial Root Token: {}", resp.root_token.expose()));
    lines.push(String::new());
    lines.push(format!(
        "SecretHub initialized with {} key shares and a key threshold of {}. Please securely\n\
         distribute the key shares printed above. When the server is re-sealed, restarted,\n\
         or stopped, you must supply at least {} of these keys to unseal it before it can\n\
         start servicing requests.",
        req.secret_shares, req.secret_threshold, req.secret_threshold
    ));
    lines.push(String::new());
    lines.push(format!(
        "SecretHub does not store the generated root key. Without at least {} keys to\n\
         reconstruct the root key, SecretHub will remain permanently sealed!",
        req.secret_threshold
    ));
    lines.join("\n")
}

async fn unseal(ctx: &Ctx, args: UnsealArgs) -> CmdResult {
    let status = if args.reset {
        ctx.client.unseal_reset().await
    } else {
        let key = match args.key {
            Some(key) if key != "-" => Sensitive::new(key),
            _ => prompt_secret("Unseal Key:", &mut std::io::stdin().lock())
                .map_err(Failure::local)?,
        };
        ctx.client.unseal(&key).await
    }
    .map_err(|e| Failure::api("Error unsealing", &e))?;
    print_seal_status(ctx.format, &status);
    Ok(0)
}

/// `status`: exit 0 when unsealed, 2 when sealed, 1 when the status could not be read.
pub(crate) async fn status(ctx: &Ctx) -> CmdResult {
    let status = ctx.client.seal_status().await.map_err(|e| Failure {
        code: 1,
        message: format!("Error checking seal status: {e}"),
    })?;
    print_seal_status(ctx.format, &status);
    Ok(if status.sealed { 2 } else { 0 })
}

fn print_seal_status(format: Format, status: &SealStatus) {
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(status).unwrap_or(Value::Null);
            value["ha_enabled"] = json!(false);
            output::out(&output::json(&value));
        }
        Format::Table => output::out(&seal_status_table(status)),
    }
}

/// Vault's seal status table (HA is not reported yet: always `false`).
pub(crate) fn seal_status_table(status: &SealStatus) -> String {
    let mut rows = vec![
        ("Seal Type", status.seal_type.clone()),
        ("Initialized", status.initialized.to_string()),
        ("Sealed", status.sealed.to_string()),
        ("Total Shares", status.n.to_string()),
        ("Threshold", status.t.to_string()),
    ];
    if status.sealed {
        rows.push((
            "Unseal Progress",
            format!("{}/{}", status.progress, status.t),
        ));
        rows.push(("Unseal Nonce", status.nonce.clone()));
    }
    if status.migration {
        rows.push(("Seal Migration in Progress", "true".to_string()));
    }
    rows.push(("Version", status.version.clone()));
    rows.push(("Build Date", status.build_date.clone()));
    rows.push(("Storage Type", status.storage_type.clone()));
    if let (Some(name), Some(id)) = (&status.cluster_name, &status.cluster_id) {
        rows.push(("Cluster Name", name.clone()));
        rows.push(("Cluster ID", id.clone()));
    }
    rows.push(("HA Enabled", "false".to_string()));
    table::kv_table(rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

async fn key_status(ctx: &Ctx) -> Result<Value, Failure> {
    let answer = ctx
        .client
        .read("sys/key-status")
        .await
        .map_err(|e| Failure::api("Error reading key status", &e))?
        .ok_or_else(|| Failure::remote("Error reading key status: no answer"))?;
    Ok(body_data(&answer))
}

fn print_key_status(format: Format, status: &Value) {
    match format {
        Format::Json => output::out(&output::json(status)),
        Format::Table => {
            let text = |key: &str| {
                status
                    .get(key)
                    .map(output::format_value)
                    .unwrap_or_default()
            };
            output::out(&table::columnize(&[
                vec!["Key Term".to_string(), text("term")],
                vec!["Install Time".to_string(), text("install_time")],
                vec!["Encryption Count".to_string(), text("encryptions")],
            ]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> InitResponse {
        let s = |v: &str| Sensitive::new(v.to_string());
        InitResponse {
            keys: vec![s("aa"), s("bb")],
            keys_base64: vec![s("qg=="), s("uw==")],
            root_token: s("hvs.root"),
        }
    }

    #[test]
    fn init_prints_key_shares_and_root_token() {
        let req = InitRequest {
            secret_shares: 2,
            secret_threshold: 2,
        };
        let text = init_text(&req, &response());
        assert!(
            text.starts_with(
                "Unseal Key 1: qg==\nUnseal Key 2: uw==\n\nInitial Root Token: hvs.root\n"
            ),
            "{text}"
        );
        let machine = machine_init(&req, &response());
        assert_eq!(machine["unseal_keys_b64"], json!(["qg==", "uw=="]));
        assert_eq!(machine["unseal_keys_hex"], json!(["aa", "bb"]));
        assert_eq!(machine["root_token"], json!("hvs.root"));
        assert_eq!(machine["unseal_threshold"], json!(2));
    }

    #[test]
    fn seal_status_table_shows_progress_only_when_sealed() {
        let sealed = SealStatus {
            seal_type: "shamir".into(),
            initialized: true,
            sealed: true,
            t: 3,
            n: 5,
            progress: 1,
            nonce: "n-1".into(),
            version: "0.1.0".into(),
            storage_type: "inmem".into(),
            ..SealStatus::default()
        };
        let text = seal_status_table(&sealed);
        assert!(
            text.starts_with(
                "Key                Value\n---                -----\nSeal Type          shamir\n"
            ),
            "{text}"
        );
        assert!(text.contains("\nUnseal Progress    1/3\n"), "{text}");
        assert!(text.contains("\nBuild Date         n/a\n"), "{text}");
        let unsealed = SealStatus {
            sealed: false,
            ..sealed
        };
        assert!(!seal_status_table(&unsealed).contains("Unseal Progress"));
    }
}
