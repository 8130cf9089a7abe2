//! `delete/`, `undelete/` and `destroy/{*path}`: soft-delete, restore, or permanently remove
//! the data of chosen versions. Unknown versions are skipped, as in Vault.

use secrethub_engine::{EngineError, Request, Response};
use secrethub_storage::{Storage as _, WriteOp};

use super::encode;
use crate::input::versions_list;
use crate::v2::{metadata_key, version_key, KvV2};

impl KvV2 {
    /// Marks live versions as deleted now.
    pub(crate) async fn versions_delete(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let versions = versions_list(&req.body, "No version number provided")?;
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let Some(mut rec) = self.load(&req.storage, path).await? else {
            return Ok(Response::empty());
        };
        let mut changed = false;
        for n in versions {
            if let Some(vm) = rec.versions.get_mut(&n).filter(|vm| vm.is_live(now)) {
                vm.deletion_time = Some(now);
                changed = true;
            }
        }
        if changed {
            self.store_record(&req.storage, path, &rec).await?;
        }
        Ok(Response::empty())
    }

    /// Clears the deletion of versions that are not destroyed; `delete_version_after`
    /// starts counting again from now.
    pub(crate) async fn versions_undelete(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let versions = versions_list(&req.body, "No version number provided")?;
        let config = self.config(&req.storage).await?;
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let Some(mut rec) = self.load(&req.storage, path).await? else {
            return Ok(Response::empty());
        };
        let deletion_time = rec.deletion_time_from(now, &config);
        let mut changed = false;
        for n in versions {
            if let Some(vm) = rec.versions.get_mut(&n).filter(|vm| !vm.destroyed) {
                vm.deletion_time = deletion_time;
                changed = true;
            }
        }
        if changed {
            self.store_record(&req.storage, path, &rec).await?;
        }
        Ok(Response::empty())
    }

    /// Marks versions destroyed and removes their data, in one batch with the record.
    pub(crate) async fn versions_destroy(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let versions = versions_list(&req.body, "no version number provided")?;
        let _guard = self.locks.lock(path).await;
        let Some(mut rec) = self.load(&req.storage, path).await? else {
            return Ok(Response::empty());
        };
        let mut batch = Vec::new();
        let mut changed = false;
        for n in versions {
            let Some(vm) = rec.versions.get_mut(&n).filter(|vm| !vm.destroyed) else {
                continue;
            };
            vm.destroyed = true;
            changed = true;
            if n == rec.current_version {
                rec.current_data = None;
            } else {
                batch.push(WriteOp::Delete {
                    key: version_key(path, n),
                });
            }
        }
        if changed {
            batch.push(WriteOp::Put {
                key: metadata_key(path),
                value: encode(&rec)?,
            });
            req.storage.apply(batch).await?;
        }
        Ok(Response::empty())
    }
}
