//! Typed HTTP client for the Vault-compatible API, used by the CLI, the agent and tests.
//!
//! [`Client::request`] is the one place a JSON request is sent: it adds `X-Vault-Token` and
//! `X-Vault-Request`, maps `{"errors": [...]}` to [`ClientError`], and retries with
//! exponential backoff: idempotent reads (GET, LIST) on connection errors and 5xx answers,
//! every other method only when the connection could not be made (the request never left).
//! Everything else (`read`, `write`, the `sys` and `sys/leases` helpers, KV mount detection)
//! is a thin wrapper over it. [`Client::request_raw`] sends bytes through the same path
//! (token, headers, retries) and hands back status, headers and body untouched, for the
//! agent's proxy.
//!
//! API Boundary: paths are given without the `/v1/` prefix (`"secret/data/app"`), bodies and
//! answers are Vault's JSON as `serde_json::Value` (raw bytes for `request_raw`).

mod error;
mod kv;
mod leases;
mod raw;
mod sys;
#[cfg(feature = "test-util")]
pub mod testing;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use secrethub_common::Sensitive;
use serde_json::Value;

pub use error::{ClientError, ClientErrorKind};
pub use kv::{add_prefix_to_kv_path, KvTarget};
pub use leases::RevokeTarget;
pub use raw::RawAnswer;
pub use sys::{InitRequest, InitResponse, SealStatus};

