//! The token store: token records behind the barrier, keyed by a SHA-256 hash of the token
//! (the token itself is never stored), an accessor index, a parent → child index so
//! revoking a token revokes its descendants, and a time-ordered expiry index that the
//! expiry sweeper pages through (no full scan, no in-memory copy of every token).
//!
//! Layout under the barrier (`sys/token/`):
//! `id/<hash>` → `TokenRecord`; `accessor/<accessor>` → hash;
//! `parent/<parent hash>/<child hash>` → empty; `expiry/<unix secs, 12 digits>/<hash>` → empty.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrethub_common::{now_unix, random_alnum, Sensitive, UnixTime};
use secrethub_storage::{Storage, StorageView, WriteOp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::batch_tokens::{check_batch_terms, BatchTokens, BATCH_PREFIX};
use crate::error::{CoreError, CoreResult};

/// Prefix of service tokens, as Vault's `hvs.`.
pub(crate) const TOKEN_PREFIX: &str = "hvs.";

/// A persisted token (without the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Record version.
    pub version: u32,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// Accessor.
    pub accessor: String,
    /// Parent token hash; None for orphans and the root token.
    pub parent: Option<String>,
    /// Policies, sorted, deduplicated.
    pub policies: Vec<String>,
    /// Free-form metadata.
    pub meta: BTreeMap<String, String>,
    /// Display name (`token`, `root`, `token-ci`).
    pub display_name: String,
    /// Remaining uses; 0 = unlimited.
    pub num_uses: u64,
    /// Unix seconds.
    pub creation_time: UnixTime,
    /// The TTL given at creation (seconds; 0 = no expiry).
    pub creation_ttl: u64,
    /// Unix seconds; 0 = never expires.
    pub expire_time: UnixTime,
    /// Hard cap in seconds from creation; 0 = none.
    pub explicit_max_ttl: u64,
    /// Periodic tokens renew to this TTL each time (seconds; 0 = not periodic).
    pub period: u64,
    /// Whether the token may be renewed.
    pub renewable: bool,
    /// Creation path (`auth/token/create`).
    pub path: String,
    /// Entity ID (empty without identity).
    pub entity_id: String,
    /// `service` (or `wrapping` for response-wrapping tokens).
    pub token_type: String,
    /// For wrapping tokens: the path whose response is wrapped.
    #[serde(default)]
    pub wrap_creation_path: String,
    /// Renewals never go past `creation_time + max_ttl` (seconds; 0 = the system max).
    #[serde(default)]
    pub max_ttl: u64,
    /// Client addresses the token may be used from (empty = anywhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_cidrs: Vec<String>,
    /// For tokens minted by an auth method's login: what renewal re-checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginState>,
    /// The token role it was created against (`auth/token/create/<role>`); renewal re-reads it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
}

/// What a login token remembers of its login, for [`secrethub_engine::Engine::renew_login`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginState {
    /// Accessor of the auth mount that served the login.
    pub mount_accessor: String,
    /// The auth method's own data.
    pub internal: serde_json::Value,
    /// The alias the login proved.
    pub alias: secrethub_engine::Alias,
    /// Policies the method granted (before `default` was added).
    pub token_policies: Vec<String>,
}

impl TokenRecord {
    /// Whether the token is past its expiry at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        self.expire_time != 0 && now >= self.expire_time
    }

    /// Remaining TTL in seconds at `now` (0 for non-expiring tokens).
    pub fn ttl(&self, now: UnixTime) -> u64 {
        if self.expire_time == 0 {
            0
        } else {
            (self.expire_time - now).max(0) as u64
        }
    }

    /// Whether the token may be used from `addr`.
    pub fn allows_address(&self, addr: Option<std::net::IpAddr>) -> bool {
        if self.bound_cidrs.is_empty() {
            return true;
        }
        // Stored blocks were validated at creation; one that no longer parses denies.
        match secrethub_common::parse_cidrs(&self.bound_cidrs) {
            Ok(blocks) => secrethub_common::cidrs_allow(&blocks, addr),
            Err(_) => false,
        }
    }

    /// Whether this is a batch token (see `batch_tokens`): never stored.
    pub fn is_batch(&self) -> bool {
        self.token_type == crate::batch_tokens::BATCH
    }

    /// The token's lease ID, as `sys/leases` serves it: `<creation path>/<token hash>`.
    pub fn lease_id(&self) -> String {
        format!("{}/{}", self.path.trim_end_matches('/'), self.hash)
    }

    /// Whether this is the root-policy token.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }
}

