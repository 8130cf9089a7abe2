//! API boundary between core and every secrets engine and auth method.
//!
//! Core turns an HTTP request into a [`Request`] (operation, path relative to the mount,
//! JSON body, the mount's own [`StorageView`], a description of the caller) and calls
//! [`Engine::handle`]. Engines never see the barrier, tokens or other mounts, and never call
//! core. A [`PathTable`] maps segment patterns such as `roles/{name}` or `data/{*path}` to an
//! engine's route enum, so routing, 404/405 answers and help text come from one table, and
//! so do the [`PathFlags`] core reads before the token ([`Engine::path_flags`]): a login
//! endpoint, a path served without a token, a path that needs `sudo`. An answer is Vault's
//! JSON envelope, or a raw body with its own content type ([`Response::raw`]).
//!
//! [`example`] is a minimal engine that compiles, to start the next one from.
#![warn(missing_docs)]

mod auth;
mod error;
pub mod example;
mod paths;
mod request;
mod timers;

use std::sync::Arc;

use async_trait::async_trait;

pub use auth::{
    duration_field, normalize_policies, Alias, LoginAuth, LoginRenewal, TokenParams, TOKEN_FIELDS,
};
pub use error::EngineError;
pub use paths::{Args, PathEntry, PathFlags, PathTable, Paths};
pub use request::{
    Caller, LeaseInfo, LeaseTerms, MountInfo, NewLease, Operation, RawBody, RawInput, Request,
    Response, Revocation, UnconfirmedRevocation, TIDY_STARTED,
};
pub use secrethub_common::JsonMap;
pub use secrethub_storage::StorageView;
pub use timers::{MemoryTimers, TimerLog, TimerOutcome};

