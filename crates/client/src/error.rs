//! `ClientError`: what went wrong talking to the server, printed the way Vault's CLI prints it.
//!
//! Errors name the method and URL of the request but never carry the token (it travels in a
//! header, never in the URL) nor a response body of a successful call (it may hold secrets).

use std::fmt;

use secrethub_common::ErrorKind;

/// Which stage of a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientErrorKind {
    /// The server answered with a status outside 200..400.
    Api,
    /// The request never got an answer: refused connection, TLS failure, timeout.
    Connection,
    /// The server answered 2xx but the body was not the JSON we expected.
    Decode,
    /// The client could not be set up or the request could not be built (bad address, CA file, method).
    Config,
}

/// A failed request. `errors` holds the server's `{"errors": [...]}` for [`ClientErrorKind::Api`].
#[derive(Debug)]
pub struct ClientError {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The server's error messages (empty when it sent none).
    pub errors: Vec<String>,
    /// Which stage failed.
    pub kind: ClientErrorKind,
    /// Where and why; boxed so `Result<_, ClientError>` stays small.
    pub(crate) context: Box<ErrorContext>,
}

/// The request an error is about, and its cause as text.
#[derive(Debug, Default)]
pub(crate) struct ErrorContext {
    /// `GET`, `PUT`, ... (empty for configuration errors raised before any request).
    method: String,
    /// The full URL of the request, without credentials.
    url: String,
    /// A body that was not Vault's error JSON, truncated (Vault shows it as "Raw Message").
    raw_message: Option<String>,
    /// Cause for connection, decode and config errors, already flattened to text.
    detail: Option<String>,
    /// The connection could not be made, so the request never reached the server: safe to
    /// send again whatever its method.
    not_sent: bool,
}

/// The most of a non-JSON error body that is kept for display.
const RAW_MESSAGE_LIMIT: usize = 1024;

