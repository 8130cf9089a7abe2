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
    let outcome = match prepare(&keeper, &run_options).await {
        Ok(prepared) => prepared.spawn_and_wait().await.map_err(anyhow::Error::from),
        Err(err) => Err(anyhow::Error::from(err)),
    };
    renewals.cancel();
    warn_rotations.abort();
    if !options.keep_leases {
        let failed = keeper.revoke_all().await;
        if failed > 0 {
            tracing::error!(
                failed,
                "some leases could not be revoked; they expire with their TTL"
            );
        }
    }
    outcome
}
