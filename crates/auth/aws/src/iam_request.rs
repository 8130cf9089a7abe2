//! The signed `sts:GetCallerIdentity` request a client hands to `login`, decoded from the four
//! `iam_*` fields and checked before anything is forwarded: only `POST /` with exactly the
//! GetCallerIdentity action, a SigV4 `Authorization` for `sts`, a signed `X-Amz-Date` within
//! 15 minutes of now (STS checks this too, but a local STS stand-in may not), and, when
//! configured, a signed `X-Vault-AWS-IAM-Server-ID` header with the configured value.
//!
//! Forwarding keeps every signed header (the signature covers them) and drops unsigned ones
//! that are not on the allowlist; hop-by-hop headers are refused outright.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use secrethub_engine::{EngineError, JsonMap};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::records::ClientConfigRecord;
use crate::sigv4::{self, Authorization};

/// The header carrying the server ID, as Vault names it.
pub const SERVER_ID_HEADER: &str = "X-Vault-AWS-IAM-Server-ID";
/// The body a GetCallerIdentity request has.
pub(crate) const GET_CALLER_IDENTITY_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// How far `X-Amz-Date` may be from the server's clock.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

const MAX_URL_LEN: usize = 2048;
const MAX_BODY_LEN: usize = 4096;
const MAX_HEADERS_LEN: usize = 32 * 1024;

/// Unsigned headers that are forwarded (signed ones always are).
const FORWARDED_UNSIGNED: &[&str] = &[
    "accept",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "authorization",
    "content-type",
    "user-agent",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-user-agent",
    "x-vault-aws-iam-server-id",
];

/// Headers that describe a connection, not a request; a client has no business setting them.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Standard base64, padding optional.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg.into())
}

/// A 403 with its reason: the request is well-formed but not meant for this server.
fn denied(msg: String) -> EngineError {
    EngineError::Denied(msg)
}

/// A decoded login request.
#[derive(Debug)]
pub(crate) struct IamRequest {
    url: http::Uri,
    body: String,
    /// Lower-case name → values, as the client sent them.
    headers: BTreeMap<String, Vec<String>>,
}

fn decode_b64_field(body: &JsonMap, field: &str, max: usize) -> Result<Vec<u8>, EngineError> {
    let s = match body.get(field) {
        None | Some(Value::Null) => return Err(bad(format!("missing {field}"))),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(bad(format!("invalid {field}: expected a base64 string"))),
    };
    if s.len() > max * 4 / 3 + 4 {
        return Err(bad(format!("invalid {field}: too long")));
    }
    B64.decode(s)
        .map_err(|_| bad(format!("invalid {field}: not valid base64")))
}

fn utf8(field: &str, bytes: Vec<u8>) -> Result<String, EngineError> {
    String::from_utf8(bytes).map_err(|_| bad(format!("invalid {field}: not UTF-8 text")))
}

/// `iam_request_headers` is base64 of a JSON object, or the JSON object itself.
fn decode_headers(body: &JsonMap) -> Result<BTreeMap<String, Vec<String>>, EngineError> {
    const FIELD: &str = "iam_request_headers";
    let object = match body.get(FIELD) {
        Some(Value::Object(m)) => m.clone(),
        _ => {
            let raw = decode_b64_field(body, FIELD, MAX_HEADERS_LEN)?;
            match serde_json::from_slice::<Value>(&raw) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(bad(format!(
                        "invalid {FIELD}: expected base64 of a JSON object of header names to \
                         strings or lists of strings"
                    )))
                }
            }
        }
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, v) in object {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(bad(format!(
                "invalid {FIELD}: {name:?} is not a header name"
            )));
        }
        let values: Vec<String> = match v {
            Value::String(s) => vec![s],
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    _ => Err(bad(format!(
                        "invalid {FIELD}: values of {name:?} must be strings"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(bad(format!(
                    "invalid {FIELD}: {name:?} must be a string or a list of strings"
                )))
            }
        };
        for value in &values {
            if http::HeaderValue::from_str(value).is_err() {
                return Err(bad(format!(
                    "invalid {FIELD}: the value of {name:?} is not a valid header value"
                )));
            }
        }
        out.entry(name.to_ascii_lowercase())
            .or_default()
            .extend(values);
    }
    for name in out.keys() {
        if HOP_BY_HOP.contains(&name.as_str()) {
            return Err(bad(format!(
                "invalid {FIELD}: the {name} header is not allowed"
            )));
        }
    }
    Ok(out)
}

