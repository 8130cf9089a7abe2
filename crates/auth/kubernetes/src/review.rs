//! The Kubernetes TokenReview client: asks the API server who a JWT belongs to.
//!
//! `POST {kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews` with a `TokenReview`
//! whose `spec.token` is the JWT (and `spec.audiences` the role's audience, when it has one),
//! authenticated with a bearer token: the configured `token_reviewer_jwt`, else the pod's own
//! service account token when SecretHub runs in Kubernetes and `disable_local_ca_jwt` is false,
//! else the JWT under review itself (as Vault does). TLS is verified against
//! `kubernetes_ca_cert` (else the pod's CA file, else the system roots).
//!
//! The HTTP client is built once per CA and reused, so logins share connections.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrethub_common::Sensitive;
use serde::Deserialize;
use serde_json::json;

use crate::endpoint::{api_base, parse_ca};
use crate::error::{Denial, KubeError};
use crate::records::ConfigRecord;

/// Where Kubernetes mounts a pod's service account token and cluster CA.
pub(crate) const LOCAL_SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

const TOKEN_REVIEW_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A TokenReview answer is a few hundred bytes; anything far larger is not one.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Longest piece of Kubernetes' own error text we repeat.
const MAX_QUOTED: usize = 200;

/// Who the TokenReview API says the JWT belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAccount {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
}

/// Calls the TokenReview API, caching one HTTP client per trusted CA.
pub(crate) struct Reviewer {
    /// The pod's service account directory (a field so tests can point elsewhere).
    local_dir: PathBuf,
    /// The CA PEM the cached client trusts (empty: system roots) and the client.
    client: Mutex<Option<(String, reqwest::Client)>>,
}

/// The bearer token for the TokenReview call, and whether it is the client's own JWT.
struct Bearer {
    token: Sensitive<String>,
    is_client_jwt: bool,
}

impl Reviewer {
    pub(crate) fn new(local_dir: impl Into<PathBuf>) -> Self {
        Self {
            local_dir: local_dir.into(),
            client: Mutex::new(None),
        }
    }

