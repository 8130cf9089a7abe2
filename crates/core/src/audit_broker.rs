//! The audit broker: the table of enabled audit devices (behind the barrier at
//! `core/audit`, each with its own HMAC key and chain key) and fan-out of every request and
//! response to all of them. If any enabled device fails to record an event, the request fails.
//!
//! Checkpoints: the last line each file device wrote (`seq` and `mac`) is stored behind the
//! barrier at `core/audit-checkpoint/<path>`, written by a background task at most every
//! [`CHECKPOINT_INTERVAL`] when it changed, when a device is enabled and on seal (so on a clean
//! shutdown). A store write per line would put a barrier write on every request; the live
//! position in memory already anchors the tail while the server runs, so the stored checkpoint
//! only has to survive restarts. At unseal a file that no longer holds its checkpoint is
//! verified and what is found is kept in the checkpoint until the device is disabled;
//! `sys/audit-verify/:path` verifies the file against the live position.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use base64::Engine as _;
use secrethub_audit::{AuditDevice, AuditEvent, ChainHead, ExpectedChain, FileDevice, FileOptions};
use secrethub_common::JsonMap;
use secrethub_storage::{Storage, StorageView};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CoreError, CoreResult};

/// How often a changed checkpoint is written: the most a crash can leave unanchored.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Under `core/`.
const CHECKPOINT_PREFIX: &str = "audit-checkpoint/";
/// Findings kept per device; older ones give way.
const MAX_PROBLEMS: usize = 16;

/// Base64 key text that is wiped when dropped.
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub(crate) struct KeyText(String);

impl KeyText {
    fn generate() -> Self {
        let bytes = Zeroizing::new(secrethub_common::random_bytes(32));
        KeyText(base64::engine::general_purpose::STANDARD.encode(&*bytes))
    }

    fn decode(&self) -> CoreResult<Zeroizing<Vec<u8>>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .map(Zeroizing::new)
            .map_err(|e| CoreError::Internal(e.into()))
    }
}

/// The last line a device is known to have written, and what verification found at unseal.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct AuditCheckpointRecord {
    pub(crate) version: u32,
    /// The first `seq` written with the chain key (earlier lines predate it).
    pub(crate) keyed_from: u64,
    pub(crate) head: ChainHead,
    /// Tampering found at unseal, e.g. "file ends at seq 10, checkpoint says 12 (truncated)".
    #[serde(default)]
    pub(crate) problems: Vec<String>,
}

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
    /// Base64 key of the line `mac`s, apart from `hmac_key` (which `sys/audit-hash` lets
    /// callers use); lives only behind the barrier. Empty in records written before it
    /// existed: `load` adds one.
    #[serde(default)]
    pub(crate) chain_key: KeyText,
}

struct Enabled {
    record: AuditDeviceRecord,
    device: Arc<dyn AuditDevice>,
    /// `None` for devices without a file (stdout, discard).
    checkpoint: Mutex<Option<CheckpointState>>,
}

struct CheckpointState {
    record: AuditCheckpointRecord,
    persisted: bool,
}

impl Enabled {
    fn checkpoint(&self) -> MutexGuard<'_, Option<CheckpointState>> {
        self.checkpoint.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type DeviceList = Arc<RwLock<Vec<Arc<Enabled>>>>;

/// Enabled devices.
pub(crate) struct AuditBroker {
    view: StorageView,
    devices: DeviceList,
    /// Serializes checkpoint writes with each other and with disabling, so an older head never
    /// overwrites a newer one and a disabled device's checkpoint stays deleted.
    checkpoint_writes: Arc<tokio::sync::Mutex<()>>,
}

impl AuditBroker {
    pub(crate) fn new(barrier: Arc<dyn Storage>) -> Self {
        AuditBroker {
            view: StorageView::new(barrier, "core/"),
            devices: DeviceList::default(),
            checkpoint_writes: Arc::default(),
        }
    }