/// How many times a failed request is sent again by default (so at most three attempts, as
/// Vault's client); [`Client::with_max_retries`] changes it (Vault Agent's `num_retries`).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The first pause before a retry; it doubles after each attempt up to [`RETRY_MAX_DELAY`].
const RETRY_BASE_DELAY: Duration = Duration::from_millis(100);
/// The longest pause between two attempts.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Server address such as `http://127.0.0.1:8200` (a trailing `/` is ignored).
    pub addr: String,
    /// Token sent as `X-Vault-Token`; none for unauthenticated calls (seal status, init, unseal).
    pub token: Option<Sensitive<String>>,
    /// PEM file with the CA certificate(s) that signed the server's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate. Only for tests and local experiments.
    pub insecure_skip_verify: bool,
    /// Upper bound on one attempt of one request, connection included.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            addr: "http://127.0.0.1:8200".to_string(),
            token: None,
            ca_cert: None,
            insecure_skip_verify: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A connection pool to one server plus the token to present. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    addr: String,
    token: Option<Sensitive<String>>,
    max_retries: u32,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// Builds the HTTP client: TLS through rustls with the system roots plus `ca_cert`.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let addr = config.addr.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&addr)
            .map_err(|e| ClientError::config(format!("invalid address {addr:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::config(format!(
                "invalid address {addr:?}: the scheme must be http or https"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .danger_accept_invalid_certs(config.insecure_skip_verify);
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                ClientError::config(format!(
                    "error reading CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ClientError::config(format!(
                    "error parsing CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(ClientError::config(format!(
                    "no certificate found in {}",
                    path.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::config(format!("error building the HTTP client: {e}")))?;
        Ok(Client {
            http,
            addr,
            token: config.token,
            max_retries: DEFAULT_MAX_RETRIES,
        })
    }

    /// The same client sending a failed request again up to `max_retries` times.
    pub fn with_max_retries(self, max_retries: u32) -> Client {
        Client {
            max_retries,
            ..self
        }
    }

    /// The same client (sharing its connection pool) presenting another token.
    pub fn with_token(&self, token: Sensitive<String>) -> Client {
        Client {
            token: Some(token),
            ..self.clone()
        }
    }

    /// The same client presenting no token.
    pub fn without_token(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    /// The token this client presents, if any.
    pub fn token(&self) -> Option<&Sensitive<String>> {
        self.token.as_ref()
    }

    /// The server address, without a trailing `/`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `method` (`GET PUT POST DELETE LIST PATCH`) to `/v1/<path>`; `path` may carry a
    /// query string. Answers `None` for an empty body (204), the JSON body otherwise.
    /// GET and LIST are retried on connection errors and 5xx answers; every method is retried
    /// when the connection could not be made.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Option<Value>, ClientError> {
        self.send(method, path, body, headers).await?.into_result()
    }

    /// `GET path`. A 404 answers `None`, unless the server sent data or warnings with it
    /// (a deleted KV v2 version still reports its metadata), as Vault's client does.
    pub async fn read(&self, path: &str) -> Result<Option<Value>, ClientError> {
        self.send("GET", path, None, &[]).await?.not_found_as_none()
    }

    /// `PUT path` with a JSON body, as Vault's `write`.
    pub async fn write(&self, path: &str, body: &Value) -> Result<Option<Value>, ClientError> {
        self.request("PUT", path, Some(body), &[]).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Option<Value>, ClientError> {
        self.request("DELETE", path, None, &[]).await
    }

    /// `LIST path`; a 404 (nothing under the prefix) answers `None`.
    pub async fn list(&self, path: &str) -> Result<Option<Value>, ClientError> {
        self.send("LIST", path, None, &[])
            .await?
            .not_found_as_none()
    }

    /// `PATCH path` with a JSON merge patch (`application/merge-patch+json`).
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Option<Value>, ClientError> {
        let content_type = [("Content-Type", "application/merge-patch+json")];
        self.request("PATCH", path, Some(body), &content_type).await
    }

    /// Sends a JSON request, retrying GET and LIST; any answer (even 4xx) is returned as is.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse, ClientError> {
        let mut header_map = self.headers(headers)?;
        let body = match body {
            Some(value) => {
                let bytes = serde_json::to_vec(value).map_err(|e| {
                    ClientError::config(format!("error encoding the request body: {e}"))
                })?;
                // A Content-Type set by the caller (merge patch) wins.
                if !header_map.contains_key(CONTENT_TYPE) {
                    header_map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                Some(Bytes::from(bytes))
            }
            None => None,
        };
        self.send_bytes(method, path, body, header_map).await
    }

    /// Sends `body` as is with `header_map` (token included), retrying GET and LIST on
    /// connection errors and 5xx, any method when the connection was never made; the last
    /// answer, whatever its status, is returned as is.
    async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        header_map: HeaderMap,
    ) -> Result<RawResponse, ClientError> {
        let method_name = method.to_ascii_uppercase();
        let http_method = Method::from_bytes(method_name.as_bytes())
            .map_err(|_| ClientError::config(format!("invalid HTTP method {method:?}")))?;
        let url = format!("{}/v1/{}", self.addr, path.trim_start_matches('/'));
        let idempotent = matches!(method_name.as_str(), "GET" | "LIST");
        let attempts = 1 + self.max_retries;
        let mut delay = RETRY_BASE_DELAY;
        let mut attempt = 1;
        loop {
            let result = self
                .send_once(&http_method, &url, body.clone(), header_map.clone())
                .await;
            let retryable = match &result {
                Err(err) if idempotent => err.is_retryable(),
                Err(err) => err.was_not_sent(),
                Ok(raw) => idempotent && raw.status >= 500 && raw.status != 501,
            };
            if attempt >= attempts || !retryable {
                return result;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX_DELAY);
            attempt += 1;
        }
    }

    fn headers(&self, extra: &[(&str, &str)]) -> Result<HeaderMap, ClientError> {
        let mut map = HeaderMap::new();
        map.insert("x-vault-request", HeaderValue::from_static("true"));
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
                ClientError::config("the token contains characters not allowed in a header")
            })?;
            value.set_sensitive(true);
            map.insert("x-vault-token", value);
        }
        for (name, value) in extra {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::config(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::config(format!("invalid value for header {name}")))?;
            map.insert(name, value);
        }
        Ok(map)
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        body: Option<Bytes>,
        headers: HeaderMap,
    ) -> Result<RawResponse, ClientError> {
        let method_name = method.as_str();
        let mut builder = self.http.request(method.clone(), url).headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| ClientError::connection(method_name, url, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::connection(method_name, url, &e))?;
        Ok(RawResponse {
            method: method_name.to_string(),
            url: url.to_string(),
            status,
            headers,
            bytes,
        })
    }
}

/// An answer before it is judged: kept apart so `read` and `list` can treat 404 as "nothing".
struct RawResponse {
    method: String,
    url: String,
    status: u16,
    headers: HeaderMap,
    bytes: Bytes,
}

impl RawResponse {
    fn into_result(self) -> Result<Option<Value>, ClientError> {
        if !(200..400).contains(&self.status) {
            return Err(ClientError::api(
                &self.method,
                &self.url,
                self.status,
                &self.bytes,
            ));
        }
        if self.status == 204 || self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.bytes)
            .map(Some)
            .map_err(|e| ClientError::decode(&self.method, &self.url, self.status, e.to_string()))
    }

    /// A 404 is "nothing there", unless its body carries data or warnings worth showing
    /// (Vault answers a deleted KV v2 version with 404 and its metadata).
    fn not_found_as_none(self) -> Result<Option<Value>, ClientError> {
        if self.status != 404 {
            return self.into_result();
        }
        let Ok(body) = serde_json::from_slice::<Value>(&self.bytes) else {
            return Ok(None);
        };
        let non_empty = |key: &str| match body.get(key) {
            Some(Value::Object(map)) => !map.is_empty(),
            Some(Value::Array(list)) => !list.is_empty(),
            _ => false,
        };
        Ok((non_empty("data") || non_empty("warnings")).then_some(body))
    }
}
