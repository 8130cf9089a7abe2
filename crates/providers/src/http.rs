//! The HTTP client of the cloud providers (AWS Secrets Manager, Azure Key Vault): rustls with
//! the system roots, bounded per request, and error text that names the request's cause but
//! never a body.

use std::time::Duration;

use crate::{ProviderError, ProviderErrorKind};

/// One attempt of one request; [`crate::Providers`] bounds a whole read with its own timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for `provider`'s calls.
pub(crate) fn client(provider: &str) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Invalid,
                provider,
                format!("building the HTTP client failed: {e}"),
            )
        })
}

/// A request that got no answer: unreachable, refused, TLS failure or timeout.
pub(crate) fn unreachable(provider: &str, what: &str, err: &reqwest::Error) -> ProviderError {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let detail = if causes.is_empty() {
        err.to_string()
    } else {
        causes.join(": ")
    };
    ProviderError::new(
        ProviderErrorKind::Unavailable,
        provider,
        format!("{what}: no answer: {detail}"),
    )
}

/// How a status outside 2xx is treated when the service's own error code says nothing more.
pub(crate) fn kind_of_status(status: u16) -> ProviderErrorKind {
    match status {
        401 | 403 => ProviderErrorKind::Denied,
        404 => ProviderErrorKind::NotFound,
        408 | 429 | 500..=599 => ProviderErrorKind::Unavailable,
        _ => ProviderErrorKind::Invalid,
    }
}
