//! Everything that exists only while the barrier is open: the router with live engines,
//! the token, policy and audit stores, and background tasks (token expiry). Built on
//! unseal, dropped on seal.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrethub_common::{now_unix, random_uuid, Sensitive, UnixTime};
use secrethub_engine::MountContext;
use secrethub_storage::{Storage, StorageView};
use tokio_util::sync::CancellationToken;

use crate::audit_broker::AuditBroker;
use crate::error::{CoreError, CoreResult};
use crate::leases::LeaseManager;
use crate::mounts::{MountClass, MountConfig, MountEntry, Mounted, Router, RouterCell};
use crate::policies::PolicyStore;
use crate::registry::EngineRegistry;
use crate::system_trace::{audit_revocation, SystemRevocation};
use crate::tokens::{TokenRecord, TokenStore};
use crate::Core;

const MOUNTS_KEY: &str = "core/mounts";

pub(crate) struct Unsealed {
    pub(crate) barrier: Arc<dyn Storage>,
    router: RouterCell,
    /// Serialises mount table changes (read-modify-write of `core/mounts`).
    pub(crate) mount_lock: tokio::sync::Mutex<()>,
    pub(crate) tokens: TokenStore,
    pub(crate) policies: PolicyStore,
    pub(crate) audit: Arc<AuditBroker>,
    pub(crate) leases: Arc<LeaseManager>,
    /// Engines' scheduled work (`timers.rs`).
    pub(crate) timers: Arc<crate::timers::Timers>,
    pub(crate) quotas: crate::quotas::QuotaStore,
    pub(crate) identity: crate::identity::IdentityStore,
    pub(crate) rate_limits: crate::rate_limit::RateLimits,
    pub(crate) registry: EngineRegistry,
    cancel: CancellationToken,
}

fn builtin(path: &str, engine_type: &str, description: &str, class: MountClass) -> MountEntry {
    MountEntry {
        version: 1,
        path: path.into(),
        engine_type: engine_type.into(),
        description: description.into(),
        accessor: mount_accessor(engine_type, class),
        uuid: random_uuid(),
        config: MountConfig::default(),
        options: BTreeMap::new(),
        class,
        local: false,
        seal_wrap: false,
    }
}

fn identity_mount() -> MountEntry {
    builtin(
        "identity/",
        "identity",
        "identity store",
        MountClass::Secret,
    )
}

fn default_mounts() -> Vec<MountEntry> {
    vec![
        identity_mount(),
        builtin(
            "cubbyhole/",
            "cubbyhole",
            "per-token private secret storage",
            MountClass::Secret,
        ),
        builtin(
            "sys/",
            "system",
            "system endpoints used for control, policy and debugging",
            MountClass::Secret,
        ),
        builtin(
            "token/",
            "token",
            "token based credentials",
            MountClass::Auth,
        ),
    ]
}