/// Checks the form body is exactly Action=GetCallerIdentity and Version=2011-06-15.
fn check_body(body: &str) -> Result<(), EngineError> {
    let mut action = None;
    let mut version = None;
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            String::from_utf8_lossy(&sigv4::percent_decode(&s.replace('+', " "))).into_owned()
        };
        let slot = match decode(k).as_str() {
            "Action" => &mut action,
            "Version" => &mut version,
            _ => {
                return Err(bad(
                    "invalid iam_request_body: only the Action and Version parameters of \
                     GetCallerIdentity are allowed",
                ))
            }
        };
        if slot.replace(decode(v)).is_some() {
            return Err(bad("invalid iam_request_body: repeated parameter"));
        }
    }
    match action.as_deref() {
        Some("GetCallerIdentity") => {}
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            return Err(bad(format!(
                "invalid iam_request_body: Action must be GetCallerIdentity, got {shown:?}"
            )));
        }
        None => return Err(bad("invalid iam_request_body: missing Action")),
    }
    if version.as_deref() != Some("2011-06-15") {
        return Err(bad("invalid iam_request_body: Version must be 2011-06-15"));
    }
    Ok(())
}

/// `host[:port]` of `uri`, without the scheme's default port.
pub(crate) fn host_of(uri: &http::Uri) -> Option<String> {
    let authority = uri.authority()?.as_str();
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return None,
    };
    match uri.port_u16() {
        Some(p) if p == default_port => authority.rsplit_once(':').map(|(h, _)| h.to_string()),
        _ => Some(authority.to_string()),
    }
}

