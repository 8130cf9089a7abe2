//! [`Client::request_raw`]: a request whose answer is handed back untouched (status, headers,
//! body bytes), for callers that relay answers rather than read them, such as the agent's
//! proxy. Only a failure to get an answer at all is an error.

use std::fmt;

use bytes::Bytes;
use http::HeaderMap;

use crate::{Client, ClientError};

/// What the server answered, whatever the status: nothing parsed, nothing dropped.
pub struct RawAnswer {
    /// The HTTP status, as sent (4xx and 5xx included).
    pub status: u16,
    /// The response headers, as sent.
    pub headers: HeaderMap,
    /// The response body, as sent.
    pub body: Bytes,
}

/// Shows the status, the header names and the body's size, never the body: it may hold secrets.
impl fmt::Debug for RawAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("RawAnswer")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Client {
    /// Sends `method` to `/v1/<path_and_query>` with `body` as is and `headers` added to the
    /// token and `X-Vault-Request` (a `Content-Type` is sent only if given). The answer comes
    /// back as is, any status; only a request that got no answer is an error. Retries as
    /// [`Client::request`]: GET and LIST on connection errors and 5xx (the last answer is
    /// returned), other methods only when the connection could not be made.
    pub async fn request_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Bytes>,
        headers: &[(&str, &str)],
    ) -> Result<RawAnswer, ClientError> {
        let header_map = self.headers(headers)?;
        let raw = self
            .send_bytes(method, path_and_query, body, header_map)
            .await?;
        Ok(RawAnswer {
            status: raw.status,
            headers: raw.headers,
            body: raw.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_body() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().expect("value"));
        let answer = RawAnswer {
            status: 200,
            headers,
            body: Bytes::from_static(br#"{"data":{"password":"hunter2-raw"}}"#),
        };
        let shown = format!("{answer:?}");
        assert!(!shown.contains("hunter2-raw"), "{shown}");
        assert!(shown.contains("content-type"), "{shown}");
    }
}
