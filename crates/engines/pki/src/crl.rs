//! Certificate revocation lists: one per issuer, rebuilt (with the next CRL number) when an
//! issuer is made, on every revocation, on `crl/rotate` and after a tidy, and kept under
//! `crls/<issuer id>` so fetching one is a storage read. Valid for 72 hours, as Vault's.

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use secrethub_common::now_unix;
use secrethub_storage::StorageView;

use crate::cert::{at, serial_bytes, LoadedIssuer};
use crate::error::{PkiError, Result};
use crate::records::{CrlRecord, IssuerRecord, RevokedRecord, RECORD_VERSION, REVOKED};

pub(crate) const CRLS: &str = "crls/";

/// How long a CRL is valid (Vault's default `expiry`).
const CRL_LIFETIME_SECS: i64 = 72 * 3600;

/// Every revoked certificate of `issuer_id`.
pub(crate) async fn revoked_of(
    storage: &StorageView,
    issuer_id: &str,
) -> Result<Vec<RevokedRecord>> {
    let keys = secrethub_storage::list_all(storage, REVOKED).await?;
    let mut out = Vec::new();
    for key in keys {
        if let Some(rec) = storage
            .get_json::<RevokedRecord>(&format!("{REVOKED}{key}"))
            .await?
        {
            if rec.issuer_id == issuer_id {
                out.push(rec);
            }
        }
    }
    Ok(out)
}

/// Signs and stores a new CRL for `issuer`; answers its DER.
pub(crate) async fn rebuild(storage: &StorageView, issuer: &IssuerRecord) -> Result<Vec<u8>> {
    let key = format!("{CRLS}{}", issuer.id);
    let previous: Option<CrlRecord> = storage.get_json(&key).await?;
    let number = previous.map_or(1, |p| p.number + 1);
    let revoked = revoked_of(storage, &issuer.id).await?;
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for r in &revoked {
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial_bytes(&r.serial_number)?),
            revocation_time: at((r.revocation_time_nanos / 1_000_000_000) as i64)?,
            reason_code: None,
            invalidity_date: None,
        });
    }
    let now = now_unix();
    let params = CertificateRevocationListParams {
        this_update: at(now)?,
        next_update: at(now + CRL_LIFETIME_SECS)?,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let loaded = LoadedIssuer::load(issuer)?;
    let der = tokio::task::spawn_blocking(move || {
        params
            .signed_by(&loaded.cert, &loaded.key)
            .map(|crl| crl.der().to_vec())
    })
    .await
    .map_err(|e| PkiError::crypto("CRL signing task", e))?
    .map_err(|e| PkiError::crypto("signing a CRL", e))?;
    let record = CrlRecord {
        version: RECORD_VERSION,
        number,
        der: crate::ca::base64_of(&der),
    };
    storage.put_json(&key, &record).await?;
    Ok(der)
}

/// The issuer's current CRL (DER), built if it has none yet.
pub(crate) async fn current(storage: &StorageView, issuer: &IssuerRecord) -> Result<Vec<u8>> {
    use base64::Engine as _;
    match storage
        .get_json::<CrlRecord>(&format!("{CRLS}{}", issuer.id))
        .await?
    {
        Some(rec) => base64::engine::general_purpose::STANDARD
            .decode(rec.der)
            .map_err(|e| PkiError::crypto("reading a stored CRL", e)),
        None => rebuild(storage, issuer).await,
    }
}
