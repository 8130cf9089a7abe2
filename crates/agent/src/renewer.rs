//! The lease keeper (the seed guide's `LeaseRenewer`): every leased secret the agent or
//! `secrethub run` holds is renewed when its remaining TTL falls below a fraction of its lease
//! (`renew_at`, default a third), and replaced by a fresh one before it dies.
//!
//! One task per held lease runs the lease's life:
//! 1. sleep until `remaining < renew_at × duration`, then renew with the lease's own duration
//!    as the increment;
//! 2. a failed renewal is retried after `backoff_initial`, doubling up to `backoff_max`, at most
//!    `max_attempts` times, and never past the point where a replacement must be fetched (as
//!    in 3: the retries must not outlive the lease); after that the failure is logged (never a
//!    value), `on_failed` runs with `SECRETHUB_LEASE_ID` and `SECRETHUB_LEASE_PATH`, and fresh
//!    credentials are fetched;
//! 3. a renewal granted less than it asked for has reached its max TTL: fresh credentials are
//!    fetched `grace` before it expires (at most half the time left), so nobody holds expired
//!    credentials.
//!
//! A replacement is announced as a [`Rotation`] so templates re-render. The replaced lease is
//! left to expire on the server (it revokes it then): revoking it at once would break a process
//! that has not reloaded yet.
//!
//! Secrets without a lease are not held: they pass through to the providers (and their cache).
//!
//! Templates read through a [`Claimant`]: each records what its renders read, so a leased
//! secret that no template reads any more (its template file was edited) stops being renewed
//! and replaced, and is left to expire like a replaced one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_config::agent::LeaseRenewalConfig;
use secrethub_providers::{Lease, ProviderError, ProviderErrorKind, Providers, Secret};
use tokio::sync::{broadcast, Mutex};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::render::{Fetched, SecretSource};
use crate::template::{run_bounded, CommandOutcome, COMMAND_TIMEOUT};

/// Which secret: the reference's provider (as written, `None` for routed ones) and path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey {
    pub provider: Option<String>,
    pub path: String,
}

impl SecretKey {
    pub fn new(provider: Option<&str>, path: &str) -> SecretKey {
        SecretKey {
            provider: provider.map(str::to_string),
            path: path.to_string(),
        }
    }
}

/// Why a held secret was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationReason {
    /// The lease reached its max TTL (or was never renewable) and is about to expire.
    Expiring,
    /// Renewal failed `max_attempts` times.
    RenewalFailed,
    /// The agent authenticated again: leases of the old token die with it.
    NewToken,
}

/// A held secret was replaced by a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub key: SecretKey,
    pub reason: RotationReason,
}

/// A leased secret held by the keeper.
struct Held {
    fetched: Fetched,
    /// Stops this lease's renewal task (on replacement or shutdown).
    stop: CancellationToken,
}

/// Holds leased secrets and keeps them alive. Cheap to clone.
#[derive(Clone)]
pub struct LeaseKeeper {
    inner: Arc<Inner>,
}

struct Inner {
    providers: Arc<Providers>,
    policy: LeaseRenewalConfig,
    /// What is held now. Locked only to look up or swap an entry, never across a read.
    held: StdMutex<HashMap<SecretKey, Held>>,
    /// One lock per secret, held across its read, so two renders asking for the same
    /// `database/creds/…` at once share one credential instead of creating two, while reads
    /// of different secrets go on in parallel.
    reading: StdMutex<HashMap<SecretKey, Arc<Mutex<()>>>>,
    /// Leases that were replaced: no longer renewed, still alive until they expire.
    /// `revoke_all` revokes them too, so `secrethub run` leaves nothing behind.
    retired: StdMutex<Vec<Retired>>,
    /// Who reads what, for [`Claimant`]s. Locked before `held` when both are.
    claims: StdMutex<Claims>,
    next_claimant: AtomicU64,
    rotations: broadcast::Sender<Rotation>,
    shutdown: CancellationToken,
}

