//! What `secrethub run` and `secrethub template render` read secrets with: a client for the
//! server (the CLI's address and token, or the config's `vault {}` and one auto-auth login),
//! and the providers of the config around the built-in `secrethub` provider.
//!
//! The built-in provider reads paths that no mount visible to the token holds under the
//! default KV mount: `--default-kv-mount`, else the config's `vault { default_kv_mount }`,
//! else `secret`.

use std::sync::Arc;

use anyhow::Context as _;
use secrethub_client::{Client, ClientConfig};
use secrethub_config::agent::{
    AgentConfig, LeaseRenewalConfig, ServerConnection, DEFAULT_KV_MOUNT,
};
use secrethub_providers::{Providers, SecretHubProvider, DEFAULT_PROVIDER};

use crate::auto_auth::AutoAuth;

/// A connected set of providers.
pub struct Setup {
    pub providers: Arc<Providers>,
    /// The built-in provider, whose token changes when the agent logs in again.
    pub secrethub: Arc<SecretHubProvider>,
    /// How leases are renewed (the config's `lease_renewal {}`, or the defaults).
    pub renewal: LeaseRenewalConfig,
}

impl Setup {
    /// Connects with `base` (the CLI's address and token), overridden by the config's
    /// `vault {}`; with an `auto_auth` stanza, logs in once and uses that token.
    pub async fn connect(
        base: ClientConfig,
        config: Option<&AgentConfig>,
    ) -> anyhow::Result<Setup> {
        Setup::connect_with(base, config, None).await
    }

    /// As [`Setup::connect`]; `default_kv_mount` (the command line's) wins over the config's,
    /// `Some("")` turning the default KV mount off.
    pub async fn connect_with(
        base: ClientConfig,
        config: Option<&AgentConfig>,
        default_kv_mount: Option<&str>,
    ) -> anyhow::Result<Setup> {
        let client = match config {
            Some(config) => server_client(base, &config.server)?,
            None => Client::new(base).context("creating the client")?,
        };
        let client = match config.and_then(|c| c.auto_auth.as_ref()) {
            Some(auto_auth) => {
                let auth = AutoAuth::new(client.without_token(), auto_auth.clone());
                let info = auth.login_once().await.context("auto-auth login")?;
                client.with_token(info.token)
            }
            None => client,
        };
        Setup::build(client, config, default_kv_mount)
    }

    /// The providers around an already authenticated client.
    pub fn with_client(client: Client, config: Option<&AgentConfig>) -> anyhow::Result<Setup> {
        Setup::build(client, config, None)
    }

    fn build(
        client: Client,
        config: Option<&AgentConfig>,
        default_kv_mount: Option<&str>,
    ) -> anyhow::Result<Setup> {
        let mount = match (default_kv_mount, config) {
            (Some(flag), _) => Some(flag),
            (None, Some(config)) => config.server.default_kv_mount.as_deref(),
            (None, None) => Some(DEFAULT_KV_MOUNT),
        };
        let secrethub =
            Arc::new(SecretHubProvider::new(DEFAULT_PROVIDER, client).with_default_kv_mount(mount));
        let configured = config.map(|c| c.providers.as_slice()).unwrap_or_default();
        let providers = Providers::from_config(secrethub.clone(), configured)
            .context("configuring the providers")?;
        Ok(Setup {
            providers: Arc::new(providers),
            secrethub,
            renewal: config.map(|c| c.lease_renewal.clone()).unwrap_or_default(),
        })
    }
}

/// A client for the server of a `vault {}` stanza: its address, TLS settings and retries
/// over `base`.
pub fn server_client(base: ClientConfig, server: &ServerConnection) -> anyhow::Result<Client> {
    let client = Client::new(with_server(base, server)).context("creating the client")?;
    Ok(client.with_max_retries(server.num_retries))
}

/// `base` with the address and TLS settings of a `vault {}` stanza, where it sets them.
fn with_server(mut base: ClientConfig, server: &ServerConnection) -> ClientConfig {
    if let Some(address) = &server.address {
        base.addr = address.clone();
    }
    if let Some(ca) = &server.ca_cert {
        base.ca_cert = Some(ca.clone());
    }
    if server.tls_skip_verify {
        base.insecure_skip_verify = true;
    }
    base
}
