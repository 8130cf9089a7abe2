//! Rate-limit quotas (`sys/quotas/rate-limit/:name`, Vault's shape): a token bucket per
//! client address of `rate` requests per `interval`, on every request under `path`; with a
//! `role`, only login requests for that role of the auth mount at `path` (so failed logins
//! are throttled per client address and role before the method does any work). The most
//! specific quota wins: a role quota, then the longest path, then the global one (`path`
//! empty). Over the limit a client gets 429, and with `block_interval` stays blocked that
//! long. Buckets live in memory per node, as in Vault.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use secrethub_storage::{list_all, Storage, StorageView};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// A persisted rate-limit quota.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RateLimitQuota {
    pub(crate) version: u32,
    pub(crate) name: String,
    /// API path prefix (`auth/approle/`, `secret/data/app`); empty = everything.
    pub(crate) path: String,
    /// With `path` naming an auth mount: only logins for this role.
    #[serde(default)]
    pub(crate) role: String,
    /// Requests allowed per `interval`.
    pub(crate) rate: f64,
    /// Seconds.
    pub(crate) interval: u64,
    /// Seconds a client stays blocked after exceeding the rate; 0 = until tokens refill.
    #[serde(default)]
    pub(crate) block_interval: u64,
    /// Whether a namespace's quota applies to its child namespaces in OpenBao. SecretHub has
    /// no namespaces, so this is only kept and shown; `None` in records written before it
    /// existed (see [`RateLimitQuota::inheritable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inheritable: Option<bool>,
}

impl RateLimitQuota {
    /// `inheritable` as OpenBao shows it: as written, else true for a global quota (empty
    /// path) and false for any other.
    pub(crate) fn inheritable(&self) -> bool {
        self.inheritable.unwrap_or(self.path.is_empty())
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    blocked_until: Option<Instant>,
}

/// (quota name, client address, role).
type BucketKey = (String, Option<IpAddr>, String);

/// Buckets beyond this many are pruned (full, unblocked buckets carry no state worth keeping).
const MAX_BUCKETS: usize = 100_000;

pub(crate) struct RateLimits {
    view: StorageView,
    quotas: RwLock<Vec<Arc<RateLimitQuota>>>,
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

/// What the pipeline knows about a request when it asks.
pub(crate) struct Subject<'a> {
    pub(crate) path: &'a str,
    /// The auth mount's API path when this is a login request.
    pub(crate) login_mount: Option<&'a str>,
    pub(crate) addr: Option<IpAddr>,
}

impl RateLimits {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        RateLimits {
            view: StorageView::new(barrier, "sys/quotas/rate-limit/"),
            quotas: RwLock::default(),
            buckets: Mutex::default(),
        }
    }

    pub(crate) async fn load(&self) -> CoreResult<()> {
        let mut qs = Vec::new();
        for name in list_all(&self.view, "").await? {
            if let Some(q) = self.view.get_json::<RateLimitQuota>(&name).await? {
                qs.push(Arc::new(q));
            }
        }
        *self.quotas.write().unwrap_or_else(|e| e.into_inner()) = qs;
        Ok(())
    }

    fn snapshot(&self) -> Vec<Arc<RateLimitQuota>> {
        self.quotas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) async fn write(&self, q: RateLimitQuota) -> CoreResult<()> {
        self.view.put_json(&q.name, &q).await?;
        let mut qs = self.quotas.write().unwrap_or_else(|e| e.into_inner());
        qs.retain(|x| x.name != q.name);
        self.forget_buckets(&q.name);
        qs.push(Arc::new(q));
        Ok(())
    }

    pub(crate) fn read(&self, name: &str) -> Option<RateLimitQuota> {
        self.snapshot()
            .into_iter()
            .find(|q| q.name == name)
            .map(|q| (*q).clone())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.snapshot().iter().map(|q| q.name.clone()).collect();
        n.sort();
        n
    }

    pub(crate) async fn delete(&self, name: &str) -> CoreResult<()> {
        self.view.delete(name).await?;
        self.quotas
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|q| q.name != name);
        self.forget_buckets(name);
        Ok(())
    }

    fn forget_buckets(&self, name: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(q, _, _), _| q != name);
    }

    /// Whether some quota is scoped to roles of the auth mount at `mount` (then the pipeline
    /// asks the auth method which role a login is for).
    pub(crate) fn has_role_quota(&self, mount: &str) -> bool {
        self.snapshot()
            .iter()
            .any(|q| !q.role.is_empty() && same_mount(&q.path, mount))
    }

    /// Takes a token from the bucket of the most specific quota covering the request, or
    /// answers 429.
    pub(crate) fn check(&self, s: &Subject<'_>, role: Option<&str>) -> CoreResult<()> {
        let quotas = self.snapshot();
        if quotas.is_empty() {
            return Ok(());
        }
        let Some(q) = most_specific(&quotas, s, role) else {
            return Ok(());
        };
        let key = (q.name.clone(), s.addr, role.unwrap_or_default().to_string());
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            prune(&mut buckets, &quotas, now);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: q.rate,
            refilled: now,
            blocked_until: None,
        });
        if b.blocked_until.is_some_and(|t| now < t) {
            return Err(exceeded(q));
        }
        b.blocked_until = None;
        let interval = Duration::from_secs(q.interval.max(1)).as_secs_f64();
        let elapsed = now.duration_since(b.refilled).as_secs_f64();
        b.tokens = (b.tokens + elapsed * q.rate / interval).min(q.rate);
        b.refilled = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        if q.block_interval > 0 {
            b.blocked_until = Some(now + Duration::from_secs(q.block_interval));
        }
        Err(exceeded(q))
    }
}

