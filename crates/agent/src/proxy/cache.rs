//! The proxy's response cache: answers kept by request key, found again by lease ID, lease
//! prefix, token or KV path when they must go.
//!
//! One std mutex guards the map; it is never held across an `.await`. Expired entries are
//! dropped when looked up and swept whenever the map has grown by `SWEEP_EVERY` entries. The
//! map holds at most `MAX_ENTRIES`: when full, expired entries go first, then those closest
//! to expiry. Identical requests are serialised through per-key async locks
//! ([`Cache::lock_key`]) so that two clients asking for the same credentials at once get one
//! lease, not two.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Sweep expired entries each time the map grows by this many.
const SWEEP_EVERY: usize = 256;
/// The most answers kept; a client sending endless distinct requests must not exhaust memory.
const MAX_ENTRIES: usize = 10_000;

/// A cached answer. No `Debug`: the body holds credentials.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The server's JSON answer (status 200).
    pub(crate) body: Value,
    /// SHA-256 of the token the request was sent with (empty: no token).
    pub(crate) token_hash: String,
    /// The request's path after `/v1/`, without the query.
    pub(crate) path: String,
    /// `Some` for a leased answer: its ID and when the lease runs out.
    pub(crate) lease: Option<(String, Instant)>,
    /// Whether the answer is a KV v2 read, evicted by writes to its path.
    pub(crate) kv: bool,
    /// The answer is served until then.
    pub(crate) fresh_until: Instant,
}

/// See the module doc.
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    inflight: Mutex<HashMap<String, InFlight>>,
    max_entries: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::with_max_entries(MAX_ENTRIES)
    }
}

/// The lock of one key and how many [`KeyGuard`]s (holding or waiting) use it. Counted
/// explicitly rather than read off `Arc::strong_count`, so a waiter cancelled at any point
/// still lets the entry go.
struct InFlight {
    mutex: Arc<tokio::sync::Mutex<()>>,
    users: usize,
}

/// Shows how many answers are cached, never what they hold.
impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Map size after the last sweep.
    swept_at: usize,
}

/// Held while one request of a key is in flight; identical requests wait for it.
pub(crate) struct KeyGuard<'a> {
    // Fields drop in order: the lock is released before the use is counted off.
    _guard: tokio::sync::OwnedMutexGuard<()>,
    _use: KeyUse<'a>,
}

/// One use of an in-flight key, counted off on drop, also when a waiter is cancelled.
struct KeyUse<'a> {
    cache: &'a Cache,
    key: String,
}

impl Drop for KeyUse<'_> {
    fn drop(&mut self) {
        let mut inflight = lock(&self.cache.inflight);
        if let Some(entry) = inflight.get_mut(&self.key) {
            entry.users = entry.users.saturating_sub(1);
            // Nobody holds or waits for the lock: forget it.
            if entry.users == 0 {
                inflight.remove(&self.key);
            }
        }
    }
}

/// SHA-256 hex of a token: entries remember whose they are without keeping the token.
pub(crate) fn token_hash(token: Option<&str>) -> String {
    match token {
        Some(t) => hex::encode(Sha256::digest(t.as_bytes())),
        None => String::new(),
    }
}

