//! Core: seal state, the mount table and router, the token store, ACL checks, the audit
//! broker and the request pipeline. HTTP-free: `server` turns HTTP into a [`CoreRequest`]
//! and renders the [`CoreResponse`]. Engines are reached only through the
//! [`secrethub_engine::Engine`] trait, built from the [`EngineRegistry`].

mod audit_broker;
mod batch_tokens;
mod builtin;
mod cubbyhole;
mod error;
mod identity;
mod lease_flow;
mod leases;
mod login;
mod mounts;
mod pipeline;
mod policies;
mod quotas;
mod rate_limit;
mod registry;
mod request;
mod run_to_end;
mod seal;
mod sys;
mod system_trace;
mod timers;
mod token_api;
mod token_create;
mod token_roles;
mod tokens;
mod unsealed;
mod wrapping;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrethub_barrier::Barrier;
use secrethub_storage::Storage;

pub use builtin::BuiltIn;
pub use error::{CoreError, CoreResult};
pub use leases::RetryConfig as LeaseRetryConfig;
pub use mounts::{MountClass, MountConfig, MountEntry};
pub use registry::EngineRegistry;
pub use request::{AuthBlock, CoreRequest, CoreResponse, LeaseBlock, Method, WrapInfo};
pub use seal::{InitResult, SealStatus};
pub use tokens::TokenRecord;

use seal::UnsealProgress;
use unsealed::Unsealed;

/// Settings core needs from the server configuration.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// System default lease/token TTL (Vault: 768h).
    pub default_lease_ttl: Duration,
    /// System max lease/token TTL (Vault: 768h).
    pub max_lease_ttl: Duration,
    /// Storage kind shown in `sys/seal-status` (`inmem`, `file`, `postgresql`).
    pub storage_type: String,
    /// How failed lease revocations are retried.
    pub lease_retry: LeaseRetryConfig,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
            storage_type: "inmem".into(),
            lease_retry: LeaseRetryConfig::default(),
        }
    }
}

/// The server's heart. One per process; shared as `Arc<Core>`.
pub struct Core {
    physical: Arc<dyn Storage>,
    barrier: Arc<Barrier>,
    registry: EngineRegistry,
    config: CoreConfig,
    /// `Some` while unsealed. A std lock: only ever held to clone or swap the `Arc`.
    state: RwLock<Option<Arc<Unsealed>>>,
    /// Serialises init/unseal/seal and holds the key shares entered so far.
    progress: tokio::sync::Mutex<UnsealProgress>,
}

impl Core {
    /// A sealed core over `physical` storage.
    pub fn new(
        physical: Arc<dyn Storage>,
        registry: EngineRegistry,
        config: CoreConfig,
    ) -> Arc<Core> {
        Arc::new(Core {
            barrier: Arc::new(Barrier::new(physical.clone())),
            physical,
            registry,
            config,
            state: RwLock::new(None),
            progress: tokio::sync::Mutex::new(UnsealProgress::default()),
        })
    }

    /// The configuration core runs with.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    fn unsealed(&self) -> CoreResult<Arc<Unsealed>> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(CoreError::Sealed)
    }

    /// Reopens audit files after log rotation (the server calls this on SIGHUP).
    pub fn reopen_audit_devices(&self) -> CoreResult<()> {
        match self.unsealed() {
            Ok(u) => u.audit.reopen(),
            Err(_) => Ok(()),
        }
    }

    /// Whether the barrier is sealed.
    pub fn is_sealed(&self) -> bool {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}
