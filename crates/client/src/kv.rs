//! KV mount detection, as Vault's CLI does it: `sys/internal/ui/mounts/<path>` names the mount
//! that holds a path and its `options.version`, so a caller can build `secret/data/app` (KV v2)
//! or use the path as is (KV v1 and every other engine). Shared by `secrethub kv …` and the
//! secret providers of the agent.

use serde_json::Value;

use crate::{Client, ClientError};

/// Where a KV secret lives: its mount, the engine version and the path as the user meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvTarget {
    /// Mount path with a trailing slash (`secret/`), empty when the server did not say.
    pub mount: String,
    /// KV version 2 (versioned, `data/` and `metadata/` prefixes).
    pub v2: bool,
    /// Mount and secret path joined (`secret/app/db`).
    pub partial: String,
}

impl KvTarget {
    /// Reads the preflight answer (`None` for a 404: an older server, so KV v1).
    pub fn from_preflight(answer: Option<&Value>, partial: String) -> KvTarget {
        let data = answer.and_then(|a| a.get("data"));
        let mount = data
            .and_then(|d| d.get("path"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let version = data
            .and_then(|d| d.get("options"))
            .and_then(|o| o.get("version"))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            });
        KvTarget {
            mount,
            v2: version.as_deref() == Some("2"),
            partial,
        }
    }

    /// The API path for `prefix` (`data`, `metadata`, `delete`, ...) on v2; the path itself on v1.
    pub fn api_path(&self, prefix: &str) -> String {
        if self.v2 {
            add_prefix_to_kv_path(&self.partial, &self.mount, prefix)
        } else {
            self.partial.clone()
        }
    }
}

/// Inserts `prefix` after the mount: (`secret/app`, `secret/`, `data`) gives `secret/data/app`.
pub fn add_prefix_to_kv_path(path: &str, mount: &str, prefix: &str) -> String {
    let mount_trimmed = mount.trim_end_matches('/');
    let suffix = if path == mount || path == mount_trimmed {
        ""
    } else if let Some(rest) = path.strip_prefix(mount).filter(|_| !mount.is_empty()) {
        rest
    } else {
        path
    };
    [mount_trimmed, prefix, suffix]
        .iter()
        .flat_map(|part| part.split('/'))
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

impl Client {
    /// Finds the mount and KV version of `path` (`secret/app/db`) with the preflight request.
    pub async fn kv_target(&self, path: &str) -> Result<KvTarget, ClientError> {
        self.kv_target_in(None, path).await
    }

    /// As [`Client::kv_target`], with the mount given apart (the CLI's `-mount=secret app/db`).
    pub async fn kv_target_in(
        &self,
        mount: Option<&str>,
        path: &str,
    ) -> Result<KvTarget, ClientError> {
        let (probe, partial) = match mount {
            Some(mount) => {
                let mount = trim_path(mount);
                let partial = format!("{mount}/{}", trim_path(path));
                (mount, partial)
            }
            None => {
                let partial = trim_path(path);
                (partial.clone(), partial)
            }
        };
        let answer = self
            .read(&format!("sys/internal/ui/mounts/{probe}"))
            .await?;
        Ok(KvTarget::from_preflight(answer.as_ref(), partial))
    }
}

/// Surrounding spaces and slashes go: `/secret/app/` is `secret/app`.
fn trim_path(path: &str) -> String {
    path.trim().trim_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn preflight_answers_give_mount_and_version() {
        let answer = json!({"data": {"path": "secret/", "options": {"version": "2"}}});
        let t = KvTarget::from_preflight(Some(&answer), "secret/app/db".into());
        assert_eq!((t.mount.as_str(), t.v2), ("secret/", true));
        assert_eq!(t.api_path("data"), "secret/data/app/db");
        let db = json!({"data": {"path": "database/", "type": "database", "options": null}});
        let t = KvTarget::from_preflight(Some(&db), "database/creds/ro".into());
        assert_eq!(t.api_path("data"), "database/creds/ro");
    }

    #[test]
    fn paths_are_trimmed() {
        assert_eq!(trim_path(" /secret/app/ "), "secret/app");
    }
}
