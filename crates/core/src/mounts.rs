//! The mount table and router: persisted `MountEntry` records (behind the barrier at
//! `core/mounts`) and longest-prefix matching of request paths to mounts.
//!
//! Built-in mounts (`sys/`, `auth/token/`, `cubbyhole/`) are entries like any other so they
//! show in `sys/mounts`, but core serves them itself (`MountKind::Builtin`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrethub_engine::Engine;
use serde::{Deserialize, Serialize};

/// Where a mount's engine comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountClass {
    /// A secrets engine (`sys/mounts`).
    Secret,
    /// An auth method (`sys/auth`).
    Auth,
}

/// Tunable settings of a mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountConfig {
    /// Seconds; 0 = system default.
    #[serde(default)]
    pub default_lease_ttl: u64,
    /// Seconds; 0 = system default.
    #[serde(default)]
    pub max_lease_ttl: u64,
}

/// A persisted mount.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountEntry {
    /// Record version.
    pub version: u32,
    /// Path with trailing slash, relative to its table (`secret/`; auth mounts omit `auth/`).
    pub path: String,
    /// Engine type (`kv`, `cubbyhole`, `system`, `token`).
    #[serde(rename = "type")]
    pub engine_type: String,
    /// Free text.
    pub description: String,
    /// `kv_1a2b3c4d`.
    pub accessor: String,
    /// Random ID; names the storage prefix so a re-enabled path starts empty.
    pub uuid: String,
    /// Tunables.
    pub config: MountConfig,
    /// Engine options (`version` for kv).
    pub options: BTreeMap<String, String>,
    /// Secrets engine or auth method.
    pub class: MountClass,
    /// Accepted and shown for compatibility.
    #[serde(default)]
    pub local: bool,
    /// Accepted and shown for compatibility.
    #[serde(default)]
    pub seal_wrap: bool,
}

impl MountEntry {
    /// The full API path prefix (`auth/userpass/` for auth mounts).
    pub fn api_path(&self) -> String {
        match self.class {
            MountClass::Secret => self.path.clone(),
            MountClass::Auth => format!("auth/{}", self.path),
        }
    }

    /// The storage prefix of this mount's data.
    pub fn storage_prefix(&self) -> String {
        match self.class {
            MountClass::Secret => format!("logical/{}/", self.uuid),
            MountClass::Auth => format!("auth/{}/", self.uuid),
        }
    }

    /// Whether core itself serves this mount.
    pub fn is_builtin(&self) -> bool {
        crate::builtin::BuiltIn::of(&self.engine_type).is_some()
    }

    /// Effective default and max lease TTLs given the system's.
    pub fn ttls(&self, sys_default: Duration, sys_max: Duration) -> (Duration, Duration) {
        let max = match self.config.max_lease_ttl {
            0 => sys_max,
            s => Duration::from_secs(s),
        };
        let default = match self.config.default_lease_ttl {
            0 => sys_default,
            s => Duration::from_secs(s),
        };
        (default.min(max), max)
    }

    /// The JSON Vault shows for this mount in `sys/mounts` and `sys/auth`: the mount's own
    /// TTL settings (0 = the system default applies), `token_type` for auth mounts, and the
    /// deprecation status of mounted plugins (built-ins have none).
    pub fn to_json(&self) -> serde_json::Value {
        let options = if self.options.is_empty() {
            if self.is_builtin() {
                serde_json::Value::Null
            } else {
                serde_json::json!({})
            }
        } else {
            serde_json::to_value(&self.options).unwrap_or_default()
        };
        let mut config = serde_json::json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "max_lease_ttl": self.config.max_lease_ttl,
            "force_no_cache": false,
        });
        if self.class == MountClass::Auth {
            config["token_type"] = "default-service".into();
        }
        let mut out = serde_json::json!({
            "type": self.engine_type,
            "description": self.description,
            "accessor": self.accessor,
            "uuid": self.uuid,
            "config": config,
            "options": options,
            "local": self.local,
            "seal_wrap": self.seal_wrap,
            "external_entropy_access": false,
            "plugin_version": "",
            "running_plugin_version": "",
            "running_sha256": "",
        });
        if !self.is_builtin() {
            out["deprecation_status"] = "supported".into();
        }
        out
    }
}

