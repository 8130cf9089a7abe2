//! [`Providers`]: the configured set of providers and the policy around a read: which provider
//! a reference goes to, the per-provider timeout, the read cache, and the fallback chain.
//!
//! Routing: an explicit name (`${secret:aws:app/db}`) must name a provider, or else a provider
//! type or one of its aliases (`aws-sm`, `aws-secrets`; see
//! [`secrethub_config::agent::provider_type`]) of which exactly one provider is configured;
//! otherwise the longest configured `prefix` that starts the path wins and is stripped;
//! otherwise the default provider (`secrethub`) gets the path as written. A fallback provider
//! is asked the same (stripped) path as the provider it stands in for.
//!
//! A provider with a fallback that timed out [`BREAKER_THRESHOLD`] times in a row is skipped
//! for [`BREAKER_OPEN`] (its fallback answers at once instead of after its timeout);
//! then reads try it again: one more failure skips it again, one success ends the skipping.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use secrethub_config::agent::{
    provider_type, DEFAULT_PROVIDER_CACHE_MAX_ENTRIES, DEFAULT_PROVIDER_CACHE_TTL,
    DEFAULT_PROVIDER_TIMEOUT,
};

use crate::cache::ReadCache;
use crate::{Health, Provider, ProviderError, ProviderErrorKind, Secret};

/// The name of the built-in provider (the agent's own server); reserved in the configuration.
pub const DEFAULT_PROVIDER: &str = "secrethub";

/// How [`Providers`] treats one provider (the keys of a `provider "NAME" {}` stanza that are
/// not the provider's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOptions {
    /// References whose path starts with this go to the provider, the prefix stripped.
    pub prefix: Option<String>,
    /// The provider asked when this one is unavailable or times out.
    pub fallback: Option<String>,
    /// Upper bound on one read.
    pub timeout: Duration,
    /// How long an answer without a lease is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// At most this many answers are kept; the oldest goes first.
    pub cache_max_entries: usize,
    /// The provider's type (`aws-sm`, …): a reference that names the type (or an alias of it)
    /// instead of a provider reaches the one provider of that type.
    pub kind: Option<&'static str>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            prefix: None,
            fallback: None,
            timeout: DEFAULT_PROVIDER_TIMEOUT,
            cache_ttl: DEFAULT_PROVIDER_CACHE_TTL,
            cache_max_entries: DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
            kind: None,
        }
    }
}

/// Timeouts in a row after which a provider with a fallback is skipped.
pub const BREAKER_THRESHOLD: u32 = 3;
/// How long such a provider is skipped before a read tries it again.
pub const BREAKER_OPEN: Duration = Duration::from_secs(30);

/// One provider with its options and its cache.
struct Member {
    provider: Arc<dyn Provider>,
    options: ProviderOptions,
    cache: Mutex<ReadCache>,
    breaker: Mutex<Breaker>,
}

/// A provider's recent unavailability.
#[derive(Default)]
struct Breaker {
    /// Timeouts in a row.
    failures: u32,
    /// Skipped until then.
    open_until: Option<Instant>,
}

impl Member {
    fn new(provider: Arc<dyn Provider>, options: ProviderOptions) -> Member {
        let cache = ReadCache::new(options.cache_ttl, options.cache_max_entries);
        Member {
            provider,
            options,
            cache: Mutex::new(cache),
            breaker: Mutex::default(),
        }
    }

    fn name(&self) -> &str {
        self.provider.name()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ReadCache> {
        // A panic while holding the lock leaves at worst a stale cache entry; keep serving.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How much longer the provider is skipped, if it is.
    fn skipped_for(&self) -> Option<Duration> {
        let until = self.breaker().open_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Reads through the cache, bounded by the provider's timeout.
    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        if let Some(hit) = self.cache().get(path) {
            return Ok(hit);
        }
        let timeout = self.options.timeout;
        let answer = tokio::time::timeout(timeout, self.provider.read(path)).await;
        self.record(answer.is_err());
        let secret = match answer {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    self.name(),
                    format!("reading {path} timed out after {timeout:?}"),
                ))
            }
        };
        self.cache().insert(path, secret.clone());
        Ok(secret)
    }

    /// Counts a read: only a timeout counts against the provider. Any answer, even an error
    /// (a 500 for one path, say), came from a provider that responds, so other paths on it
    /// may well work.
    fn record(&self, timed_out: bool) {
        let mut breaker = self.breaker();
        if !timed_out {
            *breaker = Breaker::default();
            return;
        }
        breaker.failures += 1;
        if breaker.failures >= BREAKER_THRESHOLD {
            breaker.open_until = Some(Instant::now() + BREAKER_OPEN);
            if self.options.fallback.is_some() {
                tracing::warn!(provider = %self.name(), failures = breaker.failures, skip_secs = BREAKER_OPEN.as_secs(), "secret provider keeps timing out; its fallback answers for a while");
            }
        }
    }
}

