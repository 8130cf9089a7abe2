//! Identity basics: every login names an alias (auth mount + the name the method knows the
//! caller by); each alias belongs to one entity, created on first login. Tokens carry the
//! entity ID, policies may be templated with the entity and its aliases
//! (`{{identity.entity.aliases.<mount accessor>.name}}`), and `identity/entity/id/:id` reads it.
//!
//! Layout under the barrier (`sys/identity/`): `entity/<id>` → [`Entity`];
//! `alias/<mount accessor>/<sha256(alias name)>` → entity ID (hashed so any name is a key).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use secrethub_common::{format_rfc3339, now_unix, random_uuid, JsonMap, UnixTime};
use secrethub_engine::{Alias, EngineError, Operation, PathTable};
use secrethub_storage::{Storage, StorageView, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::builtin::BuiltinPaths;
use crate::error::{CoreError, CoreResult};
use crate::pipeline::Ctx;
use crate::request::CoreResponse;

/// One alias of an entity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct EntityAlias {
    /// Accessor of the auth mount (`userpass_1a2b3c4d`).
    pub mount_accessor: String,
    /// Its path (`auth/userpass/`).
    pub mount_path: String,
    /// Its type (`userpass`).
    pub mount_type: String,
    /// The name within the mount.
    pub name: String,
    /// Facts the auth method reported.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds of the last login through this alias.
    pub last_login: UnixTime,
}

/// A caller known to SecretHub, across auth methods.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entity {
    /// UUID.
    pub id: String,
    /// `entity_<first 8 hex of the id>`, as Vault names generated entities.
    pub name: String,
    /// Unix seconds.
    pub creation_time: UnixTime,
    /// Its aliases.
    pub aliases: Vec<EntityAlias>,
}

impl Entity {
    /// The value of a policy template expression, or `None` when this entity has none.
    pub(crate) fn template_value(&self, expr: &str) -> Option<String> {
        match expr {
            "identity.entity.id" => return Some(self.id.clone()),
            "identity.entity.name" => return Some(self.name.clone()),
            _ => {}
        }
        let rest = expr.strip_prefix("identity.entity.aliases.")?;
        let (accessor, field) = rest.split_once('.')?;
        let alias = self.aliases.iter().find(|a| a.mount_accessor == accessor)?;
        match field {
            "name" => Some(alias.name.clone()),
            f => alias.metadata.get(f.strip_prefix("metadata.")?).cloned(),
        }
    }
}

/// The identity store.
pub(crate) struct IdentityStore {
    view: StorageView,
    /// Serialises alias creation so two first logins of one alias make one entity.
    create: Mutex<()>,
}

fn alias_key(mount_accessor: &str, name: &str) -> String {
    format!(
        "alias/{mount_accessor}/{}",
        hex::encode(Sha256::digest(name.as_bytes()))
    )
}

fn entity_key(id: &str) -> String {
    format!("entity/{id}")
}

/// Where an alias comes from.
pub(crate) struct AliasMount<'a> {
    pub(crate) accessor: &'a str,
    pub(crate) path: &'a str,
    pub(crate) engine_type: &'a str,
}

impl IdentityStore {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        IdentityStore {
            view: StorageView::new(barrier, "sys/identity/"),
            create: Mutex::new(()),
        }
    }

    pub(crate) async fn entity(&self, id: &str) -> CoreResult<Option<Entity>> {
        if id.is_empty() {
            return Ok(None);
        }
        Ok(self.view.get_json(&entity_key(id)).await?)
    }

    /// The entity of `alias` on `mount`, created with the alias on first login; the alias's
    /// metadata and last login time are refreshed. The flag says whether what policy templates
    /// read from the entity changed (a new alias or new alias metadata), so ACLs merged for it
    /// must be forgotten.
    pub(crate) async fn login(
        &self,
        mount: &AliasMount<'_>,
        alias: &Alias,
    ) -> CoreResult<(Entity, bool)> {
        let _guard = self.create.lock().await;
        let akey = alias_key(mount.accessor, &alias.name);
        let now = now_unix();
        let existing = match self.view.get(&akey).await? {
            Some(id) => self.entity(&String::from_utf8_lossy(&id)).await?,
            None => None,
        };
        let mut entity = existing.unwrap_or_else(|| {
            let id = random_uuid();
            Entity {
                name: format!("entity_{}", &id[..8]),
                id,
                creation_time: now,
                aliases: Vec::new(),
            }
        });
        let fresh = EntityAlias {
            mount_accessor: mount.accessor.to_string(),
            mount_path: mount.path.to_string(),
            mount_type: mount.engine_type.to_string(),
            name: alias.name.clone(),
            metadata: alias.metadata.clone(),
            last_login: now,
        };
        let changed = match entity
            .aliases
            .iter_mut()
            .find(|a| a.mount_accessor == mount.accessor && a.name == alias.name)
        {
            Some(a) => {
                let changed = a.metadata != fresh.metadata;
                *a = fresh;
                changed
            }
            None => {
                entity.aliases.push(fresh);
                true
            }
        };
        self.view
            .apply(vec![
                WriteOp::Put {
                    key: akey,
                    value: entity.id.clone().into_bytes(),
                },
                WriteOp::Put {
                    key: entity_key(&entity.id),
                    value: serde_json::to_vec(&entity)
                        .map_err(|e| CoreError::Internal(e.into()))?,
                },
            ])
            .await?;
        Ok((entity, changed))
    }

    /// Forgets the aliases of a disabled auth mount (entities stay, as in Vault).
    pub(crate) async fn forget_mount(&self, mount_accessor: &str) -> CoreResult<()> {
        secrethub_storage::delete_prefix(&self.view, &format!("alias/{mount_accessor}/")).await?;
        Ok(())
    }
}

