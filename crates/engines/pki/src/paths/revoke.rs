//! Revocation: `pki/revoke` (by `serial_number`, or by `certificate` when it is stored or
//! signed by one of the mount's issuers), the default issuer's CRL (`crl` DER, `crl/pem`;
//! 204 while there is no issuer), `crl/rotate`, and `tidy` (expired certificates and
//! revocation entries past `safety_buffer`). A revocation is one record
//! (`revoked/<serial>`) and a rebuilt CRL of the certificate's issuer.

use std::time::Duration;

use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{format_rfc3339, input, now_unix, now_unix_nanos};
use secrethub_engine::{Request, Response, StorageView, TIDY_STARTED};
use secrethub_storage::{Storage as _, WriteOp};
use serde::Deserialize;
use serde_json::json;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::cert::{facts_of_pem, pem_to_der};
use crate::error::{PkiError, Result};
use crate::paths::answer;
use crate::paths::issuers::default_issuer;
use crate::records::{
    self, check_serial, CertRecord, RevokedRecord, CERTS, RECORD_VERSION, REVOKED,
};

#[derive(Deserialize, Default)]
#[serde(default)]
struct RevokeInput {
    serial_number: String,
    certificate: String,
}

pub(crate) async fn revoke(req: &Request) -> Result<Response> {
    let input: RevokeInput = input::decode(&req.body)?;
    let serial = match (input.serial_number.is_empty(), input.certificate.is_empty()) {
        (true, true) => {
            return Err(PkiError::invalid(
                "The serial number or certificate to revoke must be provided.",
            ))
        }
        (false, false) => {
            return Err(PkiError::invalid(
                "Must provide either the certificate or the serial to revoke; not both.",
            ))
        }
        (false, true) => check_serial(&input.serial_number)?,
        (true, false) => serial_of_certificate(&req.storage, &input.certificate).await?,
    };
    let rec = revoke_serial(&req.storage, &serial, false).await?;
    Ok(answer([
        (
            "revocation_time",
            json!((rec.revocation_time_nanos / 1_000_000_000) as i64),
        ),
        (
            "revocation_time_rfc3339",
            json!(format_rfc3339(rec.revocation_time_nanos)),
        ),
        ("state", json!("revoked")),
    ]))
}

/// The serial of a certificate given by a client, which must be one of ours: stored, or
/// signed by one of the mount's issuers (a `no_store` certificate). Its record is then
/// kept, so the CRL knows its issuer.
async fn serial_of_certificate(storage: &StorageView, pem: &str) -> Result<String> {
    let facts = facts_of_pem(pem)?;
    if let Some(stored) = records::cert(storage, &facts.serial).await? {
        if pem_to_der(&stored.certificate_pem)? == facts.der {
            return Ok(facts.serial);
        }
    }
    let (_, cert) = X509Certificate::from_der(&facts.der)
        .map_err(|_| PkiError::invalid("unable to parse the certificate"))?;
    for issuer in records::issuers(storage).await? {
        let issuer_der = pem_to_der(&issuer.certificate_pem)?;
        let Ok((_, issuer_cert)) = X509Certificate::from_der(&issuer_der) else {
            continue;
        };
        if cert
            .verify_signature(Some(issuer_cert.public_key()))
            .is_ok()
        {
            let record = CertRecord {
                version: RECORD_VERSION,
                certificate_pem: crate::cert::cert_pem(&facts.der),
                issuer_id: issuer.id,
                not_after: facts.not_after,
            };
            storage
                .put_json(
                    &format!("{CERTS}{}", records::serial_key(&facts.serial)),
                    &record,
                )
                .await?;
            return Ok(facts.serial);
        }
    }
    Err(PkiError::invalid(
        "certificate was not issued by this mount's issuers",
    ))
}

