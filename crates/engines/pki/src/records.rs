//! What the engine keeps in its mount's storage (behind the barrier), one JSON record a key:
//!
//! - `issuers/<id>`: an [`IssuerRecord`], the CA certificate with its private key;
//! - `keys/<id>`: a [`KeyRecord`], a key whose intermediate CSR awaits its certificate;
//! - `config/crl`: [`CrlConfig`];
//! - `config/issuers`: [`IssuersConfig`], the default issuer; `config/urls`: [`UrlsConfig`];
//! - `roles/<name>`: a role (`paths/roles.rs`);
//! - `certs/<serial>`: a [`CertRecord`] for each stored certificate, the serial with `-`
//!   between its bytes as Vault stores it; `revoked/<serial>`: a [`RevokedRecord`];
//! - `crls/<issuer id>`: the issuer's current CRL ([`CrlRecord`]).

use secrethub_common::{Sensitive, UnixTime};
use secrethub_storage::StorageView;
use serde::{Deserialize, Serialize};

use crate::error::{PkiError, Result};
use crate::keys::{KeySpec, PrivateKey};

pub(crate) const RECORD_VERSION: u32 = 1;
pub(crate) const ISSUERS: &str = "issuers/";
pub(crate) const KEYS: &str = "keys/";
pub(crate) const CERTS: &str = "certs/";
pub(crate) const REVOKED: &str = "revoked/";
pub(crate) const ROLES: &str = "roles/";
pub(crate) const CONFIG_ISSUERS: &str = "config/issuers";
pub(crate) const CONFIG_URLS: &str = "config/urls";
pub(crate) const CONFIG_CRL: &str = "config/crl";

/// A CA: its certificate and private key.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IssuerRecord {
    pub(crate) version: u32,
    pub(crate) id: String,
    /// Vault's `issuer_name`, empty when none was given.
    pub(crate) name: String,
    pub(crate) key_id: String,
    /// Vault's `key_name`, empty when none was given.
    pub(crate) key_name: String,
    pub(crate) certificate_pem: String,
    pub(crate) serial_number: String,
    pub(crate) not_after: UnixTime,
    pub(crate) key_type: String,
    pub(crate) key_bits: u32,
    /// The private key, PKCS#8 DER in base64.
    pub(crate) private_key: Sensitive<String>,
    /// What a leaf outliving the issuer gets: `err`, `truncate` or `permit`.
    #[serde(default = "default_leaf_behavior")]
    pub(crate) leaf_not_after_behavior: String,
    /// The issuer's parents, PEM, nearest first (empty for a root).
    #[serde(default)]
    pub(crate) ca_chain: Vec<String>,
}

/// A key made for an intermediate CSR, waiting for its signed certificate
/// (`intermediate/set-signed`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) key_type: String,
    pub(crate) key_bits: u32,
    /// PKCS#8 DER in base64.
    pub(crate) private_key: Sensitive<String>,
}

impl KeyRecord {
    pub(crate) fn private_key(&self) -> Result<PrivateKey> {
        stored_key(
            &self.private_key,
            KeySpec::parse(&self.key_type, self.key_bits)?,
        )
    }
}

/// A stored key: PKCS#8 DER in base64.
fn stored_key(b64: &Sensitive<String>, spec: KeySpec) -> Result<PrivateKey> {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.expose())
        .map_err(|_| PkiError::crypto("reading a stored key", "bad base64"))?;
    Ok(PrivateKey::from_pkcs8(spec, der))
}

fn default_leaf_behavior() -> String {
    "err".into()
}

impl IssuerRecord {
    pub(crate) fn key_spec(&self) -> Result<KeySpec> {
        KeySpec::parse(&self.key_type, self.key_bits)
    }

    pub(crate) fn private_key(&self) -> Result<PrivateKey> {
        stored_key(&self.private_key, self.key_spec()?)
    }
}

/// `config/issuers`: which issuer `default` means.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct IssuersConfig {
    #[serde(default)]
    pub(crate) default: String,
    #[serde(default)]
    pub(crate) default_follows_latest_issuer: bool,
}

/// `config/urls`: the AIA and CRL distribution URLs written into issued certificates.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct UrlsConfig {
    #[serde(default)]
    pub(crate) issuing_certificates: Vec<String>,
    #[serde(default)]
    pub(crate) crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub(crate) ocsp_servers: Vec<String>,
}

/// A certificate the engine issued (or a CA it made), by serial number.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CertRecord {
    pub(crate) version: u32,
    pub(crate) certificate_pem: String,
    pub(crate) issuer_id: String,
    pub(crate) not_after: UnixTime,
}

/// A revoked certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RevokedRecord {
    pub(crate) version: u32,
    pub(crate) serial_number: String,
    pub(crate) issuer_id: String,
    /// Unix nanoseconds.
    pub(crate) revocation_time_nanos: i128,
    pub(crate) not_after: UnixTime,
}

