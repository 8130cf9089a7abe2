//! The read cache of one provider: answers kept for a TTL, at most `max_entries` of them, the
//! oldest evicted first. Time is tokio's clock, so tests drive expiry with
//! `tokio::time::pause` and `advance` instead of sleeping.
//!
//! Leased secrets are never put here: a lease belongs to the one caller that renews and revokes
//! it, and a second reader must get its own.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::Secret;

/// Answers of one provider, keyed by the path that provider was asked.
pub(crate) struct ReadCache {
    ttl: Duration,
    max_entries: usize,
    entries: HashMap<String, Entry>,
    /// Paths in insertion order, with the generation of the insertion; an item whose generation
    /// no longer matches its entry is stale (the entry was replaced or removed) and is skipped.
    order: VecDeque<(String, u64)>,
    next_generation: u64,
}

struct Entry {
    secret: Secret,
    expires: Instant,
    generation: u64,
}

impl ReadCache {
    /// A cache that keeps answers for `ttl`; a zero TTL or size keeps nothing.
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> ReadCache {
        ReadCache {
            ttl,
            max_entries,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
        }
    }

    /// The answer for `path` if it is still fresh.
    pub(crate) fn get(&mut self, path: &str) -> Option<Secret> {
        let entry = self.entries.get(path)?;
        if Instant::now() < entry.expires {
            return Some(entry.secret.clone());
        }
        self.entries.remove(path);
        None
    }

    /// Keeps `secret` for `path`, evicting the oldest answers beyond the size bound.
    pub(crate) fn insert(&mut self, path: &str, secret: Secret) {
        if self.ttl.is_zero() || self.max_entries == 0 || secret.lease.is_some() {
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.entries.insert(
            path.to_string(),
            Entry {
                secret,
                expires: Instant::now() + self.ttl,
                generation,
            },
        );
        self.order.push_back((path.to_string(), generation));
        while self.entries.len() > self.max_entries {
            self.evict_oldest();
        }
        // Stale order items pile up when the same paths are re-inserted; drop them in bulk.
        if self.order.len() > 2 * self.max_entries.max(16) {
            let entries = &self.entries;
            self.order
                .retain(|(path, gen)| entries.get(path).is_some_and(|e| e.generation == *gen));
        }
    }

    /// Forgets `path`.
    pub(crate) fn remove(&mut self, path: &str) {
        self.entries.remove(path);
    }

    /// How many answers are held (expired ones included until they are looked at).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_oldest(&mut self) {
        while let Some((path, generation)) = self.order.pop_front() {
            let current = self.entries.get(&path).map(|e| e.generation);
            if current == Some(generation) {
                self.entries.remove(&path);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lease;

    fn secret(version: &str) -> Secret {
        Secret {
            version: Some(version.to_string()),
            ..Secret::default()
        }
    }

    fn version(cache: &mut ReadCache, path: &str) -> Option<String> {
        cache.get(path).and_then(|s| s.version)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_expire_after_the_ttl() {
        let mut cache = ReadCache::new(Duration::from_secs(10), 10);
        cache.insert("a", secret("1"));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(version(&mut cache, "a").as_deref(), Some("1"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(version(&mut cache, "a"), None);
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_answer_is_evicted_first() {
        let mut cache = ReadCache::new(Duration::from_secs(60), 2);
        cache.insert("a", secret("1"));
        cache.insert("b", secret("1"));
        // Re-inserting `a` makes `b` the oldest.
        cache.insert("a", secret("2"));
        cache.insert("c", secret("1"));
        assert_eq!(version(&mut cache, "a").as_deref(), Some("2"));
        assert_eq!(version(&mut cache, "b"), None);
        assert_eq!(version(&mut cache, "c").as_deref(), Some("1"));
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_order_items_do_not_grow_without_bound() {
        let mut cache = ReadCache::new(Duration::from_secs(60), 2);
        for n in 0..1000 {
            cache.insert("same", secret(&n.to_string()));
        }
        assert!(cache.order.len() <= 33, "{}", cache.order.len());
        assert_eq!(version(&mut cache, "same").as_deref(), Some("999"));
    }

    #[tokio::test(start_paused = true)]
    async fn leased_answers_and_disabled_caches_keep_nothing() {
        let mut cache = ReadCache::new(Duration::from_secs(60), 10);
        let mut leased = secret("1");
        leased.lease = Some(Lease {
            id: "database/creds/ro/abc".into(),
            duration: Duration::from_secs(60),
            renewable: true,
        });
        cache.insert("db", leased);
        assert_eq!(cache.len(), 0);
        let mut off = ReadCache::new(Duration::ZERO, 10);
        off.insert("a", secret("1"));
        assert_eq!(off.len(), 0);
        let mut none = ReadCache::new(Duration::from_secs(1), 0);
        none.insert("a", secret("1"));
        assert_eq!(none.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn removed_paths_are_gone() {
        let mut cache = ReadCache::new(Duration::from_secs(60), 10);
        cache.insert("a", secret("1"));
        cache.remove("a");
        assert_eq!(version(&mut cache, "a"), None);
    }
}
