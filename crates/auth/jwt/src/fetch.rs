//! HTTP for OIDC discovery and JWKS documents: one client per fetch, trusting only the
//! config's CA bundle when one is given (the system roots otherwise), with timeouts and a
//! size cap. Errors name the URL (without any user-info part) and the reason.

use std::time::Duration;

use reqwest::{Certificate, Client, Url};
use serde_json::Value;

use crate::config::ConfigRecord;
use crate::keys::{self, VerifyKey};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(30);
/// Discovery and JWKS documents are small; anything larger is refused.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// Why keys could not be loaded; the message names the URL or the PEM key.
#[derive(Debug)]
pub(crate) struct FetchError(pub(crate) String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FetchError {}

/// Checks that `url` is an absolute http(s) URL; `field` names it in the error.
pub(crate) fn check_url(field: &str, url: &str) -> Result<(), String> {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(format!(
            "invalid {field}: not an absolute http or https URL"
        )),
    }
}

/// `url` as configured, or without its user-info part when it has one, for messages.
fn shown(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A client trusting `ca_pem` alone when given; `field` names the CA field in errors.
pub(crate) fn client(ca_pem: &str, field: &str) -> Result<Client, String> {
    let mut b = Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("secrethub/", env!("CARGO_PKG_VERSION")));
    if !ca_pem.trim().is_empty() {
        let certs = Certificate::from_pem_bundle(ca_pem.as_bytes())
            .map_err(|_| format!("invalid {field}: not PEM-encoded certificates"))?;
        if certs.is_empty() {
            return Err(format!("invalid {field}: no certificate found"));
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("invalid {field}: {}", e.without_url()))
}

/// The causes of a request error, without the URL the top-level message repeats.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    if causes.is_empty() {
        "request failed".into()
    } else {
        causes.join(": ")
    }
}

/// GETs a JSON document of at most [`MAX_DOCUMENT`] bytes; `what` names it in errors.
async fn get_json(client: &Client, url: &str, what: &str) -> Result<Value, FetchError> {
    let at = shown(url);
    let fail = |reason: String| FetchError(format!("error fetching {what} from {at:?}: {reason}"));
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(describe(&e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP status {}", resp.status().as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(describe(&e)))? {
        if body.len() + chunk.len() > MAX_DOCUMENT {
            return Err(fail("document larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| fail("response is not JSON".into()))
}

/// The discovery document's URL for a configured `oidc_discovery_url` (which may already
/// end with the well-known suffix).
fn well_known(base: &str) -> String {
    const SUFFIX: &str = "/.well-known/openid-configuration";
    if base.ends_with(SUFFIX) {
        base.to_string()
    } else {
        format!("{}{SUFFIX}", base.trim_end_matches('/'))
    }
}

/// OIDC discovery: the document's `issuer` must be the configured URL (OIDC Discovery
/// §4.3; a trailing slash is tolerated), and its `jwks_uri` gives the keys.
async fn discover_jwks_uri(client: &Client, base: &str) -> Result<String, FetchError> {
    let url = well_known(base);
    let doc = get_json(client, &url, "the OIDC discovery document").await?;
    let at = shown(&url);
    let bad = |reason: &str| FetchError(format!("OIDC discovery document at {at:?} {reason}"));
    let issuer = doc
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no issuer"))?;
    let expected = base
        .trim_end_matches("/.well-known/openid-configuration")
        .trim_end_matches('/');
    if issuer.trim_end_matches('/') != expected {
        return Err(FetchError(format!(
            "the issuer {issuer:?} in the OIDC discovery document does not match \
             oidc_discovery_url {:?}",
            shown(base)
        )));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no jwks_uri"))?;
    check_url("jwks_uri", jwks_uri).map_err(|e| bad(&format!("has an {e}")))?;
    Ok(jwks_uri.to_string())
}

async fn fetch_jwks(client: &Client, url: &str) -> Result<Vec<VerifyKey>, FetchError> {
    let doc = get_json(client, url, "the JWKS").await?;
    keys::parse_jwks(&doc).map_err(|e| FetchError(format!("the JWKS at {:?} {e}", shown(url))))
}

/// The keys `config` points at, and whether they are remote (refreshable).
pub(crate) async fn load_keys(config: &ConfigRecord) -> Result<(Vec<VerifyKey>, bool), FetchError> {
    if !config.oidc_discovery_url.is_empty() {
        let client =
            client(&config.oidc_discovery_ca_pem, "oidc_discovery_ca_pem").map_err(FetchError)?;
        let jwks_uri = discover_jwks_uri(&client, &config.oidc_discovery_url).await?;
        return Ok((fetch_jwks(&client, &jwks_uri).await?, true));
    }
    if !config.jwks_url.is_empty() {
        let client = client(&config.jwks_ca_pem, "jwks_ca_pem").map_err(FetchError)?;
        return Ok((fetch_jwks(&client, &config.jwks_url).await?, true));
    }
    let keys = config
        .jwt_validation_pubkeys
        .iter()
        .enumerate()
        .map(|(i, pem)| {
            keys::parse_pem(pem)
                .map_err(|e| FetchError(format!("invalid jwt_validation_pubkeys[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((keys, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            well_known("https://gitlab.example.com/"),
            "https://gitlab.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            well_known("https://x.test/.well-known/openid-configuration"),
            "https://x.test/.well-known/openid-configuration"
        );
        assert_eq!(shown("https://u:p@x.test/jwks"), "https://x.test/jwks");
        assert!(check_url("jwks_url", "ftp://x.test").is_err());
        assert!(check_url("jwks_url", "not a url").is_err());
        assert!(check_url("jwks_url", "http://127.0.0.1:8080/keys").is_ok());
    }
}