    /// Reviews `jwt` and returns its service account. `audience` (if not empty) is sent as
    /// the review's audience and must come back confirmed.
    pub(crate) async fn review(
        &self,
        config: &ConfigRecord,
        jwt: &Sensitive<String>,
        audience: &str,
        role: &str,
    ) -> Result<ServiceAccount, KubeError> {
        let base = api_base(&config.kubernetes_host)
            .map_err(|e| KubeError::field("kubernetes_host", e))?;
        let host = base.as_str().trim_end_matches('/').to_string();
        let upstream = |reason: String| KubeError::Upstream {
            host: host.clone(),
            reason,
        };
        let ca = self.ca_pem(config).await?;
        let client = self.client(&ca)?;
        let bearer = self.bearer(config, jwt).await?;

        let mut spec = json!({ "token": jwt.expose() });
        if !audience.is_empty() {
            spec["audiences"] = json!([audience]);
        }
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": spec,
        });
        let url = format!("{host}{TOKEN_REVIEW_PATH}");
        let mut resp = client
            .post(&url)
            .bearer_auth(bearer.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| upstream(describe_send_error(&e)))?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| upstream(format!("reading the answer failed: {}", root_cause(&e))))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(upstream("the TokenReview answer is too large".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        let secrets = [jwt.expose().as_str(), bearer.token.expose().as_str()];

        if status.as_u16() == 401 || status.as_u16() == 403 {
            if bearer.is_client_jwt {
                return Err(KubeError::Denied(Denial::ClientCannotReview(
                    status.as_u16(),
                )));
            }
            let mut reason = format!(
                "the token reviewer JWT was refused (HTTP {})",
                status.as_u16()
            );
            if let Some(msg) = status_message(&bytes, &secrets) {
                reason.push_str(": ");
                reason.push_str(&msg);
            }
            return Err(upstream(reason));
        }
        if !status.is_success() {
            let mut reason = format!("the TokenReview call failed with HTTP {}", status.as_u16());
            if let Some(msg) = status_message(&bytes, &secrets) {
                reason.push_str(": ");
                reason.push_str(&msg);
            }
            return Err(upstream(reason));
        }
        let answer: ReviewAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| upstream("the answer is not a TokenReview".into()))?;
        let st = answer.status;
        if !st.authenticated {
            tracing::debug!(
                role,
                reason = %scrub(&st.error, &secrets),
                "kubernetes TokenReview did not authenticate the JWT"
            );
            return Err(KubeError::Denied(Denial::NotAuthenticated));
        }
        if !audience.is_empty() && !st.audiences.iter().any(|a| a == audience) {
            return Err(KubeError::Denied(Denial::Audience {
                role: role.to_string(),
                audience: audience.to_string(),
            }));
        }
        let (namespace, name) = parse_username(&st.user.username)
            .ok_or(KubeError::Denied(Denial::NotServiceAccount))?;
        if st.user.uid.is_empty() {
            return Err(upstream(
                "the TokenReview answer has no user uid for the service account".into(),
            ));
        }
        Ok(ServiceAccount {
            namespace,
            name,
            uid: st.user.uid,
        })
    }

    /// The CA to trust: the configured one, else the pod's when allowed and present, else
    /// empty (the system roots).
    async fn ca_pem(&self, config: &ConfigRecord) -> Result<String, KubeError> {
        if !config.kubernetes_ca_cert.is_empty() {
            return Ok(config.kubernetes_ca_cert.clone());
        }
        if config.disable_local_ca_jwt {
            return Ok(String::new());
        }
        Ok(self.read_local("ca.crt").await?.unwrap_or_default())
    }

    /// The bearer token: the configured reviewer JWT, else the pod's token when allowed and
    /// present, else the client's JWT.
    async fn bearer(
        &self,
        config: &ConfigRecord,
        jwt: &Sensitive<String>,
    ) -> Result<Bearer, KubeError> {
        let reviewer = |token: String| Bearer {
            token: Sensitive::new(token),
            is_client_jwt: false,
        };
        if !config.token_reviewer_jwt.expose().is_empty() {
            return Ok(reviewer(config.token_reviewer_jwt.expose().clone()));
        }
        if !config.disable_local_ca_jwt {
            // Re-read on every login: the kubelet rotates projected tokens.
            if let Some(token) = self.read_local("token").await? {
                let token = token.trim().to_string();
                if !token.is_empty() {
                    return Ok(reviewer(token));
                }
            }
        }
        Ok(Bearer {
            token: jwt.clone(),
            is_client_jwt: true,
        })
    }

    /// A file of the pod's service account directory; `None` when it does not exist.
    async fn read_local(&self, file: &str) -> Result<Option<String>, KubeError> {
        let path = self.local_dir.join(file);
        match tokio::fs::read_to_string(&path).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(KubeError::Internal(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            )),
        }
    }

    /// The HTTP client trusting `ca_pem` (system roots when empty), built once per CA.
    fn client(&self, ca_pem: &str) -> Result<reqwest::Client, KubeError> {
        {
            let cached = self.client.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((pem, client)) = cached.as_ref() {
                if pem == ca_pem {
                    return Ok(client.clone());
                }
            }
        }
        let client = build_client(ca_pem)?;
        let mut cached = self.client.lock().unwrap_or_else(|p| p.into_inner());
        *cached = Some((ca_pem.to_string(), client.clone()));
        Ok(client)
    }
}

fn build_client(ca_pem: &str) -> Result<reqwest::Client, KubeError> {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        // The bearer token must not follow a redirect anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if !ca_pem.is_empty() {
        // Validated when the config was written; the pod's CA file is checked here.
        let roots = parse_ca(ca_pem).map_err(|e| KubeError::field("kubernetes_ca_cert", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| KubeError::Internal(anyhow::Error::new(e)))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder = builder.use_preconfigured_tls(tls);
    }
    builder
        .build()
        .map_err(|e| KubeError::Internal(anyhow::Error::new(e).context("building the client")))
}

#[derive(Deserialize)]
struct ReviewAnswer {
    #[serde(default)]
    status: ReviewStatus,
}

#[derive(Deserialize, Default)]
struct ReviewStatus {
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    user: ReviewUser,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize, Default)]
struct ReviewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    uid: String,
}

/// `system:serviceaccount:<namespace>:<name>` → (namespace, name).
fn parse_username(username: &str) -> Option<(String, String)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    if ns.is_empty() || name.is_empty() || name.contains(':') {
        return None;
    }
    Some((ns.to_string(), name.to_string()))
}

