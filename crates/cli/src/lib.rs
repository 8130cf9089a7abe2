//! The command tree of the `secrethub` binary, shaped like Vault's CLI (`kv get`, `operator
//! init`, `-field=password`, `-format=json`) so muscle memory and scripts carry over.
//!
//! Flow: [`argv::normalize`] turns Vault's single-dash long flags into clap's `--flag`, clap
//! parses, `server` goes to the injected [`ServerRunner`] (outside any runtime: the server builds
//! its own), and every other command runs on a tokio runtime as a thin call through
//! `secrethub_client`. Exit codes follow Vault: 0 success, 1 local error (bad flags, unreadable
//! file), 2 remote error (the API said no, or could not be reached); `status` answers 2 when
//! sealed and 1 on error.

mod argv;
mod commands;
mod input;
mod output;
mod settings;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrethub_client::{Client, ClientError};

use commands::{agent, audit, generic, kv, lease, login, operator, policy, secrets, token};
use output::Format;
use settings::{Env, GlobalArgs};

/// What `secrethub server` was asked to do; the server crate turns it into a running server.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// `-config FILE`: the HCL server configuration.
    pub config: Option<PathBuf>,
    /// `-dev`: in-memory, initialised and unsealed, root token printed.
    pub dev: bool,
    /// `-dev-listen-address`: where the dev server listens.
    pub dev_listen_address: String,
    /// `-dev-root-token-id`: a fixed root token for the dev server (a secret: never logged).
    pub dev_root_token_id: Option<String>,
    /// The user guide's variables (`DATABASE_URL`, `LEASE_CLEANUP_INTERVAL`), checked.
    pub env: secrethub_config::ServerEnv,
}

impl fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerArgs")
            .field("config", &self.config)
            .field("dev", &self.dev)
            .field("dev_listen_address", &self.dev_listen_address)
            .field(
                "dev_root_token_id",
                &self.dev_root_token_id.as_ref().map(|_| "<redacted>"),
            )
            .field("env", &self.env)
            .finish()
    }
}

/// Runs the server until shutdown. Called on the main thread with no tokio runtime running,
/// so it may build its own.
pub type ServerRunner = fn(ServerArgs) -> anyhow::Result<()>;

/// Entry point for a binary without a server (the runner reports that it is missing).
/// The `secrethub` binary should call [`main_with`] with the server crate's runner.
pub fn main() -> ExitCode {
    main_with(server_not_built_in)
}

fn server_not_built_in(_: ServerArgs) -> anyhow::Result<()> {
    anyhow::bail!("this binary was built without the server; use the secrethub binary")
}

/// Parses the process arguments and runs the command; `server` runs `secrethub server`.
pub fn main_with(server: ServerRunner) -> ExitCode {
    let args = argv::normalize(std::env::args_os());
    // `scan` is local and has flags of its own (`-format=sarif`).
    if args.get(1).is_some_and(|a| a == "scan") {
        return ExitCode::from(commands::scan::main(&args[2..]));
    }
    if args.get(1).is_some_and(|a| a == "advise") {
        return ExitCode::from(commands::advise::main(&args[2..]));
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with success; a usage error is a local error (1).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 1 } else { 0 });
        }
    };
    let env = Env::from_process();
    ExitCode::from(run_cli(cli, env, server))
}

fn run_cli(cli: Cli, env: Env, server: ServerRunner) -> u8 {
    if let Command::Server(args) = cli.command {
        let env = match env.server() {
            Ok(env) => env,
            Err(err) => {
                output::err(&format!("Error: {err}"));
                return 1;
            }
        };
        return match server(ServerArgs::from_command(args, env)) {
            Ok(()) => 0,
            Err(err) => {
                output::err(&format!("Error: {err:#}"));
                1
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            output::err(&format!("Error starting the async runtime: {err}"));
            return 1;
        }
    };
    let result = runtime.block_on(dispatch(cli.global, cli.command, env));
    match result {
        Ok(code) => code,
        Err(failure) => {
            output::err(&failure.message);
            failure.code
        }
    }
}

async fn dispatch(global: GlobalArgs, command: Command, env: Env) -> CmdResult {
    let format = settings::resolve_format(&global, &env).map_err(Failure::local)?;
    // `audit verify FILE` reads a local file and needs no server (`-device` asks the server).
    if let Command::Audit {
        command: audit::AuditCommand::Verify(args),
    } = &command
    {
        if args.device.is_none() {
            return audit::verify(format, args);
        }
    }
    let config = settings::client_config(&global, &env).map_err(Failure::local)?;
    // The client-side commands build their own clients (auto-auth, providers).
    let command = match command {
        Command::Agent(args) => return agent::agent(config, args, &global, &env).await,
        Command::Run(args) => return agent::run(config, args, &global, &env).await,
        Command::Template { command } => {
            return agent::template(config, command, &global, &env).await
        }
        other => other,
    };
    let client = Client::new(config).map_err(|e| Failure::api("Error creating the client", &e))?;
    let ctx = Ctx {
        client,
        format,
        env,
    };
    match command {
        Command::Server(_)
        | Command::Agent(_)
        | Command::Run(_)
        | Command::Template { .. }
        | Command::Scan { .. }
        | Command::Advise { .. } => Err(Failure::local("this command is handled before dispatch")),
        Command::Operator { command } => operator::run(&ctx, command).await,
        Command::Status => operator::status(&ctx).await,
        Command::Login(args) => login::run(&ctx, args).await,
        Command::Read(args) => generic::read(&ctx, args).await,
        Command::Write(args) => generic::write(&ctx, args).await,
        Command::Delete(args) => generic::delete(&ctx, args).await,
        Command::List(args) => generic::list(&ctx, args).await,
        Command::Patch(args) => generic::patch(&ctx, args).await,
        Command::Kv { command } => kv::run(&ctx, command).await,
        Command::Secrets { command } => secrets::run(&ctx, command).await,
        Command::Auth { command } => secrets::run_on(&ctx, command, secrets::Table::Auth).await,
        Command::Policy { command } => policy::run(&ctx, command).await,
        Command::Token { command } => token::run(&ctx, command).await,
        Command::Lease { command } => lease::run(&ctx, command).await,
        Command::Audit { command } => audit::run(&ctx, command).await,
    }
}

/// What a command works with.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) format: Format,
    pub(crate) env: Env,
}

