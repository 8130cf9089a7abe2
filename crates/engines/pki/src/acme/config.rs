//! `config/acme` (whether ACME is on; OpenBao's other fields kept and answered) and
//! `config/cluster` (`path`: this mount's external URL, which every ACME URL starts with).

use secrethub_common::input;
use secrethub_engine::{Request, Response};
use serde::{Deserialize, Serialize};

use crate::acme::{problem, Problem};
use crate::error::{PkiError, Result};

const ACME: &str = "config/acme";
const CLUSTER: &str = "config/cluster";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
struct AcmeConfig {
    allow_role_ext_key_usage: bool,
    allowed_issuers: Vec<String>,
    allowed_roles: Vec<String>,
    default_directory_policy: String,
    dns_resolver: String,
    eab_policy: String,
    enabled: bool,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            allow_role_ext_key_usage: false,
            allowed_issuers: vec!["*".into()],
            allowed_roles: vec!["*".into()],
            default_directory_policy: "sign-verbatim".into(),
            dns_resolver: String::new(),
            eab_policy: "not-required".into(),
            enabled: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct ClusterConfig {
    path: String,
    aia_path: String,
}

fn shown<T: Serialize>(value: &T) -> Result<Response> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => Ok(Response::data(map)),
        _ => Err(PkiError::crypto("encoding a config", "not an object")),
    }
}

pub(crate) async fn read_acme(req: &Request) -> Result<Response> {
    let config: AcmeConfig = req.storage.get_json(ACME).await?.unwrap_or_default();
    shown(&config)
}

pub(crate) async fn write_acme(req: &Request) -> Result<Response> {
    let mut config: AcmeConfig = req.storage.get_json(ACME).await?.unwrap_or_default();
    if let Some(v) = input::field::<bool>(&req.body, "enabled")? {
        config.enabled = v;
    }
    if let Some(v) = input::field::<bool>(&req.body, "allow_role_ext_key_usage")? {
        config.allow_role_ext_key_usage = v;
    }
    if let Some(v) = input::field::<String>(&req.body, "dns_resolver")? {
        config.dns_resolver = v;
    }
    if let Some(v) = input::field::<String>(&req.body, "default_directory_policy")? {
        if v != "sign-verbatim" {
            return Err(PkiError::invalid(
                "only the sign-verbatim default_directory_policy is supported",
            ));
        }
        config.default_directory_policy = v;
    }
    if let Some(v) = input::field::<String>(&req.body, "eab_policy")? {
        if v != "not-required" {
            return Err(PkiError::invalid(
                "external account binding is not supported: eab_policy must be not-required",
            ));
        }
        config.eab_policy = v;
    }
    req.storage.put_json(ACME, &config).await?;
    shown(&config)
}

pub(crate) async fn read_cluster(req: &Request) -> Result<Response> {
    let config: ClusterConfig = req.storage.get_json(CLUSTER).await?.unwrap_or_default();
    shown(&config)
}

pub(crate) async fn write_cluster(req: &Request) -> Result<Response> {
    let mut config: ClusterConfig = req.storage.get_json(CLUSTER).await?.unwrap_or_default();
    for (name, slot) in [
        ("path", &mut config.path),
        ("aia_path", &mut config.aia_path),
    ] {
        if let Some(v) = input::field::<String>(&req.body, name)? {
            if !v.is_empty() && !v.starts_with("http://") && !v.starts_with("https://") {
                return Err(PkiError::invalid(format!(
                    "{name} must be an http or https URL"
                )));
            }
            *slot = v.trim_end_matches('/').to_string();
        }
    }
    req.storage.put_json(CLUSTER, &config).await?;
    shown(&config)
}

/// The URL every ACME URL starts with, or why ACME is not served here.
pub(crate) async fn base_url(req: &Request) -> Result<std::result::Result<String, Problem>> {
    let acme: AcmeConfig = req.storage.get_json(ACME).await?.unwrap_or_default();
    if !acme.enabled {
        return Ok(Err(problem(
            403,
            "unauthorized",
            "ACME is disabled in configuration",
        )));
    }
    let cluster: ClusterConfig = req.storage.get_json(CLUSTER).await?.unwrap_or_default();
    if cluster.path.is_empty() {
        return Ok(Err(problem(
            500,
            "serverInternal",
            "ACME feature requires local cluster 'path' field configuration to be set",
        )));
    }
    Ok(Ok(cluster.path))
}
