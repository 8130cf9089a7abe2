//! The versioned engine's persisted records and the pure bookkeeping on them: adding a
//! version and pruning beyond `max_versions`, deletion times from `delete_version_after`,
//! and the JSON shapes Vault answers with. No IO here; times are nanoseconds passed in.

use std::collections::BTreeMap;

use secrethub_common::{format_duration, format_rfc3339, JsonMap};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The layout version written into every record, for future migrations.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Vault's default for `max_versions` when neither the mount nor the key sets one.
pub(crate) const DEFAULT_MAX_VERSIONS: u64 = 10;

/// Mount-wide settings, stored at `config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConfigRecord {
    #[serde(default)]
    pub(crate) version: u32,
    /// 0 means Vault's default of 10.
    #[serde(default)]
    pub(crate) max_versions: u32,
    #[serde(default)]
    pub(crate) cas_required: bool,
    /// Seconds; 0 = unset, negative = disabled for every key of the mount.
    #[serde(default)]
    pub(crate) delete_version_after: i64,
}

impl ConfigRecord {
    /// `delete_version_after` as Vault prints it (`"0s"`, `"1h0m0s"`, `"-1s"` when disabled).
    pub(crate) fn delete_version_after_text(&self) -> String {
        if self.delete_version_after < 0 {
            format!("-{}", format_secs(self.delete_version_after.unsigned_abs()))
        } else {
            format_secs(self.delete_version_after as u64)
        }
    }
}

/// What is known about one version without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    pub(crate) created_time: i64,
    /// When the version was (or will be) deleted; `None` while it lives indefinitely.
    #[serde(default)]
    pub(crate) deletion_time: Option<i64>,
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl VersionMeta {
    /// Deleted by now (soft delete or `delete_version_after` elapsed). A deletion time equal
    /// to `now` counts, so a delete is visible to a read in the same clock tick.
    pub(crate) fn is_deleted(&self, now: i64) -> bool {
        self.deletion_time.is_some_and(|t| t <= now)
    }

    /// Neither deleted nor destroyed: its data may be returned.
    pub(crate) fn is_live(&self, now: i64) -> bool {
        !self.destroyed && !self.is_deleted(now)
    }
}

/// One secret, stored at `metadata/<path>`. Not `Debug`: it carries the current data.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) version: u32,
    pub(crate) current_version: u64,
    pub(crate) oldest_version: u64,
    pub(crate) created_time: i64,
    pub(crate) updated_time: i64,
    /// 0 means "use the mount's".
    pub(crate) max_versions: u32,
    pub(crate) cas_required: bool,
    /// Seconds; 0 means "use the mount's".
    pub(crate) delete_version_after: u64,
    pub(crate) custom_metadata: Option<BTreeMap<String, String>>,
    pub(crate) versions: BTreeMap<u64, VersionMeta>,
    /// The data of `current_version` while it is not destroyed (see the crate docs).
    pub(crate) current_data: Option<JsonMap>,
}

/// The data of a superseded version, stored at `versions/<path>/<n>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub(crate) version: u32,
    pub(crate) data: JsonMap,
}

impl KeyRecord {
    /// A secret with no versions yet, as a metadata write creates it.
    pub(crate) fn new(now: i64) -> Self {
        Self {
            version: RECORD_VERSION,
            current_version: 0,
            oldest_version: 0,
            created_time: now,
            updated_time: now,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: None,
            versions: BTreeMap::new(),
            current_data: None,
        }
    }

    /// When a version created (or undeleted) at `from` is deleted under the mount's and this
    /// key's `delete_version_after`: the smaller non-zero of the two, none when both are unset
    /// or the mount disables the feature.
    pub(crate) fn deletion_time_from(&self, from: i64, config: &ConfigRecord) -> Option<i64> {
        if config.delete_version_after < 0 {
            return None;
        }
        let mount = config.delete_version_after as u64;
        let key = self.delete_version_after;
        let secs = match (mount, key) {
            (0, 0) => return None,
            (0, k) => k,
            (m, 0) => m,
            (m, k) => m.min(k),
        };
        let nanos = i64::try_from(secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000);
        Some(from.saturating_add(nanos))
    }

    /// The number of versions kept: the larger of the key's and the mount's setting, or 10.
    /// (Vault takes the larger one too, so a key cannot keep fewer than its mount.)
    pub(crate) fn effective_max_versions(&self, config: &ConfigRecord) -> u64 {
        match self.max_versions.max(config.max_versions) {
            0 => DEFAULT_MAX_VERSIONS,
            n => u64::from(n),
        }
    }