impl Unsealed {
    /// Loads (or creates) the mount table, builds engines, ensures the default policy,
    /// reopens audit devices and starts background tasks. The barrier must be unsealed.
    pub(crate) async fn open(core: &Core) -> CoreResult<Unsealed> {
        let barrier = core.barrier_storage();
        let entries: Vec<MountEntry> = match barrier.get(MOUNTS_KEY).await? {
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| CoreError::Internal(anyhow::anyhow!("mount table unreadable: {e}")))?,
            None => {
                let m = default_mounts();
                let bytes = serde_json::to_vec(&m).map_err(|e| CoreError::Internal(e.into()))?;
                barrier.put(MOUNTS_KEY, &bytes).await?;
                m
            }
        };
        let mut entries = entries;
        // Tables written before the identity store existed lack its mount.
        if !entries.iter().any(|e| e.engine_type == "identity") {
            entries.push(identity_mount());
            let bytes = serde_json::to_vec(&entries).map_err(|e| CoreError::Internal(e.into()))?;
            barrier.put(MOUNTS_KEY, &bytes).await?;
        }
        let mut mounted = Vec::with_capacity(entries.len());
        for entry in entries {
            let engine = instantiate(&core.registry, &barrier, &entry)?;
            mounted.push(Mounted { entry, engine });
        }
        let router: RouterCell = Arc::new(RwLock::new(Arc::new(Router::new(mounted))));
        let audit = Arc::new(AuditBroker::new(barrier.clone()));
        let leases = LeaseManager::new(
            barrier.clone(),
            router.clone(),
            audit.clone(),
            core.config().lease_retry.clone(),
        );
        let timers = crate::timers::Timers::new(
            barrier.clone(),
            router.clone(),
            audit.clone(),
            crate::timers::TimerConfig::default(),
        );
        let u = Unsealed {
            timers,
            router,
            mount_lock: tokio::sync::Mutex::new(()),
            tokens: TokenStore::new(barrier.clone(), leases.clone()),
            leases,
            quotas: crate::quotas::QuotaStore::new(barrier.clone()),
            identity: crate::identity::IdentityStore::new(barrier.clone()),
            rate_limits: crate::rate_limit::RateLimits::new(barrier.clone()),
            policies: PolicyStore::new(barrier.clone()),
            audit,
            registry: core.registry.clone(),
            barrier,
            cancel: CancellationToken::new(),
        };
        u.policies.ensure_default().await?;
        u.audit.load().await?;
        u.quotas.load().await?;
        u.rate_limits.load().await?;
        u.leases.restore().await?;
        u.spawn_expiry_sweeper();
        u.leases.start(u.cancel.clone());
        u.timers.start(u.cancel.clone());
        u.audit.start_checkpoints(u.cancel.clone());
        Ok(u)
    }

    /// Stops background tasks.
    pub(crate) fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// The live record of a token. A batch token from a login also needs its auth method
    /// still enabled: disabling a method revokes the stored tokens it issued, and batch
    /// tokens, never stored, are checked here instead.
    pub(crate) async fn lookup_token(&self, token: &str) -> CoreResult<Option<TokenRecord>> {
        let Some(rec) = self.tokens.lookup(token).await? else {
            return Ok(None);
        };
        if let Some(login) = rec.login.as_ref().filter(|_| rec.is_batch()) {
            let issuer = login.mount_accessor.as_str();
            if !self.router().all().any(|m| m.entry.accessor == issuer) {
                return Ok(None);
            }
        }
        Ok(Some(rec))
    }

    pub(crate) fn router(&self) -> Arc<Router> {
        self.router
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Persists a new mount table and swaps the router. Caller holds `mount_lock`.
    pub(crate) async fn replace_mounts(&self, mounted: Vec<Mounted>) -> CoreResult<()> {
        let entries: Vec<&MountEntry> = mounted.iter().map(|m| &m.entry).collect();
        let bytes = serde_json::to_vec(&entries).map_err(|e| CoreError::Internal(e.into()))?;
        self.barrier.put(MOUNTS_KEY, &bytes).await?;
        *self.router.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Router::new(mounted));
        Ok(())
    }

    pub(crate) fn instantiate(
        &self,
        entry: &MountEntry,
    ) -> CoreResult<Option<Arc<dyn secrethub_engine::Engine>>> {
        instantiate(&self.registry, &self.barrier, entry)
    }

    pub(crate) async fn create_root_token(
        &self,
        id: Option<&str>,
    ) -> CoreResult<Sensitive<String>> {
        let mut rec = TokenRecord {
            version: 1,
            hash: String::new(),
            accessor: String::new(),
            parent: None,
            policies: vec!["root".into()],
            meta: BTreeMap::new(),
            display_name: "root".into(),
            num_uses: 0,
            creation_time: now_unix(),
            creation_ttl: 0,
            expire_time: 0,
            explicit_max_ttl: 0,
            period: 0,
            renewable: false,
            path: "auth/token/root".into(),
            entity_id: String::new(),
            token_type: "service".into(),
            wrap_creation_path: String::new(),
            max_ttl: 0,
            bound_cidrs: Vec::new(),
            login: None,
            role: String::new(),
        };
        self.tokens.create(&mut rec, id).await
    }

    /// Revokes expired tokens once a second. Walks the time-ordered index only, so the
    /// cost is proportional to what expires, not to how many tokens exist. Each removal
    /// leaves an info log line and an audit entry, as background lease work does.
    fn spawn_expiry_sweeper(&self) {
        let tokens = self.tokens.clone();
        let audit = self.audit.clone();
        let router = self.router.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let now = now_unix();
                let mut removed = Vec::new();
                let swept = tokens.revoke_expired(now, &mut removed).await;
                // Traced whether or not the sweep finished: these are gone either way.
                for rec in &removed {
                    trace_token_removed(&audit, &router, rec, now).await;
                }
                if let Err(e) = swept {
                    tracing::warn!(error = %e, "token expiry sweep failed");
                }
            }
        });
    }
}

/// The info log line and audit entry of a token the expiry sweeper removed (expired, or a
/// descendant of one): named by its accessor and lease ID, never the token itself.
async fn trace_token_removed(
    audit: &AuditBroker,
    router: &RouterCell,
    rec: &TokenRecord,
    now: UnixTime,
) {
    let mount = crate::mounts::current(router)
        .route(&rec.path)
        .map(|(m, _)| (m.entry.engine_type.clone(), m.entry.accessor.clone()));
    let (mount_type, mount_accessor) = mount.unwrap_or_else(|| {
        let login = rec.login.as_ref().map(|l| l.mount_accessor.clone());
        (String::new(), login.unwrap_or_default())
    });
    let what = if rec.is_expired(now) {
        "expired token revoked"
    } else {
        "token revoked with its expired parent"
    };
    tracing::info!(accessor = %rec.accessor, path = %rec.path, mount = %mount_accessor, "{what}");
    let entry = SystemRevocation {
        mount_type,
        mount_accessor,
        path: rec.lease_id(),
        // HMACed by the device, as in a `auth/token/revoke-accessor` request's entry.
        data: Some(serde_json::json!({ "accessor": rec.accessor })),
        error: None,
    };
    if let Err(e) = audit_revocation(audit, entry).await {
        tracing::error!(accessor = %rec.accessor, error = %e, "token expiry not audited");
    }
}

/// A new random accessor for a mount of `engine_type`.
/// A new mount accessor in Vault's form: `kv_1a2b3c4d`, `auth_userpass_1a2b3c4d`.
pub(crate) fn mount_accessor(engine_type: &str, class: MountClass) -> String {
    let suffix = &random_uuid()[..8];
    match class {
        MountClass::Secret => format!("{engine_type}_{suffix}"),
        MountClass::Auth => format!("auth_{engine_type}_{suffix}"),
    }
}

fn instantiate(
    registry: &EngineRegistry,
    barrier: &Arc<dyn Storage>,
    entry: &MountEntry,
) -> CoreResult<Option<Arc<dyn secrethub_engine::Engine>>> {
    if entry.is_builtin() {
        return Ok(None);
    }
    let factory = match entry.class {
        MountClass::Secret => registry.get(&entry.engine_type),
        MountClass::Auth => registry.get_auth(&entry.engine_type),
    };
    let factory = factory.ok_or_else(|| {
        CoreError::bad_request(format!(
            "plugin not found in the catalog: {}",
            entry.engine_type
        ))
    })?;
    let ctx = MountContext {
        engine_type: entry.engine_type.clone(),
        options: entry.options.clone(),
        storage: StorageView::new(barrier.clone(), entry.storage_prefix()),
    };
    Ok(Some(factory(ctx)?))
}