    /// Reopens every persisted device (after unseal). A device that cannot open is an error:
    /// serving requests without the audit trail the operator asked for would be worse.
    pub(crate) async fn load(&self) -> CoreResult<()> {
        let records: Vec<AuditDeviceRecord> =
            self.view.get_json("audit").await?.unwrap_or_default();
        let mut enabled = Vec::new();
        let mut keys_added = false;
        for mut record in records {
            if record.chain_key.0.is_empty() {
                record.chain_key = KeyText::generate();
                keys_added = true;
            }
            let device = open_device(&record)?;
            let checkpoint = self.restore_checkpoint(&record.path, &device).await?;
            enabled.push(Arc::new(Enabled {
                record,
                device,
                checkpoint: Mutex::new(checkpoint),
            }));
        }
        if keys_added {
            self.persist(&enabled).await?;
        }
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = enabled;
        Ok(())
    }

    /// Compares a reopened file with its stored checkpoint and stores the new one. A file
    /// that no longer holds the checkpointed line is verified, and what is wrong is kept.
    async fn restore_checkpoint(
        &self,
        path: &str,
        device: &Arc<dyn AuditDevice>,
    ) -> CoreResult<Option<CheckpointState>> {
        let Some(head) = device.chain_head() else {
            return Ok(None);
        };
        let key = checkpoint_key(path);
        let stored: Option<AuditCheckpointRecord> = self.view.get_json(&key).await?;
        let record = match stored {
            // A device enabled before chain keys: its lines from now on carry a mac.
            None => AuditCheckpointRecord {
                version: 1,
                keyed_from: head.seq + 1,
                head,
                problems: Vec::new(),
            },
            Some(mut record) => {
                if record.head != head {
                    let expected = ExpectedChain {
                        keyed_from: record.keyed_from,
                        head: Some(record.head.clone()),
                    };
                    if let Some(problem) = verify_device(device, expected).await?.1 {
                        tracing::error!(device = %path, problem = %problem, "audit log tampered with while sealed");
                        if record.problems.len() >= MAX_PROBLEMS {
                            record.problems.remove(0);
                        }
                        record.problems.push(format!("found at unseal: {problem}"));
                    }
                    record.head = head;
                }
                record
            }
        };
        self.view.put_json(&key, &record).await?;
        Ok(Some(CheckpointState {
            record,
            persisted: true,
        }))
    }

