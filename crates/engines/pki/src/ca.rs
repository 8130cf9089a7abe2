//! What root generation, intermediate CSRs and `root/sign-intermediate` share: their input
//! (subject, SANs, key, TTL, path length, formats), a CA certificate's rcgen parameters, the
//! mount's TTL rules for a CA, storing a new issuer (made the default when there is none,
//! with its first CRL), and answering a private key in Vault's forms.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyUsagePurpose, SerialNumber};
use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{random_uuid, Sensitive, UnixTime};
use secrethub_engine::Request;
use secrethub_storage::{Storage as _, WriteOp};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::cert::{at, random_serial};
use crate::error::{PkiError, Result};
use crate::keys::{KeySpec, PrivateKey, PrivateKeyFormat};
use crate::leaf::{add_urls, go_duration, push_subject, Names};
use crate::records::{
    self, CertRecord, IssuerRecord, IssuersConfig, UrlsConfig, CERTS, CONFIG_ISSUERS, ISSUERS,
    RECORD_VERSION,
};

/// Vault's warning when `config/urls` is empty.
pub(crate) const NO_AIA_WARNING: &str = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

/// Vault's warning for a CA certificate without a subject.
const NO_SUBJECT_WARNING: &str = "This issuer certificate was generated without a Subject; this makes it likely that issuing leaf certs with this certificate will cause TLS validation libraries to reject this certificate.";

#[derive(Deserialize)]
#[serde(default)]
pub(crate) struct CaInput {
    pub(crate) common_name: String,
    pub(crate) alt_names: Vec<String>,
    pub(crate) ip_sans: Vec<String>,
    pub(crate) uri_sans: Vec<String>,
    #[serde(deserialize_with = "opt_duration")]
    pub(crate) ttl: Option<Duration>,
    pub(crate) key_type: String,
    pub(crate) key_bits: u32,
    pub(crate) issuer_name: String,
    pub(crate) key_name: String,
    pub(crate) exclude_cn_from_sans: bool,
    pub(crate) ou: Vec<String>,
    pub(crate) organization: Vec<String>,
    pub(crate) country: Vec<String>,
    pub(crate) locality: Vec<String>,
    pub(crate) province: Vec<String>,
    pub(crate) format: String,
    pub(crate) private_key_format: String,
    pub(crate) max_path_length: i64,
    pub(crate) csr: String,
    pub(crate) use_csr_values: bool,
    pub(crate) issuer_ref: String,
}

impl Default for CaInput {
    fn default() -> Self {
        CaInput {
            common_name: String::new(),
            alt_names: Vec::new(),
            ip_sans: Vec::new(),
            uri_sans: Vec::new(),
            ttl: None,
            key_type: "rsa".into(),
            key_bits: 0,
            issuer_name: String::new(),
            key_name: String::new(),
            exclude_cn_from_sans: false,
            ou: Vec::new(),
            organization: Vec::new(),
            country: Vec::new(),
            locality: Vec::new(),
            province: Vec::new(),
            format: "pem".into(),
            private_key_format: String::new(),
            max_path_length: -1,
            csr: String::new(),
            use_csr_values: false,
            issuer_ref: String::new(),
        }
    }
}

/// Vault's `internal|exported` path segment: whether the key is answered.
pub(crate) fn exported(segment: &str) -> Result<bool> {
    match segment {
        "internal" => Ok(false),
        "exported" => Ok(true),
        "existing" | "kms" => Err(PkiError::invalid(format!(
            "{segment:?} keys are not supported"
        ))),
        _ => Err(PkiError::invalid(
            "the \"exported\" path parameter must be \"internal\", \"existing\", exported\" or \"kms\"",
        )),
    }
}

/// Vault's issuer and key names: letters, digits, `-`, `_` and `.`, not `default`.
pub(crate) fn check_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(PkiError::invalid(format!(
            "{what} name contained invalid characters"
        )));
    }
    if name == "default" {
        return Err(PkiError::invalid(format!("reserved {what} name: default")));
    }
    Ok(())
}

impl CaInput {
    pub(crate) fn decode(req: &Request) -> Result<CaInput> {
        let input: CaInput = secrethub_common::input::decode(&req.body)?;
        check_name(&input.issuer_name, "issuer")?;
        check_name(&input.key_name, "key")?;
        if !matches!(input.format.as_str(), "pem" | "der" | "pem_bundle") {
            return Err(PkiError::invalid(format!(
                "unknown format {:?}: pem, der or pem_bundle",
                input.format
            )));
        }
        PrivateKeyFormat::parse(Some(&input.private_key_format))?;
        Ok(input)
    }

