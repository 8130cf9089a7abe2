//! One agent `template {}`: render, write atomically, run the command when the file changed,
//! then wait for a reason to render again: a leased secret it used was replaced (rotation or
//! renewal failure), or the static-secret interval passed (a new KV version).
//!
//! A failed render leaves the destination as it was (never half-rendered) and is retried with
//! backoff; with `exit_on_retry_failure` the agent stops after the retries.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrethub_config::agent::{TemplateConfig, TemplateSettings, TemplateSource};
use secrethub_providers::Providers;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::render::{render, Used};
use crate::renewer::LeaseKeeper;
use crate::template::{run_command, write_atomically};

/// Attempts of one render before `exit_on_retry_failure` stops the agent.
const RENDER_ATTEMPTS: u32 = 5;
const RETRY_INITIAL: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// A template and how it is kept up to date.
pub struct TemplateRunner {
    config: TemplateConfig,
    settings: TemplateSettings,
}

impl TemplateRunner {
    pub fn new(config: TemplateConfig, settings: TemplateSettings) -> TemplateRunner {
        TemplateRunner { config, settings }
    }

    /// Renders once (for `exit_after_auth`).
    pub async fn render_once(
        &self,
        keeper: &LeaseKeeper,
        providers: &Providers,
    ) -> anyhow::Result<()> {
        self.render(keeper, providers, &[]).await.map(|_| ())
    }

    /// Keeps the destination current until `shutdown`.
    pub async fn run(
        self,
        keeper: LeaseKeeper,
        providers: Arc<Providers>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let dest = self.config.destination.display().to_string();
        let mut used: Vec<Used> = Vec::new();
        let mut failures = 0u32;
        let mut retry = RETRY_INITIAL;
        loop {
            // Subscribe before rendering, so a rotation during the render is not missed.
            let mut rotations = keeper.subscribe();
            match self.render(&keeper, &providers, &used).await {
                Ok(now_used) => {
                    used = now_used;
                    failures = 0;
                    retry = RETRY_INITIAL;
                }
                Err(err) => {
                    failures += 1;
                    tracing::error!(destination = %dest, error = %format!("{err:#}"), attempt = failures, "rendering the template failed");
                    if self.settings.exit_on_retry_failure && failures >= RENDER_ATTEMPTS {
                        return Err(err.context(format!("template {dest}")));
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                    continue;
                }
            }
            let interval = self.settings.static_secret_render_interval;
            let has_static = used.iter().any(|u| u.lease.is_none());
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(interval), if has_static => break,
                    rotation = rotations.recv() => match rotation {
                        Ok(r) if used.iter().any(|u| u.path == r.key.path && u.requested == r.key.provider) => break,
                        Ok(_) => {}
                        // Missed some: render again to be safe.
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return Ok(()),
                    },
                }
            }
        }
    }

    /// One render: the static secrets used last time are read afresh (not from the provider
    /// cache), so a new KV version shows.
    async fn render(
        &self,
        keeper: &LeaseKeeper,
        providers: &Providers,
        previously_used: &[Used],
    ) -> anyhow::Result<Vec<Used>> {
        for used in previously_used.iter().filter(|u| u.lease.is_none()) {
            providers.invalidate(used.requested.as_deref(), &used.path);
        }
        let text = match &self.config.source {
            TemplateSource::Inline(text) => text.clone(),
            TemplateSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .with_context(|| format!("reading {}", path.display()))?,
        };
        let rendered = render(keeper, &text).await?;
        let changed = write_atomically(
            &self.config.destination,
            rendered.text.expose().as_bytes(),
            self.config.perms,
        )
        .with_context(|| format!("writing {}", self.config.destination.display()))?;
        if changed {
            tracing::info!(destination = %self.config.destination.display(), "template rendered");
            if let Some(command) = &self.config.command {
                match run_command(command, &[]).await {
                    Ok(status) if status.success() => {}
                    Ok(status) => {
                        tracing::warn!(destination = %self.config.destination.display(), %status, "the template's command failed")
                    }
                    Err(err) => {
                        tracing::warn!(destination = %self.config.destination.display(), error = %err, "the template's command could not run")
                    }
                }
            }
        }
        Ok(rendered.used)
    }
}
