//! [`SecretHubProvider`]: a SecretHub, Vault or OpenBao server (types `secrethub` and `vault`;
//! the built-in default provider is one too).
//!
//! A path is what `vault read` or `vault kv get` takes: `secret/app/db` on a KV v2 mount reads
//! `secret/data/app/db` (fields: the secret's data, version: its KV version); on a KV v1 mount,
//! or any other engine (`database/creds/ro`), the path is read as is and the fields are the
//! answer's `data`, with the answer's lease when it has one. The mount and its KV version come
//! from the `sys/internal/ui/mounts/<path>` preflight, done once per mount.
//!
//! A path that no mount visible to the token holds (the preflight answers "no mount found",
//! or Vault's 403, which it answers for a mount the token may not see as well) is read under
//! the default KV mount when one is set ([`SecretHubProvider::with_default_kv_mount`]):
//! `ai/anthropic/api-key` reads `secret/ai/anthropic/api-key`. Without one, or when the
//! default mount is not there either, the path is read as is, as before.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use secrethub_client::{
    Client, ClientConfig, ClientError, ClientErrorKind, KvTarget, RevokeTarget,
};
use secrethub_common::Sensitive;
use secrethub_config::agent::RemoteVault;
use serde_json::Value;

use crate::{object_fields, Health, Lease, Provider, ProviderError, ProviderErrorKind, Secret};

/// Upper bound on one attempt of one request to the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads secrets from a Vault-compatible server through [`secrethub_client::Client`].
pub struct SecretHubProvider {
    name: String,
    /// Replaced when the token changes; cloned for each call so no lock is held across IO.
    client: RwLock<Client>,
    /// `token_file` of the configuration: read again when the server refuses the token.
    token_file: Option<PathBuf>,
    /// Mounts seen in preflight answers: (`secret/`, KV v2).
    mounts: Mutex<Vec<(String, bool)>>,
    /// Where paths outside every visible mount are read (`secret`), if anywhere.
    default_kv_mount: Option<String>,
}

impl fmt::Debug for SecretHubProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHubProvider")
            .field("name", &self.name)
            .field("client", &*self.current())
            .finish()
    }
}

impl SecretHubProvider {
    /// A provider called `name` that reads through `client` (with the client's token).
    pub fn new(name: impl Into<String>, client: Client) -> SecretHubProvider {
        SecretHubProvider {
            name: name.into(),
            client: RwLock::new(client),
            token_file: None,
            mounts: Mutex::new(Vec::new()),
            default_kv_mount: None,
        }
    }

    /// Reads paths that no mount visible to the token holds under `mount` (`secret`); `None`
    /// reads them as is. Surrounding slashes are ignored; an empty mount is `None`.
    pub fn with_default_kv_mount(mut self, mount: Option<&str>) -> SecretHubProvider {
        self.default_kv_mount = mount
            .map(|m| m.trim().trim_matches('/').to_string())
            .filter(|m| !m.is_empty());
        self
    }

