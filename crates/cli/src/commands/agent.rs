//! `agent`, `run` and `template render`: the client-side commands, thin over
//! `secrethub_agent`. The CLI's own address and token (flags, `SECRETHUB_*`/`VAULT_*`, the
//! token helper) are the defaults; `-config agent.hcl` adds providers, auto-auth and, for the
//! agent, everything else. An address from the flag or the environment (`SECRETHUB_ADDR`,
//! `SECRETHUB_CORE_URL`, `VAULT_ADDR`) wins over the file's `vault { address }`, and
//! `LEASE_RENEWAL_THRESHOLD` / `LEASE_RENEWAL_RETRIES` over its `lease_renewal {}`.

use std::path::{Path, PathBuf};

use secrethub_agent::{ExecOptions, Setup};
use secrethub_client::ClientConfig;
use secrethub_config::agent::AgentConfig;

use crate::output;
use crate::settings::{explicit_address, Env, GlobalArgs};
use crate::{CmdResult, Failure};

#[derive(clap::Args)]
pub(crate) struct AgentArgs {
    /// The agent's configuration file (HCL, Vault Agent's shape)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// NAME=VALUE for the child's environment; VALUE may hold ${secret:PATH#FIELD} references
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// A dotenv file whose values may hold references; later files and --env win
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Replace secret values in the child's stdout and stderr with *****
    #[arg(long)]
    mask: bool,
    /// Leave the leases alive when the child exits (they expire on their own)
    #[arg(long = "keep-leases")]
    keep_leases: bool,
    /// Agent-style configuration for providers and auto-auth (HCL)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read paths no visible mount holds under this KV mount (default: the config's
    /// vault { default_kv_mount }, else secret; "" for none)
    #[arg(long = "default-kv-mount", value_name = "MOUNT")]
    default_kv_mount: Option<String>,
    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(clap::Subcommand)]
pub(crate) enum TemplateCommand {
    /// Resolve the ${secret:...} references of a file once and print the result
    Render(RenderArgs),
}

#[derive(clap::Args)]
pub(crate) struct RenderArgs {
    /// Agent-style configuration for providers and auto-auth (HCL)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read paths no visible mount holds under this KV mount (default: the config's
    /// vault { default_kv_mount }, else secret; "" for none)
    #[arg(long = "default-kv-mount", value_name = "MOUNT")]
    default_kv_mount: Option<String>,
    /// Write here (atomically, mode 0600) instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// The template file
    file: PathBuf,
}

/// Logs to stderr at `default` (`info` for the agent, `warn` for commands whose stdout and
/// stderr belong to someone else), or at what `SECRETHUB_LOG` says.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECRETHUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Loads an agent config, the address of the flag or the environment put over its own.
fn load(path: &Path, global: &GlobalArgs, env: &Env) -> Result<AgentConfig, Failure> {
    let mut config =
        secrethub_config::load_agent(path).map_err(|e| Failure::local(format!("Error: {e}")))?;
    if let Some(address) = explicit_address(global, env) {
        config.server.address = Some(address);
    }
    Ok(config)
}

/// The renewal variables of the environment, checked.
fn agent_env(env: &Env) -> Result<secrethub_config::AgentEnv, Failure> {
    env.agent()
        .map_err(|e| Failure::local(format!("Error: {e}")))
}

/// `secrethub agent -config FILE`: runs until SIGINT or SIGTERM.
pub(crate) async fn agent(
    base: ClientConfig,
    args: AgentArgs,
    global: &GlobalArgs,
    env: &Env,
) -> CmdResult {
    init_tracing("info");
    let renewal = agent_env(env)?;
    let mut config = load(&args.config, global, env)?;
    renewal.apply(&mut config.lease_renewal);
    secrethub_agent::run_agent(config, base)
        .await
        .map_err(|e| Failure::remote(format!("Error: {e:#}")))?;
    Ok(0)
}

/// `secrethub run [-env K=V]... [-env-file F]... -- COMMAND...`: the child's exit code.
pub(crate) async fn run(
    base: ClientConfig,
    args: RunArgs,
    global: &GlobalArgs,
    process_env: &Env,
) -> CmdResult {
    init_tracing("warn");
    let renewal = agent_env(process_env)?;
    let config = args
        .config
        .as_deref()
        .map(|path| load(path, global, process_env))
        .transpose()?;
    let env = parse_env_args(&args.env)?;
    let mut setup = Setup::connect_with(base, config.as_ref(), args.default_kv_mount.as_deref())
        .await
        .map_err(|e| Failure::remote(format!("Error: {e:#}")))?;
    renewal.apply(&mut setup.renewal);
    let options = ExecOptions {
        env,
        env_files: args.env_files,
        command: args.command,
        mask: args.mask,
        keep_leases: args.keep_leases,
    };
    let code = secrethub_agent::exec(&setup, options)
        .await
        .map_err(|e| Failure::remote(format!("Error: {e:#}")))?;
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Splits each `--env NAME=VALUE`. A malformed one is named by its position only: it may be a
/// secret passed without its `NAME=` (`--env "$PASSWORD"`).
fn parse_env_args(args: &[String]) -> Result<Vec<(String, String)>, Failure> {
    args.iter()
        .enumerate()
        .map(|(i, pair)| match pair.split_once('=') {
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None => Err(Failure::local(format!(
                "Error: --env argument {} is not NAME=VALUE",
                i + 1
            ))),
        })
        .collect()
}

/// `secrethub template render FILE`: prints (or writes) the rendered text.
pub(crate) async fn template(
    base: ClientConfig,
    command: TemplateCommand,
    global: &GlobalArgs,
    env: &Env,
) -> CmdResult {
    init_tracing("warn");
    let TemplateCommand::Render(args) = command;
    let config = args
        .config
        .as_deref()
        .map(|path| load(path, global, env))
        .transpose()?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::local(format!("Error reading {}: {e}", args.file.display())))?;
    let setup = Setup::connect_with(base, config.as_ref(), args.default_kv_mount.as_deref())
        .await
        .map_err(|e| Failure::remote(format!("Error: {e:#}")))?;
    let rendered = secrethub_agent::render_once(&setup, &text)
        .await
        .map_err(|e| Failure::remote(format!("Error: {}: {e}", args.file.display())))?;
    match &args.output {
        Some(path) => {
            secrethub_agent::write_atomically(path, rendered.expose().as_bytes(), 0o600)
                .map_err(|e| Failure::local(format!("Error writing {}: {e}", path.display())))?;
        }
        None => output::out_raw(rendered.expose()),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_env_argument_is_named_by_position_not_value() {
        let args = ["A=1".to_string(), "hunter2-secret".to_string()];
        let Err(failure) = parse_env_args(&args) else {
            panic!("accepted an --env without `=`");
        };
        assert_eq!(failure.message, "Error: --env argument 2 is not NAME=VALUE");
        assert_eq!(failure.code, 1);
    }

    #[test]
    fn env_arguments_split_at_the_first_equals() {
        let args = ["A=x=y".to_string(), "B=".to_string()];
        let env = parse_env_args(&args).map_err(|f| f.message).unwrap();
        assert_eq!(
            env,
            vec![
                ("A".to_string(), "x=y".to_string()),
                ("B".to_string(), String::new())
            ]
        );
    }
}
