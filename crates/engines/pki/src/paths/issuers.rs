//! Issuers as clients fetch them: the default's certificate (`ca` DER, `ca/pem`,
//! `ca_chain`; 204 with no body while there is none, as Vault), LIST `issuers` with
//! `key_info`, `issuer/:ref` (ID, name or `default`) and its `pem`/`der`/`json` forms, and
//! `config/issuers` (which one is the default).

use secrethub_common::input;
use secrethub_engine::{Request, Response};
use secrethub_storage::{Storage as _, WriteOp};
use serde_json::{json, Value};

use crate::cert::pem_to_der;
use crate::error::{PkiError, Result};
use crate::keys::KeySpec;
use crate::paths::answer;
use crate::records::{self, IssuerRecord, IssuersConfig, CONFIG_ISSUERS};

pub(crate) const NO_DEFAULT: &str = "no default issuer currently configured";

/// How the default issuer's certificate is answered.
pub(crate) enum Form {
    Der,
    Pem,
    Chain,
}

/// An issuer's chain: its certificate, then its parents (none for a root); PEM ending in a
/// newline, as Vault answers chains.
pub(crate) fn chain_of(issuer: &IssuerRecord) -> Vec<String> {
    std::iter::once(&issuer.certificate_pem)
        .chain(&issuer.ca_chain)
        .map(|p| with_newline(p))
        .collect()
}

fn with_newline(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}

pub(crate) async fn default_cert(req: &Request, form: Form) -> Result<Response> {
    let (content_type, issuer) = match form {
        Form::Der | Form::Chain => ("application/pkix-cert", default_issuer(req).await?),
        Form::Pem => (
            "application/pem-certificate-chain",
            default_issuer(req).await?,
        ),
    };
    let Some(issuer) = issuer else {
        return Ok(Response::raw_with_status(204, content_type, Vec::new()));
    };
    let body = match form {
        Form::Der => pem_to_der(&issuer.certificate_pem)?,
        Form::Pem => issuer.certificate_pem.trim_end().as_bytes().to_vec(),
        Form::Chain => chain_of(&issuer).concat().into_bytes(),
    };
    Ok(Response::raw(content_type, body))
}

pub(crate) async fn default_issuer(req: &Request) -> Result<Option<IssuerRecord>> {
    records::resolve_issuer(&req.storage, "default").await
}

/// The issuer `reference` names, or Vault's errors.
pub(crate) async fn named(req: &Request, reference: &str) -> Result<IssuerRecord> {
    match records::resolve_issuer(&req.storage, reference).await? {
        Some(i) => Ok(i),
        None if reference == "default" || reference.is_empty() => {
            Err(PkiError::invalid(NO_DEFAULT))
        }
        None => Err(PkiError::invalid(format!(
            "unable to find PKI issuer for reference: {reference}"
        ))),
    }
}

pub(crate) async fn list(req: &Request) -> Result<Response> {
    let issuers = records::issuers(&req.storage).await?;
    if issuers.is_empty() {
        return Err(PkiError::NotFound);
    }
    let config = records::issuers_config(&req.storage).await?;
    let mut info = serde_json::Map::new();
    let mut keys = Vec::new();
    for i in &issuers {
        keys.push(json!(i.id));
        info.insert(
            i.id.clone(),
            json!({
                "is_default": i.id == config.default,
                "issuer_name": i.name,
                "key_id": i.key_id,
                "serial_number": i.serial_number,
            }),
        );
    }
    Ok(answer([
        ("keys", Value::Array(keys)),
        ("key_info", Value::Object(info)),
    ]))
}

pub(crate) async fn read(req: &Request, reference: &str) -> Result<Response> {
    let issuer = named(req, reference).await?;
    let urls = crate::paths::config::urls(req).await?;
    let algorithm =
        KeySpec::parse(&issuer.key_type, issuer.key_bits)?.revocation_signature_algorithm();
    Ok(answer([
        ("ca_chain", json!(chain_of(&issuer))),
        ("certificate", json!(with_newline(&issuer.certificate_pem))),
        (
            "crl_distribution_points",
            json!(urls.crl_distribution_points),
        ),
        ("delta_crl_distribution_points", json!([])),
        ("issuer_id", json!(issuer.id)),
        ("issuer_name", json!(issuer.name)),
        ("issuing_certificates", json!(urls.issuing_certificates)),
        ("key_id", json!(issuer.key_id)),
        (
            "leaf_not_after_behavior",
            json!(issuer.leaf_not_after_behavior),
        ),
        ("manual_chain", Value::Null),
        ("ocsp_servers", json!(urls.ocsp_servers)),
        ("revocation_signature_algorithm", json!(algorithm)),
        ("revoked", json!(false)),
        (
            "usage",
            json!("crl-signing,issuing-certificates,ocsp-signing,read-only"),
        ),
    ]))
}

