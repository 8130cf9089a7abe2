//! The policy store: ACL policies behind the barrier at `sys/policy/<name>`, parsed once and
//! cached, plus a cache of merged ACLs per policy set and entity (cleared whenever a policy
//! changes, and per entity when a login changes its aliases).
//! `root` is built in and immutable; `default` is created on first unseal and editable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use secrethub_policy::{Acl, Policy};
use secrethub_storage::{Storage, StorageView};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};
use crate::identity::IdentityStore;

#[derive(Serialize, Deserialize)]
struct PolicyRecord {
    version: u32,
    name: String,
    policy: String,
}

/// Parsed policies and merged ACLs, cached.
pub(crate) struct PolicyStore {
    view: StorageView,
    parsed: RwLock<HashMap<String, Arc<Policy>>>,
    /// Merged ACLs by (policy set, entity ID): templated policies render per entity.
    acls: RwLock<HashMap<AclKey, Arc<Acl>>>,
    /// Bumped, under the `acls` write lock, whenever cached ACLs are dropped: an ACL merged
    /// from what was read before is then not cached.
    generation: AtomicU64,
}

/// Names that cannot be written or deleted.
fn is_immutable(name: &str) -> bool {
    name == "root"
}

/// Checks a policy name: lowercase is enforced by Vault, as are simple characters.
pub(crate) fn normalize_name(name: &str) -> CoreResult<String> {
    let n = name.trim().to_lowercase();
    if n.is_empty()
        || n.len() > 128
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    {
        return Err(CoreError::bad_request(format!(
            "invalid policy name {name:?}"
        )));
    }
    Ok(n)
}

impl PolicyStore {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        PolicyStore {
            view: StorageView::new(barrier, "sys/policy/"),
            parsed: RwLock::default(),
            acls: RwLock::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Creates the `default` policy if it is missing.
    pub(crate) async fn ensure_default(&self) -> CoreResult<()> {
        if self.view.get("default").await?.is_none() {
            self.write("default", secrethub_policy::DEFAULT_POLICY)
                .await?;
        }
        Ok(())
    }

    /// Parses and stores a policy.
    pub(crate) async fn write(&self, name: &str, text: &str) -> CoreResult<()> {
        let name = normalize_name(name)?;
        if is_immutable(&name) {
            return Err(CoreError::bad_request("cannot update \"root\" policy"));
        }
        let parsed =
            Policy::parse(&name, text).map_err(|e| CoreError::bad_request(e.to_string()))?;
        self.view
            .put_json(
                &name,
                &PolicyRecord {
                    version: 1,
                    name: name.clone(),
                    policy: text.to_string(),
                },
            )
            .await?;
        write_lock(&self.parsed).insert(name, Arc::new(parsed));
        self.forget_acls(|_| true);
        Ok(())
    }

    /// The text of a policy, or None.
    pub(crate) async fn read(&self, name: &str) -> CoreResult<Option<String>> {
        let name = normalize_name(name)?;
        if name == "root" {
            return Ok(Some(String::new()));
        }
        Ok(self
            .view
            .get_json::<PolicyRecord>(&name)
            .await?
            .map(|r| r.policy))
    }

    /// Deletes a policy; `default` and `root` cannot be deleted.
    pub(crate) async fn delete(&self, name: &str) -> CoreResult<()> {
        let name = normalize_name(name)?;
        if name == "root" || name == "default" {
            return Err(CoreError::bad_request(format!(
                "cannot delete \"{name}\" policy"
            )));
        }
        self.view.delete(&name).await?;
        write_lock(&self.parsed).remove(&name);
        self.forget_acls(|_| true);
        Ok(())
    }

    /// Every policy name, `root` included, sorted.
    pub(crate) async fn list(&self) -> CoreResult<Vec<String>> {
        let mut names = secrethub_storage::list_all(&self.view, "").await?;
        names.push("root".into());
        names.sort();
        Ok(names)
    }

    async fn load(&self, name: &str) -> CoreResult<Option<Arc<Policy>>> {
        if let Some(p) = read_lock(&self.parsed).get(name) {
            return Ok(Some(p.clone()));
        }
        let Some(rec) = self.view.get_json::<PolicyRecord>(name).await? else {
            return Ok(None);
        };
        let parsed = Policy::parse(name, &rec.policy).map_err(|e| {
            CoreError::Internal(anyhow::anyhow!(
                "stored policy {name:?} does not parse: {e}"
            ))
        })?;
        let parsed = Arc::new(parsed);
        write_lock(&self.parsed).insert(name.to_string(), parsed.clone());
        Ok(Some(parsed))
    }

    /// The merged ACL of a policy set. Unknown policy names grant nothing.
    /// The merged ACL of a token: its policies, with identity templates filled from its
    /// entity (a rule whose template has no value is dropped, never widened).
    pub(crate) async fn acl(
        &self,
        policies: &[String],
        entity_id: &str,
        identity: &IdentityStore,
    ) -> CoreResult<Arc<Acl>> {
        if policies.iter().any(|p| p == "root") {
            return Ok(Arc::new(Acl::root()));
        }
        let key = (policies.to_vec(), entity_id.to_string());
        if let Some(acl) = read_lock(&self.acls).get(&key) {
            return Ok(acl.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut loaded = Vec::new();
        let mut entity = None;
        for name in policies {
            if let Some(p) = self.load(name).await? {
                let p = if p.is_templated() {
                    if entity.is_none() {
                        entity = Some(identity.entity(entity_id).await?);
                    }
                    let e = entity.as_ref().and_then(Option::as_ref);
                    Arc::new(p.render(&|expr| e.and_then(|e| e.template_value(expr))))
                } else {
                    p
                };
                loaded.push(p);
            }
        }
        let refs: Vec<&Policy> = loaded.iter().map(|p| p.as_ref()).collect();
        let acl = Arc::new(Acl::new(&refs));
        let mut cache = write_lock(&self.acls);
        if self.generation.load(Ordering::Acquire) != generation {
            // A policy or the entity changed while this was merged: use it once, don't keep it.
            return Ok(acl);
        }
        // One entry per (policy set, entity): bounded so a million distinct callers cannot
        // grow it without limit; a miss only costs re-merging.
        if cache.len() >= ACL_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, acl.clone());
        Ok(acl)
    }

    /// Drops the ACLs merged for `entity_id`: its aliases changed, so templated rules may
    /// render differently.
    pub(crate) fn forget_entity(&self, entity_id: &str) {
        self.forget_acls(|(_, entity)| entity == entity_id);
    }

    /// Drops the cached ACLs whose key matches.
    fn forget_acls(&self, matches: impl Fn(&AclKey) -> bool) {
        let mut cache = write_lock(&self.acls);
        cache.retain(|key, _| !matches(key));
        self.generation.fetch_add(1, Ordering::Release);
    }
}

const ACL_CACHE_MAX: usize = 10_000;

/// (policy names, entity ID).
type AclKey = (Vec<String>, String);

// Poisoning only happens if a thread panicked while holding the lock; the maps are caches
// whose every mutation is a single insert/remove/clear, so their content stays valid.
fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
