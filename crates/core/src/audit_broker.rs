//! The audit broker: the table of enabled audit devices (behind the barrier at
//! `core/audit`, each with its own HMAC key) and fan-out of every request and response
//! to all of them. If any enabled device fails to record an event, the request fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use secrethub_audit::{AuditDevice, AuditEvent, FileDevice, FileOptions};
use secrethub_storage::{Storage, StorageView};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};

/// A persisted audit device.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AuditDeviceRecord {
    pub(crate) version: u32,
    pub(crate) path: String,
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) description: String,
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) local: bool,
    /// Base64 HMAC key; lives only behind the barrier.
    pub(crate) hmac_key: String,
}

struct Enabled {
    record: AuditDeviceRecord,
    device: Arc<dyn AuditDevice>,
}

/// Enabled devices.
pub(crate) struct AuditBroker {
    view: StorageView,
    devices: RwLock<Vec<Arc<Enabled>>>,
}

impl AuditBroker {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        AuditBroker {
            view: StorageView::new(barrier, "core/"),
            devices: RwLock::default(),
        }
    }

    /// Reopens every persisted device (after unseal). A device that cannot open is an error:
    /// serving requests without the audit trail the operator asked for would be worse.
    pub(crate) async fn load(&self) -> CoreResult<()> {
        let records: Vec<AuditDeviceRecord> =
            self.view.get_json("audit").await?.unwrap_or_default();
        let mut enabled = Vec::new();
        for record in records {
            let device = open_device(&record)?;
            enabled.push(Arc::new(Enabled { record, device }));
        }
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = enabled;
        Ok(())
    }

    fn snapshot(&self) -> Vec<Arc<Enabled>> {
        self.devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn persist(&self, list: &[Arc<Enabled>]) -> CoreResult<()> {
        let records: Vec<&AuditDeviceRecord> = list.iter().map(|e| &e.record).collect();
        self.view.put_json("audit", &records).await?;
        Ok(())
    }

    /// Whether any device is enabled (audit work is skipped otherwise).
    pub(crate) fn is_enabled(&self) -> bool {
        !self
            .devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub(crate) async fn enable(
        &self,
        path: &str,
        device_type: &str,
        description: String,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> CoreResult<()> {
        let mut list = self.snapshot();
        if list.iter().any(|e| e.record.path == path) {
            return Err(CoreError::bad_request(format!(
                "path already in use at {path}"
            )));
        }
        let record = AuditDeviceRecord {
            version: 1,
            path: path.to_string(),
            device_type: device_type.to_string(),
            description,
            options,
            local,
            hmac_key: base64::engine::general_purpose::STANDARD
                .encode(secrethub_common::random_bytes(32)),
        };
        let device = open_device(&record)?;
        list.push(Arc::new(Enabled { record, device }));
        self.persist(&list).await?;
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = list;
        Ok(())
    }

    pub(crate) async fn disable(&self, path: &str) -> CoreResult<()> {
        let mut list = self.snapshot();
        list.retain(|e| e.record.path != path);
        self.persist(&list).await?;
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = list;
        Ok(())
    }

    /// `sys/audit` listing.
    pub(crate) fn list(&self) -> serde_json::Map<String, serde_json::Value> {
        self.snapshot()
            .iter()
            .map(|e| {
                let r = &e.record;
                (
                    r.path.clone(),
                    serde_json::json!({
                        "type": r.device_type,
                        "description": r.description,
                        "options": r.options,
                        "path": r.path,
                        "local": r.local,
                    }),
                )
            })
            .collect()
    }

    /// `sys/audit-hash/:path`.
    pub(crate) fn hash(&self, path: &str, input: &str) -> CoreResult<String> {
        self.snapshot()
            .iter()
            .find(|e| e.record.path == path)
            .map(|e| e.device.hash(input))
            .ok_or_else(|| CoreError::bad_request(format!("unknown audit backend {path:?}")))
    }

    /// Reopens every device's file (after log rotation); reports the first failure.
    pub(crate) fn reopen(&self) -> CoreResult<()> {
        for e in self.snapshot() {
            e.device
                .reopen()
                .map_err(|err| CoreError::Internal(anyhow::Error::new(err)))?;
        }
        Ok(())
    }

    /// Sends `event` to every device; fails if any of them fails.
    pub(crate) async fn log(&self, event: &AuditEvent) -> CoreResult<()> {
        for e in self.snapshot() {
            if let Err(err) = e.device.log(event).await {
                tracing::error!(device = %e.record.path, error = %err, "audit device failed");
                return Err(CoreError::AuditFailed(anyhow::Error::new(err)));
            }
        }
        Ok(())
    }
}

fn open_device(record: &AuditDeviceRecord) -> CoreResult<Arc<dyn AuditDevice>> {
    if record.device_type != "file" {
        return Err(CoreError::bad_request(format!(
            "unknown audit device type {:?}; supported: file",
            record.device_type
        )));
    }
    let file_path = record
        .options
        .get("file_path")
        .or_else(|| record.options.get("path"))
        .ok_or_else(|| CoreError::bad_request("file_path is required"))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(&record.hmac_key)
        .map_err(|e| CoreError::Internal(e.into()))?;
    let log_raw = record
        .options
        .get("log_raw")
        .is_some_and(|v| matches!(v.as_str(), "true" | "1"));
    let mut options = FileOptions {
        log_raw,
        ..Default::default()
    };
    if let Some(mode) = record.options.get("mode") {
        options.mode = u32::from_str_radix(mode, 8)
            .map_err(|_| CoreError::bad_request(format!("invalid file mode {mode:?}")))?;
    }
    let device = FileDevice::open(&PathBuf::from(file_path), Zeroizing::new(key), options)
        .map_err(|e| CoreError::bad_request(format!("cannot open the audit file: {e}")))?;
    Ok(Arc::new(device))
}
