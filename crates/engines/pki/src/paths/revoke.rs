//! Revocation: `pki/revoke` (by `serial_number`, or by `certificate` when it is stored or
//! signed by one of the mount's issuers), the default issuer's CRL (`crl` DER, `crl/pem`;
//! 204 while there is no issuer), `crl/rotate` and the issuers' own CRLs. A revocation is one record
//! (`revoked/<serial>`) and a rebuilt CRL of the certificate's issuer.

use secrethub_common::{format_rfc3339, input, now_unix_nanos};
use secrethub_engine::{Request, Response, StorageView};
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

/// `issuer/:ref/crl` (`{"crl": PEM}`), `issuer/:ref/crl/pem` and `issuer/:ref/crl/der`.
pub(crate) async fn issuer_crl(req: &Request, reference: &str, format: &str) -> Result<Response> {
    let issuer = crate::paths::issuers::named(req, reference).await?;
    let der = crate::crl::current(&req.storage, &issuer).await?;
    match format {
        "" => Ok(answer([(
            "crl",
            json!(crate::keys::pem_of("X509 CRL", &der).as_str()),
        )])),
        "pem" => Ok(Response::raw(
            "application/x-pem-file",
            crate::keys::pem_of("X509 CRL", &der).as_bytes().to_vec(),
        )),
        "der" => Ok(Response::raw("application/pkix-crl", der)),
        _ => Err(PkiError::Engine(
            secrethub_engine::EngineError::UnsupportedPath,
        )),
    }
}

/// `crl/rotate`: every issuer's CRL rebuilt.
pub(crate) async fn rotate(req: &Request) -> Result<Response> {
    for issuer in records::issuers(&req.storage).await? {
        crate::crl::rebuild(&req.storage, &issuer).await?;
    }
    Ok(answer([("success", json!(true))]))
}