/// Which claimants read each secret, and the secrets released because none does any more.
#[derive(Default)]
struct Claims {
    by_key: HashMap<SecretKey, HashSet<u64>>,
    /// A replacement fetched while its secret was released is not kept (see `rotate`).
    released: HashSet<SecretKey>,
}

/// How many replaced leases are remembered for `revoke_all`.
const MAX_RETIRED: usize = 1024;

/// A replaced lease.
struct Retired {
    provider: String,
    lease_id: String,
    path: String,
}

impl Inner {
    /// The read lock of `key`.
    fn read_lock(&self, key: &SecretKey) -> Arc<Mutex<()>> {
        let mut locks = lock(&self.reading);
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    /// Swaps `key`'s entry (`None` removes it) and retires the lease it held, if any.
    fn replace(&self, key: &SecretKey, new: Option<Held>) -> Option<Held> {
        let old = {
            let mut held = lock(&self.held);
            match new {
                Some(new) => held.insert(key.clone(), new),
                None => held.remove(key),
            }
        };
        if let Some(old) = &old {
            self.retire(key, &old.fetched);
        }
        old
    }

    /// Remembers a lease no longer kept, so `revoke_all` still revokes it.
    fn retire(&self, key: &SecretKey, fetched: &Fetched) {
        let Some(lease) = fetched.secret.lease.as_ref() else {
            return;
        };
        let mut retired = lock(&self.retired);
        // The oldest have long expired; a long-running agent must not grow without end.
        if retired.len() >= MAX_RETIRED {
            retired.remove(0);
        }
        retired.push(Retired {
            provider: fetched.provider.clone(),
            lease_id: lease.id.clone(),
            path: key.path.clone(),
        });
    }
}

/// Locks a std mutex, recovering from poisoning (a panicked holder cannot leave the maps
/// half-written: every critical section is a single insert, remove or read).
fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LeaseKeeper {
    /// A keeper reading through `providers` and renewing by `policy`; its tasks stop when
    /// `shutdown` is cancelled.
    pub fn new(
        providers: Arc<Providers>,
        policy: LeaseRenewalConfig,
        shutdown: CancellationToken,
    ) -> LeaseKeeper {
        let (rotations, _) = broadcast::channel(256);
        LeaseKeeper {
            inner: Arc::new(Inner {
                providers,
                policy,
                held: StdMutex::new(HashMap::new()),
                reading: StdMutex::new(HashMap::new()),
                retired: StdMutex::new(Vec::new()),
                claims: StdMutex::new(Claims::default()),
                next_claimant: AtomicU64::new(0),
                rotations,
                shutdown,
            }),
        }
    }

    /// A new reader whose secrets are kept only while it reads them (see [`Claimant`]).
    pub fn claimant(&self) -> Claimant {
        Claimant {
            keeper: self.clone(),
            id: self.inner.next_claimant.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Replacements from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Rotation> {
        self.inner.rotations.subscribe()
    }

    /// The lease IDs held now, with their paths.
    pub async fn leases(&self) -> Vec<(SecretKey, String)> {
        let held = lock(&self.inner.held);
        held.iter()
            .filter_map(|(key, h)| {
                let lease = h.fetched.secret.lease.as_ref()?;
                Some((key.clone(), lease.id.clone()))
            })
            .collect()
    }

    /// Replaces every held secret (the agent logged in again: the old token's leases will be
    /// revoked with it).
    pub async fn rotate_all(&self, reason: RotationReason) {
        let keys: Vec<SecretKey> = lock(&self.inner.held).keys().cloned().collect();
        futures::future::join_all(keys.into_iter().map(|key| rotate(&self.inner, key, reason)))
            .await;
    }

    /// Stops renewing and revokes every held lease (`secrethub run` when its child exits).
    /// Answers how many revocations failed; each failure is logged.
    /// Replaced leases, still alive until they expire, are revoked as well.
    pub async fn revoke_all(&self) -> usize {
        let drained: Vec<(SecretKey, Held)> = lock(&self.inner.held).drain().collect();
        let mut leases: Vec<Retired> = std::mem::take(&mut *lock(&self.inner.retired));
        for (key, held) in drained {
            held.stop.cancel();
            if let Some(lease) = held.fetched.secret.lease.as_ref() {
                leases.push(Retired {
                    provider: held.fetched.provider.clone(),
                    lease_id: lease.id.clone(),
                    path: key.path.clone(),
                });
            }
        }
        let mut failed = 0;
        for lease in leases {
            let Some(provider) = self.inner.providers.get(&lease.provider) else {
                continue;
            };
            match provider.revoke(&lease.lease_id).await {
                Err(err) => {
                    failed += 1;
                    tracing::error!(lease_id = %lease.lease_id, path = %lease.path, error = %err, "revoking a lease failed");
                }
                Ok(()) => {
                    tracing::info!(lease_id = %lease.lease_id, path = %lease.path, "lease revoked")
                }
            }
        }
        failed
    }
}

#[async_trait]
impl SecretSource for LeaseKeeper {
    async fn fetch(&self, provider: Option<&str>, path: &str) -> Result<Fetched, ProviderError> {
        let key = SecretKey::new(provider, path);
        let read_lock = self.inner.read_lock(&key);
        let _reading = read_lock.lock().await;
        if let Some(h) = lock(&self.inner.held).get(&key) {
            return Ok(h.fetched.clone());
        }
        let fetched = read(&self.inner.providers, &key).await?;
        if fetched.secret.lease.is_some() {
            let stop = start_keeping(&self.inner, key.clone(), &fetched, Instant::now());
            let held = Held {
                fetched: fetched.clone(),
                stop,
            };
            lock(&self.inner.held).insert(key, held);
        }
        Ok(fetched)
    }

    /// A failed render hands its leases back here: they stay held (renewed, and reused by the
    /// next render instead of creating new credentials) until `revoke_all` or expiry.
    async fn revoke(&self, _provider: &str, _lease_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// One reader of the keeper (a template): what it fetches is claimed for it, and after each
/// successful render [`Claimant::settle`] gives up the claims it no longer needs. A secret
/// whose last claim goes is released: no longer renewed or replaced, left to expire (and still
/// revoked by `revoke_all`). Secrets fetched from the keeper directly are never released.
pub struct Claimant {
    keeper: LeaseKeeper,
    id: u64,
}

impl Claimant {
    /// Keeps the claims on `read` (the secrets the last render used) and drops the others.
    pub fn settle(&self, read: impl IntoIterator<Item = SecretKey>) {
        let read: HashSet<SecretKey> = read.into_iter().collect();
        let inner = &self.keeper.inner;
        // Released under the claims lock: a claimant fetching the secret at this moment either
        // claimed it first (so it is kept) or finds it no longer held and reads it afresh.
        let mut claims = lock(&inner.claims);
        let mut released = Vec::new();
        claims.by_key.retain(|key, claimants| {
            if !read.contains(key) {
                claimants.remove(&self.id);
            }
            if claimants.is_empty() {
                released.push(key.clone());
                return false;
            }
            true
        });
        claims.released.extend(released.iter().cloned());
        for key in released {
            if let Some(old) = inner.replace(&key, None) {
                old.stop.cancel();
                tracing::info!(path = %key.path, "no template reads this secret any more; its lease is no longer renewed");
            }
        }
    }
}

#[async_trait]
impl SecretSource for Claimant {
    async fn fetch(&self, provider: Option<&str>, path: &str) -> Result<Fetched, ProviderError> {
        let key = SecretKey::new(provider, path);
        {
            let mut claims = lock(&self.keeper.inner.claims);
            claims.released.remove(&key);
            claims.by_key.entry(key).or_default().insert(self.id);
        }
        self.keeper.fetch(provider, path).await
    }

    async fn revoke(&self, provider: &str, lease_id: &str) -> Result<(), ProviderError> {
        self.keeper.revoke(provider, lease_id).await
    }
}

async fn read(providers: &Providers, key: &SecretKey) -> Result<Fetched, ProviderError> {
    let started = Instant::now();
    let (provider, secret) = providers.read(key.provider.as_deref(), &key.path).await?;
    tracing::debug!(path = %key.path, provider = %provider, elapsed_ms = started.elapsed().as_millis() as u64, "secret read");
    Ok(Fetched { provider, secret })
}

/// Spawns the renewal task of a freshly fetched lease; answers the token that stops it.
fn start_keeping(
    inner: &Arc<Inner>,
    key: SecretKey,
    fetched: &Fetched,
    fetched_at: Instant,
) -> CancellationToken {
    let stop = inner.shutdown.child_token();
    let Some(lease) = fetched.secret.lease.clone() else {
        return stop;
    };
    let task = keep(
        Arc::clone(inner),
        key,
        fetched.provider.clone(),
        lease,
        fetched_at,
    );
    let stop_task = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop_task.cancelled() => {}
            _ = task => {}
        }
    });
    stop
}

/// What ended a lease's renewal loop.
enum End {
    Expiring,
    /// Renewal failed this many times in a row.
    Failed {
        attempts: u32,
    },
}

/// The life of one lease: renew on time, and replace it when it can't be renewed any more.
async fn keep(inner: Arc<Inner>, key: SecretKey, provider: String, lease: Lease, at: Instant) {
    let end = renew_until_done(&inner, &key, &provider, &lease, at).await;
    let reason = match end {
        End::Expiring => RotationReason::Expiring,
        End::Failed { attempts } => {
            tracing::error!(lease_id = %lease.id, path = %key.path, attempts, "lease renewal failed; fetching fresh credentials");
            if let Some(command) = inner.policy.on_failed.clone() {
                // Not awaited: a slow command must not delay the replacement.
                let (lease_id, path) = (lease.id.clone(), key.path.clone());
                let shutdown = inner.shutdown.clone();
                tokio::spawn(
                    async move { run_on_failed(&command, &lease_id, &path, &shutdown).await },
                );
            }
            RotationReason::RenewalFailed
        }
    };
    rotate(&inner, key, reason).await;
}

async fn renew_until_done(
    inner: &Inner,
    key: &SecretKey,
    provider_name: &str,
    lease: &Lease,
    at: Instant,
) -> End {
    let policy = &inner.policy;
    let duration = lease.duration;
    let mut expires = at + duration;
    if duration.is_zero() {
        // A lease without a duration does not expire: nothing to renew or replace (and
        // replacing it "before it ends" would loop).
        return std::future::pending().await;
    }
    if !lease.renewable {
        tokio::time::sleep_until(replace_at(expires, Instant::now(), policy.grace)).await;
        return End::Expiring;
    }
    let Some(provider) = inner.providers.get(provider_name) else {
        tokio::time::sleep_until(replace_at(expires, Instant::now(), policy.grace)).await;
        return End::Expiring;
    };
    loop {
        let renew_at = expires
            .checked_sub(duration.mul_f64(policy.renew_at))
            .unwrap_or(expires);
        tokio::time::sleep_until(renew_at).await;
        // A retry after this would leave too little time to fetch a replacement before the
        // lease dies (with the defaults, a 30 s lease's fifth attempt would come 5 s after
        // it expired): give up then, even with attempts left.
        let give_up_at = replace_at(expires, Instant::now(), policy.grace);
        let mut delay = policy.backoff_initial;
        let mut granted = None;
        let mut attempts = 0;
        while attempts < policy.max_attempts {
            attempts += 1;
            let asked_at = Instant::now();
            match provider.renew(&lease.id, duration).await {
                Ok(renewed) => {
                    granted = Some((asked_at, renewed));
                    break;
                }
                Err(err) => {
                    tracing::warn!(lease_id = %lease.id, path = %key.path, attempt = attempts, error = %err, "lease renewal failed");
                    if attempts >= policy.max_attempts || Instant::now() + delay > give_up_at {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(policy.backoff_max);
                }
            }
        }
        let Some((asked_at, renewed)) = granted else {
            return End::Failed { attempts };
        };
        tracing::info!(lease_id = %lease.id, path = %key.path, ttl_secs = renewed.duration.as_secs(), "lease renewed");
        expires = asked_at + renewed.duration;
        if renewed.duration < duration {
            // Capped: the lease reached its max TTL and will not be extended again.
            tokio::time::sleep_until(replace_at(expires, Instant::now(), policy.grace)).await;
            return End::Expiring;
        }
    }
}

/// When to fetch the replacement of a lease that ends at `expires`: `grace` before it, but no
/// earlier than halfway through the time left.
fn replace_at(expires: Instant, now: Instant, grace: Duration) -> Instant {
    let left = expires.saturating_duration_since(now);
    expires - grace.min(left / 2)
}

/// Fetches fresh credentials for `key` and announces them. A fetch that failed for a passing
/// reason (unreachable, timeout) is retried with the renewal backoff until it works or the
/// keeper shuts down, while the old secret is served. One that cannot work (the secret is
/// gone, access denied) gives the secret up: the next render reads it again and reports why.
async fn rotate(inner: &Arc<Inner>, key: SecretKey, reason: RotationReason) {
    let mut delay = inner.policy.backoff_initial;
    loop {
        if inner.shutdown.is_cancelled() {
            return;
        }
        let read_lock = inner.read_lock(&key);
        let reading = read_lock.lock().await;
        match read(&inner.providers, &key).await {
            Ok(fetched) => {
                let claims = lock(&inner.claims);
                if claims.released.contains(&key) {
                    // No template reads it any more (released while this read ran): keep it
                    // released; the fresh lease expires unused, or `revoke_all` revokes it.
                    drop(claims);
                    inner.retire(&key, &fetched);
                    drop(reading);
                    tracing::info!(path = %key.path, "fresh credentials not kept: no template reads them any more");
                    return;
                }
                let stop = start_keeping(inner, key.clone(), &fetched, Instant::now());
                let old = inner.replace(&key, Some(Held { fetched, stop }));
                drop(claims);
                drop(reading);
                tracing::info!(path = %key.path, ?reason, "fresh credentials fetched");
                // Nobody listening is fine: `secrethub run` does not re-render.
                let _ = inner.rotations.send(Rotation { key, reason });
                // Last: when the caller is the old lease's own task, this ends it.
                if let Some(old) = old {
                    old.stop.cancel();
                }
                return;
            }
            Err(err)
                if matches!(
                    err.kind,
                    ProviderErrorKind::NotFound
                        | ProviderErrorKind::Denied
                        | ProviderErrorKind::Invalid
                ) =>
            {
                let old = inner.replace(&key, None);
                drop(reading);
                tracing::error!(path = %key.path, error = %err, "fresh credentials cannot be fetched; the secret is given up");
                let _ = inner.rotations.send(Rotation { key, reason });
                if let Some(old) = old {
                    old.stop.cancel();
                }
                return;
            }
            Err(err) => {
                drop(reading);
                tracing::error!(path = %key.path, error = %err, retry_in_ms = delay.as_millis() as u64, "fetching fresh credentials failed");
                tokio::select! {
                    _ = inner.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(inner.policy.backoff_max);
            }
        }
    }
}

/// Runs the `on_failed` command; its failure is logged, never fatal.
async fn run_on_failed(command: &str, lease_id: &str, path: &str, shutdown: &CancellationToken) {
    let env = [
        ("SECRETHUB_LEASE_ID".to_string(), lease_id.to_string()),
        ("SECRETHUB_LEASE_PATH".to_string(), path.to_string()),
    ];
    let outcome = run_bounded(command, &env, COMMAND_TIMEOUT, shutdown).await;
    match outcome {
        Ok(CommandOutcome::Exited(status)) if status.success() => {}
        Ok(CommandOutcome::Exited(status)) => {
            tracing::warn!(%status, "the on_failed command failed")
        }
        Ok(CommandOutcome::TimedOut) => {
            tracing::warn!("the on_failed command timed out and was killed")
        }
        Ok(CommandOutcome::ShutDown) => {}
        Err(err) => tracing::warn!(error = %err, "the on_failed command could not run"),
    }
}

impl LeaseKeeper {
    /// The secret held for `key`, if any.
    pub async fn held(&self, key: &SecretKey) -> Option<Secret> {
        let held = lock(&self.inner.held);
        held.get(key).map(|h| h.fetched.secret.clone())
    }
}