/// A mount with its live engine (None for built-ins core serves itself).
#[derive(Clone)]
pub(crate) struct Mounted {
    pub(crate) entry: MountEntry,
    pub(crate) engine: Option<Arc<dyn Engine>>,
}

/// Mounts sorted for longest-prefix matching.
#[derive(Clone, Default)]
pub(crate) struct Router {
    /// Sorted by API path length, longest first.
    mounts: Vec<Mounted>,
}

impl Router {
    pub(crate) fn new(mut mounts: Vec<Mounted>) -> Self {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.entry.api_path().len()));
        Router { mounts }
    }

    /// The mount serving `path` and the path relative to it. A path equal to a mount
    /// without its trailing slash (`secret`) matches that mount with an empty remainder.
    pub(crate) fn route(&self, path: &str) -> Option<(&Mounted, String)> {
        for m in &self.mounts {
            let prefix = m.entry.api_path();
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return Some((m, rest.to_string()));
            }
            if path == prefix.trim_end_matches('/') {
                return Some((m, String::new()));
            }
        }
        None
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Mounted> {
        self.mounts.iter()
    }
}

impl crate::Core {
    /// The mounts in effect now (secrets engines and auth methods), for callers outside the
    /// pipeline that must pick a mount before building a request, such as the seed API's
    /// login (`method` names an auth mount or its type). Entries only, no engine.
    pub fn mounts(&self) -> crate::CoreResult<Vec<MountEntry>> {
        let u = self.unsealed()?;
        let router = u.router();
        Ok(router.all().map(|m| m.entry.clone()).collect())
    }
}

/// The current router, swapped whole when the mount table changes (copy-on-write), shared
/// by the pipeline and the lease manager.
pub(crate) type RouterCell = Arc<std::sync::RwLock<Arc<Router>>>;

/// The router in effect now.
pub(crate) fn current(cell: &RouterCell) -> Arc<Router> {
    cell.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Checks a user-supplied mount path and normalises it to `name/`.
pub(crate) fn normalize_mount_path(path: &str) -> Result<String, String> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Err("mount path cannot be empty".into());
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || p.chars().any(|c| c.is_control() || c == '*' || c == '+')
    {
        return Err(format!("invalid mount path {p:?}"));
    }
    Ok(format!("{p}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, class: MountClass) -> Mounted {
        Mounted {
            entry: MountEntry {
                version: 1,
                path: path.into(),
                engine_type: "kv".into(),
                description: String::new(),
                accessor: String::new(),
                uuid: String::new(),
                config: MountConfig::default(),
                options: BTreeMap::new(),
                class,
                local: false,
                seal_wrap: false,
            },
            engine: None,
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let r = Router::new(vec![
            entry("secret/", MountClass::Secret),
            entry("secret/team/", MountClass::Secret),
            entry("token/", MountClass::Auth),
        ]);
        let (m, rest) = r.route("secret/team/data/x").unwrap();
        assert_eq!(
            (m.entry.path.as_str(), rest.as_str()),
            ("secret/team/", "data/x")
        );
        let (m, rest) = r.route("secret/data/x").unwrap();
        assert_eq!(
            (m.entry.path.as_str(), rest.as_str()),
            ("secret/", "data/x")
        );
        let (m, rest) = r.route("auth/token/create").unwrap();
        assert_eq!((m.entry.path.as_str(), rest.as_str()), ("token/", "create"));
        assert_eq!(r.route("secret").unwrap().1, "");
        assert!(r.route("secretx/data").is_none());
        assert!(r.route("nope/").is_none());
    }

    #[test]
    fn mount_paths_are_checked() {
        assert_eq!(normalize_mount_path("/kv/").unwrap(), "kv/");
        assert_eq!(normalize_mount_path("a/b").unwrap(), "a/b/");
        for bad in ["", "/", "a//b", "../x", "a/./b", "x\0y", "a*"] {
            assert!(normalize_mount_path(bad).is_err(), "{bad:?}");
        }
    }
}
