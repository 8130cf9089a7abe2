//! `pki/root/generate/internal|exported`: a new self-signed root CA (key made here, on the
//! blocking pool), stored as an issuer, made the default when there is none, with an empty
//! CRL. `exported` answers the private key as well. `DELETE pki/root` (sudo) deletes every
//! issuer, as Vault does.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyUsagePurpose, SerialNumber};
use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{input, now_unix_nanos, random_uuid, Sensitive};
use secrethub_engine::{Request, Response};
use secrethub_storage::{Storage as _, WriteOp};
use serde::Deserialize;
use serde_json::json;

use crate::cert::{at, cert_pem, format_serial, random_serial};
use crate::error::{PkiError, Result};
use crate::keys::{KeySpec, PrivateKey, PrivateKeyFormat};
use crate::leaf::{add_urls, go_duration, Names};
use crate::records::{
    self, CertRecord, IssuerRecord, IssuersConfig, CERTS, CONFIG_ISSUERS, ISSUERS, RECORD_VERSION,
};

/// Vault's warning when `config/urls` is empty.
pub(crate) const NO_AIA_WARNING: &str = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";

#[derive(Deserialize)]
#[serde(default)]
struct RootInput {
    common_name: String,
    alt_names: Vec<String>,
    ip_sans: Vec<String>,
    uri_sans: Vec<String>,
    #[serde(deserialize_with = "opt_duration")]
    ttl: Option<Duration>,
    key_type: String,
    key_bits: u32,
    issuer_name: String,
    key_name: String,
    exclude_cn_from_sans: bool,
    ou: Vec<String>,
    organization: Vec<String>,
    country: Vec<String>,
    locality: Vec<String>,
    province: Vec<String>,
    format: String,
    private_key_format: String,
    max_path_length: i64,
}

impl Default for RootInput {
    fn default() -> Self {
        RootInput {
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
        }
    }
}