impl IamRequest {
    /// Decodes and checks the four `iam_*` fields of a login body.
    pub(crate) fn decode(body: &JsonMap) -> Result<Self, EngineError> {
        match body.get("iam_http_request_method") {
            None | Some(Value::Null) => {
                if ["pkcs7", "identity", "signature"]
                    .iter()
                    .any(|f| secrethub_common::input::given(body, f).is_some())
                {
                    return Err(bad("ec2 logins are not supported: use the iam login type"));
                }
                return Err(bad("missing iam_http_request_method"));
            }
            Some(Value::String(m)) if m == "POST" => {}
            Some(_) => {
                return Err(bad(
                    "invalid iam_http_request_method: only POST is supported",
                ))
            }
        }
        let url = utf8(
            "iam_request_url",
            decode_b64_field(body, "iam_request_url", MAX_URL_LEN)?,
        )?;
        let url: http::Uri = url
            .parse()
            .map_err(|_| bad("invalid iam_request_url: not a URL"))?;
        if host_of(&url).is_none() {
            return Err(bad(
                "invalid iam_request_url: expected an http or https URL with a host",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some_and(|q| !q.is_empty()) {
            return Err(bad(
                "invalid iam_request_url: the path must be / with no query",
            ));
        }
        let req_body = utf8(
            "iam_request_body",
            decode_b64_field(body, "iam_request_body", MAX_BODY_LEN)?,
        )?;
        check_body(&req_body)?;
        let headers = decode_headers(body)?;
        Ok(IamRequest {
            url,
            body: req_body,
            headers,
        })
    }

    /// The values of header `name` joined with commas, as an HTTP server would see them.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(|vs| vs.join(","))
    }

    /// Checks the signature's shape, the date and the server ID; returns the parsed
    /// `Authorization` header.
    pub(crate) fn check(
        &self,
        config: &ClientConfigRecord,
        now: SystemTime,
    ) -> Result<Authorization, EngineError> {
        let raw = self
            .header("authorization")
            .ok_or_else(|| bad("iam_request_headers has no Authorization header"))?;
        let auth = sigv4::parse_authorization(&raw)
            .ok_or_else(|| bad("the Authorization header is not an AWS4-HMAC-SHA256 signature"))?;
        if auth.service != "sts" {
            return Err(bad(format!(
                "the request is signed for service {:?}, expected sts",
                auth.service
            )));
        }
        let signed = |h: &str| auth.signed_headers.iter().any(|s| s == h);

        let date = self
            .header("x-amz-date")
            .ok_or_else(|| bad("iam_request_headers has no X-Amz-Date header"))?;
        if !signed("x-amz-date") {
            return Err(bad("the X-Amz-Date header is not signed"));
        }
        let signed_at = sigv4::parse_amz_date(date.trim())
            .ok_or_else(|| bad(format!("invalid X-Amz-Date {date:?}")))?;
        let skew = now
            .duration_since(signed_at)
            .or_else(|_| signed_at.duration_since(now))
            .unwrap_or_default();
        if skew > MAX_CLOCK_SKEW {
            return Err(bad(format!(
                "the request was signed at {date}, more than 15 minutes from the server's \
                 time {}: sign a fresh request",
                sigv4::format_amz_date(now)
            )));
        }

        let expected = &config.iam_server_id_header_value;
        if !expected.is_empty() {
            let got = self
                .header(SERVER_ID_HEADER)
                .ok_or_else(|| denied(format!("missing {SERVER_ID_HEADER} header")))?;
            if !bool::from(got.as_bytes().ct_eq(expected.as_bytes())) {
                // The server ID is an audience name, not a secret: showing both helps.
                return Err(denied(format!(
                    "invalid {SERVER_ID_HEADER} header: expected {expected:?} but got {got:?}"
                )));
            }
            if !signed(&SERVER_ID_HEADER.to_ascii_lowercase()) {
                return Err(denied(format!(
                    "the {SERVER_ID_HEADER} header is not signed: it must be listed in \
                     SignedHeaders"
                )));
            }
        }
        Ok(auth)
    }

    /// The `Host` to send: the client's explicit header, else its URL's host.
    pub(crate) fn host(&self) -> Result<String, EngineError> {
        match self.headers.get("host").map(Vec::as_slice) {
            Some([one]) => Ok(one.trim().to_string()),
            Some(_) => Err(bad("iam_request_headers has more than one Host header")),
            // `decode` checked the URL has a host.
            None => host_of(&self.url).ok_or_else(|| bad("invalid iam_request_url")),
        }
    }

    /// The form body, already checked.
    pub(crate) fn body(&self) -> &str {
        &self.body
    }

    /// The headers to forward (without `Host` and `Content-Length`, which the HTTP client
    /// sets): every signed header, plus allowlisted unsigned ones.
    pub(crate) fn forwarded_headers(
        &self,
        auth: &Authorization,
        config: &ClientConfigRecord,
    ) -> Vec<(String, String)> {
        let allowed_extra: Vec<String> = config
            .allowed_sts_header_values
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut out = Vec::new();
        for (name, values) in &self.headers {
            if name == "host" || name == "content-length" {
                continue;
            }
            let keep = auth.signed_headers.contains(name)
                || FORWARDED_UNSIGNED.contains(&name.as_str())
                || allowed_extra.contains(name);
            if keep {
                for v in values {
                    out.push((name.clone(), v.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_must_be_get_caller_identity() {
        check_body(GET_CALLER_IDENTITY_BODY).unwrap();
        check_body("Version=2011-06-15&Action=GetCallerIdentity").unwrap();
        for bad_body in [
            "",
            "Action=AssumeRole&Version=2011-06-15",
            "Action=GetCallerIdentity",
            "Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x",
            "Action=GetCallerIdentity&Action=GetCallerIdentity&Version=2011-06-15",
            "Action=GetCallerIdentity&Version=2012-01-01",
        ] {
            assert!(check_body(bad_body).is_err(), "{bad_body}");
        }
        let e = check_body("Action=AssumeRole&Version=2011-06-15").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid iam_request_body: Action must be GetCallerIdentity, got \"AssumeRole\""
        );
    }

    #[test]
    fn hosts_drop_default_ports() {
        let h = |u: &str| host_of(&u.parse().unwrap());
        assert_eq!(
            h("https://sts.amazonaws.com/").as_deref(),
            Some("sts.amazonaws.com")
        );
        assert_eq!(
            h("https://sts.amazonaws.com:443/").as_deref(),
            Some("sts.amazonaws.com")
        );
        assert_eq!(
            h("http://127.0.0.1:8080/").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(h("https://u:p@sts.amazonaws.com/"), None);
        assert_eq!(h("ftp://sts.amazonaws.com/"), None);
        assert_eq!(h("/relative"), None);
    }

    #[test]
    fn headers_decode_from_base64_or_object() {
        let json = r#"{"Host":"sts.amazonaws.com","X-Amz-Date":["20240101T000000Z"]}"#;
        let mut body = JsonMap::new();
        body.insert("iam_request_headers".into(), B64.encode(json).into());
        let h = decode_headers(&body).unwrap();
        assert_eq!(h["host"], ["sts.amazonaws.com"]);
        assert_eq!(h["x-amz-date"], ["20240101T000000Z"]);
        body.insert(
            "iam_request_headers".into(),
            serde_json::from_str(json).unwrap(),
        );
        assert_eq!(decode_headers(&body).unwrap(), h);
        body.insert(
            "iam_request_headers".into(),
            serde_json::json!({"Transfer-Encoding": "chunked"}),
        );
        assert!(decode_headers(&body).is_err());
        body.insert("iam_request_headers".into(), serde_json::json!({"X": 1}));
        assert!(decode_headers(&body).is_err());
        body.insert("iam_request_headers".into(), "not base64!".into());
        assert!(decode_headers(&body).is_err());
    }
}