impl ClientError {
    pub(crate) fn api(method: &str, url: &str, status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            errors: Vec<String>,
        }
        let (errors, raw_message) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => (parsed.errors, None),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let cut: String = text.chars().take(RAW_MESSAGE_LIMIT).collect();
                (Vec::new(), Some(cut))
            }
        };
        Self {
            status: Some(status),
            errors,
            kind: ClientErrorKind::Api,
            context: Box::new(ErrorContext {
                method: method.to_string(),
                url: url.to_string(),
                raw_message,
                detail: None,
                not_sent: false,
            }),
        }
    }

    pub(crate) fn connection(method: &str, url: &str, err: &reqwest::Error) -> Self {
        let mut error =
            Self::with_detail(ClientErrorKind::Connection, method, url, error_chain(err));
        error.context.not_sent = err.is_connect();
        error
    }

    /// The request never reached the server (connection refused, DNS, TLS handshake).
    pub(crate) fn was_not_sent(&self) -> bool {
        self.context.not_sent
    }

    pub(crate) fn decode(method: &str, url: &str, status: u16, detail: String) -> Self {
        let mut err = Self::with_detail(ClientErrorKind::Decode, method, url, detail);
        err.status = Some(status);
        err
    }

    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Self::with_detail(ClientErrorKind::Config, "", "", detail.into())
    }

    fn with_detail(kind: ClientErrorKind, method: &str, url: &str, detail: String) -> Self {
        Self {
            status: None,
            errors: Vec::new(),
            kind,
            context: Box::new(ErrorContext {
                method: method.to_string(),
                url: url.to_string(),
                raw_message: None,
                detail: Some(detail),
                not_sent: false,
            }),
        }
    }

    /// The shared error category, so callers can branch on "not found" or "sealed" without parsing text.
    pub fn kind(&self) -> ErrorKind {
        match self.kind {
            ClientErrorKind::Connection => ErrorKind::Unavailable,
            ClientErrorKind::Decode => ErrorKind::Internal,
            ClientErrorKind::Config => ErrorKind::BadRequest,
            ClientErrorKind::Api => match self.status.unwrap_or(500) {
                400 => ErrorKind::BadRequest,
                401 | 403 => ErrorKind::PermissionDenied,
                404 => ErrorKind::NotFound,
                405 => ErrorKind::UnsupportedOperation,
                409 | 412 => ErrorKind::Conflict,
                413 => ErrorKind::PayloadTooLarge,
                429 => ErrorKind::RateLimited,
                503 if self.errors.iter().any(|e| e.contains("sealed")) => ErrorKind::Sealed,
                502..=504 => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
        }
    }

    /// Whether an idempotent request that failed this way is worth sending again:
    /// no answer at all, or a server-side failure other than "not implemented" (Vault's rule).
    pub(crate) fn is_retryable(&self) -> bool {
        match self.kind {
            ClientErrorKind::Connection => true,
            ClientErrorKind::Api => matches!(self.status, Some(s) if s >= 500 && s != 501),
            ClientErrorKind::Decode | ClientErrorKind::Config => false,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = &self.context;
        match self.kind {
            ClientErrorKind::Api => {
                let status = self.status.unwrap_or(0);
                write!(
                    f,
                    "Error making API request.\n\nURL: {} {}\n",
                    ctx.method, ctx.url
                )?;
                if let Some(raw) = &ctx.raw_message {
                    return write!(f, "Code: {status}. Raw Message:\n\n{raw}");
                }
                writeln!(f, "Code: {status}. Errors:")?;
                for err in &self.errors {
                    write!(f, "\n* {err}")?;
                }
                Ok(())
            }
            ClientErrorKind::Connection => {
                let detail = ctx.detail.as_deref().unwrap_or("no response");
                write!(
                    f,
                    "{} \"{}\": {detail}",
                    go_method_name(&ctx.method),
                    ctx.url
                )
            }
            ClientErrorKind::Decode => {
                let detail = ctx.detail.as_deref().unwrap_or("invalid response");
                write!(
                    f,
                    "error decoding the response of {} {}: {detail}",
                    ctx.method, ctx.url
                )
            }
            ClientErrorKind::Config => write!(
                f,
                "{}",
                ctx.detail
                    .as_deref()
                    .unwrap_or("invalid client configuration")
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Vault (Go's net/http) capitalises the method in connection errors: `Get "http://...": ...`.
fn go_method_name(method: &str) -> String {
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => {
            first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
        }
        None => String::new(),
    }
}

/// The causes of a reqwest error, without reqwest's own top line (which repeats the URL).
fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        if err.is_timeout() {
            return "request timed out".to_string();
        }
        return err.to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_displays_like_vault() {
        let err = ClientError::api(
            "PUT",
            "http://127.0.0.1:8200/v1/sys/mounts/x",
            403,
            br#"{"errors":["permission denied"]}"#,
        );
        assert_eq!(
            err.to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/sys/mounts/x\nCode: 403. Errors:\n\n* permission denied"
        );
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(err.errors, vec!["permission denied".to_string()]);
    }

    #[test]
    fn non_json_error_body_is_shown_raw() {
        let err = ClientError::api("GET", "http://h/v1/x", 502, b"bad gateway");
        assert_eq!(
            err.to_string(),
            "Error making API request.\n\nURL: GET http://h/v1/x\nCode: 502. Raw Message:\n\nbad gateway"
        );
        assert!(err.is_retryable());
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn sealed_and_not_found_kinds() {
        let sealed = ClientError::api("GET", "u", 503, br#"{"errors":["Vault is sealed"]}"#);
        assert_eq!(sealed.kind(), ErrorKind::Sealed);
        let missing = ClientError::api("GET", "u", 404, br#"{"errors":[]}"#);
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(!missing.is_retryable());
        let not_impl = ClientError::api("GET", "u", 501, b"{}");
        assert!(!not_impl.is_retryable());
    }
}
