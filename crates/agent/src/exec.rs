//! `secrethub run`: resolve the references of the child's environment, keep their leases alive
//! while the child runs, revoke them when it exits (unless `--keep-leases`), and answer the
//! child's exit code.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::renewer::LeaseKeeper;
use crate::run::{prepare, RunOptions};
use crate::setup::Setup;

/// What `secrethub run` was asked to do.
pub struct ExecOptions {
    /// `NAME=VALUE` pairs whose values may hold references.
    pub env: Vec<(String, String)>,
    /// dotenv files, read in order; later ones and `env` win.
    pub env_files: Vec<PathBuf>,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Mask secret values in the child's output.
    pub mask: bool,
    /// Leave leases alive after the child exits.
    pub keep_leases: bool,
}

/// Runs the child with its secrets; answers its exit code (128+N when killed by signal N).
pub async fn exec(setup: &Setup, options: ExecOptions) -> anyhow::Result<i32> {
    let renewals = CancellationToken::new();
    let keeper = LeaseKeeper::new(
        setup.providers.clone(),
        setup.renewal.clone(),
        renewals.clone(),
    );
    let mut rotations = keeper.subscribe();
    let warn_rotations = tokio::spawn(async move {
        while let Ok(rotation) = rotations.recv().await {
            tracing::warn!(path = %rotation.key.path, reason = ?rotation.reason, "credentials were replaced; the running command keeps the ones it started with");
        }
    });
    let run_options = RunOptions {
        env: options.env,
        env_files: options.env_files,
        command: options.command,
        mask: options.mask,
        keep_leases: options.keep_leases,
    };
    // A signal while the secrets are being read (before the child exists to receive it)
    // stops the run cleanly: whatever was already created is revoked.
    let outcome = tokio::select! {
        prepared = prepare(&keeper, &run_options) => match prepared {
            Ok(prepared) => match prepared.spawn_and_wait().await {
                Ok(code) => Ok(Ran::Child(code)),
                // The child never ran: nothing to keep.
                Err(err) => Err(anyhow::Error::from(err).context("starting the command")),
            },
            Err(err) => Err(anyhow::Error::from(err)),
        },
        signal = first_signal() => Ok(Ran::Interrupted(signal?)),
    };
    renewals.cancel();
    warn_rotations.abort();
    // --keep-leases keeps the credentials of a child that ran, never those of a run that
    // stopped before its child could use them.
    let child_ran = matches!(outcome, Ok(Ran::Child(_)));
    if !(options.keep_leases && child_ran) {
        let failed = keeper.revoke_all().await;
        if failed > 0 {
            tracing::error!(
                failed,
                "some leases could not be revoked; they expire with their TTL"
            );
        }
    }
    outcome.map(|ran| match ran {
        Ran::Child(code) => code,
        Ran::Interrupted(signal) => 128 + signal,
    })
}

/// How a run ended.
enum Ran {
    /// The child ran and exited with this code.
    Child(i32),
    /// A signal (its number) arrived before the child started.
    Interrupted(i32),
}

/// Waits for SIGINT, SIGTERM or SIGHUP; answers its number.
async fn first_signal() -> anyhow::Result<i32> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::select! {
        _ = int.recv() => 2,
        _ = term.recv() => 15,
        _ = hup.recv() => 1,
    })
}