/// Vault's issuer and key names: letters, digits, `-`, `_` and `.`, not `default`.
fn check_name(name: &str, what: &str) -> Result<()> {
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

pub(crate) async fn generate(req: &Request, exported: &str) -> Result<Response> {
    let exported = match exported {
        "internal" => false,
        "exported" => true,
        "existing" | "kms" => {
            return Err(PkiError::invalid(format!(
                "generating a root with {exported:?} keys is not supported"
            )))
        }
        _ => {
            return Err(PkiError::invalid(
                "the \"exported\" path parameter must be \"internal\", \"existing\", exported\" or \"kms\"",
            ))
        }
    };
    let input: RootInput = input::decode(&req.body)?;
    check_name(&input.issuer_name, "issuer")?;
    check_name(&input.key_name, "key")?;
    let format = input.format.as_str();
    if !matches!(format, "pem" | "der" | "pem_bundle") {
        return Err(PkiError::invalid(format!(
            "unknown format {format:?}: pem, der or pem_bundle"
        )));
    }
    let key_format = PrivateKeyFormat::parse(Some(&input.private_key_format))?;
    let spec = KeySpec::parse(&input.key_type, input.key_bits)?;
    let existing = records::issuers(&req.storage).await?;
    if !input.issuer_name.is_empty() && existing.iter().any(|i| i.name == input.issuer_name) {
        return Err(PkiError::invalid("issuer name already in use"));
    }

    let mut warnings = Vec::new();
    let mount_default = nonzero(req.mount.default_lease_ttl);
    let mount_max = nonzero(req.mount.max_lease_ttl);
    let mut ttl = input.ttl.filter(|t| !t.is_zero()).unwrap_or(mount_default);
    if ttl > mount_max {
        warnings.push(format!(
            "TTL {:?} is longer than permitted maxTTL {:?}, so maxTTL is being used",
            go_duration(ttl),
            go_duration(mount_max)
        ));
        ttl = mount_max;
    }
    let now = (now_unix_nanos() / 1_000_000_000) as i64;
    let not_after = now + ttl.as_secs() as i64;

    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    crate::leaf::push_subject(
        &mut params.distinguished_name,
        [
            &input.country,
            &input.province,
            &input.locality,
            &input.organization,
            &input.ou,
        ],
    );
    if input.common_name.is_empty() {
        warnings.push("This issuer certificate was generated without a Subject; this makes it likely that issuing leaf certs with this certificate will cause TLS validation libraries to reject this certificate.".into());
    } else {
        params
            .distinguished_name
            .push(DnType::CommonName, input.common_name.as_str());
    }
    let names = Names {
        // A CA's common name goes into its SANs only when it is a host name.
        exclude_cn_from_sans: input.exclude_cn_from_sans
            || input.common_name.contains(|c: char| c.is_whitespace()),
        common_name: input.common_name.clone(),
        alt_names: input.alt_names.clone(),
        ip_sans: crate::leaf::parse_ips(&input.ip_sans)?,
        uri_sans: input.uri_sans.clone(),
    };
    params.subject_alt_names = crate::leaf::sans_of(&names)?;
    let serial = random_serial();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = at(now - 30)?;
    params.not_after = at(not_after)?;
    params.is_ca = if input.max_path_length < 0 {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::Ca(BasicConstraints::Constrained(
            input.max_path_length.min(255) as u8,
        ))
    };
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    let urls = crate::paths::config::urls(req).await?;
    add_urls(&mut params, &urls);
    if urls.issuing_certificates.is_empty()
        && urls.crl_distribution_points.is_empty()
        && urls.ocsp_servers.is_empty()
    {
        warnings.push(NO_AIA_WARNING.into());
    }

    let (key, der) = tokio::task::spawn_blocking(move || -> Result<(PrivateKey, Vec<u8>)> {
        let key = PrivateKey::generate(spec)?;
        let pair = key.key_pair()?;
        let cert = params
            .self_signed(&pair)
            .map_err(|e| PkiError::crypto("signing a root certificate", e))?;
        Ok((key, cert.der().to_vec()))
    })
    .await
    .map_err(|e| PkiError::crypto("key generation task", e))??;

    let pem = cert_pem(&der);
    let serial_number = format_serial(&serial);
    let record = IssuerRecord {
        version: RECORD_VERSION,
        id: random_uuid(),
        name: input.issuer_name.clone(),
        key_id: random_uuid(),
        key_name: input.key_name.clone(),
        certificate_pem: pem.clone(),
        serial_number: serial_number.clone(),
        not_after,
        key_type: spec.kind.as_str().into(),
        key_bits: spec.bits,
        private_key: Sensitive::new(base64_of(key.pkcs8())),
    };
    let cert_record = CertRecord {
        version: RECORD_VERSION,
        certificate_pem: pem.clone(),
        issuer_id: record.id.clone(),
        not_after,
    };
    let mut batch = vec![
        put(format!("{ISSUERS}{}", record.id), &record)?,
        put(
            format!("{CERTS}{}", records::serial_key(&serial_number)),
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

    let shown_cert = match format {
        "der" => base64_of(&der),
        _ => pem.trim_end().to_string(),
    };
    let mut response = crate::paths::answer([
        ("certificate", json!(shown_cert)),
        ("expiration", json!(not_after)),
        ("issuer_id", json!(record.id)),
        ("issuer_name", json!(record.name)),
        ("issuing_ca", json!(shown_cert)),
        ("key_id", json!(record.key_id)),
        ("key_name", json!(record.key_name)),
        ("serial_number", json!(serial_number)),
    ]);
    if exported {
        let data = response.data.get_or_insert_with(Default::default);
        let key_text = match format {
            "der" => base64_of(key_der(&key, key_format)?.as_slice()),
            _ => key.to_pem(key_format)?.trim_end().to_string(),
        };
        if format == "pem_bundle" {
            data.insert(
                "certificate".into(),
                json!(format!("{key_text}\n{shown_cert}")),
            );
        }
        data.insert("private_key".into(), json!(key_text));
        data.insert("private_key_type".into(), json!(spec.kind.as_str()));
    }
    response.warnings = warnings;
    Ok(response)
}

/// The key's DER in `format` (for `format=der`).
pub(crate) fn key_der(
    key: &PrivateKey,
    format: PrivateKeyFormat,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let pem = key.to_pem(format)?;
    let body: zeroize::Zeroizing<String> =
        zeroize::Zeroizing::new(pem.lines().filter(|l| !l.starts_with("-----")).collect());
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map(zeroize::Zeroizing::new)
        .map_err(|e| PkiError::crypto("encoding a key", e))
}

pub(crate) fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn nonzero(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(768 * 3600)
    } else {
        d
    }
}

pub(crate) fn put<T: serde::Serialize>(key: String, value: &T) -> Result<WriteOp> {
    let value = serde_json::to_vec(value).map_err(|e| PkiError::crypto("encoding a record", e))?;
    Ok(WriteOp::Put { key, value })
}

/// `DELETE pki/root`: every issuer, its CRL and the default go (certificates stay).
pub(crate) async fn delete(req: &Request) -> Result<Response> {
    let ids = secrethub_storage::list_all(&req.storage, ISSUERS).await?;
    let mut batch: Vec<WriteOp> = ids
        .iter()
        .flat_map(|id| {
            [
                WriteOp::Delete {
                    key: format!("{ISSUERS}{id}"),
                },
                WriteOp::Delete {
                    key: format!("{}{id}", crate::crl::CRLS),
                },
            ]
        })
        .collect();
    batch.push(WriteOp::Delete {
        key: CONFIG_ISSUERS.into(),
    });
    req.storage.apply(batch).await?;
    Ok(Response {
        warnings: vec!["DELETE /root deletes all keys and issuers; prefer the new DELETE /key/:key_ref and DELETE /issuer/:issuer_ref for finer granularity, unless removal of all keys and issuers is desired.".into()],
        ..Response::default()
    })
}
