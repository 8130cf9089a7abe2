//! The library side of `secrethub run` and `secrethub template render`.
//!
//! [`prepare`] gathers the environment (env files in order, then `--env`, later ones winning),
//! renders every `${secret:…}` in it with one fetch per distinct secret, and returns what to
//! inject, the secrets used (leases to renew and revoke) and the values to mask. It is all or
//! nothing: if any reference fails, nothing runs and the error names the reference.

use std::fmt;
use std::io;
use std::path::PathBuf;

use secrethub_common::{ErrorKind, Sensitive};

use crate::child::{exit_code, run_child, ChildCommand};
use crate::envfile::{is_valid_key, read_env_file, EnvFileError};
use crate::render::{render, render_env, RenderError, SecretSource, Used};

/// What `secrethub run` was asked to do.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// `--env K=V`, in order; values may hold references (and literal secrets).
    pub env: Vec<(String, String)>,
    /// `--env-file`, in order.
    pub env_files: Vec<PathBuf>,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Mask secret values in the child's stdout and stderr.
    pub mask: bool,
    /// Leave leases alive when the child exits instead of revoking them.
    pub keep_leases: bool,
}

impl fmt::Debug for RunOptions {
    /// Variable names only: a `--env` value may be a literal secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("env_files", &self.env_files)
            .field("command", &self.command)
            .field("mask", &self.mask)
            .field("keep_leases", &self.keep_leases)
            .finish()
    }
}

/// Why `secrethub run` could not start its child.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    #[error("--env {name}: invalid variable name (expected [A-Za-z_][A-Za-z0-9_]*)")]
    InvalidName { name: String },
    #[error("no command to run")]
    NoCommand,
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl RunError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunError::EnvFile(e) => e.kind(),
            RunError::InvalidName { .. } | RunError::NoCommand => ErrorKind::BadRequest,
            RunError::Render(e) => e.kind(),
        }
    }
}

/// A child ready to start, with the secrets it was given.
#[derive(Debug)]
pub struct Prepared {
    /// The command, its added environment and (with masking on) the values to mask.
    pub child: ChildCommand,
    /// Every secret read: leases to renew while the child runs and to revoke after it.
    pub used: Vec<Used>,
    /// Copied from [`RunOptions::keep_leases`].
    pub keep_leases: bool,
}

impl Prepared {
    /// Runs the child (our signals forwarded) and returns its exit code as a shell would.
    /// This does nothing about leases: take `used` out first to renew and revoke them around
    /// the run.
    pub async fn spawn_and_wait(self) -> io::Result<i32> {
        run_child(self.child).await.map(exit_code)
    }
}

/// Reads the env files, merges them with `--env`, renders every value and builds the child.
pub async fn prepare(source: &dyn SecretSource, opts: &RunOptions) -> Result<Prepared, RunError> {
    let Some((program, args)) = opts.command.split_first() else {
        return Err(RunError::NoCommand);
    };
    if let Some((name, _)) = opts.env.iter().find(|(name, _)| !is_valid_key(name)) {
        return Err(RunError::InvalidName { name: name.clone() });
    }
    let mut vars: Vec<(String, String)> = Vec::new();
    for file in &opts.env_files {
        for (name, value) in read_env_file(file)? {
            set(&mut vars, name, value);
        }
    }
    for (name, value) in &opts.env {
        set(&mut vars, name.clone(), value.clone());
    }
    let (env, used) = render_env(source, &vars).await?;
    let mask = opts.mask.then(|| {
        used.iter()
            .flat_map(|u| u.values.iter().cloned())
            .collect::<Vec<_>>()
    });
    Ok(Prepared {
        child: ChildCommand {
            program: program.clone(),
            args: args.to_vec(),
            env,
            mask,
        },
        used,
        keep_leases: opts.keep_leases,
    })
}

/// Sets `name` in `vars`: a later value replaces an earlier one in its place.
fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
    match vars.iter_mut().find(|(n, _)| *n == name) {
        Some((_, old)) => *old = value,
        None => vars.push((name, value)),
    }
}

/// Renders `text` once for `secrethub template render FILE`. The leases it obtains are kept:
/// the printed credentials must stay valid after we exit.
pub async fn render_template_once(
    source: &dyn SecretSource,
    text: &str,
) -> Result<Sensitive<String>, RenderError> {
    render(source, text).await.map(|rendered| rendered.text)
}