/// `issuer/:ref/pem|der|json`, without a token.
pub(crate) async fn fetch(req: &Request, reference: &str, form: &str) -> Result<Response> {
    let issuer = named(req, reference).await?;
    Ok(match form {
        "der" => Response::raw(
            "application/pkix-cert",
            pem_to_der(&issuer.certificate_pem)?,
        ),
        "pem" => Response::raw(
            "application/pem-certificate-chain",
            with_newline(&issuer.certificate_pem).into_bytes(),
        ),
        _ => answer([
            ("ca_chain", json!(chain_of(&issuer))),
            ("certificate", json!(with_newline(&issuer.certificate_pem))),
            ("issuer_id", json!(issuer.id)),
            ("issuer_name", json!(issuer.name)),
        ]),
    })
}

fn shown_config(config: &IssuersConfig) -> Response {
    answer([
        ("default", json!(config.default)),
        (
            "default_follows_latest_issuer",
            json!(config.default_follows_latest_issuer),
        ),
    ])
}

pub(crate) async fn read_config(req: &Request) -> Result<Response> {
    Ok(shown_config(&records::issuers_config(&req.storage).await?))
}

pub(crate) async fn write_config(req: &Request) -> Result<Response> {
    let mut config = records::issuers_config(&req.storage).await?;
    if let Some(reference) = input::field::<String>(&req.body, "default")? {
        let issuer = records::resolve_issuer(&req.storage, &reference)
            .await?
            .filter(|_| reference != "default")
            .ok_or_else(|| {
                PkiError::invalid(format!(
                    "Error resolving issuer reference: unable to find PKI issuer for reference: {reference}"
                ))
            })?;
        config.default = issuer.id;
    }
    if let Some(follow) = input::field::<bool>(&req.body, "default_follows_latest_issuer")? {
        config.default_follows_latest_issuer = follow;
    }
    req.storage.put_json(CONFIG_ISSUERS, &config).await?;
    Ok(shown_config(&config))
}

/// `POST issuer/:ref`: renames an issuer (`issuer_name`) or sets its
/// `leaf_not_after_behavior`; the answer is the issuer as read.
pub(crate) async fn update(req: &Request, reference: &str) -> Result<Response> {
    let mut issuer = named(req, reference).await?;
    if let Some(name) = input::field::<String>(&req.body, "issuer_name")? {
        crate::ca::check_name(&name, "issuer")?;
        let taken = records::issuers(&req.storage)
            .await?
            .iter()
            .any(|i| !name.is_empty() && i.name == name && i.id != issuer.id);
        if taken {
            return Err(PkiError::invalid("issuer name already in use"));
        }
        issuer.name = name;
    }
    if let Some(behavior) = input::field::<String>(&req.body, "leaf_not_after_behavior")? {
        if !matches!(behavior.as_str(), "err" | "truncate" | "permit") {
            return Err(PkiError::invalid(
                "Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and `permit`.",
            ));
        }
        issuer.leaf_not_after_behavior = behavior;
    }
    req.storage
        .put_json(&format!("{}{}", records::ISSUERS, issuer.id), &issuer)
        .await?;
    read(req, &issuer.id).await
}

/// `DELETE issuer/:ref`: the issuer, its key and its CRL go (its certificates stay); when it
/// was the default, there is none until one is set, with Vault's warning.
pub(crate) async fn delete(req: &Request, reference: &str) -> Result<Response> {
    let Some(issuer) = records::resolve_issuer(&req.storage, reference).await? else {
        return Ok(Response::empty());
    };
    let mut config = records::issuers_config(&req.storage).await?;
    let mut batch = vec![
        WriteOp::Delete {
            key: format!("{}{}", records::ISSUERS, issuer.id),
        },
        WriteOp::Delete {
            key: format!("{}{}", crate::crl::CRLS, issuer.id),
        },
    ];
    let mut warnings = Vec::new();
    if config.default == issuer.id {
        config.default.clear();
        batch.push(crate::ca::put(CONFIG_ISSUERS.into(), &config)?);
        warnings.push(format!(
            "Deleted issuer {} (via issuer_ref {reference}); this was configured as the default issuer. Operations without an explicit issuer will not work until a new default is configured.",
            issuer.id
        ));
    }
    req.storage.apply(batch).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}