/// The token store over the barrier.
#[derive(Clone)]
pub(crate) struct TokenStore {
    view: StorageView,
    batch: Arc<BatchTokens>,
    barrier: Arc<dyn Storage>,
    /// Revoking a token revokes the leases it created.
    leases: Arc<crate::leases::LeaseManager>,
}

/// Where a token's cubbyhole lives under the barrier; destroyed with the token.
pub(crate) fn cubbyhole_prefix(hash: &str) -> String {
    format!("cubbyhole/{hash}/")
}

/// SHA-256 of a token, hex.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn expiry_key(expire_time: UnixTime, hash: &str) -> String {
    format!("expiry/{expire_time:012}/{hash}")
}

impl TokenStore {
    pub(crate) fn new(barrier: Arc<dyn Storage>, leases: Arc<crate::leases::LeaseManager>) -> Self {
        let view = StorageView::new(barrier.clone(), "sys/token/");
        TokenStore {
            batch: Arc::new(BatchTokens::new(view.clone())),
            view,
            barrier,
            leases,
        }
    }

    /// Generates a token and accessor and stores `record` (whose `hash`/`accessor` are
    /// overwritten) with its indexes in one batch. Returns the token.
    pub(crate) async fn create(
        &self,
        record: &mut TokenRecord,
        token_id: Option<&str>,
    ) -> CoreResult<Sensitive<String>> {
        let token = match token_id {
            Some(t) if t.starts_with(BATCH_PREFIX) => {
                return Err(CoreError::bad_request(format!(
                    "a chosen token id cannot start with {BATCH_PREFIX:?} (batch tokens)"
                )))
            }
            Some(t) => t.to_string(),
            None => format!("{TOKEN_PREFIX}{}", random_alnum(32)),
        };
        record.hash = hash_token(&token);
        record.accessor = random_alnum(24);
        if self
            .view
            .get(&format!("id/{}", record.hash))
            .await?
            .is_some()
        {
            return Err(CoreError::bad_request(
                "cannot create a token with a duplicate ID",
            ));
        }
        let mut batch = vec![
            WriteOp::Put {
                key: format!("id/{}", record.hash),
                value: encode(record)?,
            },
            WriteOp::Put {
                key: format!("accessor/{}", record.accessor),
                value: record.hash.as_bytes().to_vec(),
            },
        ];
        if let Some(parent) = &record.parent {
            batch.push(WriteOp::Put {
                key: format!("parent/{parent}/{}", record.hash),
                value: Vec::new(),
            });
        }
        if record.expire_time != 0 {
            batch.push(WriteOp::Put {
                key: expiry_key(record.expire_time, &record.hash),
                value: Vec::new(),
            });
        }
        self.view.apply(batch).await?;
        Ok(Sensitive::new(token))
    }

    /// The live record for a token; expired tokens are revoked on the spot and read as None.
    /// Requests look tokens up through `Unsealed::lookup_token`, which adds the issuer check
    /// of batch tokens.
    pub(crate) async fn lookup(&self, token: &str) -> CoreResult<Option<TokenRecord>> {
        if token.starts_with(BATCH_PREFIX) {
            return self.lookup_batch(token).await;
        }
        self.lookup_hash(&hash_token(token)).await
    }

    /// A batch token's record while it is unexpired and its parent, if any, lives.
    async fn lookup_batch(&self, token: &str) -> CoreResult<Option<TokenRecord>> {
        let Some(rec) = self.batch.open(token).await? else {
            return Ok(None);
        };
        if rec.is_expired(now_unix()) {
            return Ok(None);
        }
        if let Some(parent) = &rec.parent {
            if self.lookup_hash(parent).await?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(rec))
    }

    /// Mints a batch token carrying `record` (nothing is stored); sets its hash.
    pub(crate) async fn create_batch(
        &self,
        record: &mut TokenRecord,
    ) -> CoreResult<Sensitive<String>> {
        check_batch_terms(record.period, record.num_uses)?;
        // Nothing could revoke a batch token that never expires.
        if record.is_root() {
            return Err(CoreError::bad_request("batch tokens cannot be root tokens"));
        }
        if record.expire_time == 0 {
            return Err(CoreError::bad_request("batch tokens must have a TTL"));
        }
        self.batch.mint(record).await
    }

