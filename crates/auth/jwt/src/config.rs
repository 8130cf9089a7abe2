//! `auth/<mount>/config`: where signing keys come from and the mount-wide checks.
//!
//! A write replaces the whole config, as in Vault. Exactly one key source must be set
//! (`oidc_discovery_url`, `jwks_url` or `jwt_validation_pubkeys`); the keys are loaded once
//! before anything is stored, so an unreachable URL, an untrusted certificate or a malformed
//! document is a 400 naming the URL, and the cache starts warm.

use secrethub_common::input;
use secrethub_engine::{EngineError, JsonMap, Request, Response};
use secrethub_storage::StorageView;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fetch;
use crate::jws::{self, SUPPORTED_ALGS};
use crate::keys::KeyCache;

/// Storage key of the config.
pub(crate) const CONFIG_KEY: &str = "config";
const RECORD_VERSION: u32 = 1;

/// Vault fields of the OIDC browser flow: accepted when empty, ignored with a warning
/// otherwise (the client ID and secret are refused, so no one believes a secret is kept).
const OIDC_ONLY: &[&str] = &[
    "oidc_response_mode",
    "oidc_response_types",
    "provider_config",
    "namespace_in_state",
    "override_allowed_server_names",
];

/// The stored config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ConfigRecord {
    pub(crate) version: u32,
    pub(crate) oidc_discovery_url: String,
    pub(crate) oidc_discovery_ca_pem: String,
    pub(crate) jwks_url: String,
    pub(crate) jwks_ca_pem: String,
    pub(crate) jwt_validation_pubkeys: Vec<String>,
    pub(crate) bound_issuer: String,
    pub(crate) jwt_supported_algs: Vec<String>,
    pub(crate) default_role: String,
}

impl ConfigRecord {
    /// A digest of where the keys come from: the key cache is valid for one source only.
    pub(crate) fn source_id(&self) -> String {
        let source = json!([
            self.oidc_discovery_url,
            self.oidc_discovery_ca_pem,
            self.jwks_url,
            self.jwks_ca_pem,
            self.jwt_validation_pubkeys,
        ]);
        hex::encode(Sha256::digest(source.to_string().as_bytes()))
    }

    /// The algorithms tokens may use: `jwt_supported_algs`, or every supported one.
    pub(crate) fn algorithms(&self) -> Vec<jsonwebtoken::Algorithm> {
        let names: Vec<&str> = if self.jwt_supported_algs.is_empty() {
            SUPPORTED_ALGS.to_vec()
        } else {
            self.jwt_supported_algs.iter().map(String::as_str).collect()
        };
        names.into_iter().filter_map(jws::algorithm).collect()
    }
}

/// Loads the config, `None` when none was written.
pub(crate) async fn load(storage: &StorageView) -> Result<Option<ConfigRecord>, EngineError> {
    Ok(storage.get_json(CONFIG_KEY).await?)
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg)
}

fn string_field(body: &JsonMap, field: &str) -> Result<String, EngineError> {
    let s = input::field::<String>(body, field)?.unwrap_or_default();
    // PEM bundles are kept as given; names and URLs lose stray whitespace.
    Ok(if field.ends_with("_pem") {
        s
    } else {
        s.trim().to_string()
    })
}

fn list_field(body: &JsonMap, field: &str) -> Result<Vec<String>, EngineError> {
    match input::given(body, field) {
        None => Ok(Vec::new()),
        Some(v) => Ok(input::string_list_of(v).map_err(|e| e.at(field))?),
    }
}

/// Whether a field was given with something other than an empty/default value.
fn given(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn parse(body: &JsonMap) -> Result<(ConfigRecord, bool, Vec<String>), EngineError> {
    let mut warnings = Vec::new();
    for field in ["oidc_client_id", "oidc_client_secret"] {
        if body.get(field).is_some_and(given) {
            return Err(bad(format!(
                "{field} is not supported: the OIDC browser flow is not available, \
                 JWT roles do not need a client"
            )));
        }
    }
    let known = [
        "oidc_discovery_url",
        "oidc_discovery_ca_pem",
        "jwks_url",
        "jwks_ca_pem",
        "jwt_validation_pubkeys",
        "bound_issuer",
        "jwt_supported_algs",
        "default_role",
        "skip_jwks_validation",
        "oidc_client_id",
        "oidc_client_secret",
    ];
    let mut ignored: Vec<&str> = Vec::new();
    for (k, v) in body {
        if OIDC_ONLY.contains(&k.as_str()) {
            if given(v) && k != "namespace_in_state" {
                ignored.push(k);
            }
        } else if !known.contains(&k.as_str()) {
            ignored.push(k);
        }
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        ));
    }
    let skip_validation = input::field::<bool>(body, "skip_jwks_validation")?.unwrap_or(false);
    let mut pubkeys = list_field(body, "jwt_validation_pubkeys")?;
    pubkeys.retain(|k| !k.trim().is_empty());
    let config = ConfigRecord {
        version: RECORD_VERSION,
        oidc_discovery_url: string_field(body, "oidc_discovery_url")?,
        oidc_discovery_ca_pem: string_field(body, "oidc_discovery_ca_pem")?,
        jwks_url: string_field(body, "jwks_url")?,
        jwks_ca_pem: string_field(body, "jwks_ca_pem")?,
        jwt_validation_pubkeys: pubkeys,
        bound_issuer: string_field(body, "bound_issuer")?,
        jwt_supported_algs: list_field(body, "jwt_supported_algs")?,
        default_role: string_field(body, "default_role")?,
    };
    Ok((config, skip_validation, warnings))
}

