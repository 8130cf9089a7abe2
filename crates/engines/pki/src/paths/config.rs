//! `pki/config/urls`: the issuing-certificate, CRL and OCSP URLs written into every
//! certificate issued afterwards. A write replaces the lists it is given.

use secrethub_common::input;
use secrethub_engine::{Request, Response};
use serde_json::json;

use crate::error::Result;
use crate::paths::answer;
use crate::records::{UrlsConfig, CONFIG_URLS};

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
