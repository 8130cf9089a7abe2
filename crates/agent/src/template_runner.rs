//! One agent `template {}`: render, write atomically, run the command when the file changed,
//! then wait for a reason to render again: a leased secret it used was replaced (rotation or
//! renewal failure), or the static-secret interval passed (a new KV version, or a secret that
//! did not exist and took its default). Each render reads every secret afresh, past the
//! providers' cache.
//!
//! A failed render leaves the destination as it was (never half-rendered) and is retried with
//! backoff; with `exit_on_retry_failure` the agent stops after the retries. After a render
//! the runner settles its claims with the lease keeper, so a leased secret an edited template
//! no longer names stops being renewed.
//!
//! The template's command runs in its own process group, for at most [`COMMAND_TIMEOUT`] and
//! never past shutdown: then the whole group is killed, so a hung command neither wedges the
//! runner nor keeps the agent from stopping.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrethub_config::agent::{TemplateConfig, TemplateSettings, TemplateSource};
use secrethub_providers::Providers;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::reference::{self, Segment};
use crate::render::{render, SecretSource, Used};
use crate::renewer::{LeaseKeeper, SecretKey};
use crate::template::{run_bounded, write_atomically, CommandOutcome, COMMAND_TIMEOUT};

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
        // Nothing stops a one-shot render but the command's own timeout.
        let never = CancellationToken::new();
        self.render(keeper, providers, &never).await.map(|_| ())
    }

    /// Keeps the destination current until `shutdown`.
    pub async fn run(
        self,
        keeper: LeaseKeeper,
        providers: Arc<Providers>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let dest = self.config.destination.display().to_string();
        let claimant = keeper.claimant();
        let mut failures = 0u32;
        let mut retry = RETRY_INITIAL;
        loop {
            // Subscribe before rendering, so a rotation during the render is not missed.
            let mut rotations = keeper.subscribe();
            let (used, has_static) = match self.render(&claimant, &providers, &shutdown).await {
                Ok(rendered) => {
                    failures = 0;
                    retry = RETRY_INITIAL;
                    claimant.settle(
                        rendered
                            .0
                            .iter()
                            .map(|u| SecretKey::new(u.requested.as_deref(), &u.path)),
                    );
                    rendered
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
            };
            let interval = self.settings.static_secret_render_interval;
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

    /// One render: every secret the template names is read afresh (not from the provider
    /// cache), so a new KV version shows. Answers the secrets used, and whether any reference
    /// is not a held lease (a KV secret, or one that did not exist and took its default):
    /// those are only noticed by rendering again after the static-secret interval.
    async fn render(
        &self,
        source: &dyn SecretSource,
        providers: &Providers,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<(Vec<Used>, bool)> {
        let text = match &self.config.source {
            TemplateSource::Inline(text) => text.clone(),
            TemplateSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .with_context(|| format!("reading {}", path.display()))?,
        };
        // From the text, not from the last render's secrets: a render that failed reported
        // none, and its retry must still not be answered from the cache (for up to its TTL)
        // with the very answer that failed. Leased secrets are never cached; for them this
        // costs nothing. A text that does not parse fails in `render` below.
        let segments = reference::parse(&text).unwrap_or_default();
        let references: Vec<_> = segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Reference(r) => Some(r),
                Segment::Literal(_) => None,
            })
            .collect();
        for r in &references {
            providers.invalidate(r.provider.as_deref(), &r.path);
        }
        let rendered = render(source, &text).await?;
        let has_static = references.iter().any(|r| {
            !rendered
                .used
                .iter()
                .any(|u| u.lease.is_some() && u.path == r.path && u.requested == r.provider)
        });
        // The write fsyncs: off the async workers.
        let (dest, perms, text) = (
            self.config.destination.clone(),
            self.config.perms,
            rendered.text,
        );
        let changed = tokio::task::spawn_blocking(move || {
            write_atomically(&dest, text.expose().as_bytes(), perms)
        })
        .await
        .context("the template writer panicked")?
        .with_context(|| format!("writing {}", self.config.destination.display()))?;
        if changed {
            let dest = self.config.destination.display();
            tracing::info!(destination = %dest, "template rendered");
            if let Some(command) = &self.config.command {
                match run_bounded(command, &[], COMMAND_TIMEOUT, shutdown).await {
                    Ok(CommandOutcome::Exited(status)) if status.success() => {}
                    Ok(CommandOutcome::Exited(status)) => {
                        tracing::warn!(destination = %dest, %status, "the template's command failed")
                    }
                    Ok(CommandOutcome::TimedOut) => {
                        tracing::warn!(destination = %dest, timeout_secs = COMMAND_TIMEOUT.as_secs(), "the template's command timed out and was killed")
                    }
                    Ok(CommandOutcome::ShutDown) => {}
                    Err(err) => {
                        tracing::warn!(destination = %dest, error = %err, "the template's command could not run")
                    }
                }
            }
        }
        Ok((rendered.used, has_static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_command_that_ends_gives_its_status() {
        let never = CancellationToken::new();
        let outcome = run_bounded("exit 3", &[], Duration::from_secs(30), &never)
            .await
            .unwrap();
        let CommandOutcome::Exited(status) = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(status.code(), Some(3));
    }

    #[tokio::test]
    async fn a_command_past_its_limit_is_killed_with_what_it_started() {
        let dir = std::env::temp_dir().join(format!(
            "secrethub-template-timeout-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let marker = dir.display().to_string();
        let never = CancellationToken::new();
        let started = Instant::now();
        // The background `sleep` must die with the group, or it would touch the marker.
        let script = format!("(sleep 1; touch '{marker}') & sleep 30");
        let outcome = run_bounded(&script, &[], Duration::from_millis(200), &never)
            .await
            .unwrap();
        assert!(matches!(outcome, CommandOutcome::TimedOut), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // Not synchronisation: the job, had it survived, would have touched the marker by now.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!dir.exists(), "the command's background job survived");
    }

    #[tokio::test]
    async fn shutdown_kills_a_running_command() {
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let run = run_bounded("sleep 30", &[], Duration::from_secs(60), &shutdown);
        let cancel = async {
            shutdown.cancel();
        };
        let (outcome, ()) = tokio::join!(run, cancel);
        let outcome = outcome.unwrap();
        assert!(matches!(outcome, CommandOutcome::ShutDown), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