    /// Appends version `current_version + 1` created at `now` and slides the window of kept
    /// versions. Returns the version numbers dropped from the map, whose stored data (if any)
    /// the caller must delete in the same batch.
    pub(crate) fn add_version(&mut self, now: i64, config: &ConfigRecord) -> Vec<u64> {
        let deletion_time = self.deletion_time_from(now, config);
        self.current_version += 1;
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: now,
                deletion_time,
                destroyed: false,
            },
        );
        self.updated_time = now;
        let max = self.effective_max_versions(config);
        if self.current_version - self.oldest_version < max {
            return Vec::new();
        }
        let last_dropped = self.current_version - max;
        let dropped: Vec<u64> = self
            .versions
            .range(..=last_dropped)
            .map(|(n, _)| *n)
            .collect();
        for n in &dropped {
            self.versions.remove(n);
        }
        self.oldest_version = last_dropped + 1;
        dropped
    }

    /// `{created_time, custom_metadata, deletion_time, destroyed, version}` for version `n`,
    /// as data writes answer and reads nest under `metadata`.
    pub(crate) fn version_json(&self, n: u64, vm: &VersionMeta) -> JsonMap {
        let mut m = JsonMap::new();
        m.insert("created_time".into(), time_json(Some(vm.created_time)));
        m.insert("custom_metadata".into(), self.custom_metadata_json());
        m.insert("deletion_time".into(), time_json(vm.deletion_time));
        m.insert("destroyed".into(), Value::Bool(vm.destroyed));
        m.insert("version".into(), Value::from(n));
        m
    }

    /// The answer of a metadata read.
    pub(crate) fn metadata_json(&self) -> JsonMap {
        let versions: JsonMap = self
            .versions
            .iter()
            .map(|(n, vm)| {
                let v = json!({
                    "created_time": time_json(Some(vm.created_time)),
                    "deletion_time": time_json(vm.deletion_time),
                    "destroyed": vm.destroyed,
                });
                (n.to_string(), v)
            })
            .collect();
        let mut m = JsonMap::new();
        m.insert("cas_required".into(), Value::Bool(self.cas_required));
        m.insert("created_time".into(), time_json(Some(self.created_time)));
        m.insert("current_version".into(), Value::from(self.current_version));
        m.insert("custom_metadata".into(), self.custom_metadata_json());
        m.insert(
            "delete_version_after".into(),
            Value::String(format_secs(self.delete_version_after)),
        );
        m.insert("max_versions".into(), Value::from(self.max_versions));
        m.insert("oldest_version".into(), Value::from(self.oldest_version));
        m.insert("updated_time".into(), time_json(Some(self.updated_time)));
        m.insert("versions".into(), Value::Object(versions));
        m
    }

    fn custom_metadata_json(&self) -> Value {
        match &self.custom_metadata {
            None => Value::Null,
            Some(cm) => Value::Object(
                cm.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        }
    }
}

/// An RFC 3339 time, or `""` when unset (as Vault prints an absent `deletion_time`).
fn time_json(t: Option<i64>) -> Value {
    match t {
        Some(t) => Value::String(format_rfc3339(i128::from(t))),
        None => Value::String(String::new()),
    }
}

fn format_secs(secs: u64) -> String {
    format_duration(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn config(max_versions: u32, dva: i64) -> ConfigRecord {
        ConfigRecord {
            version: RECORD_VERSION,
            max_versions,
            cas_required: false,
            delete_version_after: dva,
        }
    }

    #[test]
    fn prunes_oldest_beyond_max_versions() {
        let mut r = KeyRecord::new(0);
        let c = config(3, 0);
        for now in 1..=3 {
            assert!(r.add_version(now, &c).is_empty());
        }
        assert_eq!(r.add_version(4, &c), [1]);
        assert_eq!(r.oldest_version, 2);
        assert_eq!(r.versions.keys().copied().collect::<Vec<_>>(), [2, 3, 4]);
        // Lowering the key's max below the mount's has no effect: the larger one wins.
        r.max_versions = 1;
        assert_eq!(r.add_version(5, &c), [2]);
        // Raising the mount's max keeps more; lowering it drops several at once.
        r.max_versions = 0;
        assert!(r.add_version(6, &config(10, 0)).is_empty());
        assert_eq!(r.add_version(7, &config(2, 0)), [3, 4, 5]);
        assert_eq!(r.versions.keys().copied().collect::<Vec<_>>(), [6, 7]);
    }

    #[test]
    fn default_max_is_ten() {
        let mut r = KeyRecord::new(0);
        let c = config(0, 0);
        for now in 1..=10 {
            assert!(r.add_version(now, &c).is_empty());
        }
        assert_eq!(r.add_version(11, &c), [1]);
        assert_eq!(r.versions.len(), 10);
    }

    #[test]
    fn deletion_time_takes_smaller_non_zero() {
        let mut r = KeyRecord::new(0);
        assert_eq!(r.deletion_time_from(0, &config(0, 0)), None);
        assert_eq!(r.deletion_time_from(0, &config(0, 60)), Some(60 * S));
        r.delete_version_after = 30;
        assert_eq!(r.deletion_time_from(0, &config(0, 60)), Some(30 * S));
        assert_eq!(r.deletion_time_from(0, &config(0, 0)), Some(30 * S));
        assert_eq!(r.deletion_time_from(0, &config(0, 10)), Some(10 * S));
        assert_eq!(r.deletion_time_from(0, &config(0, -1)), None);
    }

    #[test]
    fn liveness() {
        let vm = VersionMeta {
            created_time: 0,
            deletion_time: Some(10),
            destroyed: false,
        };
        assert!(vm.is_live(9));
        assert!(!vm.is_live(10));
        assert_eq!(config(0, -1).delete_version_after_text(), "-1s".to_string());
        assert_eq!(config(0, 3600).delete_version_after_text(), "1h0m0s");
    }
}