    /// A provider for a `provider "NAME" { type = "vault" | "secrethub" }` stanza: its address,
    /// TLS settings, and `token` or `token_file` (read now and again after a refusal).
    pub fn from_remote(
        name: &str,
        config: &RemoteVault,
    ) -> Result<SecretHubProvider, ProviderError> {
        let token = match (&config.token, &config.token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(file)) => Some(read_token_file(name, file)?),
            (None, None) => None,
        };
        let client = Client::new(ClientConfig {
            addr: config.address.clone(),
            token,
            ca_cert: config.ca_cert.clone(),
            insecure_skip_verify: config.tls_skip_verify,
            timeout: REQUEST_TIMEOUT,
        })
        .map_err(|e| ProviderError::new(ProviderErrorKind::Invalid, name, e.to_string()))?;
        let mut provider = SecretHubProvider::new(name, client)
            .with_default_kv_mount(config.default_kv_mount.as_deref());
        provider.token_file = config.token_file.clone().filter(|_| config.token.is_none());
        Ok(provider)
    }

    /// Presents `token` from now on (the agent re-authenticated).
    pub fn set_token(&self, token: Sensitive<String>) {
        let mut client = self.client.write().unwrap_or_else(PoisonError::into_inner);
        *client = client.with_token(token);
    }

    /// The client as it is now.
    fn current(&self) -> std::sync::RwLockReadGuard<'_, Client> {
        // A panic while the token was being replaced leaves the old or the new client: both work.
        self.client.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn client(&self) -> Client {
        self.current().clone()
    }

    /// Reads the token file again; answers whether the token changed.
    fn reload_token(&self) -> Result<bool, ProviderError> {
        let Some(file) = &self.token_file else {
            return Ok(false);
        };
        let token = read_token_file(&self.name, file)?;
        if self.current().token() == Some(&token) {
            return Ok(false);
        }
        self.set_token(token);
        Ok(true)
    }

    async fn read_once(&self, path: &str) -> Result<Secret, ProviderError> {
        let client = self.client();
        let target = self.target(&client, path).await?;
        let api_path = target.api_path("data");
        let answer = client
            .read(&api_path)
            .await
            .map_err(|e| self.error(&format!("reading {api_path}"), e))?
            .ok_or_else(|| ProviderError::not_found(&self.name, &target.partial))?;
        if target.v2 {
            kv2_secret(&self.name, path, &answer)
        } else {
            plain_secret(&self.name, path, &answer)
        }
    }

    /// The mount of `path`: from an earlier preflight when one covered it, else asked now.
    async fn target(&self, client: &Client, path: &str) -> Result<KvTarget, ProviderError> {
        if let Some((mount, v2)) = self.known_mount(path) {
            return Ok(KvTarget {
                mount,
                v2,
                partial: path.to_string(),
            });
        }
        let err = match client.kv_target(path).await {
            Ok(target) => return Ok(self.remember(target)),
            Err(err) => err,
        };
        let no_mount = err.kind == ClientErrorKind::Api
            && (err.status == Some(403)
                || (err.status == Some(400)
                    && err.errors.iter().any(|e| e.contains("no mount found"))));
        if !no_mount {
            return Err(self.error(&format!("finding the mount of {path}"), err));
        }
        if let Some(target) = self.under_default_mount(client, path).await {
            return Ok(target);
        }
        if err.status == Some(403) {
            // Vault answers 403 both when the token may not see the path and when no mount
            // holds it; reading the path as is tells the two apart (403 or 404).
            return Ok(KvTarget::from_preflight(None, path.to_string()));
        }
        Err(self.error(&format!("finding the mount of {path}"), err))
    }

    /// `path` under the default KV mount, when there is one, `path` is not already under it,
    /// and the token sees it; `None` otherwise.
    async fn under_default_mount(&self, client: &Client, path: &str) -> Option<KvTarget> {
        let mount = self.default_kv_mount.as_deref()?;
        if path == mount || path.starts_with(&format!("{mount}/")) {
            return None;
        }
        let under = format!("{mount}/{path}");
        if let Some((mount, v2)) = self.known_mount(&under) {
            return Some(KvTarget {
                mount,
                v2,
                partial: under,
            });
        }
        let target = client.kv_target(&under).await.ok()?;
        (!target.mount.is_empty()).then(|| self.remember(target))
    }

    /// Notes the mount of a preflight answer for later reads under it.
    fn remember(&self, target: KvTarget) -> KvTarget {
        if !target.mount.is_empty() {
            let mut mounts = self.mounts.lock().unwrap_or_else(PoisonError::into_inner);
            if !mounts.iter().any(|(m, _)| *m == target.mount) {
                mounts.push((target.mount.clone(), target.v2));
            }
        }
        target
    }

    /// The longest known mount that holds `path`.
    fn known_mount(&self, path: &str) -> Option<(String, bool)> {
        let mounts = self.mounts.lock().unwrap_or_else(PoisonError::into_inner);
        mounts
            .iter()
            .filter(|(mount, _)| {
                path.starts_with(mount.as_str()) || mount.strip_suffix('/') == Some(path)
            })
            .max_by_key(|(mount, _)| mount.len())
            .cloned()
    }

    /// A client error as a provider error: its status decides the kind; the text names the
    /// request and the server's messages, never a body.
    fn error(&self, what: &str, err: ClientError) -> ProviderError {
        let kind = match err.kind {
            ClientErrorKind::Connection | ClientErrorKind::Decode => ProviderErrorKind::Unavailable,
            ClientErrorKind::Config => ProviderErrorKind::Invalid,
            ClientErrorKind::Api => crate::http::kind_of_status(err.status.unwrap_or(500)),
        };
        let message = match err.kind {
            ClientErrorKind::Api => {
                let status = err.status.unwrap_or(0);
                if err.errors.is_empty() {
                    format!("{what}: status {status}")
                } else {
                    format!("{what}: status {status}: {}", err.errors.join("; "))
                }
            }
            _ => format!("{what}: {err}"),
        };
        ProviderError::new(kind, &self.name, message)
    }
}

