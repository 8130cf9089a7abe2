//! `metadata/{*path}`: a secret's settings and version history. Read, write and patch the
//! settings (`max_versions`, `cas_required`, `delete_version_after`, `custom_metadata`),
//! delete the secret with every version, and list secrets folder by folder.

use std::collections::BTreeMap;

use secrethub_engine::{EngineError, Request, Response};
use secrethub_storage::{list_children, Storage as _, WriteOp};
use serde_json::Value;

use crate::input::{
    custom_metadata, opt_bool, opt_duration, opt_string, opt_uint, validate_custom_metadata,
};
use crate::record::{ConfigRecord, KeyRecord};
use crate::v2::{metadata_key, version_key, KvV2};

const CAS_IGNORED: &str =
    "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.";

/// The settings fields of a metadata write or patch. In a patch, `Some(None)` is an explicit
/// `null`, which resets the setting.
struct MetadataInput {
    max_versions: Option<Option<u32>>,
    cas_required: Option<Option<bool>>,
    delete_version_after: Option<Option<u64>>,
    custom_metadata: Option<Option<BTreeMap<String, String>>>,
}

impl MetadataInput {
    fn parse(req: &Request, patch: bool) -> Result<Self, EngineError> {
        let body = &req.body;
        let explicit_null = |f: &str| patch && matches!(body.get(f), Some(Value::Null));
        let max_versions = match opt_uint(body, "max_versions", u64::from(u32::MAX))? {
            // opt_uint capped the value at u32::MAX.
            Some(n) => Some(Some(n as u32)),
            None if explicit_null("max_versions") => Some(None),
            None => None,
        };
        let cas_required = match opt_bool(body, "cas_required")? {
            Some(b) => Some(Some(b)),
            None if explicit_null("cas_required") => Some(None),
            None => None,
        };
        let delete_version_after = match opt_duration(body, "delete_version_after")? {
            Some(d) => Some(Some(d)),
            None if explicit_null("delete_version_after") => Some(None),
            None => None,
        };
        let custom_metadata = match body.get("custom_metadata") {
            None => None,
            Some(Value::Null) if patch => Some(None),
            // A write with `null` stores an empty map, as Vault's field decoding does.
            Some(Value::Null) => Some(Some(BTreeMap::new())),
            Some(v) => Some(Some(custom_metadata(v, patch)?)),
        };
        if let Some(Some(cm)) = &custom_metadata {
            if !patch {
                validate_custom_metadata(cm)?;
            }
        }
        Ok(Self {
            max_versions,
            cas_required,
            delete_version_after,
            custom_metadata,
        })
    }

    fn is_empty(&self) -> bool {
        self.max_versions.is_none()
            && self.cas_required.is_none()
            && self.delete_version_after.is_none()
            && self.custom_metadata.is_none()
    }

    /// Vault's warning when a key turns off `cas_required` that the mount enforces.
    fn warnings(&self, config: &ConfigRecord) -> Vec<String> {
        match self.cas_required {
            Some(Some(false)) | Some(None) if config.cas_required => vec![CAS_IGNORED.to_string()],
            _ => Vec::new(),
        }
    }

    fn apply_settings(&self, rec: &mut KeyRecord) {
        if let Some(m) = self.max_versions {
            rec.max_versions = m.unwrap_or(0);
        }
        if let Some(c) = self.cas_required {
            rec.cas_required = c.unwrap_or(false);
        }
        if let Some(d) = self.delete_version_after {
            rec.delete_version_after = d.unwrap_or(0);
        }
    }
}

fn with_warnings(warnings: Vec<String>) -> Response {
    Response {
        warnings,
        ..Response::empty()
    }
}

impl KvV2 {
    pub(crate) async fn metadata_read(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let rec = self
            .load(&req.storage, path)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(Response::data(rec.metadata_json()))
    }