/// `identity/`'s paths: `identity/entity/id/:id` (read) and LIST `identity/entity/id`. No
/// row has a flag.
pub(crate) static PATHS: BuiltinPaths = LazyLock::new(|| {
    PathTable::new()
        .add("entity/id", (), &[Operation::List], "Lists the entity IDs.")
        .add(
            "entity/id/{id}",
            (),
            &[Operation::Read],
            "Reads an entity: its name, policies and aliases.",
        )
});

pub(crate) async fn handle(ctx: &Ctx<'_>) -> CoreResult<CoreResponse> {
    let rel = ctx.rel.as_str();
    match (rel, ctx.op) {
        ("entity/id", Operation::List) => {
            let keys = secrethub_storage::list_children(&ctx.u.identity.view, "entity/").await?;
            let mounted: Vec<String> = {
                let router = ctx.u.router();
                router.all().map(|m| m.entry.accessor.clone()).collect()
            };
            let mut key_info = JsonMap::new();
            for id in &keys {
                if let Some(e) = ctx.u.identity.entity(id).await? {
                    key_info.insert(id.clone(), entity_key_info(&e, &mounted));
                }
            }
            let mut data = keys_map(keys)?;
            data.insert("key_info".into(), key_info.into());
            Ok(CoreResponse::data(data))
        }
        (_, Operation::Read) if rel.starts_with("entity/id/") => {
            let id = &rel["entity/id/".len()..];
            let entity = ctx
                .u
                .identity
                .entity(id)
                .await?
                .ok_or(CoreError::NotFound)?;
            Ok(CoreResponse::data(entity_data(&entity)))
        }
        _ => Err(CoreError::Engine(EngineError::UnsupportedPath)),
    }
}

fn keys_map(keys: Vec<String>) -> CoreResult<JsonMap> {
    if keys.is_empty() {
        return Err(CoreError::NotFound);
    }
    let mut m = JsonMap::new();
    m.insert("keys".into(), keys.into());
    Ok(m)
}

/// An entity in a LIST's `key_info`, as OpenBao shows it: its name and, when it has any, its
/// aliases, with their mount's path and type while that mount (one of `mounted` accessors)
/// is still there. OpenBao's aliases also carry alias IDs; SecretHub's have none.
fn entity_key_info(e: &Entity, mounted: &[String]) -> serde_json::Value {
    let mut info = JsonMap::new();
    info.insert("name".into(), e.name.clone().into());
    if !e.aliases.is_empty() {
        let aliases = e
            .aliases
            .iter()
            .map(|a| {
                let mut alias = json!({"mount_accessor": a.mount_accessor, "name": a.name});
                if mounted.contains(&a.mount_accessor) {
                    alias["mount_path"] = a.mount_path.clone().into();
                    alias["mount_type"] = a.mount_type.clone().into();
                }
                alias
            })
            .collect::<Vec<_>>();
        info.insert("aliases".into(), aliases.into());
    }
    info.into()
}

fn entity_data(e: &Entity) -> JsonMap {
    let t = |s: UnixTime| format_rfc3339(s as i128 * 1_000_000_000);
    let aliases: Vec<serde_json::Value> = e
        .aliases
        .iter()
        .map(|a| {
            json!({
                "canonical_id": e.id,
                "mount_accessor": a.mount_accessor,
                "mount_path": a.mount_path,
                "mount_type": a.mount_type,
                "name": a.name,
                "metadata": a.metadata,
                "last_update_time": t(a.last_login),
            })
        })
        .collect();
    let v = json!({
        "id": e.id,
        "name": e.name,
        "aliases": aliases,
        "creation_time": t(e.creation_time),
        "disabled": false,
        "policies": [],
        "metadata": null,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrethub_storage::MemoryStorage;

    fn mount() -> AliasMount<'static> {
        AliasMount {
            accessor: "userpass_1",
            path: "auth/userpass/",
            engine_type: "userpass",
        }
    }

    #[tokio::test]
    async fn one_alias_maps_to_one_entity_across_logins() {
        let store = IdentityStore::new(Arc::new(MemoryStorage::new()));
        let alice = Alias {
            name: "alice".into(),
            metadata: BTreeMap::new(),
        };
        let (first, new) = store.login(&mount(), &alice).await.unwrap();
        assert!(new, "a first login adds an alias");
        let (again, changed) = store.login(&mount(), &alice).await.unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(again.aliases.len(), 1);
        assert!(
            !changed,
            "the same alias with the same metadata changes nothing"
        );
        let team = Alias {
            name: "alice".into(),
            metadata: [("team".to_string(), "red".to_string())].into(),
        };
        assert!(store.login(&mount(), &team).await.unwrap().1);
        let (bob, _) = store
            .login(
                &mount(),
                &Alias {
                    name: "bob".into(),
                    metadata: BTreeMap::new(),
                },
            )
            .await
            .unwrap();
        assert_ne!(bob.id, first.id);
        let loaded = store.entity(&first.id).await.unwrap().unwrap();
        assert_eq!(
            loaded
                .template_value("identity.entity.aliases.userpass_1.name")
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            loaded.template_value("identity.entity.aliases.other.name"),
            None
        );
        assert_eq!(loaded.template_value("identity.entity.id"), Some(first.id));
    }
}