/// A command's failure: the message for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// A local error (bad input, unreadable file): exit code 1.
    pub(crate) fn local(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// A remote outcome that is not a request error (e.g. "No value found at ..."): exit code 2.
    pub(crate) fn remote(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// A failed request, prefixed with what was being done, Vault style: exit code 2.
    pub(crate) fn api(context: impl fmt::Display, err: &ClientError) -> Failure {
        Failure::remote(format!("{context}: {err}"))
    }
}

/// A command's outcome: the exit code on success (0, or 2 for "sealed"-style answers).
pub(crate) type CmdResult = Result<u8, Failure>;

#[derive(Parser)]
#[command(
    name = "secrethub",
    version,
    about = "SecretHub: a Vault-compatible secrets manager"
)]
#[command(subcommand_required = true, arg_required_else_help = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a SecretHub server
    Server(ServerCommand),
    /// Perform operator-specific tasks (init, unseal, seal, rotate)
    Operator {
        #[command(subcommand)]
        command: operator::OperatorCommand,
    },
    /// Print seal and HA status (exit code 2 when sealed)
    Status,
    /// Authenticate locally and store the token in ~/.secrethub-token
    Login(login::LoginArgs),
    /// Read data and retrieve secrets
    Read(generic::ReadArgs),
    /// Write data, configuration and secrets
    Write(generic::WriteArgs),
    /// Delete secrets and configuration
    Delete(generic::PathArgs),
    /// List data or secrets
    List(generic::PathArgs),
    /// Patch data, configuration and secrets
    Patch(generic::WriteArgs),
    /// Interact with the key/value secrets engine
    Kv {
        #[command(subcommand)]
        command: kv::KvCommand,
    },
    /// Interact with secrets engines
    Secrets {
        #[command(subcommand)]
        command: secrets::SecretsCommand,
    },
    /// Interact with auth methods (enable, disable, list, tune)
    Auth {
        #[command(subcommand)]
        command: secrets::SecretsCommand,
    },
    /// Interact with policies
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Interact with tokens
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Interact with leases: lookup, renew, revoke, list
    Lease {
        #[command(subcommand)]
        command: lease::LeaseCommand,
    },
    /// Interact with audit devices
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Run the agent: auto-auth, caching proxy, lease renewal, templates
    Agent(agent::AgentArgs),
    /// Run a command with ${secret:...} references resolved into its environment
    Run(agent::RunArgs),
    /// Render ${secret:...} references in files
    Template {
        #[command(subcommand)]
        command: agent::TemplateCommand,
    },
    /// Find hard-coded secrets in files (text, JSON or SARIF; see `secrethub scan -h`)
    Scan {
        /// Paths and flags of the scan
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The secret-management strategy report for a tree (see `secrethub advise -h`)
    Advise {
        /// Paths and flags of the advice
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ServerCommand {
    /// Path to the server configuration file (HCL)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Start a development server: in memory, unsealed, with a root token
    #[arg(long)]
    dev: bool,
    /// Address the development server listens on
    #[arg(
        long = "dev-listen-address",
        default_value = "127.0.0.1:8200",
        value_name = "ADDR"
    )]
    dev_listen_address: String,
    /// Root token ID of the development server
    #[arg(long = "dev-root-token-id", value_name = "ID")]
    dev_root_token_id: Option<String>,
}

impl ServerArgs {
    fn from_command(cmd: ServerCommand, env: secrethub_config::ServerEnv) -> ServerArgs {
        ServerArgs {
            config: cmd.config,
            dev: cmd.dev,
            dev_listen_address: cmd.dev_listen_address,
            dev_root_token_id: cmd.dev_root_token_id,
            env,
        }
    }
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