/// Revokes `serial` (idempotent: a revoked certificate keeps its first revocation time)
/// and rebuilds its issuer's CRL. `from_lease`: a lease's revocation, for which a
/// certificate already gone (tidied) counts as revoked.
pub(crate) async fn revoke_serial(
    storage: &StorageView,
    serial: &str,
    from_lease: bool,
) -> Result<RevokedRecord> {
    if let Some(done) = records::revoked(storage, serial).await? {
        return Ok(done);
    }
    let Some(cert) = records::cert(storage, serial).await? else {
        if from_lease {
            return Ok(RevokedRecord {
                version: RECORD_VERSION,
                serial_number: serial.to_string(),
                issuer_id: String::new(),
                revocation_time_nanos: now_unix_nanos(),
                not_after: 0,
            });
        }
        return Err(PkiError::invalid(format!(
            "certificate with serial {serial} not found."
        )));
    };
    let issuers = records::issuers(storage).await?;
    if let Some(issuer) = issuers.iter().find(|i| i.serial_number == serial) {
        return Err(PkiError::invalid(format!(
            "adding issuer (id: {}) to its own CRL is not allowed",
            issuer.id
        )));
    }
    let rec = RevokedRecord {
        version: RECORD_VERSION,
        serial_number: serial.to_string(),
        issuer_id: cert.issuer_id.clone(),
        revocation_time_nanos: now_unix_nanos(),
        not_after: cert.not_after,
    };
    storage
        .put_json(&format!("{REVOKED}{}", records::serial_key(serial)), &rec)
        .await?;
    if let Some(issuer) = issuers.iter().find(|i| i.id == cert.issuer_id) {
        crate::crl::rebuild(storage, issuer).await?;
    }
    tracing::info!(serial_number = %serial, issuer_id = %cert.issuer_id, "certificate revoked");
    Ok(rec)
}

/// `crl` (DER, `application/pkix-crl`) and `crl/pem` (`application/x-pem-file`).
pub(crate) async fn default_crl(req: &Request, pem: bool) -> Result<Response> {
    let content_type = if pem {
        "application/x-pem-file"
    } else {
        "application/pkix-crl"
    };
    let Some(issuer) = default_issuer(req).await? else {
        return Ok(Response::raw_with_status(204, content_type, Vec::new()));
    };
    let der = crate::crl::current(&req.storage, &issuer).await?;
    let body = if pem {
        crate::keys::pem_of("X509 CRL", &der).as_bytes().to_vec()
    } else {
        der
    };
    Ok(Response::raw(content_type, body))
}

/// `crl/rotate`: every issuer's CRL rebuilt.
pub(crate) async fn rotate(req: &Request) -> Result<Response> {
    for issuer in records::issuers(&req.storage).await? {
        crate::crl::rebuild(&req.storage, &issuer).await?;
    }
    Ok(answer([("success", json!(true))]))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TidyInput {
    tidy_cert_store: bool,
    tidy_revoked_certs: bool,
    #[serde(deserialize_with = "opt_duration")]
    safety_buffer: Option<Duration>,
}

/// `tidy`: certificates (`tidy_cert_store`) and revocation entries (`tidy_revoked_certs`)
/// whose certificate expired more than `safety_buffer` (72h by default) ago are removed;
/// CRLs are rebuilt when a revocation entry went. Done before answering Vault's 202.
pub(crate) async fn tidy(req: &Request) -> Result<Response> {
    let input: TidyInput = input::decode(&req.body)?;
    if !input.tidy_cert_store && !input.tidy_revoked_certs {
        return Err(PkiError::invalid(
            "at least one operation must be enabled for tidy to run",
        ));
    }
    let buffer = input
        .safety_buffer
        .unwrap_or(Duration::from_secs(72 * 3600));
    let cutoff = now_unix() - buffer.as_secs() as i64;
    let mut batch = Vec::new();
    let mut revoked_gone = false;
    if input.tidy_cert_store {
        // An issuer's own certificate stays while the issuer does.
        let issuer_keys: Vec<String> = records::issuers(&req.storage)
            .await?
            .iter()
            .map(|i| records::serial_key(&i.serial_number))
            .collect();
        for key in secrethub_storage::list_all(&req.storage, CERTS).await? {
            let full = format!("{CERTS}{key}");
            if let Some(rec) = req.storage.get_json::<CertRecord>(&full).await? {
                if rec.not_after < cutoff && !issuer_keys.contains(&key) {
                    batch.push(WriteOp::Delete { key: full });
                }
            }
        }
    }
    if input.tidy_revoked_certs {
        for key in secrethub_storage::list_all(&req.storage, REVOKED).await? {
            let full = format!("{REVOKED}{key}");
            if let Some(rec) = req.storage.get_json::<RevokedRecord>(&full).await? {
                if rec.not_after < cutoff {
                    batch.push(WriteOp::Delete { key: full });
                    revoked_gone = true;
                }
            }
        }
    }
    let removed = batch.len();
    if !batch.is_empty() {
        req.storage.apply(batch).await?;
    }
    if revoked_gone {
        for issuer in records::issuers(&req.storage).await? {
            crate::crl::rebuild(&req.storage, &issuer).await?;
        }
    }
    tracing::info!(removed, mount = %req.mount.path, "pki tidy finished");
    Ok(Response::accepted(vec![TIDY_STARTED.to_string()]))
}