/// The configured providers: the default (`secrethub`) plus the `provider "NAME"` stanzas.
pub struct Providers {
    default: Member,
    /// In configuration order; names are unique and differ from the default's.
    members: Vec<Member>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("default", &self.default.name())
            .field(
                "members",
                &self.members.iter().map(Member::name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Providers {
    /// Only the default provider, with the default timeout and cache.
    pub fn new(default: Arc<dyn Provider>) -> Providers {
        Self::with_default_options(default, ProviderOptions::default())
    }

    /// Only the default provider, with the given timeout and cache (its prefix is ignored; its
    /// fallback must be added with [`Providers::add`] before it is used).
    pub fn with_default_options(default: Arc<dyn Provider>, options: ProviderOptions) -> Providers {
        let options = ProviderOptions {
            prefix: None,
            ..options
        };
        Providers {
            default: Member::new(default, options),
            members: Vec::new(),
        }
    }

    /// Adds a provider. Its name must be new (and not `secrethub`), and its fallback, if any,
    /// must already be there: so no chain of fallbacks can loop.
    pub fn add(
        &mut self,
        provider: Arc<dyn Provider>,
        options: ProviderOptions,
    ) -> Result<(), ProviderError> {
        let name = provider.name().to_string();
        let invalid =
            |message: String| ProviderError::new(ProviderErrorKind::Invalid, &name, message);
        if name.is_empty() || name.contains(':') {
            return Err(invalid(
                "a provider name must be non-empty and without ':'".into(),
            ));
        }
        if name == DEFAULT_PROVIDER || self.member(&name).is_some() {
            return Err(invalid(format!(
                "the provider name {name:?} is already taken"
            )));
        }
        if let Some(fallback) = &options.fallback {
            if *fallback == name {
                return Err(invalid("a provider cannot be its own fallback".into()));
            }
            if self.member(fallback).is_none() {
                return Err(invalid(format!("unknown fallback provider {fallback:?}")));
            }
        }
        if let Some(prefix) = options.prefix.as_deref() {
            if prefix.is_empty() {
                return Err(invalid("an empty prefix would take every reference".into()));
            }
            let taken = self
                .members
                .iter()
                .find(|m| m.options.prefix.as_deref() == Some(prefix));
            if let Some(other) = taken {
                return Err(invalid(format!(
                    "the prefix {prefix:?} is already the prefix of provider {:?}",
                    other.name()
                )));
            }
        }
        self.members.push(Member::new(provider, options));
        Ok(())
    }

    /// The provider called `name` (`secrethub` is the default).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.member(name).map(|m| Arc::clone(&m.provider))
    }

    /// Which provider answers a reference and the path it is asked (see the module doc).
    pub fn route(
        &self,
        provider: Option<&str>,
        path: &str,
    ) -> Result<(Arc<dyn Provider>, String), ProviderError> {
        let (member, path) = self.route_member(provider, path)?;
        Ok((Arc::clone(&member.provider), path))
    }

    /// Reads a reference: routed, from the cache when fresh, else from the provider within its
    /// timeout; when the provider is unavailable or times out, its fallback chain is asked.
    /// Answers the name of the provider that answered (renew and revoke its lease there).
    pub async fn read(
        &self,
        provider: Option<&str>,
        path: &str,
    ) -> Result<(String, Secret), ProviderError> {
        let (mut member, path) = self.route_member(provider, path)?;
        loop {
            let fallback = member
                .options
                .fallback
                .as_deref()
                .and_then(|name| self.member(name));
            if let (Some(next), Some(left)) = (fallback, member.skipped_for()) {
                if let Some(hit) = member.cache().get(&path) {
                    return Ok((member.name().to_string(), hit));
                }
                tracing::debug!(provider = %member.name(), fallback = %next.name(), skipped_for_ms = left.as_millis() as u64, "secret provider skipped after failing repeatedly");
                member = next;
                continue;
            }
            let err = match member.read(&path).await {
                Ok(secret) => return Ok((member.name().to_string(), secret)),
                Err(err) => err,
            };
            let Some(next) = fallback.filter(|_| err.kind == ProviderErrorKind::Unavailable) else {
                return Err(err);
            };
            // The error text names provider and path only; values never reach an error.
            tracing::warn!(
                provider = %member.name(),
                path = %path,
                fallback = %next.name(),
                error = %err,
                "secret provider failed; asking its fallback"
            );
            member = next;
        }
    }

    /// Drops the cached answer of a reference (the same arguments as [`Providers::read`]) from
    /// the provider it routes to and from that provider's fallbacks.
    pub fn invalidate(&self, provider: Option<&str>, path: &str) {
        let Ok((mut member, path)) = self.route_member(provider, path) else {
            return;
        };
        // Fallback chains are acyclic (checked by `add`), so this ends.
        loop {
            member.cache().remove(&path);
            match member
                .options
                .fallback
                .as_deref()
                .and_then(|n| self.member(n))
            {
                Some(next) => member = next,
                None => return,
            }
        }
    }

    /// The health of every provider, the default first, each probe bounded by its timeout.
    pub async fn health(&self) -> Vec<(String, Health)> {
        let members = std::iter::once(&self.default).chain(&self.members);
        let probes =
            members.map(|member| async move {
                let health =
                    match tokio::time::timeout(member.options.timeout, member.provider.health())
                        .await
                    {
                        Ok(health) => health,
                        Err(_) => Health {
                            healthy: false,
                            detail: format!("no answer within {:?}", member.options.timeout),
                        },
                    };
                (member.name().to_string(), health)
            });
        futures::future::join_all(probes).await
    }

    /// The names of all providers, the default first.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(&self.default)
            .chain(&self.members)
            .map(|m| m.name().to_string())
            .collect()
    }

    fn member(&self, name: &str) -> Option<&Member> {
        if name == DEFAULT_PROVIDER || name == self.default.name() {
            return Some(&self.default);
        }
        self.members.iter().find(|m| m.name() == name)
    }

    /// The one provider whose type `name` names (a type or an alias of one), for a reference
    /// whose `PROVIDER:` is no provider's name.
    fn member_of_type(&self, name: &str) -> Result<&Member, ProviderError> {
        let invalid =
            |message: String| ProviderError::new(ProviderErrorKind::Invalid, name, message);
        let Some(kind) = provider_type(name) else {
            return Err(invalid(format!("no provider is called {name:?}")));
        };
        let of_kind: Vec<&Member> = std::iter::once(&self.default)
            .chain(&self.members)
            .filter(|m| m.options.kind == Some(kind))
            .collect();
        match of_kind.as_slice() {
            [member] => Ok(member),
            [] => Err(invalid(format!(
                "no provider is called {name:?}, and none has type {kind}"
            ))),
            several => {
                let names: Vec<&str> = several.iter().map(|m| m.name()).collect();
                Err(invalid(format!(
                    "no provider is called {name:?}, and several have type {kind} ({}); name one",
                    names.join(", ")
                )))
            }
        }
    }

    fn route_member(
        &self,
        provider: Option<&str>,
        path: &str,
    ) -> Result<(&Member, String), ProviderError> {
        if let Some(name) = provider {
            let member = match self.member(name) {
                Some(member) => member,
                None => self.member_of_type(name)?,
            };
            return Ok((member, path.to_string()));
        }
        let by_prefix = self
            .members
            .iter()
            .filter_map(|m| {
                let prefix = m.options.prefix.as_deref()?;
                path.strip_prefix(prefix)
                    .map(|rest| (prefix.len(), m, rest))
            })
            .max_by_key(|(len, _, _)| *len);
        Ok(match by_prefix {
            Some((_, member, rest)) => (member, rest.to_string()),
            None => (&self.default, path.to_string()),
        })
    }
}
