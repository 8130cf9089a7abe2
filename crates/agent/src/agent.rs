//! `secrethub agent`: auto-auth, the caching proxy listeners, lease renewal and templates,
//! wired together until SIGINT or SIGTERM.
//!
//! Flow: log in (auto-auth, or the CLI's token) → providers around the built-in `secrethub`
//! provider → a [`LeaseKeeper`] → one task per template and per listener. A new token from
//! auto-auth is handed to the provider and every held lease is replaced, because the server
//! revokes a token's leases with it.

use std::sync::Arc;

use anyhow::Context as _;
use secrethub_client::ClientConfig;
use secrethub_common::Sensitive;
use secrethub_config::agent::AgentConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auto_auth::{AutoAuth, AutoAuthHandle};
use crate::proxy::{ProxyConfig, ProxyListener, ProxyState};
use crate::renewer::{LeaseKeeper, RotationReason};
use crate::setup::{server_client, Setup};
use crate::template_runner::TemplateRunner;

/// Runs the agent until SIGINT/SIGTERM (or, with `exit_after_auth`, until the templates are
/// rendered once).
pub async fn run_agent(config: AgentConfig, base: ClientConfig) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(stop_on_signal(shutdown.clone()));
    let result = serve(config, base, shutdown.clone()).await;
    shutdown.cancel();
    signals.abort();
    result
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals; stop the agent with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// The agent's body, stopped by `shutdown`.
pub async fn serve(
    config: AgentConfig,
    base: ClientConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let static_token = base.token.clone();
    let client = server_client(base, &config.server)?;
    let mut tasks = JoinSet::new();
    let mut auth_handle: Option<AutoAuthHandle> = None;

    let mut tokens = match &config.auto_auth {
        Some(auto_auth) => {
            let auth = AutoAuth::new(client.without_token(), auto_auth.clone());
            let (handle, task) = auth.spawn(shutdown.clone());
            tasks.spawn(async move {
                let _ = task.await;
                Ok(())
            });
            auth_handle = Some(handle.clone());
            handle.token()
        }
        None => {
            let token = static_token.context(
                "no auto_auth stanza and no token (SECRETHUB_TOKEN, VAULT_TOKEN or the token helper)",
            )?;
            watch::channel(Some(token)).1
        }
    };
    let Some(token) = first_token(&mut tokens, &shutdown).await else {
        return Ok(());
    };
    tracing::info!("authenticated");
    let setup = Setup::with_client(client.with_token(token), Some(&config))?;
    for (name, health) in setup.providers.health().await {
        if health.healthy {
            tracing::info!(provider = %name, detail = %health.detail, "provider healthy");
        } else {
            tracing::warn!(provider = %name, detail = %health.detail, "provider unhealthy");
        }
    }
    let keeper = LeaseKeeper::new(
        setup.providers.clone(),
        setup.renewal.clone(),
        shutdown.clone(),
    );
    tasks.spawn(follow_tokens(
        tokens.clone(),
        setup.secrethub.clone(),
        keeper.clone(),
    ));

    let runners: Vec<TemplateRunner> = config
        .templates
        .iter()
        .map(|t| TemplateRunner::new(t.clone(), config.template_settings.clone()))
        .collect();
    if config.exit_after_auth {
        for runner in &runners {
            runner.render_once(&keeper, &setup.providers).await?;
        }
        return Ok(());
    }
    for runner in runners {
        let keeper = keeper.clone();
        let providers = setup.providers.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move { runner.run(keeper, providers, shutdown).await });
    }
    if !config.listeners.is_empty() {
        let proxy_config = ProxyConfig::from_agent(&config);
        let state = match &auth_handle {
            Some(handle) => {
                ProxyState::with_auto_auth(client.without_token(), handle.clone(), proxy_config)
            }
            None => ProxyState::new(client.without_token(), tokens.clone(), proxy_config),
        };
        let state = Arc::new(state.with_providers(setup.providers.clone()));
        for listener in &config.listeners {
            let bound = ProxyListener::bind(listener)
                .await
                .with_context(|| format!("starting the listener {listener:?}"))?;
            tracing::info!(listener = %bound.describe(), "proxy listening");
            let state = Arc::clone(&state);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                crate::proxy::serve(bound, state, shutdown)
                    .await
                    .map_err(anyhow::Error::from)
            });
        }
    }

    // The first task to fail (a template with exit_on_retry_failure, a listener) stops all.
    let mut outcome = Ok(());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            next = tasks.join_next() => match next {
                None => { shutdown.cancelled().await; break; }
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(err))) => { outcome = Err(err); break; }
                Some(Err(join)) => { outcome = Err(anyhow::anyhow!("agent task failed: {join}")); break; }
            },
        }
    }
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    outcome
}

async fn first_token(
    tokens: &mut watch::Receiver<Option<Sensitive<String>>>,
    shutdown: &CancellationToken,
) -> Option<Sensitive<String>> {
    loop {
        if let Some(token) = tokens.borrow_and_update().clone() {
            return Some(token);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            changed = tokens.changed() => if changed.is_err() { return None; },
        }
    }
}

/// Hands every new token to the built-in provider and replaces the old token's leases.
async fn follow_tokens(
    mut tokens: watch::Receiver<Option<Sensitive<String>>>,
    provider: Arc<secrethub_providers::SecretHubProvider>,
    keeper: LeaseKeeper,
) -> anyhow::Result<()> {
    let mut current = tokens.borrow_and_update().clone();
    while tokens.changed().await.is_ok() {
        let Some(token) = tokens.borrow_and_update().clone() else {
            continue;
        };
        // A re-login may hand back the same token (a token file nobody rotated).
        if current.as_ref() == Some(&token) {
            continue;
        }
        current = Some(token.clone());
        provider.set_token(token);
        // In the background: a replacement that keeps failing must not hold up the next token.
        let keeper = keeper.clone();
        tokio::spawn(async move { keeper.rotate_all(RotationReason::NewToken).await });
    }
    Ok(())
}