/// A secrets engine mounted at a path. Core calls it; it never calls core.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Serves one request; usually `self.paths.route(..)` then a `match` on the route.
    async fn handle(&self, req: Request) -> Result<Response, EngineError>;

    /// Whether the target of a write already exists, so the ACL can tell `create` from
    /// `update`. `None` means the engine does not distinguish (treated as update).
    async fn exists(&self, _req: &Request) -> Result<Option<bool>, EngineError> {
        Ok(None)
    }

    /// Undoes whatever a lease stands for upstream. Something already gone counts as revoked,
    /// and so does a lease whose `internal` data is an intent whose side effect never
    /// happened: core calls this for confirmed leases and for unconfirmed intents alike.
    async fn revoke(&self, _lease: &LeaseInfo, _storage: &StorageView) -> Result<(), EngineError> {
        Ok(())
    }

    /// Revokes one lease for a caller who waits for the answer (`sys/leases/revoke`). The
    /// default is [`Engine::revoke`], durable before it returns. An engine may instead make
    /// the revocation take effect at once and durable upstream shortly after, answering
    /// [`Revocation::Unconfirmed`]; core then confirms it with
    /// [`Engine::confirm_revocations`].
    async fn revoke_for_caller(
        &self,
        lease: &LeaseInfo,
        storage: &StorageView,
    ) -> Result<Revocation, EngineError> {
        self.revoke(lease, storage)
            .await
            .map(|()| Revocation::Durable)
    }

    /// Confirms revocations this engine answered [`Revocation::Unconfirmed`]; one answer per
    /// item, in order: `Ok(true)` once the revocation is durable upstream (redoing it,
    /// durably, if the upstream lost it), `Ok(false)` while that is not known yet. Core asks
    /// again later for every `Ok(false)` and error.
    async fn confirm_revocations(
        &self,
        pending: &[UnconfirmedRevocation],
        _storage: &StorageView,
    ) -> Vec<Result<bool, EngineError>> {
        pending.iter().map(|_| Ok(true)).collect()
    }

    /// Revokes several leases of this engine at once (core batches leases that fall due
    /// together and revoke-prefix). Returns one result per lease, in order. The default
    /// revokes them one by one; an engine overrides it when its upstream can do many in one
    /// round trip.
    async fn revoke_batch(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<(), EngineError>> {
        let mut out = Vec::with_capacity(leases.len());
        for lease in leases {
            out.push(self.revoke(lease, storage).await);
        }
        out
    }

    /// Revokes several leases for the lease scheduler (expiry and queued revocations), where
    /// no caller waits on the outcome. Like [`Engine::revoke_for_caller`], an engine may make
    /// a revocation take effect at once and complete upstream shortly after, answering
    /// [`Revocation::Unconfirmed`]: a database whose user drop is slow under a backlog can
    /// lock the account now and drop it when core asks to confirm. The default is
    /// [`Engine::revoke_batch`], durable.
    async fn revoke_batch_unflushed(
        &self,
        leases: &[LeaseInfo],
        storage: &StorageView,
    ) -> Vec<Result<Revocation, EngineError>> {
        self.revoke_batch(leases, storage)
            .await
            .into_iter()
            .map(|r| r.map(|()| Revocation::Durable))
            .collect()
    }

    /// Extends a lease upstream to `lease.expire_time`, which core has already computed from
    /// the requested increment and capped at the lease's max TTL.
    async fn renew(&self, _lease: &LeaseInfo, _storage: &StorageView) -> Result<(), EngineError> {
        Err(EngineError::NotRenewable)
    }

    /// The engine's path table, so core can read the [`PathFlags`] of its rows (see
    /// [`Engine::path_flags`]). `None`, the default, declares no special path.
    fn paths(&self) -> Option<&dyn Paths> {
        None
    }

    /// How core treats `path` (relative to the mount) for `op` before any token is looked
    /// at: a login endpoint, served without a token, or needing `sudo`. The default reads
    /// the flags of the row of [`Engine::paths`] that serves the path; override it only when
    /// the flags cannot be rows of a table.
    fn path_flags(&self, path: &str, op: Operation) -> PathFlags {
        self.paths()
            .map_or(PathFlags::NONE, |paths| paths.flags(path, op))
    }

    /// Auth methods: the role a login request is for, so failed logins can be rate-limited
    /// per client address and role before the method does any expensive work. The default
    /// reads the `role` field of the body.
    async fn login_role(&self, req: &Request) -> Option<String> {
        req.str_field("role")
    }

    /// Auth methods: re-checks a login when its token is renewed (the role still exists, its
    /// bindings still admit the caller) and answers the token parameters that now apply.
    /// Core refuses the renewal when this fails or when the policies changed.
    async fn renew_login(
        &self,
        _login: &LoginRenewal,
        _storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        Err(EngineError::NotRenewable)
    }

    /// Runs the work of the timer `key` this engine set ([`Request::schedule`]), now due.
    /// An error is retried with backoff; the default (an engine that sets no timers) drops
    /// the timer.
    async fn on_timer(
        &self,
        _key: &str,
        _storage: &StorageView,
    ) -> Result<TimerOutcome, EngineError> {
        Ok(TimerOutcome::NotDue { next: None })
    }
}

/// Durable intent records, offered by core to engines that create something outside
/// SecretHub (a database user, a cloud key). An engine records what it is about to create and
/// how to revoke it *before* the side effect; core keeps that record as an unconfirmed lease,
/// confirms it when the response carries the lease, and revokes it (via [`Engine::revoke`],
/// with the recorded data as `internal`) if the request fails or the process dies first.
#[async_trait]
pub trait IntentLog: Send + Sync {
    /// Persists `internal` durably; returns once it is safe to perform the side effect.
    async fn record(&self, internal: &serde_json::Value) -> Result<(), EngineError>;
}

/// What a mount is created from: its options (`{"version": "2"}` for kv) and its storage.
pub struct MountContext {
    /// The mount type as enabled (`kv`, `kv-v2`, `database`, ...).
    pub engine_type: String,
    /// The mount's `options` map, strings as Vault stores them.
    pub options: std::collections::BTreeMap<String, String>,
    /// The mount's own storage.
    pub storage: StorageView,
}

/// Builds an engine for a new or restored mount; registered by name in the `secrethub` crate.
pub type EngineFactory = fn(MountContext) -> Result<Arc<dyn Engine>, EngineError>;