/// `config/crl`: Vault's fields, durations kept as written. `expiry` sets a CRL's
/// lifetime, `auto_rebuild_grace_period` how long before its end it is rebuilt,
/// `ocsp_expiry` an OCSP answer's lifetime, `disable` leaves CRLs empty; the others are
/// kept and answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CrlConfig {
    pub(crate) allow_expired_cert_revocation: bool,
    pub(crate) auto_rebuild: bool,
    pub(crate) auto_rebuild_grace_period: String,
    pub(crate) delta_rebuild_interval: String,
    pub(crate) disable: bool,
    pub(crate) enable_delta: bool,
    pub(crate) expiry: String,
    pub(crate) ocsp_disable: bool,
    pub(crate) ocsp_expiry: String,
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            allow_expired_cert_revocation: false,
            auto_rebuild: false,
            auto_rebuild_grace_period: "12h".into(),
            delta_rebuild_interval: "15m".into(),
            disable: false,
            enable_delta: false,
            expiry: "72h".into(),
            ocsp_disable: false,
            ocsp_expiry: "12h".into(),
        }
    }
}

impl CrlConfig {
    fn seconds(text: &str, fallback: i64) -> i64 {
        secrethub_common::parse_duration(text).map_or(fallback, |d| d.as_secs() as i64)
    }

    pub(crate) fn expiry_secs(&self) -> i64 {
        Self::seconds(&self.expiry, 72 * 3600)
    }

    pub(crate) fn grace_secs(&self) -> i64 {
        Self::seconds(&self.auto_rebuild_grace_period, 12 * 3600)
    }

    pub(crate) fn ocsp_expiry_secs(&self) -> i64 {
        Self::seconds(&self.ocsp_expiry, 12 * 3600)
    }
}

pub(crate) async fn crl_config(storage: &StorageView) -> Result<CrlConfig> {
    Ok(storage.get_json(CONFIG_CRL).await?.unwrap_or_default())
}

/// An issuer's current CRL and its number.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CrlRecord {
    pub(crate) version: u32,
    pub(crate) number: u64,
    /// When it stops being valid (Unix seconds); 0 in records written before it was kept.
    #[serde(default)]
    pub(crate) next_update: UnixTime,
    /// DER in base64.
    pub(crate) der: String,
}

/// `xx:xx:…` (Vault's answer form) → `xx-xx-…` (its storage key form), lowercased.
pub(crate) fn serial_key(serial: &str) -> String {
    serial.trim().to_ascii_lowercase().replace(':', "-")
}

/// A serial number as given by a client: hex pairs separated by `:` or `-`.
pub(crate) fn check_serial(serial: &str) -> Result<String> {
    let s = serial.trim().to_ascii_lowercase().replace('-', ":");
    let ok = !s.is_empty()
        && s.split(':')
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        return Err(PkiError::invalid(format!(
            "invalid serial number {serial:?}: expected hex pairs separated by ':' or '-'"
        )));
    }
    Ok(s)
}

pub(crate) async fn issuer(storage: &StorageView, id: &str) -> Result<Option<IssuerRecord>> {
    Ok(storage.get_json(&format!("{ISSUERS}{id}")).await?)
}

/// Every issuer, in storage order (by ID).
pub(crate) async fn issuers(storage: &StorageView) -> Result<Vec<IssuerRecord>> {
    let ids = secrethub_storage::list_all(storage, ISSUERS).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(rec) = issuer(storage, &id).await? {
            out.push(rec);
        }
    }
    Ok(out)
}

pub(crate) async fn issuers_config(storage: &StorageView) -> Result<IssuersConfig> {
    Ok(storage.get_json(CONFIG_ISSUERS).await?.unwrap_or_default())
}

/// The issuer `reference` names: `default`, an ID or a name. `None` when there is none.
pub(crate) async fn resolve_issuer(
    storage: &StorageView,
    reference: &str,
) -> Result<Option<IssuerRecord>> {
    let reference = if reference.is_empty() {
        "default"
    } else {
        reference
    };
    if reference == "default" {
        let config = issuers_config(storage).await?;
        if config.default.is_empty() {
            return Ok(None);
        }
        return issuer(storage, &config.default).await;
    }
    if let Some(rec) = issuer(storage, reference).await? {
        return Ok(Some(rec));
    }
    Ok(issuers(storage)
        .await?
        .into_iter()
        .find(|i| i.name == reference))
}

pub(crate) async fn cert(storage: &StorageView, serial: &str) -> Result<Option<CertRecord>> {
    Ok(storage
        .get_json(&format!("{CERTS}{}", serial_key(serial)))
        .await?)
}

pub(crate) async fn revoked(storage: &StorageView, serial: &str) -> Result<Option<RevokedRecord>> {
    Ok(storage
        .get_json(&format!("{REVOKED}{}", serial_key(serial)))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(serial_key("0A:bc"), "0a-bc");
        assert_eq!(check_serial("0A-bc").unwrap(), "0a:bc");
        assert!(check_serial("0a:b").is_err());
        assert!(check_serial("").is_err());
        assert!(check_serial("../x").is_err());
    }
}
