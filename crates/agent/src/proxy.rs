//! The agent's cache listener: a local HTTP endpoint (TCP, with TLS when the stanza names a
//! certificate and key, or a Unix socket with mode 0600) that forwards `/v1/...` to the
//! server, as Vault Agent's `api_proxy` + `cache`.
//!
//! - **Token.** A request's own `X-Vault-Token` (or `X-Agent-Token`, or
//!   `Authorization: Bearer`) is forwarded; a request without one gets the agent's auto-auth
//!   token when [`ProxyConfig::use_auto_auth_token`] is on, and is forwarded without a token
//!   otherwise. When a request made with the agent's token answers 403, the proxy checks the
//!   token (`lookup-self`) and, if it is dead, asks auto-auth for a fresh login.
//! - **Forwarding.** Method (LIST too), path, query, the body's bytes, its `Content-Type` and
//!   the `X-Vault-*` headers go through [`secrethub_client::Client::request_raw`] (its retry
//!   rules apply). The server's answer is relayed as it came: its status, its body bytes
//!   (error bodies, a 404 with a deleted KV v2 version's metadata, `sys/health` on 429/503
//!   alike) and its `Content-Type`, `Cache-Control`, `Retry-After`, `Location` and
//!   `X-Vault-*` headers; hop-by-hop headers stay behind and `Content-Length` is recomputed.
//!   Only when the server cannot be reached does the proxy answer itself:
//!   502 `{"errors": [...]}`.
//! - **Cache** (when [`ProxyConfig::cache`] is on). An answer with a non-empty `lease_id`
//!   (outside `sys/` and `auth/`) is cached under (token hash, method, path and query, body)
//!   for 90% of its `lease_duration`, so repeated requests get the same credentials instead
//!   of new ones; a KV v2 read (`data.data` + `data.metadata.version`) is cached for
//!   [`ProxyConfig::kv_ttl`] and dropped when a write, patch or delete of that path passes
//!   through the proxy. Only 200 answers are cached (their body is read as JSON only to
//!   decide that); answers to wrapped requests never are.
//!   A cached answer carries `X-Cache: HIT` (Vault Agent sends no such header; it is there for
//!   operators and tests) and its `lease_duration` is the time left on the lease.
//! - **Eviction.** After the server accepted them, `sys/leases/revoke[/<id>]`,
//!   `sys/leases/revoke-prefix/<prefix>`, `sys/leases/revoke-force/<prefix>` (and the older
//!   `sys/revoke*`) drop the matching entries; `auth/token/revoke`, `revoke-orphan` and
//!   `revoke-self` drop what was cached for that token; a renewal through `sys/leases/renew`
//!   moves the entry's expiry. [`ProxyState::evict_lease`] is for the agent's own renewer.
//!   `POST /agent/v1/cache-clear {"type": "all"|"lease"|"token"|"request_path", "value"}`
//!   clears by hand, as in Vault Agent.
//!
//! Requests are logged with method, path and status only; never bodies or tokens.

mod cache;
mod forward;
mod listener;
mod tls;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use secrethub_client::Client;
use secrethub_common::Sensitive;
use secrethub_config::AgentConfig;
use secrethub_providers::Providers;
use tokio::sync::watch;

use crate::auto_auth::AutoAuthHandle;

pub use listener::{serve, ProxyListener};

/// Default of [`ProxyConfig::kv_ttl`].
pub const DEFAULT_KV_TTL: Duration = Duration::from_secs(30);
/// Largest request body accepted, as the server's.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// How the proxy treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Requests without a token are sent with the agent's.
    pub use_auto_auth_token: bool,
    /// Cache leased answers and KV v2 reads.
    pub cache: bool,
    /// How long a KV v2 read is served from the cache (zero: KV reads are not cached).
    pub kv_ttl: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            use_auto_auth_token: false,
            cache: false,
            kv_ttl: DEFAULT_KV_TTL,
        }
    }
}

impl ProxyConfig {
    /// The proxy settings of an `agent.hcl` (`cache {}`, `use_auto_auth_token`).
    pub fn from_agent(config: &AgentConfig) -> ProxyConfig {
        ProxyConfig {
            use_auto_auth_token: config.use_auto_auth_token,
            cache: config.cache,
            kv_ttl: DEFAULT_KV_TTL,
        }
    }
}

/// What every listener of one agent shares: the upstream client, the agent's token and the
/// cache. Build it once, wrap it in an `Arc`, serve it on each listener.
#[derive(Debug)]
pub struct ProxyState {
    /// The server, presenting no token; each request picks its own.
    client: Client,
    token: watch::Receiver<Option<Sensitive<String>>>,
    config: ProxyConfig,
    cache: cache::Cache,
    auth: Option<AutoAuthHandle>,
    /// Set while a 403 is being checked, so a burst of them costs one `lookup-self`.
    checking_token: AtomicBool,
    /// The secret providers whose health `GET /agent/v1/health` reports.
    providers: Option<Arc<Providers>>,
}

impl ProxyState {
    /// `token` is the agent's token (from [`AutoAuthHandle::token`], or a fixed one).
    pub fn new(
        client: Client,
        token: watch::Receiver<Option<Sensitive<String>>>,
        config: ProxyConfig,
    ) -> ProxyState {
        ProxyState {
            client: client.without_token(),
            token,
            config,
            cache: cache::Cache::default(),
            auth: None,
            checking_token: AtomicBool::new(false),
            providers: None,
        }
    }

    /// Reports the health of `providers` at `GET /agent/v1/health`.
    pub fn with_providers(self, providers: Arc<Providers>) -> ProxyState {
        ProxyState {
            providers: Some(providers),
            ..self
        }
    }

    /// Uses auto-auth's token, and asks it to log in again when the token turns out dead.
    pub fn with_auto_auth(client: Client, auth: AutoAuthHandle, config: ProxyConfig) -> ProxyState {
        ProxyState {
            auth: Some(auth.clone()),
            ..ProxyState::new(client, auth.token(), config)
        }
    }

    /// Drops the cached answers carrying `lease_id` (the lease was revoked or replaced).
    /// Answers how many were dropped.
    pub fn evict_lease(&self, lease_id: &str) -> usize {
        self.cache.evict_lease(lease_id)
    }

    /// Drops every cached answer.
    pub fn clear_cache(&self) -> usize {
        self.cache.clear()
    }

    /// How many answers are cached (expired ones may still be counted).
    pub fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// The HTTP app: `/v1/*` forwarded, `/agent/v1/cache-clear`, `/agent/v1/health`,
    /// 32 MiB body limit.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/{*path}", any(forward::handle))
            .route("/agent/v1/cache-clear", post(forward::cache_clear))
            .route("/agent/v1/health", get(forward::health))
            .fallback(forward::not_found)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self.clone())
    }
}
