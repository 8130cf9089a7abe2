//! A named key as stored behind the barrier: its type, its versions (key material and
//! creation time each) and its policy (minimum versions, export and backup permissions,
//! auto-rotation), plus Vault's read shape of it.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrethub_common::{format_rfc3339, now_unix_nanos, JsonMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{Result, TransitError};
pub(crate) use crate::key_type::KeyType;
use crate::signing;

/// Layout version of [`KeyRecord`].
pub(crate) const RECORD_VERSION: u32 = 1;

/// Key bytes: zeroized on drop, redacted in `Debug`, base64 in the stored JSON.
#[derive(Clone, Default)]
pub(crate) struct Secret(pub(crate) Zeroizing<Vec<u8>>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    pub(crate) fn random(len: usize) -> Self {
        Secret::new(secrethub_common::random_bytes(len))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(B64.encode(self.bytes())))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        B64.decode(text.as_bytes())
            .map(Secret::new)
            .map_err(|_| serde::de::Error::custom("key material is not base64"))
    }
}

/// One version of a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyVersion {
    /// The symmetric key, the PKCS#8 document of a signing key, or the `hmac` type's key.
    pub(crate) key: Secret,
    /// The key of `hmac/:name` for every type (Vault keeps one per version too).
    pub(crate) hmac_key: Secret,
    /// Nanoseconds since the Unix epoch.
    pub(crate) created_nanos: i64,
}

impl KeyVersion {
    /// New random material for `key_type` (`key_size` bytes for `hmac` keys); RSA keys are
    /// made on the blocking pool.
    pub(crate) async fn generate(key_type: KeyType, key_size: usize) -> Result<Self> {
        let key = match key_type {
            _ if key_type.rsa_bits().is_some() => {
                let bits = key_type.rsa_bits().unwrap_or(2048);
                tokio::task::spawn_blocking(move || crate::rsa_keys::generate(bits))
                    .await
                    .map_err(|e| TransitError::Internal(e.into()))??
            }
            KeyType::Ed25519 | KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                signing::generate_pkcs8(key_type)?
            }
            KeyType::Hmac => Secret::random(key_size),
            _ => Secret::random(key_type.key_len()),
        };
        Ok(KeyVersion {
            key,
            hmac_key: Secret::random(32),
            created_nanos: i64::try_from(now_unix_nanos()).unwrap_or(i64::MAX),
        })
    }

    pub(crate) fn created_unix(&self) -> i64 {
        self.created_nanos.div_euclid(1_000_000_000)
    }
}

/// A key as stored at `policy/<name>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) version: u32,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) key_type: KeyType,
    pub(crate) versions: BTreeMap<u32, KeyVersion>,
    pub(crate) latest_version: u32,
    pub(crate) min_decryption_version: u32,
    /// 0: the latest version.
    pub(crate) min_encryption_version: u32,
    /// Versions below it are trimmed away; 0 until the first trim.
    pub(crate) min_available_version: u32,
    pub(crate) deletion_allowed: bool,
    pub(crate) exportable: bool,
    pub(crate) allow_plaintext_backup: bool,
    pub(crate) derived: bool,
    pub(crate) convergent_encryption: bool,
    /// Seconds; 0 disables auto-rotation.
    pub(crate) auto_rotate_period: u64,
    /// The `hmac` type's key size, kept for rotations.
    #[serde(default)]
    pub(crate) key_size: usize,
}

/// What a new key is created from.
#[derive(Debug, Clone)]
pub(crate) struct NewKey {
    pub(crate) key_type: KeyType,
    pub(crate) derived: bool,
    pub(crate) convergent_encryption: bool,
    pub(crate) exportable: bool,
    pub(crate) allow_plaintext_backup: bool,
    pub(crate) auto_rotate_period: u64,
    pub(crate) key_size: usize,
}

impl NewKey {
    pub(crate) fn of_type(key_type: KeyType) -> Self {
        NewKey {
            key_type,
            derived: false,
            convergent_encryption: false,
            exportable: false,
            allow_plaintext_backup: false,
            auto_rotate_period: 0,
            key_size: 0,
        }
    }

    /// Checks what a new key is made from; the `hmac` type's `key_size` defaults to 32.
    pub(crate) fn checked(mut self) -> Result<Self> {
        let new = &self;
        if new.convergent_encryption && !new.derived {
            return Err(TransitError::bad(
                "convergent encryption requires derivation to be enabled, so context is required",
            ));
        }
        if (new.derived || new.convergent_encryption) && !new.key_type.symmetric() {
            return Err(TransitError::bad(format!(
                "key derivation and convergent encryption not supported for keys of type {}",
                new.key_type.name()
            )));
        }
        let key_size = match (new.key_type, new.key_size) {
            (KeyType::Hmac, 0) => 32,
            (KeyType::Hmac, n) if (32..=512).contains(&n) => n,
            (KeyType::Hmac, _) => {
                return Err(TransitError::bad(
                    "invalid key size for HMAC key, must be between 32 and 512 bytes",
                ))
            }
            (_, 0) => 0,
            _ => return Err(TransitError::bad("key_size is only used with hmac keys")),
        };
        self.key_size = key_size;
        Ok(self)
    }
}