/// The cache key of a request: who asks (token hash), how, for what, with which body.
pub(crate) fn request_key(
    token_hash: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let mut h = Sha256::new();
    for part in [
        token_hash.as_bytes(),
        method.as_bytes(),
        path_and_query.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(body);
    hex::encode(h.finalize())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// A cache keeping at most `max_entries` answers.
    pub(crate) fn with_max_entries(max_entries: usize) -> Cache {
        Cache {
            inner: Mutex::default(),
            inflight: Mutex::default(),
            max_entries: max_entries.max(1),
        }
    }

    /// Waits until no identical request is in flight, and holds the key until dropped.
    pub(crate) async fn lock_key(&self, key: &str) -> KeyGuard<'_> {
        let mutex = {
            let mut inflight = lock(&self.inflight);
            let entry = inflight.entry(key.to_string()).or_insert_with(|| InFlight {
                mutex: Arc::default(),
                users: 0,
            });
            entry.users += 1;
            entry.mutex.clone()
        };
        // Counted before the wait, so dropping this future while it waits counts it off.
        let key_use = KeyUse {
            cache: self,
            key: key.to_string(),
        };
        let guard = mutex.lock_owned().await;
        KeyGuard {
            _guard: guard,
            _use: key_use,
        }
    }

    /// The answer cached under `key`, if still fresh. A leased answer's `lease_duration` is
    /// what is left of the lease, so the client renews or replaces it in time.
    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<Value> {
        let mut inner = lock(&self.inner);
        let entry = inner.entries.get(key)?;
        if entry.fresh_until <= now {
            inner.entries.remove(key);
            return None;
        }
        let mut body = entry.body.clone();
        if let (Some((_, expires)), Some(obj)) = (&entry.lease, body.as_object_mut()) {
            let left = expires.saturating_duration_since(now).as_secs();
            obj.insert("lease_duration".into(), left.into());
        }
        Some(body)
    }

    pub(crate) fn insert(&self, key: String, entry: Entry, now: Instant) {
        let mut inner = lock(&self.inner);
        if inner.entries.len() >= self.max_entries && !inner.entries.contains_key(&key) {
            inner.make_room(self.max_entries, now);
        }
        inner.entries.insert(key, entry);
        if inner.entries.len() >= inner.swept_at + SWEEP_EVERY {
            inner.entries.retain(|_, e| e.fresh_until > now);
            inner.swept_at = inner.entries.len();
        }
    }

    /// Drops the entries of one lease; answers how many.
    pub(crate) fn evict_lease(&self, lease_id: &str) -> usize {
        self.evict(|e| e.lease.as_ref().is_some_and(|(id, _)| id == lease_id))
    }

    /// Drops the entries whose lease ID starts with `prefix`.
    pub(crate) fn evict_lease_prefix(&self, prefix: &str) -> usize {
        self.evict(|e| {
            e.lease
                .as_ref()
                .is_some_and(|(id, _)| id.starts_with(prefix))
        })
    }

    /// Drops everything cached for requests made with the token of this hash.
    pub(crate) fn evict_token(&self, token_hash: &str) -> usize {
        if token_hash.is_empty() {
            return 0;
        }
        self.evict(|e| e.token_hash == token_hash)
    }

    /// Drops KV reads of any of `paths` (paths after `/v1/`, without query).
    pub(crate) fn evict_kv(&self, paths: &[String]) -> usize {
        self.evict(|e| e.kv && paths.contains(&e.path))
    }

    /// Drops entries whose request path starts with `prefix`.
    pub(crate) fn evict_path_prefix(&self, prefix: &str) -> usize {
        self.evict(|e| e.path.starts_with(prefix))
    }

    pub(crate) fn clear(&self) -> usize {
        self.evict(|_| true)
    }

    /// Moves a lease's expiry after a renewal that passed through the proxy.
    pub(crate) fn extend_lease(&self, lease_id: &str, lease_duration: Duration, now: Instant) {
        let mut inner = lock(&self.inner);
        for entry in inner.entries.values_mut() {
            if let Some((id, expires)) = &mut entry.lease {
                if id == lease_id {
                    *expires = now + lease_duration;
                    entry.fresh_until = now + lease_margin(lease_duration);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).entries.len()
    }

    fn evict(&self, matches: impl Fn(&Entry) -> bool) -> usize {
        let mut inner = lock(&self.inner);
        let before = inner.entries.len();
        inner.entries.retain(|_, e| !matches(e));
        let removed = before - inner.entries.len();
        inner.swept_at = inner.swept_at.min(inner.entries.len());
        removed
    }
}

impl Inner {
    /// Frees room for one entry under `max`: drops the expired entries, then, if that was
    /// not enough, the ones closest to expiry down to 90% of `max`, so a full cache is not
    /// scanned again on every insert.
    fn make_room(&mut self, max: usize, now: Instant) {
        self.entries.retain(|_, e| e.fresh_until > now);
        if self.entries.len() >= max {
            let keep = (max - max / 10).min(max - 1);
            let mut by_expiry: Vec<(Instant, String)> = self
                .entries
                .iter()
                .map(|(k, e)| (e.fresh_until, k.clone()))
                .collect();
            by_expiry.sort_unstable();
            let excess = by_expiry.len() - keep;
            for (_, key) in by_expiry.into_iter().take(excess) {
                self.entries.remove(&key);
            }
        }
        self.swept_at = self.entries.len();
    }
}

/// How long a leased answer is served: 90% of the lease, so a client never receives
/// credentials in their last moments.
pub(crate) fn lease_margin(lease_duration: Duration) -> Duration {
    lease_duration.mul_f64(0.9)
}

/// The KV v2 paths a write to `path` changes: `path` itself and, for each `data`, `delete`,
/// `undelete`, `destroy` or `metadata` segment, the path with that segment read as `data`
/// (the mount may have several segments, so every candidate is taken).
pub(crate) fn kv_paths_touched_by(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = vec![path.to_string()];
    for (i, seg) in segments.iter().enumerate() {
        if i > 0
            && matches!(
                *seg,
                "data" | "delete" | "undelete" | "destroy" | "metadata"
            )
        {
            let mut candidate = segments.clone();
            candidate[i] = "data";
            out.push(candidate.join("/"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether an answer has KV v2's read shape: `data.data` and a numeric `data.metadata.version`.
pub(crate) fn is_kv_v2_read(body: &Value) -> bool {
    let data = &body["data"];
    (data["data"].is_object() || data["data"].is_null())
        && data.get("data").is_some()
        && data["metadata"]["version"].is_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::future::Future as _;

    fn entry(lease: Option<&str>, kv: bool, path: &str, now: Instant) -> Entry {
        Entry {
            body: json!({"lease_id": lease.unwrap_or(""), "lease_duration": 100, "data": {}}),
            token_hash: token_hash(Some("t")),
            path: path.into(),
            lease: lease.map(|l| (l.to_string(), now + Duration::from_secs(100))),
            kv,
            fresh_until: now + Duration::from_secs(90),
        }
    }

    #[test]
    fn leased_hits_report_the_time_left_and_expire() {
        let cache = Cache::default();
        let now = Instant::now();
        cache.insert(
            "k".into(),
            entry(Some("db/creds/r/1"), false, "db/creds/r", now),
            now,
        );
        let later = now + Duration::from_secs(40);
        assert_eq!(
            cache.get("k", later).expect("hit")["lease_duration"],
            json!(60)
        );
        assert!(cache.get("k", now + Duration::from_secs(90)).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn evictions_by_lease_prefix_token_and_kv_path() {
        let cache = Cache::default();
        let now = Instant::now();
        cache.insert(
            "a".into(),
            entry(Some("db/creds/r/1"), false, "db/creds/r", now),
            now,
        );
        cache.insert(
            "b".into(),
            entry(Some("db/creds/s/2"), false, "db/creds/s", now),
            now,
        );
        cache.insert("c".into(), entry(None, true, "secret/data/app", now), now);
        assert_eq!(cache.evict_lease("db/creds/r/1"), 1);
        assert_eq!(cache.evict_lease_prefix("db/creds/"), 1);
        assert_eq!(
            cache.evict_kv(&kv_paths_touched_by("secret/metadata/app")),
            1
        );
        cache.insert("d".into(), entry(None, true, "secret/data/app", now), now);
        assert_eq!(cache.evict_token(&token_hash(Some("other"))), 0);
        assert_eq!(cache.evict_token(&token_hash(Some("t"))), 1);
    }

    #[test]
    fn kv_paths_cover_every_kv_v2_write_endpoint() {
        assert_eq!(
            kv_paths_touched_by("kv/team/destroy/app"),
            vec![
                "kv/team/data/app".to_string(),
                "kv/team/destroy/app".to_string()
            ]
        );
        assert!(kv_paths_touched_by("secret/data/app").contains(&"secret/data/app".to_string()));
    }

    #[test]
    fn kv_v2_shape() {
        assert!(is_kv_v2_read(
            &json!({"data": {"data": {"a": "b"}, "metadata": {"version": 3}}})
        ));
        assert!(!is_kv_v2_read(&json!({"data": {"a": "b"}})));
        assert!(!is_kv_v2_read(
            &json!({"data": {"data": {}, "metadata": {}}})
        ));
    }

    #[test]
    fn debug_shows_no_cached_body() {
        let cache = Cache::default();
        let now = Instant::now();
        let mut e = entry(Some("db/creds/r/1"), false, "db/creds/r", now);
        e.body["data"] = json!({"password": "hunter2-secret"});
        cache.insert("k".into(), e, now);
        let shown = format!("{cache:?}");
        assert_eq!(shown, "Cache { entries: 1, .. }");
    }

    #[test]
    fn a_full_cache_drops_expired_then_soonest_to_expire() {
        let cache = Cache::with_max_entries(10);
        let now = Instant::now();
        let at = |secs: u64, name: &str| {
            let mut e = entry(None, false, name, now);
            e.fresh_until = now + Duration::from_secs(secs);
            e
        };
        // Two expire at `now + 5`; the rest live 100 s and longer.
        cache.insert("old-1".into(), at(5, "old-1"), now);
        cache.insert("old-2".into(), at(5, "old-2"), now);
        for i in 0..8u64 {
            cache.insert(format!("k{i}"), at(100 + i, "k"), now);
        }
        assert_eq!(cache.len(), 10);
        // Full, with expired entries: only they go.
        let later = now + Duration::from_secs(10);
        cache.insert("new-1".into(), at(500, "n"), later);
        assert_eq!(cache.len(), 9);
        assert!(cache.get("old-1", later).is_none());
        assert!(cache.get("k0", later).is_some());
        cache.insert("new-2".into(), at(500, "n"), later);
        assert_eq!(cache.len(), 10);
        // Full, nothing expired: the soonest to expire go, down to 90%, then the new one.
        cache.insert("new-3".into(), at(500, "n"), later);
        assert_eq!(cache.len(), 10);
        assert!(cache.get("k0", later).is_none());
        assert!(cache.get("k1", later).is_some());
        for key in ["new-1", "new-2", "new-3", "k7"] {
            assert!(cache.get(key, later).is_some(), "{key}");
        }
        // Replacing an existing key of a full cache drops nothing.
        cache.insert("k7".into(), at(600, "k"), later);
        assert_eq!(cache.len(), 10);
    }

    #[test]
    fn the_default_cache_is_bounded() {
        let cache = Cache::default();
        let now = Instant::now();
        for i in 0..MAX_ENTRIES + 50 {
            cache.insert(format!("k{i}"), entry(None, false, "p", now), now);
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_leave_its_key_behind() {
        let cache = Cache::default();
        let holder = cache.lock_key("k").await;
        let mut waiter = Box::pin(cache.lock_key("k"));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        // The holder finishes while the waiter still waits; then the waiter's client leaves.
        drop(holder);
        drop(waiter);
        assert_eq!(lock(&cache.inflight).len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_gets_the_key_after_the_holder() {
        let cache = Cache::default();
        let holder = cache.lock_key("k").await;
        let mut waiter = Box::pin(cache.lock_key("k"));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        drop(holder);
        let guard = waiter.await;
        assert_eq!(lock(&cache.inflight).len(), 1);
        drop(guard);
        assert_eq!(lock(&cache.inflight).len(), 0);
    }

    #[tokio::test]
    async fn key_locks_are_forgotten_when_free() {
        let cache = Cache::default();
        {
            let _g = cache.lock_key("k").await;
            assert_eq!(lock(&cache.inflight).len(), 1);
        }
        assert_eq!(lock(&cache.inflight).len(), 0);
    }
}