    pub(crate) fn key_spec(&self) -> Result<KeySpec> {
        KeySpec::parse(&self.key_type, self.key_bits)
    }

    pub(crate) fn key_format(&self) -> PrivateKeyFormat {
        PrivateKeyFormat::parse(Some(&self.private_key_format)).unwrap_or(PrivateKeyFormat::Native)
    }

    /// The subject (common name and organisation fields) and SANs, with the no-subject
    /// warning.
    pub(crate) fn subject(
        &self,
        params: &mut CertificateParams,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        params.distinguished_name = rcgen::DistinguishedName::new();
        push_subject(
            &mut params.distinguished_name,
            [
                &self.country,
                &self.province,
                &self.locality,
                &self.organization,
                &self.ou,
            ],
        );
        if self.common_name.is_empty() {
            warnings.push(NO_SUBJECT_WARNING.into());
        } else {
            params
                .distinguished_name
                .push(DnType::CommonName, self.common_name.as_str());
        }
        let names = Names {
            // A CA's common name goes into its SANs only when it is a host name.
            exclude_cn_from_sans: self.exclude_cn_from_sans
                || self.common_name.contains(|c: char| c.is_whitespace()),
            common_name: self.common_name.clone(),
            alt_names: self.alt_names.clone(),
            ip_sans: crate::leaf::parse_ips(&self.ip_sans)?,
            uri_sans: self.uri_sans.clone(),
        };
        params.subject_alt_names = crate::leaf::sans_of(&names)?;
        Ok(())
    }

    /// A CA certificate's parameters: subject, a new serial, validity from 30 s ago, basic
    /// constraints with `max_path_length`, CertSign and CRLSign, the mount's URLs.
    pub(crate) fn ca_params(
        &self,
        now: UnixTime,
        not_after: UnixTime,
        urls: &UrlsConfig,
        warnings: &mut Vec<String>,
    ) -> Result<(CertificateParams, Vec<u8>)> {
        let mut params = CertificateParams::default();
        self.subject(&mut params, warnings)?;
        let serial = random_serial();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.not_before = at(now - 30)?;
        params.not_after = at(not_after)?;
        params.is_ca = if self.max_path_length < 0 {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::Ca(BasicConstraints::Constrained(
                self.max_path_length.min(255) as u8
            ))
        };
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.use_authority_key_identifier_extension = true;
        add_urls(&mut params, urls);
        Ok((params, serial))
    }
}

/// The warning Vault gives when `config/urls` is empty.
pub(crate) fn aia_warning(urls: &UrlsConfig, warnings: &mut Vec<String>) {
    if urls.issuing_certificates.is_empty()
        && urls.crl_distribution_points.is_empty()
        && urls.ocsp_servers.is_empty()
    {
        warnings.push(NO_AIA_WARNING.into());
    }
}

/// A CA's TTL: the one asked for, else the mount's default, capped at the mount's maximum
/// with Vault's warning.
pub(crate) fn mount_ttl(
    req: &Request,
    requested: Option<Duration>,
    warnings: &mut Vec<String>,
) -> Duration {
    let nonzero = |d: Duration| {
        if d.is_zero() {
            Duration::from_secs(768 * 3600)
        } else {
            d
        }
    };
    let mount_max = nonzero(req.mount.max_lease_ttl);
    let ttl = requested
        .filter(|t| !t.is_zero())
        .unwrap_or(nonzero(req.mount.default_lease_ttl));
    if ttl > mount_max {
        warnings.push(format!(
            "TTL {:?} is longer than permitted maxTTL {:?}, so maxTTL is being used",
            go_duration(ttl),
            go_duration(mount_max)
        ));
        return mount_max;
    }
    ttl
}

/// What a new issuer is made of.
pub(crate) struct NewIssuer<'a> {
    pub(crate) name: &'a str,
    pub(crate) key_id: Option<String>,
    pub(crate) key_name: &'a str,
    pub(crate) certificate_pem: String,
    pub(crate) serial_number: String,
    pub(crate) not_after: UnixTime,
    pub(crate) key: &'a PrivateKey,
    pub(crate) ca_chain: Vec<String>,
}

