//! `data/{*path}`: read a version, write a new one, patch the latest, soft-delete the latest.

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, Response};
use serde_json::Value;

use super::{check_cas, not_found_with};
use crate::input::{cas_option, take_data_object};
use crate::json::merge_patch;
use crate::record::KeyRecord;
use crate::v2::KvV2;

/// `{version metadata}` of the record's current version, as writes and patches answer.
fn written(rec: &KeyRecord) -> Result<Response, EngineError> {
    let n = rec.current_version;
    let vm = rec
        .versions
        .get(&n)
        .ok_or_else(|| EngineError::Internal(anyhow::anyhow!("new version missing from record")))?;
    Ok(Response::data(rec.version_json(n, vm)))
}

impl KvV2 {
    pub(crate) async fn data_read(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let live = self.live_version(req, path).await?;
        let mut out = JsonMap::new();
        out.insert("data".into(), Value::Object(live.data));
        out.insert("metadata".into(), Value::Object(live.metadata));
        Ok(Response::data(out))
    }

    pub(crate) async fn data_write(
        &self,
        req: &mut Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let data = take_data_object(&mut req.body)?;
        let cas = cas_option(&req.body)?;
        let config = self.config(&req.storage).await?;
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let rec = self
            .load(&req.storage, path)
            .await?
            .unwrap_or_else(|| KeyRecord::new(now));
        check_cas(cas, &config, &rec)?;
        let rec = self
            .commit_version(&req.storage, path, rec, data, now, &config)
            .await?;
        written(&rec)
    }

    /// JSON merge patch of `data` onto the latest version, stored as a new version.
    pub(crate) async fn data_patch(
        &self,
        req: &mut Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let patch = take_data_object(&mut req.body)?;
        let cas = cas_option(&req.body)?;
        let config = self.config(&req.storage).await?;
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let rec = self
            .load(&req.storage, path)
            .await?
            .ok_or(EngineError::NotFound)?;
        check_cas(cas, &config, &rec)?;
        let n = rec.current_version;
        let vm = *rec.versions.get(&n).ok_or(EngineError::NotFound)?;
        if !vm.is_live(now) {
            return Err(not_found_with(rec.version_json(n, &vm)));
        }
        let mut data = rec.current_data.clone().ok_or(EngineError::NotFound)?;
        merge_patch(&mut data, &patch);
        let rec = self
            .commit_version(&req.storage, path, rec, data, now, &config)
            .await?;
        written(&rec)
    }

    /// Soft-deletes the latest version; nothing to delete is not an error.
    pub(crate) async fn data_delete(
        &self,
        req: &Request,
        path: &str,
    ) -> Result<Response, EngineError> {
        let _guard = self.locks.lock(path).await;
        let now = self.now();
        let Some(mut rec) = self.load(&req.storage, path).await? else {
            return Ok(Response::empty());
        };
        let n = rec.current_version;
        match rec.versions.get_mut(&n) {
            Some(vm) if vm.is_live(now) => vm.deletion_time = Some(now),
            _ => return Ok(Response::empty()),
        }
        self.store_record(&req.storage, path, &rec).await?;
        Ok(Response::empty())
    }
}
