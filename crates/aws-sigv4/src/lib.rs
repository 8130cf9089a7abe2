//! AWS Signature Version 4 in its header form (`Authorization: AWS4-HMAC-SHA256 …`), written
//! from AWS's published description of the algorithm: canonical request, string to sign, a
//! signing key derived by an HMAC-SHA256 chain over date, region and service, and the signature.
//!
//! Its own crate so that everything that calls AWS shares one signer without pulling in an
//! auth method: the aws auth method signs `sts:GetCallerIdentity` for logins and reuses the
//! parsers ([`parse_authorization`], [`parse_amz_date`]) to check a login request before
//! forwarding it; the `aws-sm` secret provider signs its Secrets Manager calls; integration
//! tests sign their calls to moto. Unit tests check it against vectors of AWS's SigV4 test
//! suite.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// The only algorithm SigV4 header signing uses.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS credentials: an access key, its secret and, for temporary credentials, the session
/// token. `Debug` shows the access key ID only; the secret and token are zeroized on drop.
#[derive(Clone)]
pub struct AwsCredentials {
    /// `AKIA…` (long-term) or `ASIA…` (temporary).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials (sent as `X-Amz-Security-Token`).
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Drop for AwsCredentials {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
        if let Some(t) = self.session_token.as_mut() {
            t.zeroize();
        }
    }
}

/// What gets signed: the request as it will go on the wire.
pub struct SigningRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path, not percent-encoded (`/` for STS).
    pub path: &'a str,
    /// The raw query string without `?` (empty for none).
    pub query: &'a str,
    /// The headers to sign; must include `Host`. `X-Amz-Date` is added when missing.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// Signs `req` for `service` in `region` at `now` and returns the headers to add to it:
/// `X-Amz-Date` (unless the request has one), `X-Amz-Security-Token` (for temporary
/// credentials) and `Authorization`. Every header of `req` is signed, and so are the added
/// ones.
pub fn sign(
    creds: &AwsCredentials,
    region: &str,
    service: &str,
    req: &SigningRequest<'_>,
    now: SystemTime,
) -> Vec<(String, String)> {
    let mut added: Vec<(String, String)> = Vec::new();
    let existing_date = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, v)| v.trim().to_string());
    let amz_date = match existing_date {
        Some(d) => d,
        None => {
            let d = format_amz_date(now);
            added.push(("X-Amz-Date".into(), d.clone()));
            d
        }
    };
    if let Some(token) = &creds.session_token {
        added.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    let mut all: Vec<(String, String)> = req.headers.to_vec();
    all.extend(added.iter().cloned());

    let (canonical_headers, signed_headers) = canonical_headers(&all);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_path(req.path),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(req.body)),
    );
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&creds.secret_access_key, date, region, service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    added.push((
        "Authorization".into(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("hmac takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let mut seed = format!("AWS4{secret}").into_bytes();
    let k_date = hmac(&seed, date.as_bytes());
    seed.zeroize();
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// `20150830T123600Z` for `now` (UTC, whole seconds).
pub fn format_amz_date(now: SystemTime) -> String {
    humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// Parses `20150830T123600Z`; `None` for anything else.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    humantime::parse_rfc3339(&rfc).ok()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` unless
/// `encode_slash`), with upper-case hex as SigV4 requires.
fn uri_encode(input: &[u8], encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &c in input {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'~')
            || (c == b'/' && !encode_slash);
        if keep {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; anything malformed is kept as is.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    uri_encode(path.as_bytes(), false)
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical header block (`name:value\n` per header, sorted) and the signed header list
/// (`a;b;c`). Names are lower-cased, values trimmed with inner runs of spaces collapsed, and
/// repeated headers joined with commas.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        let name = k.trim().to_ascii_lowercase();
        if name == "authorization" {
            continue;
        }
        let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
        map.entry(name).or_default().push(value);
    }
    let mut block = String::new();
    for (k, vs) in &map {
        block.push_str(k);
        block.push(':');
        block.push_str(&vs.join(","));
        block.push('\n');
    }
    let signed = map.keys().cloned().collect::<Vec<_>>().join(";");
    (block, signed)
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header the server checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `us-east-1` from the credential scope.
    pub region: String,
    /// `sts` from the credential scope.
    pub service: String,
    /// The signed header names, lower-case.
    pub signed_headers: Vec<String>,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=…`. `None` when it is not that shape.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    if !rest.starts_with(' ') {
        return None;
    }
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(v.trim()).is_some() {
            return None;
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [_key, _date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    signature.filter(|s| !s.is_empty())?;
    let signed_headers: Vec<String> = signed?
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if signed_headers.iter().any(String::is_empty) {
        return None;
    }
    Some(Authorization {
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The credentials and time every vector of AWS's SigV4 test suite uses.
    fn suite_creds() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn suite_time() -> SystemTime {
        // 2015-08-30T12:36:00Z
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn authorization(added: &[(String, String)]) -> &str {
        &added
            .iter()
            .find(|(k, _)| k == "Authorization")
            .expect("authorization")
            .1
    }

    #[test]
    fn aws_suite_get_vanilla() {
        let headers = vec![("Host".to_string(), "example.amazonaws.com".to_string())];
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let added = sign(&suite_creds(), "us-east-1", "service", &req, suite_time());
        assert_eq!(added[0], ("X-Amz-Date".into(), "20150830T123600Z".into()));
        assert_eq!(
            authorization(&added),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn aws_suite_post_vanilla() {
        let headers = vec![
            ("Host".to_string(), "example.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
        ];
        let req = SigningRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        // The request already carries its date: the clock is not consulted.
        let added = sign(&suite_creds(), "us-east-1", "service", &req, UNIX_EPOCH);
        assert_eq!(added.len(), 1);
        assert!(authorization(&added).ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
    }

    #[test]
    fn aws_suite_post_x_www_form_urlencoded() {
        let headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("Host".to_string(), "example.amazonaws.com".to_string()),
        ];
        let req = SigningRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"Param1=value1",
        };
        let added = sign(&suite_creds(), "us-east-1", "service", &req, suite_time());
        assert_eq!(
            authorization(&added),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn session_tokens_are_signed() {
        let mut creds = suite_creds();
        creds.session_token = Some("session-token".into());
        let headers = vec![("Host".to_string(), "sts.amazonaws.com".to_string())];
        let req = SigningRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let added = sign(&creds, "us-east-1", "sts", &req, suite_time());
        assert_eq!(
            added[1],
            ("X-Amz-Security-Token".into(), "session-token".into())
        );
        assert!(
            authorization(&added).contains("SignedHeaders=host;x-amz-date;x-amz-security-token,")
        );
        assert!(!format!("{creds:?}").contains("session-token"));
        assert!(!format!("{creds:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(canonical_query("a=b c&x=%7e"), "a=b%20c&x=~");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn amz_dates_round_trip() {
        assert_eq!(format_amz_date(suite_time()), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(suite_time()));
        for bad in [
            "",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "2015083xT123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_authorization_headers() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-west-2/sts/aws4_request, \
             SignedHeaders=Host;x-amz-date;x-vault-aws-iam-server-id, Signature=abc",
        )
        .expect("parses");
        assert_eq!(a.region, "us-west-2");
        assert_eq!(a.service, "sts");
        assert_eq!(
            a.signed_headers,
            ["host", "x-amz-date", "x-vault-aws-iam-server-id"]
        );
        for bad in [
            "",
            "AWS4-HMAC-SHA256",
            "Basic abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, \
             SignedHeaders=host, SignedHeaders=x, Signature=abc",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%20b"), b"a b");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%"), b"%");
    }
}
