//! `keys` (LIST), `keys/:name` (create, read, delete), `keys/:name/config`, `rotate`, `trim`,
//! and the auto-rotation timer.

use std::time::Duration;

use secrethub_common::{input, now_unix};
use secrethub_engine::{Request, Response, StorageView, TimerOutcome};

use crate::error::{Result, TransitError};
use crate::fields::Fields;
use crate::key::{KeyRecord, KeyType, KeyVersion, NewKey};
use crate::paths::key_response;
use crate::store::rotate_timer;
use crate::TransitEngine;

impl TransitEngine {
    pub(crate) async fn list_keys(&self, req: &Request) -> Result<Response> {
        Ok(Response::list(self.keys.list(&req.storage).await?)?)
    }

    pub(crate) async fn read_key(&self, req: &Request, name: &str) -> Result<Response> {
        match self.keys.load(&req.storage, name).await? {
            Some(rec) => key_response(&rec),
            None => Err(TransitError::NotFound),
        }
    }

    /// `auto_rotate_period` in seconds: 0, or at least the mount's floor.
    fn auto_rotate_period(&self, req: &Request) -> Result<Option<u64>> {
        let Some(period) = input::duration_field(&req.body, "auto_rotate_period")? else {
            return Ok(None);
        };
        if period != Duration::ZERO && period < self.min_auto_rotate {
            return Err(TransitError::bad(
                "auto rotate period must be 0 to disable or at least an hour",
            ));
        }
        Ok(Some(period.as_secs()))
    }

    /// Sets or clears the key's rotation timer from its record.
    async fn sync_timer(&self, req: &Request, rec: &KeyRecord) -> Result<()> {
        let timer = rotate_timer(&rec.name);
        match rec.next_rotation() {
            Some(at) => req.schedule(&timer, at).await?,
            None => req.unschedule(&timer).await?,
        }
        Ok(())
    }

    /// Creates and stores a key from `new` (checked) and its first version; the caller
    /// holds the write lock and knows the key is absent.
    pub(crate) async fn create_locked(
        &self,
        req: &Request,
        name: &str,
        new: NewKey,
        first: KeyVersion,
    ) -> Result<KeyRecord> {
        let rec = KeyRecord::create(name, new, first);
        self.keys.save(&req.storage, &rec).await?;
        self.sync_timer(req, &rec).await?;
        Ok(rec)
    }

    pub(crate) async fn create_key(&self, req: &Request, name: &str) -> Result<Response> {
        let f = Fields(&req.body);
        let key_type = KeyType::parse(f.string("type")?.as_deref().unwrap_or("aes256-gcm96"))?;
        let new = NewKey {
            key_type,
            derived: f.bool("derived")?,
            convergent_encryption: f.bool("convergent_encryption")?,
            exportable: f.bool("exportable")?,
            allow_plaintext_backup: f.bool("allow_plaintext_backup")?,
            auto_rotate_period: self.auto_rotate_period(req)?.unwrap_or(0),
            key_size: f.get::<usize>("key_size")?.unwrap_or(0),
        }
        .checked()?;
        if let Some(existing) = self.keys.load(&req.storage, name).await? {
            return key_response(&existing);
        }
        // Made before the lock: an RSA key takes seconds.
        let first = KeyVersion::generate(new.key_type, new.key_size).await?;
        let _writing = self.keys.lock().await;
        if let Some(existing) = self.keys.load(&req.storage, name).await? {
            return key_response(&existing);
        }
        let rec = self.create_locked(req, name, new, first).await?;
        key_response(&rec)
    }

    pub(crate) async fn delete_key(&self, req: &Request, name: &str) -> Result<Response> {
        let _writing = self.keys.lock().await;
        let Some(rec) = self.keys.load(&req.storage, name).await? else {
            return Err(TransitError::bad(format!(
                "error deleting policy {name}: could not delete key; not found"
            )));
        };
        if !rec.deletion_allowed {
            return Err(TransitError::bad(format!(
                "error deleting policy {name}: deletion is not allowed for this key"
            )));
        }
        self.keys.delete(&req.storage, name).await?;
        req.unschedule(&rotate_timer(name)).await?;
        Ok(Response::empty())
    }

    /// The key, or Vault's 400 `missing` when there is none.
    async fn load_for_write(&self, req: &Request, name: &str, missing: &str) -> Result<KeyRecord> {
        self.keys
            .load(&req.storage, name)
            .await?
            .ok_or_else(|| TransitError::bad(missing))
    }

