//! Certificate revocation lists: one per issuer, rebuilt (with the next CRL number) when an
//! issuer is made, on every revocation, on `crl/rotate` and after a tidy, and kept under
//! `crls/<issuer id>` so fetching one is a storage read. Valid for 72 hours, as Vault's.

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use secrethub_common::now_unix;
use secrethub_storage::StorageView;

use crate::cert::{at, serial_bytes, LoadedIssuer};
use crate::error::{PkiError, Result};
use crate::records::{self, CrlRecord, IssuerRecord, RevokedRecord, RECORD_VERSION, REVOKED};

pub(crate) const CRLS: &str = "crls/";

/// The timer that keeps an issuer's CRL from expiring: `crl-rebuild/<issuer id>`.
pub(crate) const TIMER_PREFIX: &str = "crl-rebuild/";

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
    let config = records::crl_config(storage).await?;
    let revoked = if config.disable {
        Vec::new()
    } else {
        revoked_of(storage, &issuer.id).await?
    };
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
    let next_update = now + config.expiry_secs();
    let params = CertificateRevocationListParams {
        this_update: at(now)?,
        next_update: at(next_update)?,
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
        next_update,
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

/// When the issuer's CRL is next due for a rebuild: its end less the grace period.
pub(crate) async fn due_at(storage: &StorageView, issuer_id: &str) -> Result<i64> {
    let config = records::crl_config(storage).await?;
    let next_update = storage
        .get_json::<CrlRecord>(&format!("{CRLS}{issuer_id}"))
        .await?
        .map_or(0, |r| r.next_update);
    // A grace period as long as the lifetime would rebuild without end.
    let grace = config.grace_secs().min(config.expiry_secs() - 60).max(0);
    Ok(next_update - grace)
}

/// The rebuild timer of `issuer_id`: rebuilds the CRL once it is within its grace period
/// (or already expired), so a CRL never goes stale while nobody revokes; a timer of an
/// issuer that is gone is dropped.
pub(crate) async fn on_timer(
    storage: &StorageView,
    issuer_id: &str,
) -> Result<secrethub_engine::TimerOutcome> {
    use secrethub_engine::TimerOutcome;
    let Some(issuer) = records::issuer(storage, issuer_id).await? else {
        return Ok(TimerOutcome::NotDue { next: None });
    };
    let due = due_at(storage, issuer_id).await?;
    if now_unix() < due {
        return Ok(TimerOutcome::NotDue { next: Some(due) });
    }
    rebuild(storage, &issuer).await?;
    Ok(TimerOutcome::Ran {
        next: Some(due_at(storage, issuer_id).await?),
    })
}

/// Sets the rebuild timer of `issuer_id` to its CRL's due time.
pub(crate) async fn schedule(req: &secrethub_engine::Request, issuer_id: &str) -> Result<()> {
    let due = due_at(&req.storage, issuer_id).await?;
    req.schedule(&format!("{TIMER_PREFIX}{issuer_id}"), due)
        .await
        .map_err(PkiError::Engine)
}