impl KeyRecord {
    /// A key with its first version (`new` passed [`NewKey::checked`]).
    pub(crate) fn create(name: &str, new: NewKey, first: KeyVersion) -> Self {
        KeyRecord {
            version: RECORD_VERSION,
            name: name.to_string(),
            key_type: new.key_type,
            versions: BTreeMap::from([(1, first)]),
            latest_version: 1,
            min_decryption_version: 1,
            min_encryption_version: 0,
            min_available_version: 0,
            deletion_allowed: false,
            exportable: new.exportable,
            allow_plaintext_backup: new.allow_plaintext_backup,
            derived: new.derived,
            convergent_encryption: new.convergent_encryption,
            auto_rotate_period: new.auto_rotate_period,
            key_size: new.key_size,
        }
    }

    /// Adds `version`, made for this key, as the new latest version.
    pub(crate) fn rotate(&mut self, version: KeyVersion) -> Result<()> {
        let next = self
            .latest_version
            .checked_add(1)
            .ok_or_else(|| TransitError::bad("key version limit reached"))?;
        self.versions.insert(next, version);
        self.latest_version = next;
        Ok(())
    }

    /// Unix seconds when auto-rotation is next due, if enabled.
    pub(crate) fn next_rotation(&self) -> Option<i64> {
        if self.auto_rotate_period == 0 {
            return None;
        }
        let latest = self.versions.get(&self.latest_version)?;
        let period = i64::try_from(self.auto_rotate_period).unwrap_or(i64::MAX);
        Some(latest.created_unix().saturating_add(period))
    }

    /// The version an encryption, signature or HMAC uses: `requested` (0 = latest) within
    /// `[min_encryption_version, latest]`.
    pub(crate) fn encryption_version(&self, requested: u32) -> Result<(u32, &KeyVersion)> {
        let v = if requested == 0 {
            self.latest_version
        } else {
            requested
        };
        let floor = self.min_encryption_version.max(self.min_decryption_version);
        if v < floor || v > self.latest_version {
            return Err(TransitError::bad("no such key version"));
        }
        self.versions
            .get(&v)
            .map(|kv| (v, kv))
            .ok_or_else(|| TransitError::bad("no such key version"))
    }

    /// The version a ciphertext or signature of version `v` is checked with.
    pub(crate) fn decryption_version(&self, v: u32) -> Result<&KeyVersion> {
        if v > self.latest_version {
            return Err(TransitError::bad("invalid ciphertext: version is too new"));
        }
        if v < self.min_decryption_version {
            return Err(TransitError::bad(
                "ciphertext or signature version is disallowed by policy (too old)",
            ));
        }
        self.versions.get(&v).ok_or_else(|| {
            TransitError::bad("ciphertext or signature version is disallowed by policy (too old)")
        })
    }

    /// Vault's read shape of the key (`transit/keys/:name`).
    pub(crate) fn info(&self) -> Result<JsonMap> {
        let mut keys = JsonMap::new();
        for (v, kv) in &self.versions {
            let entry = if self.key_type.signs() {
                json!({
                    "certificate_chain": "",
                    "creation_time": format_rfc3339(i128::from(kv.created_nanos)),
                    "name": signing::curve_name(self.key_type),
                    "public_key": signing::public_key_text(self.key_type, &kv.key)?,
                })
            } else {
                Value::from(kv.created_unix())
            };
            keys.insert(v.to_string(), entry);
        }
        let mut m = JsonMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("allow_plaintext_backup", self.allow_plaintext_backup.into());
        put("auto_rotate_period", self.auto_rotate_period.into());
        put("deletion_allowed", self.deletion_allowed.into());
        put("derived", self.derived.into());
        put("exportable", self.exportable.into());
        put("imported_key", false.into());
        // OpenBao lists no versions for an hmac key (its key material is the only key).
        if self.key_type != KeyType::Hmac {
            put("keys", Value::Object(keys));
        }
        put("latest_version", self.latest_version.into());
        put("min_available_version", self.min_available_version.into());
        put("min_decryption_version", self.min_decryption_version.into());
        put("min_encryption_version", self.min_encryption_version.into());
        put("name", self.name.clone().into());
        put("soft_deleted", false.into());
        put("supports_decryption", self.key_type.encrypts().into());
        put("supports_derivation", self.key_type.symmetric().into());
        put("supports_encryption", self.key_type.encrypts().into());
        put("supports_signing", self.key_type.signs().into());
        put("type", self.key_type.name().into());
        if self.derived {
            put("kdf", "hkdf_sha256".into());
            put("convergent_encryption", self.convergent_encryption.into());
            if self.convergent_encryption {
                put("convergent_encryption_version", 3.into());
            }
        }
        if self.key_type == KeyType::Hmac {
            put("key_size", self.key_size.into());
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_never_shows_key_material() {
        let first = KeyVersion::generate(KeyType::Aes256Gcm96, 0).await.unwrap();
        let new = NewKey::of_type(KeyType::Aes256Gcm96).checked().unwrap();
        let rec = KeyRecord::create("k", new, first);
        let material = B64.encode(rec.versions[&1].key.bytes());
        let shown = format!("{rec:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&material));
        let bytes = format!("{:?}", rec.versions[&1].key.bytes());
        assert!(!shown.contains(&bytes[1..bytes.len() - 1]));
    }
}