/// Stores a new issuer with its key and its certificate (by serial), makes it the default
/// when there is none, and signs its first CRL.
pub(crate) async fn store_issuer(req: &Request, new: NewIssuer<'_>) -> Result<IssuerRecord> {
    let existing = records::issuers(&req.storage).await?;
    if !new.name.is_empty() && existing.iter().any(|i| i.name == new.name) {
        return Err(PkiError::invalid("issuer name already in use"));
    }
    let record = IssuerRecord {
        version: RECORD_VERSION,
        id: random_uuid(),
        name: new.name.to_string(),
        key_id: new.key_id.unwrap_or_else(random_uuid),
        key_name: new.key_name.to_string(),
        certificate_pem: new.certificate_pem.clone(),
        serial_number: new.serial_number.clone(),
        not_after: new.not_after,
        key_type: new.key.spec.kind.as_str().into(),
        key_bits: new.key.spec.bits,
        private_key: Sensitive::new(base64_of(new.key.pkcs8())),
        leaf_not_after_behavior: "err".into(),
        ca_chain: new.ca_chain,
    };
    let cert_record = CertRecord {
        version: RECORD_VERSION,
        certificate_pem: new.certificate_pem,
        issuer_id: record.id.clone(),
        not_after: new.not_after,
    };
    let mut batch = vec![
        put(format!("{ISSUERS}{}", record.id), &record)?,
        put(
            format!("{CERTS}{}", records::serial_key(&new.serial_number)),
            &cert_record,
        )?,
    ];
    let config = records::issuers_config(&req.storage).await?;
    if config.default.is_empty() || !existing.iter().any(|i| i.id == config.default) {
        let config = IssuersConfig {
            default: record.id.clone(),
            ..config
        };
        batch.push(put(CONFIG_ISSUERS.into(), &config)?);
    }
    req.storage.apply(batch).await?;
    crate::crl::rebuild(&req.storage, &record).await?;
    crate::crl::schedule(req, &record.id).await?;
    Ok(record)
}

/// Adds `private_key` and `private_key_type` to an answer, in Vault's `format` (`der`:
/// base64 DER) and `private_key_format`; `pem_bundle` puts the key before the certificate.
pub(crate) fn answer_key(
    data: &mut secrethub_common::JsonMap,
    key: &PrivateKey,
    format: &str,
    key_format: PrivateKeyFormat,
) -> Result<()> {
    let key_text = match format {
        "der" => base64_of(&key_der(key, key_format)?),
        _ => key.to_pem(key_format)?.trim_end().to_string(),
    };
    if format == "pem_bundle" {
        if let Some(cert) = data.get("certificate").and_then(|c| c.as_str()) {
            let bundle = format!("{key_text}\n{cert}");
            data.insert("certificate".into(), json!(bundle));
        }
    }
    data.insert("private_key".into(), json!(key_text));
    data.insert("private_key_type".into(), json!(key.spec.kind.as_str()));
    Ok(())
}

/// The key's DER in `format` (for `format=der`).
fn key_der(key: &PrivateKey, format: PrivateKeyFormat) -> Result<Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let pem = key.to_pem(format)?;
    let body: Zeroizing<String> =
        Zeroizing::new(pem.lines().filter(|l| !l.starts_with("-----")).collect());
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|e| PkiError::crypto("encoding a key", e))
}

pub(crate) fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A JSON record as one write of a batch.
pub(crate) fn put<T: serde::Serialize>(key: String, value: &T) -> Result<WriteOp> {
    let value = serde_json::to_vec(value).map_err(|e| PkiError::crypto("encoding a record", e))?;
    Ok(WriteOp::Put { key, value })
}

/// The generated key and certificate of a new CA, made on the blocking pool.
pub(crate) async fn generate_self_signed(
    spec: KeySpec,
    params: CertificateParams,
) -> Result<(PrivateKey, Vec<u8>)> {
    tokio::task::spawn_blocking(move || -> Result<(PrivateKey, Vec<u8>)> {
        let key = PrivateKey::generate(spec)?;
        let pair = key.key_pair()?;
        let cert = params
            .self_signed(&pair)
            .map_err(|e| PkiError::crypto("signing a root certificate", e))?;
        Ok((key, cert.der().to_vec()))
    })
    .await
    .map_err(|e| PkiError::crypto("key generation task", e))?
}

/// Deletes `keys` of the mount's storage in one batch.
pub(crate) async fn delete_keys(req: &Request, keys: Vec<String>) -> Result<()> {
    let batch = keys
        .into_iter()
        .map(|key| WriteOp::Delete { key })
        .collect();
    req.storage.apply(batch).await?;
    Ok(())
}