    pub(crate) async fn lookup_hash(&self, hash: &str) -> CoreResult<Option<TokenRecord>> {
        let Some(rec) = self
            .view
            .get_json::<TokenRecord>(&format!("id/{hash}"))
            .await?
        else {
            return Ok(None);
        };
        if rec.is_expired(now_unix()) {
            self.revoke_tree(hash).await?;
            return Ok(None);
        }
        Ok(Some(rec))
    }

    pub(crate) async fn hash_for_accessor(&self, accessor: &str) -> CoreResult<Option<String>> {
        if accessor.is_empty() || accessor.contains('/') {
            return Ok(None);
        }
        Ok(self
            .view
            .get(&format!("accessor/{accessor}"))
            .await?
            .and_then(|b| String::from_utf8(b).ok()))
    }

    /// Rewrites a record, moving its expiry index entry if the expiry changed.
    pub(crate) async fn update(&self, old_expire: UnixTime, rec: &TokenRecord) -> CoreResult<()> {
        let mut batch = vec![WriteOp::Put {
            key: format!("id/{}", rec.hash),
            value: encode(rec)?,
        }];
        if old_expire != rec.expire_time {
            if old_expire != 0 {
                batch.push(WriteOp::Delete {
                    key: expiry_key(old_expire, &rec.hash),
                });
            }
            if rec.expire_time != 0 {
                batch.push(WriteOp::Put {
                    key: expiry_key(rec.expire_time, &rec.hash),
                    value: Vec::new(),
                });
            }
        }
        self.view.apply(batch).await?;
        Ok(())
    }

    /// Uses up one of a limited-use token's uses. Returns true when that was the last one
    /// (the caller revokes the token after serving the request).
    pub(crate) async fn use_once(&self, rec: &TokenRecord) -> CoreResult<bool> {
        if rec.num_uses == 0 {
            return Ok(false);
        }
        if rec.num_uses == 1 {
            return Ok(true);
        }
        let mut next = rec.clone();
        next.num_uses -= 1;
        self.update(rec.expire_time, &next).await?;
        Ok(false)
    }

    /// Revokes one token, leaving its children as orphans.
    pub(crate) async fn revoke_orphan(&self, hash: &str) -> CoreResult<()> {
        let Some(rec) = self
            .view
            .get_json::<TokenRecord>(&format!("id/{hash}"))
            .await?
        else {
            return Ok(());
        };
        self.leases.revoke_for_token(hash).await?;
        let children = secrethub_storage::list_all(&self.view, &format!("parent/{hash}/")).await?;
        let mut batch = self.delete_ops(&rec);
        for child in children {
            batch.push(WriteOp::Delete {
                key: format!("parent/{hash}/{child}"),
            });
            if let Some(mut c) = self
                .view
                .get_json::<TokenRecord>(&format!("id/{child}"))
                .await?
            {
                c.parent = None;
                batch.push(WriteOp::Put {
                    key: format!("id/{child}"),
                    value: encode(&c)?,
                });
            }
        }
        self.view.apply(batch).await?;
        secrethub_storage::delete_prefix(&*self.barrier, &cubbyhole_prefix(hash)).await?;
        Ok(())
    }

    /// Revokes a token and all its descendants, deepest first, so a crash midway leaves
    /// the remaining tree still reachable from its root for the next attempt.
    pub(crate) async fn revoke_tree(&self, hash: &str) -> CoreResult<()> {
        self.revoke_tree_into(hash, &mut Vec::new()).await
    }

    /// [`Self::revoke_tree`], adding each removed token's record to `removed` as it goes.
    async fn revoke_tree_into(&self, hash: &str, removed: &mut Vec<TokenRecord>) -> CoreResult<()> {
        let mut order = vec![hash.to_string()];
        let mut i = 0;
        while i < order.len() {
            let children =
                secrethub_storage::list_all(&self.view, &format!("parent/{}/", order[i])).await?;
            order.extend(children);
            i += 1;
        }
        for h in order.iter().rev() {
            let Some(rec) = self
                .view
                .get_json::<TokenRecord>(&format!("id/{h}"))
                .await?
            else {
                continue;
            };
            // Leases first: a crash after this leaves them due now, never orphaned.
            self.leases.revoke_for_token(h).await?;
            self.view.apply(self.delete_ops(&rec)).await?;
            secrethub_storage::delete_prefix(&*self.barrier, &cubbyhole_prefix(h)).await?;
            removed.push(rec);
        }
        Ok(())
    }

