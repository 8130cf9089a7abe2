//! `pki/issue/:role` (a new key made here), `pki/sign/:role` (a CSR) and
//! `pki/sign-verbatim[/:role]` (a CSR's names as they are): the role's name checks, TTLs
//! and usages, signed by the role's issuer, stored by serial unless the role says
//! `no_store`, with a lease when it says `generate_lease`.

use std::time::Duration;

use rcgen::{PublicKeyData, SubjectPublicKeyInfo};
use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{input, now_unix_nanos};
use secrethub_engine::{LeaseTerms, NewLease, Request, Response};
use serde::Deserialize;
use serde_json::json;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;

use crate::cert::{cert_pem, format_serial, LoadedIssuer};
use crate::error::{PkiError, Result};
use crate::keys::{KeyKind, PrivateKey, PrivateKeyFormat};
use crate::leaf::{leaf_params, parse_ips, Names, TtlLimits, Usage};
use crate::names;
use crate::paths::roles::{load_role, RoleRecord};
use crate::paths::root::{base64_of, key_der};
use crate::records::{CertRecord, IssuerRecord, CERTS, RECORD_VERSION};

#[derive(Deserialize, Default)]
#[serde(default)]
struct IssueInput {
    common_name: String,
    alt_names: Vec<String>,
    ip_sans: Vec<String>,
    uri_sans: Vec<String>,
    #[serde(deserialize_with = "opt_duration")]
    ttl: Option<Duration>,
    format: String,
    private_key_format: String,
    exclude_cn_from_sans: bool,
    csr: String,
}

impl IssueInput {
    fn names(&self) -> Result<Names> {
        Ok(Names {
            common_name: self.common_name.trim().to_string(),
            alt_names: self.alt_names.clone(),
            ip_sans: parse_ips(&self.ip_sans)?,
            uri_sans: self.uri_sans.clone(),
            exclude_cn_from_sans: self.exclude_cn_from_sans,
        })
    }

    fn format(&self) -> Result<&str> {
        match self.format.as_str() {
            "" => Ok("pem"),
            f @ ("pem" | "der" | "pem_bundle") => Ok(f),
            other => Err(PkiError::invalid(format!(
                "unknown format {other:?}: pem, der or pem_bundle"
            ))),
        }
    }
}

async fn role(req: &Request, name: &str) -> Result<RoleRecord> {
    load_role(&req.storage, name)
        .await?
        .ok_or_else(|| PkiError::invalid(format!("unknown role: {name}")))
}

/// Vault's message when a role needs a common name and has none.
pub(crate) const CN_REQUIRED: &str = "the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false";

fn check_role_names(role: &RoleRecord, names: &Names) -> Result<()> {
    if names.common_name.is_empty() && role.require_cn {
        return Err(PkiError::invalid(CN_REQUIRED));
    }
    names::check_names(role, &names.common_name, &names.alt_names)?;
    names::check_ip_sans(role, &names.ip_sans)?;
    names::check_uri_sans(role, &names.uri_sans)
}

pub(crate) async fn issue(req: &Request, role_name: &str) -> Result<Response> {
    let role = role(req, role_name).await?;
    let spec = role.key_spec()?.ok_or_else(|| {
        PkiError::invalid(
            "role key type \"any\" not allowed for issuing certificates, only signing",
        )
    })?;
    let input: IssueInput = input::decode(&req.body)?;
    let names = input.names()?;
    check_role_names(&role, &names)?;
    let key_format = PrivateKeyFormat::parse(Some(&input.private_key_format))?;
    let format = input.format()?.to_string();
    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(spec))
        .await
        .map_err(|e| PkiError::crypto("key generation task", e))??;
    let pair = key.key_pair()?;
    let mut response = sign_and_store(req, Some(&role), &names, input.ttl, &pair, &format).await?;
    let data = response.data.get_or_insert_with(Default::default);
    let key_text = match format.as_str() {
        "der" => base64_of(&key_der(&key, key_format)?),
        _ => key.to_pem(key_format)?.trim_end().to_string(),
    };
    if format == "pem_bundle" {
        if let Some(cert) = data.get("certificate").and_then(|c| c.as_str()) {
            let bundle = format!("{key_text}\n{cert}");
            data.insert("certificate".into(), json!(bundle));
        }
    }
    data.insert("private_key".into(), json!(key_text));
    data.insert("private_key_type".into(), json!(spec.kind.as_str()));
    Ok(response)
}

pub(crate) async fn sign(req: &Request, role_name: &str) -> Result<Response> {
    let role = role(req, role_name).await?;
    let input: IssueInput = input::decode(&req.body)?;
    let csr = Csr::parse(&input.csr)?;
    if let Some(spec) = role.key_spec()? {
        if csr.kind != spec.kind {
            return Err(PkiError::invalid(format!(
                "role requires keys of type {}",
                spec.kind.as_str()
            )));
        }
    }
    let mut names = input.names()?;
    if names.common_name.is_empty() && role.use_csr_common_name {
        names.common_name = csr.names.common_name.clone();
    }
    if role.use_csr_sans {
        names.alt_names.extend(csr.names.alt_names.iter().cloned());
        names.ip_sans.extend(csr.names.ip_sans.iter().copied());
        names.uri_sans.extend(csr.names.uri_sans.iter().cloned());
    }
    check_role_names(&role, &names)?;
    let format = input.format()?.to_string();
    sign_and_store(
        req,
        Some(&role),
        &names,
        input.ttl,
        &csr.public_key,
        &format,
    )
    .await
}

