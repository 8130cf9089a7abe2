//! Intermediate CAs: `intermediate/generate/internal|exported` (a new key, kept under
//! `keys/` until its certificate comes, and a CSR), `root/sign-intermediate` (a CA
//! certificate for a CSR, signed by this mount's issuer) and `intermediate/set-signed` (the
//! signed certificate, with its chain, becomes an issuer with the waiting key).

use std::time::Duration;

use rcgen::CertificateParams;
use secrethub_common::{now_unix, now_unix_nanos, random_uuid, Sensitive};
use secrethub_engine::{Request, Response};
use serde_json::json;

use crate::ca::{self, CaInput};
use crate::cert::{cert_pem, format_serial, pem_to_der, LoadedIssuer};
use crate::csr::Csr;
use crate::error::{PkiError, Result};
use crate::keys::PrivateKey;
use crate::leaf::TtlLimits;
use crate::paths::issuers::{chain_of, named};
use crate::records::{self, CertRecord, KeyRecord, CERTS, KEYS, RECORD_VERSION};

pub(crate) async fn generate(req: &Request, exported: &str) -> Result<Response> {
    let exported = ca::exported(exported)?;
    let input = CaInput::decode(req)?;
    let spec = input.key_spec()?;
    let mut warnings = Vec::new();
    let mut params = CertificateParams::default();
    input.subject(&mut params, &mut warnings)?;
    let (key, csr) = tokio::task::spawn_blocking(move || -> Result<(PrivateKey, String)> {
        let key = PrivateKey::generate(spec)?;
        let csr = params
            .serialize_request(&key.key_pair()?)
            .and_then(|r| r.pem())
            .map_err(|e| PkiError::crypto("making a CSR", e))?;
        Ok((key, csr))
    })
    .await
    .map_err(|e| PkiError::crypto("key generation task", e))??;
    let record = KeyRecord {
        version: RECORD_VERSION,
        id: random_uuid(),
        name: input.key_name.clone(),
        key_type: spec.kind.as_str().into(),
        key_bits: spec.bits,
        private_key: Sensitive::new(ca::base64_of(key.pkcs8())),
    };
    req.storage
        .put_json(&format!("{KEYS}{}", record.id), &record)
        .await?;
    let urls = crate::paths::config::urls(req).await?;
    ca::aia_warning(&urls, &mut warnings);
    let shown_csr = match input.format.as_str() {
        "der" => ca::base64_of(&pem_to_der(&csr)?),
        _ => csr.trim_end().to_string(),
    };
    let mut response =
        crate::paths::answer([("csr", json!(shown_csr)), ("key_id", json!(record.id))]);
    if exported {
        let data = response.data.get_or_insert_with(Default::default);
        ca::answer_key(data, &key, &input.format, input.key_format())?;
    }
    response.warnings = warnings;
    Ok(response)
}

/// `root/sign-intermediate`: a CA certificate for the CSR's key. The subject is the request's
/// (`common_name`, organisation fields) unless `use_csr_values`, or when it names none.
/// `path_issuer`: the issuer named by `issuer/:ref/sign-intermediate`, else `issuer_ref`.
pub(crate) async fn sign(req: &Request, path_issuer: &str) -> Result<Response> {
    let mut input = CaInput::decode(req)?;
    let csr = Csr::parse(&input.csr)?;
    if input.use_csr_values || input.common_name.is_empty() {
        input.common_name = csr.names.common_name.clone();
    }
    if input.use_csr_values {
        input.alt_names.extend(csr.names.alt_names.iter().cloned());
        input.uri_sans.extend(csr.names.uri_sans.iter().cloned());
        input
            .ip_sans
            .extend(csr.names.ip_sans.iter().map(|ip| ip.to_string()));
    }
    let issuer_ref = match (path_issuer, input.issuer_ref.as_str()) {
        ("", "") => "default",
        ("", given) => given,
        (path, _) => path,
    };
    let issuer = named(req, issuer_ref).await?;
    let mut warnings = Vec::new();
    let ttl = ca::mount_ttl(req, input.ttl, &mut warnings);
    let validity = TtlLimits {
        requested: Some(ttl),
        role_ttl: Duration::ZERO,
        role_max_ttl: ttl,
        mount_default: ttl,
        mount_max: ttl,
        not_before_duration: Duration::from_secs(30),
        issuer_not_after: issuer.not_after,
        past_issuer: issuer.leaf_not_after_behavior.clone(),
        fixed_end: None,
    }
    .resolve(now_unix_nanos())?;
    let urls = crate::paths::config::urls(req).await?;
    let (params, serial) = input.ca_params(now_unix(), validity.not_after, &urls, &mut warnings)?;
    ca::aia_warning(&urls, &mut warnings);
    let loaded = LoadedIssuer::load(&issuer)?;
    let cert = params
        .signed_by(&csr.public_key, &loaded.cert, &loaded.key)
        .map_err(|e| PkiError::crypto("signing an intermediate", e))?;
    let der = cert.der().to_vec();
    let pem = cert_pem(&der);
    let serial_number = format_serial(&serial);
    let record = CertRecord {
        version: RECORD_VERSION,
        certificate_pem: pem.clone(),
        issuer_id: issuer.id.clone(),
        not_after: validity.not_after,
    };
    req.storage
        .put_json(
            &format!("{CERTS}{}", records::serial_key(&serial_number)),
            &record,
        )
        .await?;
    let trimmed = |p: &str| p.trim_end().to_string();
    let mut chain = vec![trimmed(&pem)];
    chain.extend(chain_of(&issuer).iter().map(|p| trimmed(p)));
    let mut response = crate::paths::answer([
        ("ca_chain", json!(chain)),
        ("certificate", json!(trimmed(&pem))),
        ("expiration", json!(validity.not_after)),
        ("issuing_ca", json!(trimmed(&issuer.certificate_pem))),
        ("serial_number", json!(serial_number)),
    ]);
    warnings.extend(validity.warnings);
    response.warnings = warnings;
    Ok(response)
}

/// `intermediate/set-signed`: the first certificate of `certificate` (a PEM bundle, the
/// rest its chain) becomes an issuer with the waiting key whose public key it carries
/// (`paths/import.rs`).
pub(crate) async fn set_signed(req: &Request) -> Result<Response> {
    let bundle: String = req.field("certificate").ok().flatten().unwrap_or_default();
    crate::paths::import::import(req, &bundle).await
}