#[async_trait]
impl Provider for SecretHubProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        let path = path.trim().trim_matches('/');
        if path.is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Invalid,
                &self.name,
                "an empty path names no secret",
            ));
        }
        match self.read_once(path).await {
            Err(err)
                if err.kind == ProviderErrorKind::Denied
                    && matches!(self.reload_token(), Ok(true)) =>
            {
                self.read_once(path).await
            }
            answer => answer,
        }
    }

    async fn renew(&self, lease_id: &str, increment: Duration) -> Result<Lease, ProviderError> {
        let answer = self
            .client()
            .lease_renew(lease_id, increment)
            .await
            .map_err(|e| self.error(&format!("renewing lease {lease_id}"), e))?
            .unwrap_or(Value::Null);
        let lease = lease_of(&answer).unwrap_or(Lease {
            id: lease_id.to_string(),
            duration: Duration::from_secs(
                answer
                    .get("lease_duration")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            ),
            renewable: false,
        });
        Ok(lease)
    }

    async fn revoke(&self, lease_id: &str) -> Result<(), ProviderError> {
        self.client()
            .lease_revoke(RevokeTarget::Lease(lease_id), true)
            .await
            .map_err(|e| self.error(&format!("revoking lease {lease_id}"), e))
    }

    async fn health(&self) -> Health {
        let client = self.client();
        match client.seal_status().await {
            Ok(status) if status.sealed => {
                return unhealthy(format!("{} is sealed", client.addr()));
            }
            Ok(_) => {}
            Err(err) => return unhealthy(self.error("seal status", err).message),
        }
        match client.read("auth/token/lookup-self").await {
            Ok(Some(answer)) => {
                let ttl = answer
                    .pointer("/data/ttl")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let detail = if ttl == 0 {
                    "unsealed; token valid".to_string()
                } else {
                    format!("unsealed; token valid for {ttl}s")
                };
                Health {
                    healthy: true,
                    detail,
                }
            }
            Ok(None) => unhealthy("token lookup: no answer".to_string()),
            Err(err) => unhealthy(self.error("token lookup", err).message),
        }
    }
}

fn unhealthy(detail: String) -> Health {
    Health {
        healthy: false,
        detail,
    }
}

fn read_token_file(
    provider: &str,
    file: &std::path::Path,
) -> Result<Sensitive<String>, ProviderError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::Invalid,
            provider,
            format!("reading token_file {}: {e}", file.display()),
        )
    })?;
    let token = Sensitive::new(text.trim().to_string());
    drop(Sensitive::new(text));
    if token.expose().is_empty() {
        return Err(ProviderError::new(
            ProviderErrorKind::Invalid,
            provider,
            format!("token_file {} is empty", file.display()),
        ));
    }
    Ok(token)
}

/// A KV v2 answer: `data.data` are the fields, `data.metadata.version` the version.
fn kv2_secret(provider: &str, path: &str, answer: &Value) -> Result<Secret, ProviderError> {
    let data = answer.get("data");
    let fields = data
        .and_then(|d| d.get("data"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            // A deleted or destroyed version answers its metadata with `data: null`.
            ProviderError::new(
                ProviderErrorKind::NotFound,
                provider,
                format!("the latest version of {path} is deleted"),
            )
        })?;
    let version = data
        .and_then(|d| d.pointer("/metadata/version"))
        .and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
    Ok(Secret {
        fields: object_fields(fields),
        lease: lease_of(answer),
        version,
    })
}

/// Any other answer: `data` are the fields, the lease is the answer's.
fn plain_secret(provider: &str, path: &str, answer: &Value) -> Result<Secret, ProviderError> {
    let fields = answer
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::NotFound,
                provider,
                format!("the answer for {path} has no data"),
            )
        })?;
    Ok(Secret {
        fields: object_fields(fields),
        lease: lease_of(answer),
        version: None,
    })
}

/// The lease of an answer (`lease_id`, `lease_duration`, `renewable`), if it has one.
fn lease_of(answer: &Value) -> Option<Lease> {
    let id = answer.get("lease_id").and_then(Value::as_str)?;
    if id.is_empty() {
        return None;
    }
    Some(Lease {
        id: id.to_string(),
        duration: Duration::from_secs(
            answer
                .get("lease_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        ),
        renewable: answer
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv2_answers_give_data_and_version() {
        let answer = json!({
            "lease_id": "", "lease_duration": 0, "renewable": false,
            "data": {"data": {"user": "app", "port": 5432}, "metadata": {"version": 3}}
        });
        let secret = kv2_secret("p", "secret/app", &answer).expect("secret");
        assert_eq!(secret.fields["user"].expose(), "app");
        assert_eq!(secret.fields["port"].expose(), "5432");
        assert_eq!(secret.version.as_deref(), Some("3"));
        assert_eq!(secret.lease, None);
        let deleted = json!({"data": {"data": null, "metadata": {"version": 4}}});
        let err = kv2_secret("p", "secret/app", &deleted).unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::NotFound);
    }

    #[test]
    fn dynamic_answers_carry_their_lease() {
        let answer = json!({
            "lease_id": "database/creds/ro/abc", "lease_duration": 3600, "renewable": true,
            "data": {"username": "v-ro-1", "password": "pw-not-in-debug"}
        });
        let secret = plain_secret("p", "database/creds/ro", &answer).expect("secret");
        assert_eq!(
            secret.lease,
            Some(Lease {
                id: "database/creds/ro/abc".into(),
                duration: Duration::from_secs(3600),
                renewable: true
            })
        );
        assert!(!format!("{secret:?}").contains("pw-not-in-debug"));
    }
}