    /// Creates or updates a secret's settings; `custom_metadata` is replaced whole.
    pub(crate) async fn metadata_write(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let input = MetadataInput::parse(req, false)?;
        if input.is_empty() {
            return Ok(Response::empty());
        }
        let config = self.config(&req.storage).await?;
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let mut rec = self
            .load(&req.storage, path)
            .await?
            .unwrap_or_else(|| KeyRecord::new(now));
        input.apply_settings(&mut rec);
        if let Some(cm) = &input.custom_metadata {
            rec.custom_metadata = cm.clone();
        }
        self.store_record(&req.storage, path, &rec).await?;
        Ok(with_warnings(input.warnings(&config)))
    }

    /// Merges the given settings into an existing secret's; `custom_metadata` is merged key
    /// by key, a `null` value removing the key.
    pub(crate) async fn metadata_patch(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let input = MetadataInput::parse(req, true)?;
        let config = self.config(&req.storage).await?;
        let _guard = self.locks.lock(path).await;
        let mut rec = self
            .load(&req.storage, path)
            .await?
            .ok_or(EngineError::NotFound)?;
        input.apply_settings(&mut rec);
        match (&input.custom_metadata, req.body.get("custom_metadata")) {
            (Some(None), _) => rec.custom_metadata = None,
            (Some(Some(_)), Some(Value::Object(patch))) => {
                // `parse` dropped the nulls from the parsed map; they remove keys here.
                let mut merged = rec.custom_metadata.take().unwrap_or_default();
                for (k, v) in patch {
                    if v.is_null() {
                        merged.remove(k);
                    }
                }
                if let Some(Some(values)) = &input.custom_metadata {
                    merged.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                validate_custom_metadata(&merged)?;
                rec.custom_metadata = Some(merged);
            }
            _ => {}
        }
        self.store_record(&req.storage, path, &rec).await?;
        Ok(with_warnings(input.warnings(&config)))
    }

    /// Removes the secret and every version's data permanently.
    pub(crate) async fn metadata_delete(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let _guard = self.locks.lock(path).await;
        let Some(rec) = self.load(&req.storage, path).await? else {
            return Ok(Response::empty());
        };
        let mut batch: Vec<WriteOp> = rec
            .versions
            .iter()
            .filter(|(n, vm)| **n != rec.current_version && !vm.destroyed)
            .map(|(n, _)| WriteOp::Delete {
                key: version_key(path, *n),
            })
            .collect();
        batch.push(WriteOp::Delete {
            key: metadata_key(path),
        });
        req.storage.apply(batch).await?;
        Ok(Response::empty())
    }

    /// Secrets and folders (`name/`) directly under `path` (`""` for the top of the mount).
    /// Optional `after` and `limit` page through the names; `exclude_deleted` leaves out
    /// secrets whose latest version is deleted or destroyed.
    pub(crate) async fn metadata_list(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let prefix = if path.is_empty() {
            "metadata/".to_string()
        } else {
            format!("{}/", metadata_key(path))
        };
        let after = opt_string(&req.body, "after")?.unwrap_or_default();
        let limit = opt_uint(&req.body, "limit", u64::MAX)?.unwrap_or(0);
        let exclude_deleted = opt_bool(&req.body, "exclude_deleted")?.unwrap_or(false);

        let mut keys = list_children(&req.storage, &prefix).await?;
        if !after.is_empty() {
            keys.retain(|k| k.as_str() > after.as_str());
        }
        if exclude_deleted {
            let now = self.now();
            let mut kept = Vec::with_capacity(keys.len());
            for k in keys {
                if !k.ends_with('/') {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}/{k}")
                    };
                    if let Some(rec) = self.load(&req.storage, &child).await? {
                        let hidden = rec
                            .versions
                            .get(&rec.current_version)
                            .is_some_and(|vm| !vm.is_live(now));
                        if hidden {
                            continue;
                        }
                    }
                }
                kept.push(k);
            }
            keys = kept;
        }
        if limit > 0 {
            keys.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Response::list(keys)
    }
}