pub(crate) async fn sign_verbatim(req: &Request, role_name: &str) -> Result<Response> {
    let role = if role_name.is_empty() {
        None
    } else {
        Some(role(req, role_name).await?)
    };
    let input: IssueInput = input::decode(&req.body)?;
    let csr = Csr::parse(&input.csr)?;
    let format = input.format()?.to_string();
    sign_and_store(
        req,
        role.as_ref(),
        &csr.names,
        input.ttl,
        &csr.public_key,
        &format,
    )
    .await
}

/// Signs a leaf for `public_key` under the role's issuer, stores it and answers Vault's
/// fields (without the private key).
async fn sign_and_store(
    req: &Request,
    role: Option<&RoleRecord>,
    names: &Names,
    requested_ttl: Option<Duration>,
    public_key: &(impl PublicKeyData + Sync),
    format: &str,
) -> Result<Response> {
    let issuer_ref = role.map_or("default", |r| r.issuer_ref.as_str());
    let issuer: IssuerRecord = crate::paths::issuers::named(req, issuer_ref).await?;
    let default_role = RoleRecord::default();
    let limits = role.unwrap_or(&default_role);
    let validity = TtlLimits {
        requested: requested_ttl,
        role_ttl: Duration::from_secs(limits.ttl),
        role_max_ttl: Duration::from_secs(limits.max_ttl),
        mount_default: req.mount.default_lease_ttl,
        mount_max: req.mount.max_lease_ttl,
        not_before_duration: Duration::from_secs(limits.not_before_duration),
        issuer_not_after: issuer.not_after,
    }
    .resolve(now_unix_nanos())?;
    let usage = Usage::of_role(limits);
    let urls = crate::paths::config::urls(req).await?;
    let (params, serial) = leaf_params(names, role, &usage, &validity, &urls)?;
    let loaded = LoadedIssuer::load(&issuer)?;
    let cert = params
        .signed_by(public_key, &loaded.cert, &loaded.key)
        .map_err(|e| PkiError::crypto("signing a certificate", e))?;
    let der = cert.der().to_vec();
    let pem = cert_pem(&der);
    let serial_number = format_serial(&serial);
    let store = !role.is_some_and(|r| r.no_store);
    if store {
        let record = CertRecord {
            version: RECORD_VERSION,
            certificate_pem: pem.clone(),
            issuer_id: issuer.id.clone(),
            not_after: validity.not_after,
        };
        let key = format!("{CERTS}{}", crate::records::serial_key(&serial_number));
        req.storage.put_json(&key, &record).await?;
    }
    let issuing_ca = issuer.certificate_pem.trim_end().to_string();
    let (cert_text, ca_text) = match format {
        "der" => (
            base64_of(&der),
            base64_of(&crate::cert::pem_to_der(&issuer.certificate_pem)?),
        ),
        _ => (pem.trim_end().to_string(), issuing_ca),
    };
    let mut response = crate::paths::answer([
        ("ca_chain", json!([ca_text])),
        ("certificate", json!(cert_text)),
        ("expiration", json!(validity.not_after)),
        ("issuing_ca", json!(ca_text)),
        ("not_before", json!(validity.not_before)),
        ("serial_number", json!(serial_number)),
    ]);
    response.warnings = validity.warnings;
    if role.is_some_and(|r| r.generate_lease) && store {
        response.lease = Some(NewLease {
            internal: json!({ "serial_number": serial_number }),
            terms: LeaseTerms {
                ttl: validity.ttl,
                max_ttl: validity.ttl,
                renewable: false,
            },
        });
    }
    Ok(response)
}

/// A parsed, signature-checked CSR: its key and the names it asks for.
struct Csr {
    public_key: SubjectPublicKeyInfo,
    kind: KeyKind,
    names: Names,
}

impl Csr {
    fn parse(pem: &str) -> Result<Csr> {
        if pem.trim().is_empty() {
            return Err(PkiError::invalid("csr is required"));
        }
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
            .map_err(|_| PkiError::invalid("csr contains no data"))?;
        let (_, csr) = X509CertificationRequest::from_der(&block.contents)
            .map_err(|_| PkiError::invalid("certificate request could not be parsed"))?;
        csr.verify_signature()
            .map_err(|_| PkiError::invalid("request signature invalid"))?;
        let info = &csr.certification_request_info;
        let public_key = SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
            .map_err(|_| PkiError::invalid("unsupported key type in the CSR"))?;
        let kind = key_kind_of(public_key.algorithm())?;
        let mut names = Names {
            common_name: info
                .subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or_default()
                .to_string(),
            ..Names::default()
        };
        for ext in csr.requested_extensions().into_iter().flatten() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(n) | GeneralName::RFC822Name(n) => {
                            names.alt_names.push(n.to_string())
                        }
                        GeneralName::URI(u) => names.uri_sans.push(u.to_string()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_of(b) {
                                names.ip_sans.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(Csr {
            public_key,
            kind,
            names,
        })
    }
}

fn key_kind_of(alg: &rcgen::SignatureAlgorithm) -> Result<KeyKind> {
    if alg == &rcgen::PKCS_RSA_SHA256
        || alg == &rcgen::PKCS_RSA_SHA384
        || alg == &rcgen::PKCS_RSA_SHA512
    {
        Ok(KeyKind::Rsa)
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok(KeyKind::Ec)
    } else if alg == &rcgen::PKCS_ED25519 {
        Ok(KeyKind::Ed25519)
    } else {
        Err(PkiError::invalid("unsupported key type in the CSR"))
    }
}

fn ip_of(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(Into::into),
        16 => <[u8; 16]>::try_from(bytes).ok().map(Into::into),
        _ => None,
    }
}