fn exceeded(q: &RateLimitQuota) -> CoreError {
    CoreError::QuotaExceeded(format!(
        "request path {:?}: rate limit quota exceeded",
        if q.path.is_empty() { "/" } else { &q.path }
    ))
}

fn same_mount(quota_path: &str, mount: &str) -> bool {
    quota_path.trim_end_matches('/') == mount.trim_end_matches('/')
}

fn covers(quota_path: &str, path: &str) -> bool {
    let p = quota_path.trim_end_matches('/');
    p.is_empty() || path == p || path.starts_with(&format!("{p}/"))
}

fn most_specific<'q>(
    quotas: &'q [Arc<RateLimitQuota>],
    s: &Subject<'_>,
    role: Option<&str>,
) -> Option<&'q RateLimitQuota> {
    if let (Some(mount), Some(role)) = (s.login_mount, role) {
        if let Some(q) = quotas
            .iter()
            .find(|q| q.role == role && same_mount(&q.path, mount))
        {
            return Some(q);
        }
    }
    quotas
        .iter()
        .filter(|q| q.role.is_empty() && covers(&q.path, s.path))
        .max_by_key(|q| q.path.trim_end_matches('/').len())
        .map(|q| q.as_ref())
}

/// Drops buckets that are full and unblocked (indistinguishable from new ones).
fn prune(buckets: &mut HashMap<BucketKey, Bucket>, quotas: &[Arc<RateLimitQuota>], now: Instant) {
    buckets.retain(|(name, _, _), b| {
        let Some(q) = quotas.iter().find(|q| &q.name == name) else {
            return false;
        };
        let interval = q.interval.max(1) as f64;
        let refilled = b.tokens + now.duration_since(b.refilled).as_secs_f64() * q.rate / interval;
        refilled < q.rate || b.blocked_until.is_some_and(|t| now < t)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrethub_storage::MemoryStorage;

    fn quota(name: &str, path: &str, role: &str, rate: f64, block: u64) -> RateLimitQuota {
        RateLimitQuota {
            version: 1,
            name: name.into(),
            path: path.into(),
            role: role.into(),
            rate,
            interval: 3600,
            block_interval: block,
            inheritable: None,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[tokio::test]
    async fn buckets_are_per_address_and_role_and_the_most_specific_quota_wins() {
        let rl = RateLimits::new(Arc::new(MemoryStorage::new()));
        rl.write(quota("global", "", "", 100.0, 0)).await.unwrap();
        rl.write(quota("billing-logins", "auth/approle/", "billing", 2.0, 0))
            .await
            .unwrap();
        let login = |addr| Subject {
            path: "auth/approle/login",
            login_mount: Some("auth/approle/"),
            addr,
        };
        assert!(rl.has_role_quota("auth/approle/"));
        assert!(!rl.has_role_quota("auth/userpass/"));
        for _ in 0..2 {
            rl.check(&login(ip("10.0.0.1")), Some("billing")).unwrap();
        }
        let err = rl
            .check(&login(ip("10.0.0.1")), Some("billing"))
            .unwrap_err();
        assert!(matches!(err, CoreError::QuotaExceeded(_)), "{err:?}");
        // Another address and another role have their own buckets.
        rl.check(&login(ip("10.0.0.2")), Some("billing")).unwrap();
        rl.check(&login(ip("10.0.0.1")), Some("other")).unwrap();
        // Deleting the quota lifts the limit.
        rl.delete("billing-logins").await.unwrap();
        rl.check(&login(ip("10.0.0.1")), Some("billing")).unwrap();
    }

    #[tokio::test]
    async fn block_interval_keeps_a_client_out() {
        let rl = RateLimits::new(Arc::new(MemoryStorage::new()));
        let mut q = quota("kv", "secret/", "", 1.0, 60);
        q.interval = 1;
        rl.write(q).await.unwrap();
        let s = Subject {
            path: "secret/data/x",
            login_mount: None,
            addr: ip("10.0.0.1"),
        };
        rl.check(&s, None).unwrap();
        assert!(rl.check(&s, None).is_err());
        // Even after the bucket would have refilled (1 token per second), the block holds.
        {
            let mut b = rl.buckets.lock().unwrap();
            for bucket in b.values_mut() {
                bucket.refilled -= Duration::from_secs(5);
            }
        }
        assert!(rl.check(&s, None).is_err());
        let other = Subject {
            path: "sys/health",
            login_mount: None,
            addr: ip("10.0.0.1"),
        };
        rl.check(&other, None).unwrap();
    }
}
