//! The client side of `login`: signs an `sts:GetCallerIdentity` request with the caller's AWS
//! credentials and packs it into the four `iam_*` fields, the way Vault's CLI does (headers as
//! a JSON map of name to list of values). The request is never sent by the client; the server
//! forwards it to STS, which tells the server who signed it.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrethub_engine::JsonMap;
use serde_json::Value;

use crate::iam_request::{host_of, GET_CALLER_IDENTITY_BODY, SERVER_ID_HEADER};
use crate::sigv4::{self, AwsCredentials, SigningRequest};

/// The STS endpoint clients sign for by default.
pub const DEFAULT_STS_URL: &str = "https://sts.amazonaws.com/";
/// The region clients sign for by default.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Why a login body could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignError(String);

/// Builds the body of `POST auth/<mount>/login`: `iam_http_request_method`,
/// `iam_request_url`, `iam_request_body` and `iam_request_headers` (base64), signed for
/// `sts` in `region` at `now`, plus `role` when it is not empty. `server_id` adds a signed
/// `X-Vault-AWS-IAM-Server-ID` header, for servers that require one.
pub fn signed_login_body(
    creds: &AwsCredentials,
    region: &str,
    sts_url: &str,
    server_id: Option<&str>,
    role: &str,
    now: SystemTime,
) -> Result<JsonMap, SignError> {
    let uri: http::Uri = sts_url
        .parse()
        .map_err(|_| SignError(format!("invalid STS URL {sts_url:?}")))?;
    let host = host_of(&uri).ok_or_else(|| {
        SignError(format!(
            "invalid STS URL {sts_url:?}: expected http(s)://host[:port]/"
        ))
    })?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(SignError(format!(
            "invalid STS URL {sts_url:?}: it must have no path or query"
        )));
    }
    let url = format!(
        "{}://{}/",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    );

    let mut headers: Vec<(String, String)> = vec![
        (
            "Content-Type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ),
        ("Host".into(), host),
    ];
    if let Some(id) = server_id.filter(|s| !s.is_empty()) {
        headers.push((SERVER_ID_HEADER.into(), id.to_string()));
    }
    let req = SigningRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: GET_CALLER_IDENTITY_BODY.as_bytes(),
    };
    let added = sigv4::sign(creds, region, "sts", &req, now);
    headers.extend(added);

    let mut header_map = serde_json::Map::new();
    for (k, v) in headers {
        header_map.insert(k, Value::from(vec![v]));
    }
    let header_json = Value::Object(header_map).to_string();

    let mut body = JsonMap::new();
    body.insert("iam_http_request_method".into(), "POST".into());
    body.insert("iam_request_url".into(), STANDARD.encode(url).into());
    body.insert(
        "iam_request_body".into(),
        STANDARD.encode(GET_CALLER_IDENTITY_BODY).into(),
    );
    body.insert(
        "iam_request_headers".into(),
        STANDARD.encode(header_json).into(),
    );
    if !role.is_empty() {
        body.insert("role".into(), role.into());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam_request::IamRequest;
    use crate::records::ClientConfigRecord;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("the-session".into()),
        }
    }

    #[test]
    fn the_server_accepts_what_the_client_signs() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = signed_login_body(
            &creds(),
            "us-east-1",
            "https://sts.amazonaws.com",
            Some("vault.example.com"),
            "dev",
            now,
        )
        .unwrap();
        assert_eq!(body["role"], "dev");
        assert_eq!(body["iam_http_request_method"], "POST");
        let url = STANDARD
            .decode(body["iam_request_url"].as_str().unwrap())
            .unwrap();
        assert_eq!(url, b"https://sts.amazonaws.com/");
        let text = format!("{body:?}");
        assert!(!text.contains("EXAMPLEKEY"), "the secret is never sent");

        let req = IamRequest::decode(&body).unwrap();
        let config = ClientConfigRecord {
            iam_server_id_header_value: "vault.example.com".into(),
            ..Default::default()
        };
        let auth = req.check(&config, now).unwrap();
        assert_eq!(
            auth.signed_headers,
            [
                "content-type",
                "host",
                "x-amz-date",
                "x-amz-security-token",
                "x-vault-aws-iam-server-id"
            ]
        );
        assert_eq!(req.host().unwrap(), "sts.amazonaws.com");
        let fwd = req.forwarded_headers(&auth, &config);
        let names: Vec<&str> = fwd.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "authorization",
                "content-type",
                "x-amz-date",
                "x-amz-security-token",
                "x-vault-aws-iam-server-id"
            ]
        );
    }

    #[test]
    fn rejects_urls_with_paths() {
        let now = UNIX_EPOCH;
        for url in [
            "https://sts.amazonaws.com/x",
            "sts.amazonaws.com",
            "https://a/?q=1",
        ] {
            assert!(
                signed_login_body(&creds(), "us-east-1", url, None, "", now).is_err(),
                "{url}"
            );
        }
    }
}
