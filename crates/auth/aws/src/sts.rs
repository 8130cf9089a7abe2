//! Forwarding a checked login request to STS and reading its answer.
//!
//! The request goes to the configured endpoint (never to the host in the client's URL) with
//! the client's signed headers and its `Host`, over HTTP/1.1 so that `Host` is sent exactly as
//! signed. Connection failures and 5xx answers are retried `max_retries` times; a 4xx answer is
//! the client's failure and becomes a 400 naming STS's error code. The XML answers are read
//! with a small tag extractor: `GetCallerIdentityResult` has three flat text fields.

use std::time::Duration;

use secrethub_engine::EngineError;

/// How much of an STS answer is read.
const MAX_RESPONSE: usize = 64 * 1024;

/// Who signed the request, as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    pub(crate) arn: String,
    pub(crate) user_id: String,
    pub(crate) account: String,
}

/// A region name such as `us-east-1` (so it can go into a host name safely).
pub(crate) fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Checks an endpoint URL: `http(s)://host[:port][/path]`, without credentials or query.
pub(crate) fn validate_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| format!("{endpoint:?} is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("{endpoint:?} is not an http or https URL"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) || uri.query().is_some() {
        return Err(format!(
            "{endpoint:?} must not contain credentials or a query"
        ));
    }
    Ok(())
}

/// The regional endpoint for `region`.
pub(crate) fn regional_endpoint(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com")
}

/// What to send.
pub(crate) struct Forward<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) host: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a str,
    pub(crate) retries: u32,
}

fn upstream(what: &str, source: impl Into<anyhow::Error>) -> EngineError {
    EngineError::Upstream {
        what: what.to_string(),
        source: source.into(),
    }
}

/// Sends the request and returns the caller's identity.
pub(crate) async fn get_caller_identity(
    client: &reqwest::Client,
    fwd: &Forward<'_>,
) -> Result<CallerIdentity, EngineError> {
    let url = format!("{}/", fwd.endpoint.trim_end_matches('/'));
    let mut attempt = 0u32;
    loop {
        let mut rb = client
            .post(&url)
            .header(http::header::HOST, fwd.host)
            .body(fwd.body.to_string());
        for (k, v) in fwd.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let err: anyhow::Error = match rb.send().await {
            Ok(resp) => {
                let status = resp.status();
                match read_limited(resp).await {
                    Ok(text) if status.is_server_error() => anyhow::anyhow!(
                        "sts answered HTTP {status} {}",
                        error_code(&text).unwrap_or_default()
                    ),
                    Ok(text) => return interpret(status, &text),
                    Err(e) => e,
                }
            }
            Err(e) => anyhow::Error::new(e),
        };
        if attempt >= fwd.retries {
            tracing::warn!(attempt, error = %err, "sts request failed");
            return Err(upstream("sts endpoint", err));
        }
        attempt += 1;
        tracing::debug!(attempt, error = %err, "retrying sts request");
        let backoff = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)));
        tokio::time::sleep(backoff).await;
    }
}

