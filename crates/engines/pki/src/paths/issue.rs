//! `pki/issue/:role` (a new key made here), `pki/sign/:role` (a CSR) and
//! `pki/sign-verbatim[/:role]` (a CSR's names as they are): the role's name checks, TTLs
//! and usages, signed by the role's issuer, stored by serial unless the role says
//! `no_store`, with a lease when it says `generate_lease`.

use std::time::Duration;

use rcgen::PublicKeyData;
use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{input, now_unix_nanos};
use secrethub_engine::{LeaseTerms, NewLease, Request, Response};
use serde::Deserialize;
use serde_json::json;

use crate::ca::{answer_key, base64_of};
use crate::cert::{cert_pem, format_serial};
use crate::csr::Csr;
use crate::error::{PkiError, Result};
use crate::keys::{KeyKind, PrivateKey, PrivateKeyFormat};
use crate::leaf::{leaf_params, parse_ips, Names, TtlLimits, Usage};
use crate::names;
use crate::paths::roles::{load_role, RoleRecord};
use crate::records::{CertRecord, IssuerRecord, CERTS, RECORD_VERSION};
use crate::signers::Signers;

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
    not_after: String,
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

/// `issuer` names the issuer (`issuer/:ref/issue/:role`); empty: the role's `issuer_ref`.
pub(crate) async fn issue(
    req: &Request,
    signers: &Signers,
    issuer: &str,
    role_name: &str,
) -> Result<Response> {
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
    // An RSA key takes tens of milliseconds: off the async threads. An EC or Ed25519 key
    // takes tens of microseconds, less than handing it to the blocking pool and back.
    let (key, pair) = if spec.kind == KeyKind::Rsa {
        tokio::task::spawn_blocking(move || PrivateKey::generate_pair(spec))
            .await
            .map_err(|e| PkiError::crypto("key generation task", e))??
    } else {
        PrivateKey::generate_pair(spec)?
    };
    let mut response = sign_and_store(
        req,
        signers,
        issuer,
        Some(&role),
        &names,
        input.ttl,
        &input.not_after,
        &pair,
        &format,
    )
    .await?;
    let data = response.data.get_or_insert_with(Default::default);
    answer_key(data, &key, &format, key_format)?;
    Ok(response)
}

pub(crate) async fn sign(
    req: &Request,
    signers: &Signers,
    issuer: &str,
    role_name: &str,
) -> Result<Response> {
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
        signers,
        issuer,
        Some(&role),
        &names,
        input.ttl,
        &input.not_after,
        &csr.public_key,
        &format,
    )
    .await
}

pub(crate) async fn sign_verbatim(
    req: &Request,
    signers: &Signers,
    issuer: &str,
    role_name: &str,
) -> Result<Response> {
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
        signers,
        issuer,
        role.as_ref(),
        &csr.names,
        input.ttl,
        &input.not_after,
        &csr.public_key,
        &format,
    )
    .await
}

/// Signs a leaf for `public_key` under the role's issuer, stores it and answers Vault's
/// fields (without the private key).
#[allow(clippy::too_many_arguments)]
async fn sign_and_store(
    req: &Request,
    signers: &Signers,
    issuer_override: &str,
    role: Option<&RoleRecord>,
    names: &Names,
    requested_ttl: Option<Duration>,
    not_after: &str,
    public_key: &(impl PublicKeyData + Sync),
    format: &str,
) -> Result<Response> {
    let issuer_ref = match issuer_override {
        "" => role.map_or("default", |r| r.issuer_ref.as_str()),
        chosen => chosen,
    };
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
        past_issuer: issuer.leaf_not_after_behavior.clone(),
        fixed_end: match (not_after, limits.not_after.as_str()) {
            ("", "") => None,
            ("", role) => Some(crate::leaf::parse_not_after(role)?),
            (given, _) => Some(crate::leaf::parse_not_after(given)?),
        },
    }
    .resolve(now_unix_nanos())?;
    let usage = Usage::of_role(limits);
    let urls = crate::paths::config::urls(req).await?;
    let (params, serial) = leaf_params(names, role, &usage, &validity, &urls)?;
    let loaded = signers.get(&issuer)?;
    let cert = params
        .signed_by(public_key, &loaded.issuer.cert, &loaded.issuer.key)
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
    let chain = crate::paths::issuers::chain_of(&issuer);
    let shown = |p: &str| -> Result<String> {
        Ok(match format {
            "der" => base64_of(&crate::cert::pem_to_der(p)?),
            _ => p.trim_end().to_string(),
        })
    };
    let cert_text = shown(&pem)?;
    let ca_text = shown(&issuer.certificate_pem)?;
    let chain_text = chain.iter().map(|p| shown(p)).collect::<Result<Vec<_>>>()?;
    let mut response = crate::paths::answer([
        ("ca_chain", json!(chain_text)),
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

/// An ACME order's certificate: the CSR signed as `sign-verbatim` does by the default
/// issuer, for the mount's default TTL (within the issuer's own life); the PEM chain, leaf
/// first.
pub(crate) async fn sign_for_acme(req: &Request, signers: &Signers, csr: &Csr) -> Result<String> {
    let issuer = crate::paths::issuers::named(req, "default").await?;
    let remaining = (issuer.not_after - secrethub_common::now_unix() - 60).max(60) as u64;
    let default = match req.mount.default_lease_ttl.as_secs() {
        0 => 768 * 3600,
        s => s,
    };
    let ttl = Duration::from_secs(default.min(remaining));
    let response = sign_and_store(
        req,
        signers,
        "",
        None,
        &csr.names,
        Some(ttl),
        "",
        &csr.public_key,
        "pem",
    )
    .await?;
    let data = response.data.unwrap_or_default();
    let mut chain = String::new();
    let leaf = data
        .get("certificate")
        .and_then(|c| c.as_str())
        .unwrap_or_default();
    chain.push_str(leaf.trim_end());
    chain.push('\n');
    for parent in data
        .get("ca_chain")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        chain.push_str(parent.as_str().unwrap_or_default().trim_end());
        chain.push('\n');
    }
    Ok(chain)
}
