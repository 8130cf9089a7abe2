//! `pki/config/urls`: the issuing-certificate, CRL and OCSP URLs written into every
//! certificate issued afterwards. A write replaces the lists it is given. `pki/config/crl`:
//! the CRL and OCSP settings (`records::CrlConfig`); a write changes the fields given and
//! rebuilds every CRL, as Vault does.

use secrethub_common::input;
use secrethub_engine::{Request, Response};
use serde_json::json;

use crate::error::PkiError;
use crate::error::Result;
use crate::paths::answer;
use crate::records::{self, CrlConfig, UrlsConfig, CONFIG_CRL, CONFIG_URLS};

pub(crate) async fn urls(req: &Request) -> Result<UrlsConfig> {
    Ok(req.storage.get_json(CONFIG_URLS).await?.unwrap_or_default())
}

fn shown(urls: &UrlsConfig) -> Response {
    answer([
        ("issuing_certificates", json!(urls.issuing_certificates)),
        (
            "crl_distribution_points",
            json!(urls.crl_distribution_points),
        ),
        ("delta_crl_distribution_points", json!([])),
        ("ocsp_servers", json!(urls.ocsp_servers)),
        ("enable_templating", json!(false)),
    ])
}

pub(crate) async fn read_urls(req: &Request) -> Result<Response> {
    Ok(shown(&urls(req).await?))
}

pub(crate) async fn write_urls(req: &Request) -> Result<Response> {
    let mut config = urls(req).await?;
    let lists = [
        ("issuing_certificates", &mut config.issuing_certificates),
        (
            "crl_distribution_points",
            &mut config.crl_distribution_points,
        ),
        ("ocsp_servers", &mut config.ocsp_servers),
    ];
    for (name, slot) in lists {
        if let Some(v) = input::field::<Vec<String>>(&req.body, name)? {
            *slot = v;
        }
    }
    req.storage.put_json(CONFIG_URLS, &config).await?;
    Ok(shown(&config))
}

fn shown_crl(config: &CrlConfig) -> Result<Response> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => Ok(Response::data(map)),
        _ => Err(PkiError::crypto("encoding config/crl", "not an object")),
    }
}

pub(crate) async fn read_crl(req: &Request) -> Result<Response> {
    shown_crl(&records::crl_config(&req.storage).await?)
}

pub(crate) async fn write_crl(req: &Request) -> Result<Response> {
    let mut config = records::crl_config(&req.storage).await?;
    let durations = [
        ("expiry", &mut config.expiry),
        (
            "auto_rebuild_grace_period",
            &mut config.auto_rebuild_grace_period,
        ),
        ("delta_rebuild_interval", &mut config.delta_rebuild_interval),
        ("ocsp_expiry", &mut config.ocsp_expiry),
    ];
    for (name, slot) in durations {
        if let Some(v) = input::field::<String>(&req.body, name)? {
            if secrethub_common::parse_duration(&v).is_err() {
                return Err(PkiError::invalid(format!(
                    "given {name} could not be decoded: time: invalid duration {v:?}"
                )));
            }
            *slot = v;
        }
    }
    let flags = [
        (
            "allow_expired_cert_revocation",
            &mut config.allow_expired_cert_revocation,
        ),
        ("auto_rebuild", &mut config.auto_rebuild),
        ("disable", &mut config.disable),
        ("enable_delta", &mut config.enable_delta),
        ("ocsp_disable", &mut config.ocsp_disable),
    ];
    for (name, slot) in flags {
        if let Some(v) = input::field::<bool>(&req.body, name)? {
            *slot = v;
        }
    }
    // OpenBao checks this only when auto_rebuild is on; without it the rebuild timer keeps
    // at least a minute between rebuilds (`crl::due_at`).
    if config.auto_rebuild && config.grace_secs() >= config.expiry_secs() {
        return Err(PkiError::invalid(format!(
            "CRL auto-rebuilding grace period ({}) must be strictly shorter than CRL expiry ({})",
            config.auto_rebuild_grace_period, config.expiry
        )));
    }
    req.storage.put_json(CONFIG_CRL, &config).await?;
    for issuer in records::issuers(&req.storage).await? {
        crate::crl::rebuild(&req.storage, &issuer).await?;
        crate::crl::schedule(req, &issuer.id).await?;
    }
    shown_crl(&config)
}