    /// Starts the task that writes changed checkpoints every [`CHECKPOINT_INTERVAL`].
    pub(crate) fn start_checkpoints(&self, cancel: CancellationToken) {
        let (view, devices, writes) = (
            self.view.clone(),
            self.devices.clone(),
            self.checkpoint_writes.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(err) = write_checkpoints(&view, &devices, &writes).await {
                    tracing::warn!(error = %err, "audit checkpoint not written");
                }
            }
        });
    }

    /// Writes every changed checkpoint now (on seal, before the barrier closes).
    pub(crate) async fn flush_checkpoints(&self) {
        if let Err(err) =
            write_checkpoints(&self.view, &self.devices, &self.checkpoint_writes).await
        {
            tracing::warn!(error = %err, "audit checkpoint not written at seal");
        }
    }

    /// `sys/audit-verify/:path`: the device's file verified with its chain key against the
    /// last line the device wrote, plus what was found at unseal.
    pub(crate) async fn verify(&self, path: &str) -> CoreResult<JsonMap> {
        let enabled = self.find(path)?;
        let state = enabled
            .checkpoint()
            .as_ref()
            .map(|s| (s.record.clone(), s.persisted));
        let (Some(head), Some((record, persisted))) = (enabled.device.chain_head(), state) else {
            return Err(CoreError::bad_request(format!(
                "audit device {path:?} writes no file to verify"
            )));
        };
        let expected = ExpectedChain {
            keyed_from: record.keyed_from,
            head: Some(head.clone()),
        };
        let (report, problem) = verify_device(&enabled.device, expected).await?;
        let stored_seq = if persisted { record.head.seq } else { 0 };
        let mut out = json!({
            "file": enabled.record.options.get("file_path").or_else(|| enabled.record.options.get("path")),
            "ok": problem.is_none() && record.problems.is_empty(),
            "problem": problem,
            "problems_at_unseal": record.problems,
            "head_seq": head.seq,
            "checkpoint_seq": stored_seq,
            "keyed_from": record.keyed_from,
        });
        if let Some(report) = report {
            out["lines"] = json!(report.lines);
            out["last_seq"] = json!(report.last_seq);
            out["lines_after_head"] = json!(report.after_head);
            out["unkeyed_lines"] = json!(report.unkeyed_lines);
            out["message"] = json!(report.to_string());
        }
        Ok(crate::sys::obj(out))
    }

    fn find(&self, path: &str) -> CoreResult<Arc<Enabled>> {
        self.snapshot()
            .into_iter()
            .find(|e| e.record.path == path)
            .ok_or_else(|| CoreError::bad_request(format!("unknown audit backend {path:?}")))
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
            chain_key: KeyText::generate(),
        };
        let device = open_device(&record)?;
        // Lines already in the file were written under another key, or none.
        let checkpoint = device.chain_head().map(|head| CheckpointState {
            record: AuditCheckpointRecord {
                version: 1,
                keyed_from: head.seq + 1,
                head,
                problems: Vec::new(),
            },
            persisted: true,
        });
        if let Some(state) = &checkpoint {
            self.view
                .put_json(&checkpoint_key(path), &state.record)
                .await?;
        }
        list.push(Arc::new(Enabled {
            record,
            device,
            checkpoint: Mutex::new(checkpoint),
        }));
        self.persist(&list).await?;
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = list;
        Ok(())
    }

    pub(crate) async fn disable(&self, path: &str) -> CoreResult<()> {
        let _writes = self.checkpoint_writes.lock().await;
        let mut list = self.snapshot();
        list.retain(|e| e.record.path != path);
        self.persist(&list).await?;
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = list;
        self.view.delete(&checkpoint_key(path)).await?;
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

    /// Reopens every device's file (after log rotation); reports the first failure. The
    /// chain of the file now at the path starts a new checkpoint (a rotated-away file is not
    /// verified by the server any more).
    pub(crate) fn reopen(&self) -> CoreResult<()> {
        for e in self.snapshot() {
            e.device
                .reopen()
                .map_err(|err| CoreError::Internal(anyhow::Error::new(err)))?;
            if let (Some(state), Some(head)) = (e.checkpoint().as_mut(), e.device.chain_head()) {
                state.record.keyed_from = head.seq + 1;
                state.record.head = head;
                state.persisted = false;
            }
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
    let chain_key = record.chain_key.decode()?;
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
    let device = FileDevice::open_keyed(
        &PathBuf::from(file_path),
        Zeroizing::new(key),
        Some(chain_key),
        options,
    )
    .map_err(|e| CoreError::bad_request(format!("cannot open the audit file: {e}")))?;
    Ok(Arc::new(device))
}

fn checkpoint_key(path: &str) -> String {
    format!("{CHECKPOINT_PREFIX}{}", path.trim_end_matches('/'))
}

/// Verifies a device's file on the blocking pool: the report (`None` when the file could not
/// be read) and the first problem as text. An unreadable file is a finding, not an error: it
/// was deleted or replaced by something the server cannot read.
async fn verify_device(
    device: &Arc<dyn AuditDevice>,
    expected: ExpectedChain,
) -> CoreResult<(Option<secrethub_audit::VerifyReport>, Option<String>)> {
    let device = device.clone();
    let outcome = tokio::task::spawn_blocking(move || device.verify_chain(&expected))
        .await
        .map_err(|e| CoreError::Internal(e.into()))?;
    Ok(match outcome {
        Ok(Some(report)) => {
            let problem = report.first_problem.as_ref().map(ToString::to_string);
            (Some(report), problem)
        }
        Ok(None) => (None, None),
        Err(err) => (None, Some(err.to_string())),
    })
}

/// Stores the checkpoint of every device whose last line moved since the last write.
async fn write_checkpoints(
    view: &StorageView,
    devices: &DeviceList,
    writes: &tokio::sync::Mutex<()>,
) -> CoreResult<()> {
    let _writes = writes.lock().await;
    let list = devices.read().unwrap_or_else(|e| e.into_inner()).clone();
    for e in list {
        let head = e.device.chain_head();
        let record = {
            let mut guard = e.checkpoint();
            let (Some(state), Some(head)) = (guard.as_mut(), head) else {
                continue;
            };
            if state.persisted && state.record.head == head {
                continue;
            }
            state.record.head = head;
            state.persisted = true;
            state.record.clone()
        };
        if let Err(err) = view
            .put_json(&checkpoint_key(&e.record.path), &record)
            .await
        {
            if let Some(state) = e.checkpoint().as_mut() {
                state.persisted = false;
            }
            return Err(err.into());
        }
    }
    Ok(())
}