    fn delete_ops(&self, rec: &TokenRecord) -> Vec<WriteOp> {
        let mut ops = vec![
            WriteOp::Delete {
                key: format!("id/{}", rec.hash),
            },
            WriteOp::Delete {
                key: format!("accessor/{}", rec.accessor),
            },
        ];
        if let Some(p) = &rec.parent {
            ops.push(WriteOp::Delete {
                key: format!("parent/{p}/{}", rec.hash),
            });
        }
        if rec.expire_time != 0 {
            ops.push(WriteOp::Delete {
                key: expiry_key(rec.expire_time, &rec.hash),
            });
        }
        ops
    }

    /// Revokes every token whose expiry is at or before `now`, a page at a time, with its
    /// descendants. Returns how many expired; every removed token's record (expired or
    /// descendant) is added to `removed` as it goes, so the caller can trace them even when
    /// the sweep fails midway.
    pub(crate) async fn revoke_expired(
        &self,
        now: UnixTime,
        removed: &mut Vec<TokenRecord>,
    ) -> CoreResult<usize> {
        let mut revoked = 0;
        loop {
            let page = self.view.list("expiry/", None, 256).await?;
            let due: Vec<&String> = page
                .iter()
                .take_while(|k| {
                    k.split('/')
                        .next()
                        .and_then(|t| t.parse::<UnixTime>().ok())
                        .is_some_and(|t| t <= now)
                })
                .collect();
            if due.is_empty() {
                return Ok(revoked);
            }
            for key in &due {
                let hash = key.rsplit('/').next().unwrap_or_default();
                self.revoke_tree_into(hash, removed).await?;
                // The record may already be gone (revoked with a parent); drop the index too.
                self.view.delete(&format!("expiry/{key}")).await?;
                revoked += 1;
            }
        }
    }