fn validate(c: &ConfigRecord) -> Result<(), EngineError> {
    let sources = [
        !c.oidc_discovery_url.is_empty(),
        !c.jwks_url.is_empty(),
        !c.jwt_validation_pubkeys.is_empty(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(bad(
            "exactly one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys must be set",
        ));
    }
    if !c.oidc_discovery_ca_pem.trim().is_empty() && c.oidc_discovery_url.is_empty() {
        return Err(bad("oidc_discovery_ca_pem requires oidc_discovery_url"));
    }
    if !c.jwks_ca_pem.trim().is_empty() && c.jwks_url.is_empty() {
        return Err(bad("jwks_ca_pem requires jwks_url"));
    }
    if !c.oidc_discovery_url.is_empty() {
        fetch::check_url("oidc_discovery_url", &c.oidc_discovery_url).map_err(bad)?;
    }
    if !c.jwks_url.is_empty() {
        fetch::check_url("jwks_url", &c.jwks_url).map_err(bad)?;
    }
    for alg in &c.jwt_supported_algs {
        if jws::algorithm(alg).is_none() {
            return Err(bad(format!(
                "invalid jwt_supported_algs: {} (supported: {})",
                jws::refusal(alg),
                SUPPORTED_ALGS.join(", ")
            )));
        }
    }
    Ok(())
}

pub(crate) async fn write(req: &Request, cache: &KeyCache) -> Result<Response, EngineError> {
    let (config, skip_validation, mut warnings) = parse(&req.body)?;
    validate(&config)?;
    match KeyCache::load_fresh(&config).await {
        Ok(set) => {
            req.storage.put_json(CONFIG_KEY, &config).await?;
            cache.prime(&config, set);
        }
        // Static keys are not fetched: a bad PEM is always an error.
        Err(e) if skip_validation && config.jwt_validation_pubkeys.is_empty() => {
            req.storage.put_json(CONFIG_KEY, &config).await?;
            warnings.push(format!("error checking the key source (saved anyway): {e}"));
        }
        Err(e) => return Err(bad(e.0)),
    }
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

pub(crate) async fn read(req: &Request, cache: &KeyCache) -> Result<Response, EngineError> {
    let c = load(&req.storage).await?.ok_or(EngineError::NotFound)?;
    // As OpenBao: whether the keys can be had now (cached, or fetched as a login would).
    let (status, warnings) = match cache.keys(&c).await {
        Ok(_) => ("valid", Vec::new()),
        Err(e) => (
            "invalid",
            vec![format!("failed to construct JWK validator: {e}")],
        ),
    };
    let data = json!({
        "oidc_discovery_url": c.oidc_discovery_url,
        "oidc_discovery_ca_pem": c.oidc_discovery_ca_pem,
        "oidc_client_id": "",
        "oidc_response_mode": "",
        "oidc_response_types": [],
        "jwks_url": c.jwks_url,
        "jwks_ca_pem": c.jwks_ca_pem,
        "jwt_validation_pubkeys": c.jwt_validation_pubkeys,
        "jwt_supported_algs": c.jwt_supported_algs,
        "bound_issuer": c.bound_issuer,
        "default_role": c.default_role,
        "provider_config": {},
        "namespace_in_state": true,
        "override_allowed_server_names": [],
        "status": status,
    });
    match data {
        Value::Object(m) => Ok(Response {
            warnings,
            ..Response::data(m)
        }),
        // `json!` with braces always builds an object.
        _ => Err(EngineError::Internal(anyhow::anyhow!(
            "config data is not an object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn check(v: Value) -> Result<ConfigRecord, String> {
        let (c, _, _) = parse(&body(v)).map_err(|e| e.to_string())?;
        validate(&c).map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn exactly_one_source() {
        let msg =
            "exactly one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys must be set";
        assert_eq!(check(json!({})).unwrap_err(), msg);
        assert_eq!(
            check(json!({"jwks_url": "https://a.test/k", "oidc_discovery_url": "https://a.test"}))
                .unwrap_err(),
            msg
        );
        assert!(check(json!({"jwks_url": "https://a.test/k"})).is_ok());
        assert_eq!(
            check(json!({"jwks_url": "https://a.test/k", "oidc_discovery_ca_pem": "x"}))
                .unwrap_err(),
            "oidc_discovery_ca_pem requires oidc_discovery_url"
        );
    }

    #[test]
    fn refuses_symmetric_algorithms_and_clients() {
        let err = check(
            json!({"jwks_url": "https://a.test/k", "jwt_supported_algs": ["RS256", "HS256"]}),
        )
        .unwrap_err();
        assert!(
            err.starts_with("invalid jwt_supported_algs: HS256 is not accepted"),
            "{err}"
        );
        let err = check(json!({"jwks_url": "https://a.test/k", "jwt_supported_algs": "none"}))
            .unwrap_err();
        assert!(err.contains("alg \"none\""), "{err}");
        let err = check(json!({"jwks_url": "https://a.test/k", "oidc_client_secret": "s3cr3t"}))
            .unwrap_err();
        assert!(err.starts_with("oidc_client_secret is not supported") && !err.contains("s3cr3t"));
        let (_, _, warnings) = parse(&body(
            json!({"jwks_url": "https://a.test/k", "color": "red"}),
        ))
        .unwrap();
        assert_eq!(
            warnings,
            ["Endpoint ignored these unrecognized parameters: [color]"]
        );
    }

    #[test]
    fn source_id_follows_key_source_only() {
        let a = check(json!({"jwks_url": "https://a.test/k"})).unwrap();
        let mut b = a.clone();
        b.default_role = "ci".into();
        assert_eq!(a.source_id(), b.source_id());
        b.jwks_url = "https://b.test/k".into();
        assert_ne!(a.source_id(), b.source_id());
    }
}