async fn read_limited(mut resp: reqwest::Response) -> Result<String, anyhow::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > MAX_RESPONSE {
            anyhow::bail!("sts answer larger than {MAX_RESPONSE} bytes");
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn interpret(status: reqwest::StatusCode, text: &str) -> Result<CallerIdentity, EngineError> {
    if !status.is_success() {
        let msg = match error_code(text) {
            Some(code) => format!(
                "sts rejected the login request: {code} (HTTP {})",
                status.as_u16()
            ),
            None => format!("sts rejected the login request (HTTP {})", status.as_u16()),
        };
        // STS answers 403 when the signature or key is wrong: the caller failed to prove who
        // it is. Other 4xx answers are malformed requests.
        return Err(if status == reqwest::StatusCode::FORBIDDEN {
            EngineError::Denied(msg)
        } else {
            EngineError::BadRequest(msg)
        });
    }
    parse_caller_identity(text).ok_or_else(|| {
        upstream(
            "sts endpoint",
            anyhow::anyhow!("answer has no GetCallerIdentityResult with Arn, UserId and Account"),
        )
    })
}

/// The text of the first `<tag>…</tag>` in `doc`, XML entities decoded.
fn element<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let len = doc[start..].find(&close)?;
    Some(&doc[start..start + len])
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';')?;
        let entity = &after[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    entity.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(n)?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn text_of(doc: &str, tag: &str) -> Option<String> {
    let v = unescape(element(doc, tag)?.trim())?;
    (!v.is_empty()).then_some(v)
}

/// Reads `<GetCallerIdentityResult><Arn/><UserId/><Account/></GetCallerIdentityResult>`.
pub(crate) fn parse_caller_identity(doc: &str) -> Option<CallerIdentity> {
    let result = element(doc, "GetCallerIdentityResult")?;
    Some(CallerIdentity {
        arn: text_of(result, "Arn")?,
        user_id: text_of(result, "UserId")?,
        account: text_of(result, "Account")?,
    })
}

/// The `<Code>` of an STS error answer, when it looks like one (letters, digits, dots).
pub(crate) fn error_code(doc: &str) -> Option<String> {
    let code = text_of(element(doc, "Error")?, "Code")?;
    let plain = code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    plain.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_caller_identity() {
        let doc = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/r&amp;d/s</Arn>
    <UserId>AROAEXAMPLE:s</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            parse_caller_identity(doc),
            Some(CallerIdentity {
                arn: "arn:aws:sts::123456789012:assumed-role/r&d/s".into(),
                user_id: "AROAEXAMPLE:s".into(),
                account: "123456789012".into(),
            })
        );
        assert_eq!(parse_caller_identity("<Arn>x</Arn>"), None);
        assert_eq!(
            parse_caller_identity(
                "<GetCallerIdentityResult><Arn>a</Arn><UserId></UserId><Account>1</Account></GetCallerIdentityResult>"
            ),
            None
        );
    }

    #[test]
    fn reads_error_codes_of_both_shapes() {
        let aws = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\
                   <Message>m</Message></Error></ErrorResponse>";
        assert_eq!(error_code(aws).as_deref(), Some("SignatureDoesNotMatch"));
        let moto = "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code></Error>\
                    </Errors></ErrorResponse>";
        assert_eq!(error_code(moto).as_deref(), Some("InvalidClientTokenId"));
        assert_eq!(error_code("<Error><Code>a b</Code></Error>"), None);
        assert_eq!(error_code("nothing"), None);
        let e = interpret(reqwest::StatusCode::FORBIDDEN, aws).unwrap_err();
        assert_eq!(
            e.to_string(),
            "permission denied: sts rejected the login request: SignatureDoesNotMatch (HTTP 403)"
        );
        let e = interpret(
            reqwest::StatusCode::BAD_REQUEST,
            "<Error><Code>Bad</Code></Error>",
        );
        assert!(matches!(e, Err(EngineError::BadRequest(_))));
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(unescape("a&lt;b&#62;&#x41;").as_deref(), Some("a<b>A"));
        assert_eq!(unescape("&bogus;"), None);
        assert_eq!(unescape("a & b"), None);
    }

    #[test]
    fn checks_endpoints_and_regions() {
        validate_endpoint("https://sts.amazonaws.com").unwrap();
        validate_endpoint("http://127.0.0.1:5000/").unwrap();
        assert!(validate_endpoint("sts.amazonaws.com").is_err());
        assert!(validate_endpoint("https://u:p@sts.amazonaws.com").is_err());
        assert!(validate_endpoint("https://sts.amazonaws.com/?a=b").is_err());
        assert!(valid_region("eu-west-1"));
        assert!(!valid_region("evil.com/"));
        assert!(!valid_region(""));
        assert_eq!(
            regional_endpoint("eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
    }
}
