//! `config`: mount-wide `max_versions`, `cas_required` and `delete_version_after`.

use secrethub_common::JsonMap;
use secrethub_engine::{EngineError, Request, Response};
use serde_json::Value;

use crate::input::{opt_bool, opt_signed_duration, opt_uint};
use crate::record::RECORD_VERSION;
use crate::v2::{KvV2, CONFIG_KEY};

impl KvV2 {
    pub(crate) async fn config_read(&self, req: &Request) -> Result<Response, EngineError> {
        let config = self.config(&req.storage).await?;
        let mut out = JsonMap::new();
        out.insert("cas_required".into(), Value::Bool(config.cas_required));
        out.insert(
            "delete_version_after".into(),
            Value::String(config.delete_version_after_text()),
        );
        out.insert("max_versions".into(), Value::from(config.max_versions));
        Ok(Response::data(out))
    }

    /// Updates the given fields. A negative `delete_version_after` disables it for every key,
    /// zero resets it to unset.
    pub(crate) async fn config_write(&self, req: &Request) -> Result<Response, EngineError> {
        let max_versions = opt_uint(&req.body, "max_versions", u64::from(u32::MAX))?;
        let cas_required = opt_bool(&req.body, "cas_required")?;
        let dva = opt_signed_duration(&req.body, "delete_version_after")?;
        if max_versions.is_none() && cas_required.is_none() && dva.is_none() {
            return Ok(Response::empty());
        }
        let _guard = self.config_lock.lock().await;
        let mut config = self.config(&req.storage).await?;
        config.version = RECORD_VERSION;
        if let Some(m) = max_versions {
            // opt_uint capped the value at u32::MAX.
            config.max_versions = m as u32;
        }
        if let Some(c) = cas_required {
            config.cas_required = c;
        }
        if let Some(d) = dva {
            config.delete_version_after = d.max(-1);
        }
        req.storage.put_json(CONFIG_KEY, &config).await?;
        self.set_cached_config(config);
        Ok(Response::empty())
    }
}