/// The `message` of a Kubernetes `Status` error body, scrubbed and shortened.
fn status_message(body: &[u8], secrets: &[&str]) -> Option<String> {
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        message: String,
    }
    let s: Status = serde_json::from_slice(body).ok()?;
    (!s.message.is_empty()).then(|| scrub(&s.message, secrets))
}

/// Removes any secret from text we repeat, and shortens it.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "<redacted>");
    }
    if out.chars().count() > MAX_QUOTED {
        out = out.chars().take(MAX_QUOTED).collect::<String>() + "…";
    }
    out
}

/// Why a request did not get an answer, in words an operator can act on.
fn describe_send_error(e: &reqwest::Error) -> String {
    if let Some(tls) = find_tls_error(e) {
        return format!(
            "TLS handshake failed ({tls}); check that kubernetes_ca_cert is the CA of the \
             cluster's API server"
        );
    }
    if e.is_timeout() {
        return "no answer in time".into();
    }
    if e.is_connect() {
        return format!("unreachable ({})", root_cause(e));
    }
    format!("the request failed ({})", root_cause(e))
}

/// The innermost message of an error chain (e.g. "Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The rustls error somewhere in a chain. `io::Error::source` skips the error it wraps, so
/// wrapped errors are looked into explicitly.
fn find_tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(tls) = find_tls_error(inner) {
                return Some(tls);
            }
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_of_service_accounts() {
        assert_eq!(
            parse_username("system:serviceaccount:prod:web"),
            Some(("prod".into(), "web".into()))
        );
        assert_eq!(parse_username("system:node:n1"), None);
        assert_eq!(parse_username("system:serviceaccount:prod"), None);
        assert_eq!(parse_username("system:serviceaccount::web"), None);
        assert_eq!(parse_username("system:serviceaccount:a:b:c"), None);
    }

    #[test]
    fn scrub_removes_secrets_and_shortens() {
        assert_eq!(
            scrub("bad token abc.def", &["abc.def", ""]),
            "bad token <redacted>"
        );
        assert_eq!(scrub(&"x".repeat(500), &[]).chars().count(), MAX_QUOTED + 1);
    }

    fn config(disable_local: bool) -> ConfigRecord {
        ConfigRecord {
            version: 1,
            kubernetes_host: "https://127.0.0.1:1".into(),
            kubernetes_ca_cert: String::new(),
            token_reviewer_jwt: Sensitive::default(),
            disable_local_ca_jwt: disable_local,
            issuer: String::new(),
            disable_iss_validation: true,
            default_role: String::new(),
        }
    }

    #[tokio::test]
    async fn local_service_account_files_are_used_only_when_allowed_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let reviewer = Reviewer::new(dir.path());
        let jwt = Sensitive::new("client-jwt".to_string());

        // No files: the client's JWT and the system roots.
        let b = reviewer.bearer(&config(false), &jwt).await.unwrap();
        assert!(b.is_client_jwt);
        assert_eq!(reviewer.ca_pem(&config(false)).await.unwrap(), "");

        std::fs::write(dir.path().join("token"), "pod-token\n").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "pod-ca").unwrap();
        let b = reviewer.bearer(&config(false), &jwt).await.unwrap();
        assert_eq!(
            (b.token.expose().as_str(), b.is_client_jwt),
            ("pod-token", false)
        );
        assert_eq!(reviewer.ca_pem(&config(false)).await.unwrap(), "pod-ca");

        // disable_local_ca_jwt ignores them.
        let b = reviewer.bearer(&config(true), &jwt).await.unwrap();
        assert!(b.is_client_jwt);
        assert_eq!(reviewer.ca_pem(&config(true)).await.unwrap(), "");

        // Configured values win over the files.
        let mut c = config(false);
        c.token_reviewer_jwt = Sensitive::new("configured".into());
        c.kubernetes_ca_cert = "configured-ca".into();
        let b = reviewer.bearer(&c, &jwt).await.unwrap();
        assert_eq!(b.token.expose(), "configured");
        assert_eq!(reviewer.ca_pem(&c).await.unwrap(), "configured-ca");
    }
}
