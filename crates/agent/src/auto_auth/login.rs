//! Logging in once: builds each configured method's login request from its credential files
//! (read anew at every login), sends it, and reads the token out of the answer.
//!
//! Secrets read here (secret ID, password, JWT, token) are passed along to the error scrubber so
//! that a refused login never echoes them.

use std::io;
use std::path::Path;
use std::time::Duration;

use secrethub_common::Sensitive;
use secrethub_config::agent::AuthMethodConfig;
use serde_json::{json, Value};
use tracing::{info, warn};

use super::{AuthError, AutoAuth, TokenInfo};

impl AutoAuth {
    /// One login with the configured method. Does not write the sinks.
    pub async fn login_once(&self) -> Result<TokenInfo, AuthError> {
        let mount = self.config.mount_path.trim_matches('/');
        let (path, body, secrets) = match &self.config.method {
            AuthMethodConfig::TokenFile { token_file_path } => {
                let token = read_trimmed(token_file_path, "token").await?;
                return self.lookup_token(Sensitive::new(token)).await;
            }
            AuthMethodConfig::AppRole {
                role_id_file_path,
                secret_id_file_path,
                remove_secret_id_file_after_reading,
            } => {
                let role_id = read_trimmed(role_id_file_path, "role_id").await?;
                let mut body = json!({ "role_id": role_id });
                let mut secrets = Vec::new();
                if let Some(path) = secret_id_file_path {
                    let secret_id = self
                        .secret_id(path, *remove_secret_id_file_after_reading)
                        .await?;
                    body["secret_id"] = Value::String(secret_id.expose().clone());
                    secrets.push(secret_id);
                }
                (format!("{mount}/login"), body, secrets)
            }
            AuthMethodConfig::Jwt { path, role } => {
                let jwt = Sensitive::new(read_trimmed(path, "jwt").await?);
                let body = json!({ "role": role, "jwt": jwt.expose() });
                (format!("{mount}/login"), body, vec![jwt])
            }
            AuthMethodConfig::Kubernetes { role, token_path } => {
                let jwt = Sensitive::new(read_trimmed(token_path, "kubernetes token").await?);
                let body = json!({ "role": role, "jwt": jwt.expose() });
                (format!("{mount}/login"), body, vec![jwt])
            }
            AuthMethodConfig::Userpass {
                username,
                password_file_path,
            } => {
                let password = Sensitive::new(read_password(password_file_path).await?);
                let body = json!({ "password": password.expose() });
                (format!("{mount}/login/{username}"), body, vec![password])
            }
        };
        let secrets: Vec<&str> = secrets.iter().map(|s| s.expose().as_str()).collect();
        let answer = self
            .client
            .write(&path, &body)
            .await
            .map_err(|e| AuthError::request(&path, &e, &secrets))?;
        let info = auth_block(&path, answer)?;
        info!(path = %path, accessor = %info.accessor, ttl_secs = info.lease_duration.as_secs(), "auto-auth login succeeded");
        Ok(info)
    }

    /// The secret ID to send: the file's content when it is there (removed afterwards when
    /// configured), else the one read before.
    async fn secret_id(&self, path: &Path, remove: bool) -> Result<Sensitive<String>, AuthError> {
        let read = match tokio::fs::read_to_string(path).await {
            Ok(text) => Some(Sensitive::new(text.trim().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(AuthError::ReadFile {
                    what: "secret_id",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut cached = self.secret_id.lock().unwrap_or_else(|e| e.into_inner());
        match read {
            Some(fresh) if !fresh.expose().is_empty() => {
                *cached = Some(fresh.clone());
                if remove {
                    if let Err(e) = std::fs::remove_file(path) {
                        warn!(path = %path.display(), error = %e, "cannot remove the secret_id file");
                    }
                }
                Ok(fresh)
            }
            Some(_) => cached.clone().ok_or_else(|| AuthError::EmptyFile {
                what: "secret_id",
                path: path.to_path_buf(),
            }),
            None => cached.clone().ok_or_else(|| AuthError::ReadFile {
                what: "secret_id",
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }

    /// `token_file`: the token is given; `lookup-self` tells its TTL and renewability.
    async fn lookup_token(&self, token: Sensitive<String>) -> Result<TokenInfo, AuthError> {
        let path = "auth/token/lookup-self";
        let answer = self
            .client
            .with_token(token.clone())
            .request("GET", path, None, &[])
            .await
            .map_err(|e| AuthError::request(path, &e, &[token.expose()]))?;
        let data = answer.as_ref().and_then(|a| a.get("data"));
        let secs = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_u64);
        let ttl = secs("ttl").ok_or_else(|| AuthError::BadAnswer {
            path: path.into(),
            field: "data.ttl",
        })?;
        Ok(TokenInfo {
            lease_duration: Duration::from_secs(ttl),
            original_ttl: Duration::from_secs(secs("creation_ttl").unwrap_or(ttl)),
            renewable: data
                .and_then(|d| d.get("renewable"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            accessor: data
                .and_then(|d| d.get("accessor"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            token,
        })
    }
}

/// The `auth` block of a login or renewal answer.
pub(super) fn auth_block(path: &str, answer: Option<Value>) -> Result<TokenInfo, AuthError> {
    let bad = |field| AuthError::BadAnswer {
        path: path.to_string(),
        field,
    };
    let mut answer = answer.ok_or_else(|| bad("a body"))?;
    let auth = answer
        .get_mut("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("auth"))?;
    let token = match auth.get_mut("client_token").map(Value::take) {
        Some(Value::String(t)) if !t.is_empty() => Sensitive::new(t),
        _ => return Err(bad("auth.client_token")),
    };
    let lease = Duration::from_secs(
        auth.get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    );
    Ok(TokenInfo {
        token,
        lease_duration: lease,
        original_ttl: lease,
        renewable: auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        accessor: auth
            .get("accessor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// Reads a credential file, trimming surrounding whitespace; empty is an error.
async fn read_trimmed(path: &Path, what: &'static str) -> Result<String, AuthError> {
    let text = read_file(path, what).await?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AuthError::EmptyFile {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(trimmed.to_string())
}

/// Reads a password file: only the final line break is dropped, spaces may be part of it.
async fn read_password(path: &Path) -> Result<String, AuthError> {
    let text = read_file(path, "password").await?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(AuthError::EmptyFile {
            what: "password",
            path: path.to_path_buf(),
        });
    }
    Ok(password.to_string())
}

async fn read_file(path: &Path, what: &'static str) -> Result<String, AuthError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| AuthError::ReadFile {
            what,
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_block_reads_a_login_answer() {
        let answer = json!({"auth": {"client_token": "s.x", "accessor": "acc", "lease_duration": 30, "renewable": true}});
        let info = auth_block("auth/x/login", Some(answer)).expect("auth");
        assert_eq!(info.token.expose(), "s.x");
        assert_eq!(
            (info.lease_duration, info.renewable, info.accessor.as_str()),
            (Duration::from_secs(30), true, "acc")
        );
        let err = auth_block("auth/x/login", Some(json!({"data": {}}))).expect_err("no auth");
        assert_eq!(err.to_string(), "auth/x/login answered without auth");
    }
}
