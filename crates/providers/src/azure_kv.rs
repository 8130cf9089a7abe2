//! [`AzureKvProvider`]: Azure Key Vault through its REST API, with an access token from
//! Microsoft Entra ID's client-credentials flow
//! (`POST {authority_host}/{tenant}/oauth2/v2.0/token`, scope `https://vault.azure.net/.default`).
//!
//! The token is kept until shortly before it expires and fetched once for all concurrent
//! readers; a 401 from the vault drops it and the read is tried once more with a fresh one.
//! A path is `name` or `name/version`; the secret's value is the one field `value` (a JSON
//! value is not split into fields), and the version is the last segment of its `id`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use secrethub_common::Sensitive;
use secrethub_config::agent::AzureKvConfig;
use serde_json::Value;
use tokio::time::Instant;

use crate::http::{kind_of_status, unreachable};
use crate::{single_value, Health, Provider, ProviderError, ProviderErrorKind, Secret};

/// The Key Vault REST API version this provider speaks.
pub(crate) const API_VERSION: &str = "7.4";
/// Where tokens come from unless `authority_host` says otherwise.
const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The scope of a Key Vault data-plane token.
const SCOPE: &str = "https://vault.azure.net/.default";
/// A token is replaced this long before it expires (at most half its lifetime).
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Reads secrets from one Azure Key Vault.
pub struct AzureKvProvider {
    name: String,
    http: reqwest::Client,
    /// `https://NAME.vault.azure.net`, without a trailing `/`.
    vault_url: String,
    token_url: String,
    client_id: String,
    client_secret: Sensitive<String>,
    /// Held across the token request, so concurrent readers share one request.
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

struct AccessToken {
    value: Sensitive<String>,
    refresh_at: Instant,
}

impl fmt::Debug for AzureKvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureKvProvider")
            .field("name", &self.name)
            .field("vault_url", &self.vault_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

impl AzureKvProvider {
    /// A provider for an `azure-kv` stanza.
    pub fn new(name: &str, config: &AzureKvConfig) -> Result<AzureKvProvider, ProviderError> {
        let authority = config
            .authority_host
            .as_deref()
            .unwrap_or(DEFAULT_AUTHORITY_HOST)
            .trim_end_matches('/');
        let vault_url = config.vault_url.trim_end_matches('/').to_string();
        for url in [authority, vault_url.as_str()] {
            reqwest::Url::parse(url).map_err(|e| {
                ProviderError::new(
                    ProviderErrorKind::Invalid,
                    name,
                    format!("invalid URL {url:?}: {e}"),
                )
            })?;
        }
        Ok(AzureKvProvider {
            name: name.to_string(),
            http: crate::http::client(name)?,
            vault_url,
            token_url: format!("{authority}/{}/oauth2/v2.0/token", config.tenant_id),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token: the kept one, or a fresh one.
    async fn token(&self) -> Result<Sensitive<String>, ProviderError> {
        let mut kept = self.token.lock().await;
        if let Some(token) = kept.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        *kept = Some(token);
        Ok(value)
    }

    async fn drop_token(&self) {
        *self.token.lock().await = None;
    }

    async fn fetch_token(&self) -> Result<AccessToken, ProviderError> {
        let what = "getting an access token";
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose().as_str()),
            ("scope", SCOPE),
        ];
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(&self.name, what, &e))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.name, what, &e))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let code = body.get("error").and_then(Value::as_str);
            let kind = match code {
                Some("invalid_client" | "unauthorized_client" | "invalid_grant") => {
                    ProviderErrorKind::Denied
                }
                Some("temporarily_unavailable") => ProviderErrorKind::Unavailable,
                _ => kind_of_status(status),
            };
            let message = match code {
                Some(code) => format!("{what}: status {status}: {code}"),
                None => format!("{what}: status {status}"),
            };
            return Err(ProviderError::new(kind, &self.name, message));
        }
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    &self.name,
                    format!("{what}: the answer has no access_token"),
                )
            })?;
        // Entra ID sends a number; older endpoints sent a string.
        let lifetime = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300));
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        Ok(AccessToken {
            value: Sensitive::new(value.to_string()),
            refresh_at: Instant::now() + lifetime - margin,
        })
    }

    /// `GET {vault_url}/{path}?api-version=7.4{query}` with a token; one retry after a 401.
    async fn get(&self, path: &str, query: &str, what: &str) -> Result<Value, ProviderError> {
        let url = format!("{}/{path}?api-version={API_VERSION}{query}", self.vault_url);
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let response = self
                .http
                .get(&url)
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(|e| unreachable(&self.name, what, &e))?;
            let status = response.status().as_u16();
            if status == 401 && !retried {
                // The token may have been revoked or expired early: one fresh try.
                self.drop_token().await;
                retried = true;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| unreachable(&self.name, what, &e))?;
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let code = body.pointer("/error/code").and_then(Value::as_str);
            let message = match code {
                Some(code) => format!("{what}: status {status}: {code}"),
                None => format!("{what}: status {status}"),
            };
            return Err(ProviderError::new(
                kind_of_status(status),
                &self.name,
                message,
            ));
        }
    }
}

/// Whether `path` is `name` or `name/version` with Key Vault's characters (letters, digits,
/// `-`), so nothing else can be put in the URL.
fn valid_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    (1..=2).contains(&segments.len())
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[async_trait]
impl Provider for AzureKvProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        if !valid_path(path) {
            return Err(ProviderError::new(
                ProviderErrorKind::Invalid,
                &self.name,
                format!("{path:?} is not a Key Vault secret name (letters, digits, '-'), optionally with /VERSION"),
            ));
        }
        let answer = self
            .get(&format!("secrets/{path}"), "", &format!("reading {path}"))
            .await?;
        let value = answer.get("value").and_then(Value::as_str).ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                &self.name,
                format!("reading {path}: the answer has no value"),
            )
        })?;
        let version = answer
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
            .map(str::to_string);
        Ok(Secret {
            fields: single_value(value.to_string()),
            lease: None,
            version,
        })
    }

    async fn health(&self) -> Health {
        match self
            .get("secrets", "&maxresults=1", "listing secrets")
            .await
        {
            Ok(_) => Health {
                healthy: true,
                detail: format!("{} answers; token accepted", self.vault_url),
            },
            Err(err) => Health {
                healthy: false,
                detail: err.message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_names_with_an_optional_version() {
        assert!(valid_path("db-password"));
        assert!(valid_path("db-password/4387e9f3d6e14c459867679a90fd0f79"));
        for bad in ["", "a/b/c", "a b", "a?x=1", "../keys", "a/"] {
            assert!(!valid_path(bad), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let provider = AzureKvProvider::new(
            "azure",
            &AzureKvConfig {
                vault_url: "https://v.vault.azure.net/".into(),
                tenant_id: "tenant".into(),
                client_id: "client".into(),
                client_secret: Sensitive::new("azure-client-secret".into()),
                authority_host: None,
            },
        )
        .expect("provider");
        let text = format!("{provider:?}");
        assert!(!text.contains("azure-client-secret"), "{text}");
        assert!(text.contains("login.microsoftonline.com/tenant/oauth2/v2.0/token"));
    }
}