    /// Revokes every token a given auth mount issued (when the mount is disabled). Login
    /// tokens always expire, so the expiry index lists them all.
    pub(crate) async fn revoke_issued_by(&self, mount_accessor: &str) -> CoreResult<usize> {
        let mut n = 0;
        for hash in self.expiring_hashes().await? {
            let Some(rec) = self.lookup_hash(&hash).await? else {
                continue;
            };
            if rec
                .login
                .as_ref()
                .is_some_and(|l| l.mount_accessor == mount_accessor)
            {
                self.revoke_tree(&hash).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Hashes of every token that expires (non-root tokens: these are leases), read from
    /// the expiry index, in expiry order.
    pub(crate) async fn expiring_hashes(&self) -> CoreResult<Vec<String>> {
        Ok(secrethub_storage::list_all(&self.view, "expiry/")
            .await?
            .into_iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect())
    }

    /// How many tokens expire (token leases, for `sys/leases/stats`), and how many of those
    /// by `until`: the expiry index only, counted natively by the backend and paged up to
    /// `until`, so no record is read.
    pub(crate) async fn expiring_counts(&self, until: UnixTime) -> CoreResult<(usize, usize)> {
        let mut soon = 0;
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self.view.list("expiry/", after.as_deref(), 1000).await?;
            for key in &page {
                let t = key
                    .split('/')
                    .next()
                    .and_then(|t| t.parse::<UnixTime>().ok());
                if t.is_none_or(|t| t > until) {
                    break 'pages;
                }
                soon += 1;
            }
            if page.len() < 1000 {
                break;
            }
            after = page.last().cloned();
        }
        let total = self.view.count("expiry/").await?;
        // A token revoked between the two reads must not make `soon` exceed `total`.
        Ok((total, soon.min(total)))
    }

    /// Whether any token expires (i.e. any token lease exists).
    pub(crate) async fn has_expiring(&self) -> CoreResult<bool> {
        Ok(!self.view.list("expiry/", None, 1).await?.is_empty())
    }

    /// Accessors of every token (for `auth/token/accessors`).
    pub(crate) async fn accessors(&self) -> CoreResult<Vec<String>> {
        Ok(secrethub_storage::list_all(&self.view, "accessor/").await?)
    }
}

fn encode(rec: &TokenRecord) -> CoreResult<Vec<u8>> {
    serde_json::to_vec(rec).map_err(|e| CoreError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrethub_storage::MemoryStorage;

    fn record(parent: Option<String>, expire_time: UnixTime) -> TokenRecord {
        TokenRecord {
            version: 1,
            hash: String::new(),
            accessor: String::new(),
            parent,
            policies: vec!["default".into()],
            meta: BTreeMap::new(),
            display_name: "token".into(),
            num_uses: 0,
            creation_time: now_unix(),
            creation_ttl: 0,
            expire_time,
            explicit_max_ttl: 0,
            period: 0,
            renewable: true,
            path: "auth/token/create".into(),
            entity_id: String::new(),
            token_type: "service".into(),
            wrap_creation_path: String::new(),
            max_ttl: 0,
            bound_cidrs: Vec::new(),
            login: None,
            role: String::new(),
        }
    }

    fn store() -> TokenStore {
        let barrier: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let router: crate::mounts::RouterCell = Default::default();
        let audit = Arc::new(crate::audit_broker::AuditBroker::new(barrier.clone()));
        let leases =
            crate::leases::LeaseManager::new(barrier.clone(), router, audit, Default::default());
        TokenStore::new(barrier, leases)
    }

    #[tokio::test]
    async fn children_die_with_their_parent_and_orphans_survive() {
        let store = store();
        let mut parent = record(None, 0);
        let p = store.create(&mut parent, None).await.unwrap();
        let mut child = record(Some(parent.hash.clone()), 0);
        let c = store.create(&mut child, None).await.unwrap();
        let mut grandchild = record(Some(child.hash.clone()), 0);
        let g = store.create(&mut grandchild, None).await.unwrap();
        assert!(p.expose().starts_with(TOKEN_PREFIX));

        store.revoke_orphan(&child.hash).await.unwrap();
        assert!(store.lookup(c.expose()).await.unwrap().is_none());
        let g_rec = store.lookup(g.expose()).await.unwrap().unwrap();
        assert_eq!(g_rec.parent, None, "grandchild became an orphan");

        let mut child2 = record(Some(parent.hash.clone()), 0);
        let c2 = store.create(&mut child2, None).await.unwrap();
        store.revoke_tree(&parent.hash).await.unwrap();
        assert!(store.lookup(p.expose()).await.unwrap().is_none());
        assert!(store.lookup(c2.expose()).await.unwrap().is_none());
        assert!(store.lookup(g.expose()).await.unwrap().is_some());
        assert_eq!(
            store.hash_for_accessor(&child2.accessor).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn expired_tokens_are_swept_by_the_index() {
        let store = store();
        let now = now_unix();
        let mut old = record(None, now + 10);
        let old_t = store.create(&mut old, None).await.unwrap();
        let mut child = record(Some(old.hash.clone()), now + 1000);
        let child_t = store.create(&mut child, None).await.unwrap();
        let mut fresh = record(None, now + 100);
        let fresh_t = store.create(&mut fresh, None).await.unwrap();

        let mut removed = Vec::new();
        assert_eq!(
            store.revoke_expired(now + 50, &mut removed).await.unwrap(),
            1
        );
        // Both removals are reported, the child (deepest) first, for the sweeper's trace.
        let accessors: Vec<&str> = removed.iter().map(|r| r.accessor.as_str()).collect();
        assert_eq!(accessors, [child.accessor.as_str(), old.accessor.as_str()]);
        assert!(store
            .view
            .get(&format!("id/{}", old.hash))
            .await
            .unwrap()
            .is_none());
        assert!(store.lookup(child_t.expose()).await.unwrap().is_none());
        assert!(store.lookup(fresh_t.expose()).await.unwrap().is_some());
        assert!(store.lookup(old_t.expose()).await.unwrap().is_none());
        // The child's own expiry entry was removed with it, so nothing is left to sweep early.
        let mut removed = Vec::new();
        assert_eq!(
            store.revoke_expired(now + 50, &mut removed).await.unwrap(),
            0
        );
        assert!(removed.is_empty());
    }
}