    pub(crate) async fn config_key(&self, req: &Request, name: &str) -> Result<Response> {
        let f = Fields(&req.body);
        let period = self.auto_rotate_period(req)?;
        let _writing = self.keys.lock().await;
        let missing = format!("no existing key named {name} could be found");
        let mut rec = self.load_for_write(req, name, &missing).await?;
        if let Some(v) = f.get::<i64>("min_decryption_version")? {
            let v = u32::try_from(v.max(0)).unwrap_or(u32::MAX).max(1);
            if v > rec.latest_version {
                return Err(TransitError::bad(format!(
                    "cannot set min decryption version of {v}, latest key version is {}",
                    rec.latest_version
                )));
            }
            if v < rec.min_available_version {
                return Err(TransitError::bad(
                    "cannot set min decryption version below min available version",
                ));
            }
            rec.min_decryption_version = v;
        }
        if let Some(v) = f.get::<i64>("min_encryption_version")? {
            let v = u32::try_from(v)
                .map_err(|_| TransitError::bad("min encryption version cannot be negative"))?;
            if v > rec.latest_version {
                return Err(TransitError::bad(format!(
                    "cannot set min encryption version of {v}, latest key version is {}",
                    rec.latest_version
                )));
            }
            rec.min_encryption_version = v;
        }
        if rec.min_encryption_version > 0 && rec.min_encryption_version < rec.min_decryption_version
        {
            return Err(TransitError::bad(
                "min encryption version should not be less then min decryption version",
            ));
        }
        if let Some(b) = f.get::<bool>("deletion_allowed")? {
            rec.deletion_allowed = b;
        }
        if let Some(b) = f.get::<bool>("exportable")? {
            if rec.exportable && !b {
                return Err(TransitError::bad(
                    "export cannot be disabled on a key that has it enabled",
                ));
            }
            rec.exportable = b;
        }
        if let Some(b) = f.get::<bool>("allow_plaintext_backup")? {
            if rec.allow_plaintext_backup && !b {
                return Err(TransitError::bad(
                    "backup cannot be disabled on a key that has it enabled",
                ));
            }
            rec.allow_plaintext_backup = b;
        }
        if let Some(p) = period {
            rec.auto_rotate_period = p;
        }
        self.keys.save(&req.storage, &rec).await?;
        self.sync_timer(req, &rec).await?;
        key_response(&rec)
    }

    /// A new version for the key `name` as it is now, made before the write lock is taken
    /// (an RSA key takes seconds); `None` when there is no such key.
    async fn next_version(&self, storage: &StorageView, name: &str) -> Result<Option<Fresh>> {
        match self.keys.load(storage, name).await? {
            Some(rec) => Ok(Some(Fresh::for_key(&rec).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn rotate_key(&self, req: &Request, name: &str) -> Result<Response> {
        let next = self.next_version(&req.storage, name).await?;
        let _writing = self.keys.lock().await;
        let mut rec = self.load_for_write(req, name, "key not found").await?;
        let next = next.ok_or_else(|| TransitError::bad("key not found"))?;
        rec.rotate(next.into_version_of(&rec)?)?;
        self.keys.save(&req.storage, &rec).await?;
        self.sync_timer(req, &rec).await?;
        key_response(&rec)
    }

    pub(crate) async fn trim_key(&self, req: &Request, name: &str) -> Result<Response> {
        let min = Fields(&req.body).get::<i64>("min_available_version")?;
        let _writing = self.keys.lock().await;
        let mut rec = self.load_for_write(req, name, "invalid key name").await?;
        let min = match min {
            None => return Err(TransitError::bad("missing min_available_version")),
            Some(v) if v > 0 => u32::try_from(v).unwrap_or(u32::MAX),
            Some(_) => {
                return Err(TransitError::bad(
                    "minimum available version should be positive",
                ))
            }
        };
        if min < rec.min_available_version {
            return Err(TransitError::bad(
                "minimum available version should not be less than the existing value",
            ));
        }
        if rec.min_encryption_version == 0 {
            return Err(TransitError::bad(
                "minimum available version cannot be set when minimum encryption version is not set",
            ));
        }
        if min > rec.min_encryption_version {
            return Err(TransitError::bad(
                "minimum available version should not be greater than minimum encryption version",
            ));
        }
        if min > rec.min_decryption_version {
            return Err(TransitError::bad(
                "minimum available version should not be greater than minimum decryption version",
            ));
        }
        rec.versions.retain(|v, _| *v >= min);
        rec.min_available_version = min;
        self.keys.save(&req.storage, &rec).await?;
        key_response(&rec)
    }

    /// The run of `keys/<name>/rotate`: rotates the key if its period has passed since its
    /// latest version was created.
    pub(crate) async fn rotation_timer(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<TimerOutcome> {
        let due = |rec: &KeyRecord| match rec.next_rotation() {
            None => Some(TimerOutcome::NotDue { next: None }),
            Some(at) if now_unix() < at => Some(TimerOutcome::NotDue { next: Some(at) }),
            Some(_) => None,
        };
        let Some(rec) = self.keys.load(storage, name).await? else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        if let Some(not_due) = due(&rec) {
            return Ok(not_due);
        }
        let next = Fresh::for_key(&rec).await?;
        let _writing = self.keys.lock().await;
        let Some(mut rec) = self.keys.load(storage, name).await? else {
            return Ok(TimerOutcome::NotDue { next: None });
        };
        // Rotated (or restored) by someone else meanwhile: the record decides again.
        if let Some(not_due) = due(&rec) {
            return Ok(not_due);
        }
        rec.rotate(next.into_version_of(&rec)?)?;
        self.keys.save(storage, &rec).await?;
        tracing::info!(key = %name, version = rec.latest_version, "transit key auto-rotated");
        Ok(TimerOutcome::Ran {
            next: rec.next_rotation(),
        })
    }
}

/// A key version made outside the write lock, with what it was made for.
struct Fresh {
    key_type: KeyType,
    key_size: usize,
    version: KeyVersion,
}

impl Fresh {
    async fn for_key(rec: &KeyRecord) -> Result<Self> {
        Ok(Fresh {
            key_type: rec.key_type,
            key_size: rec.key_size,
            version: KeyVersion::generate(rec.key_type, rec.key_size).await?,
        })
    }

    /// The version, if `rec` (read again under the lock) is still the kind of key it was
    /// made for; a restore with `force` may have replaced it meanwhile.
    fn into_version_of(self, rec: &KeyRecord) -> Result<KeyVersion> {
        if (rec.key_type, rec.key_size) != (self.key_type, self.key_size) {
            return Err(TransitError::bad(
                "the key was replaced while it was rotated; try again",
            ));
        }
        Ok(self.version)
    }
}
