//! [`AwsSmProvider`]: AWS Secrets Manager through its JSON protocol (`POST /` with
//! `X-Amz-Target: secretsmanager.<Action>`), signed with SigV4.
//!
//! A path is a `SecretId` (name or ARN). A `SecretString` that is a JSON object gives its keys
//! as fields (non-string values as JSON text); any other string is the field `value`, and so
//! is a `SecretBinary` (as UTF-8 text when it is, else as its base64). The version is the
//! `VersionId`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use base64::Engine as _;
use secrethub_aws_sigv4::{self as sigv4, AwsCredentials, SigningRequest};
use secrethub_common::Sensitive;
use secrethub_config::agent::AwsSmConfig;
use serde_json::{json, Value};

use crate::http::{kind_of_status, unreachable};
use crate::{
    object_fields, single_value, Health, Provider, ProviderError, ProviderErrorKind, Secret,
};

/// The SigV4 service name of Secrets Manager.
const SERVICE: &str = "secretsmanager";

/// Reads secrets from AWS Secrets Manager (or anything that speaks its API, such as moto).
pub struct AwsSmProvider {
    name: String,
    http: reqwest::Client,
    url: reqwest::Url,
    /// `Host` as signed: the endpoint's host, with its port when it is not the default.
    host: String,
    region: String,
    credentials: AwsCredentials,
}

impl fmt::Debug for AwsSmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSmProvider")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl AwsSmProvider {
    /// A provider for an `aws-sm` stanza; keys it does not set come from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub fn new(name: &str, config: &AwsSmConfig) -> Result<AwsSmProvider, ProviderError> {
        Self::with_env(name, config, &|key| std::env::var(key).ok())
    }

    /// As [`AwsSmProvider::new`], with the environment given as a lookup function.
    pub fn with_env(
        name: &str,
        config: &AwsSmConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AwsSmProvider, ProviderError> {
        let invalid =
            |message: String| ProviderError::new(ProviderErrorKind::Invalid, name, message);
        let credentials = credentials(config, env).ok_or_else(|| {
            invalid(
                "no AWS credentials: set access_key_id and secret_access_key, or \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            )
        })?;
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://secretsmanager.{}.amazonaws.com", config.region));
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|e| invalid(format!("invalid endpoint {endpoint:?}: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(invalid(format!("the endpoint {endpoint:?} has no host"))),
        };
        Ok(AwsSmProvider {
            name: name.to_string(),
            http: crate::http::client(name)?,
            url,
            host,
            region: config.region.clone(),
            credentials,
        })
    }

    /// Sends one signed action; the answer's JSON, or the service's error as a provider error.
    async fn call(&self, action: &str, body: &Value, what: &str) -> Result<Value, ProviderError> {
        let body = body.to_string().into_bytes();
        let headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("Host".to_string(), self.host.clone()),
            (
                "X-Amz-Target".to_string(),
                format!("secretsmanager.{action}"),
            ),
        ];
        let request = SigningRequest {
            method: "POST",
            path: self.url.path(),
            query: "",
            headers: &headers,
            body: &body,
        };
        let added = sigv4::sign(
            &self.credentials,
            &self.region,
            SERVICE,
            &request,
            SystemTime::now(),
        );
        let mut builder = self.http.post(self.url.clone()).body(body);
        for (key, value) in headers.iter().chain(&added) {
            builder = builder.header(key.as_str(), value.as_str());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| unreachable(&self.name, what, &e))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.name, what, &e))?;
        if !(200..300).contains(&status) {
            return Err(self.service_error(what, status, error_type.as_deref(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                &self.name,
                format!("{what}: the answer is not JSON: {e}"),
            )
        })
    }

    /// The service's error as a provider error. The JSON protocol names the error in `__type`
    /// (`…#Code`) or the `X-Amzn-ErrorType` header (`Code:…`); signature and credential
    /// failures may come as the query protocol's XML (`<Code>…</Code>`), as moto sends them.
    fn service_error(
        &self,
        what: &str,
        status: u16,
        error_type: Option<&str>,
        body: &[u8],
    ) -> ProviderError {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = parsed
            .get("__type")
            .or_else(|| parsed.get("code"))
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .or_else(|| {
                error_type
                    .and_then(|t| t.split(':').next())
                    .map(str::to_string)
            })
            .or_else(|| xml_code(body))
            .filter(|c| !c.is_empty());
        let message = parsed
            .get("message")
            .or_else(|| parsed.get("Message"))
            .and_then(Value::as_str);
        let kind = code
            .as_deref()
            .and_then(kind_of_code)
            .unwrap_or_else(|| kind_of_status(status));
        let text = match (&code, message) {
            (Some(code), Some(message)) => format!("{what}: {code}: {message}"),
            (Some(code), None) => format!("{what}: {code}"),
            (None, _) => format!("{what}: status {status}"),
        };
        ProviderError::new(kind, &self.name, text)
    }
}

/// `<Code>…</Code>` of an XML error body.
fn xml_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")?;
    let code = &text[start..start + end];
    code.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.')
        .then(|| code.to_string())
}

/// The credentials of the stanza, else of the environment (the session token only goes with
/// keys from the same place).
fn credentials(
    config: &AwsSmConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<AwsCredentials> {
    if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
        return Some(AwsCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.expose().clone(),
            session_token: config.session_token.as_ref().map(|t| t.expose().clone()),
        });
    }
    let non_empty = |key: &str| env(key).filter(|v| !v.is_empty());
    Some(AwsCredentials {
        access_key_id: non_empty("AWS_ACCESS_KEY_ID")?,
        secret_access_key: non_empty("AWS_SECRET_ACCESS_KEY")?,
        session_token: non_empty("AWS_SESSION_TOKEN"),
    })
}

/// The kind of the Secrets Manager (and common AWS) error codes that say more than a status.
fn kind_of_code(code: &str) -> Option<ProviderErrorKind> {
    Some(match code {
        "ResourceNotFoundException" => ProviderErrorKind::NotFound,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException"
        | "DecryptionFailure" => ProviderErrorKind::Denied,
        "InternalServiceError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ThrottlingException"
        | "RequestTimeout" => ProviderErrorKind::Unavailable,
        "InvalidParameterException" | "InvalidRequestException" | "ValidationException" => {
            ProviderErrorKind::Invalid
        }
        _ => return None,
    })
}

/// The fields of a `GetSecretValue` answer (see the module doc).
fn secret_fields(answer: &Value) -> BTreeMap<String, Sensitive<String>> {
    if let Some(text) = answer.get("SecretString").and_then(Value::as_str) {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
            return object_fields(&object);
        }
        return single_value(text.to_string());
    }
    let binary = answer
        .get("SecretBinary")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = match base64::engine::general_purpose::STANDARD.decode(binary) {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|_| binary.to_string()),
        Err(_) => binary.to_string(),
    };
    single_value(text)
}

#[async_trait]
impl Provider for AwsSmProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, path: &str) -> Result<Secret, ProviderError> {
        if path.is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Invalid,
                &self.name,
                "an empty path names no secret",
            ));
        }
        let what = format!("reading {path}");
        let answer = self
            .call("GetSecretValue", &json!({ "SecretId": path }), &what)
            .await?;
        Ok(Secret {
            fields: secret_fields(&answer),
            lease: None,
            version: answer
                .get("VersionId")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    async fn health(&self) -> Health {
        match self
            .call(
                "ListSecrets",
                &json!({ "MaxResults": 1 }),
                "listing secrets",
            )
            .await
        {
            Ok(_) => Health {
                healthy: true,
                detail: format!("{} answers; credentials accepted", self.host),
            },
            Err(err) => Health {
                healthy: false,
                detail: err.message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_give_their_keys_and_other_strings_a_value() {
        let object = json!({"SecretString": r#"{"user":"app","port":5432}"#});
        let fields = secret_fields(&object);
        assert_eq!(fields["user"].expose(), "app");
        assert_eq!(fields["port"].expose(), "5432");
        let plain = secret_fields(&json!({"SecretString": "[1,2]"}));
        assert_eq!(plain["value"].expose(), "[1,2]");
        let binary = secret_fields(&json!({"SecretBinary": "aGVsbG8="}));
        assert_eq!(binary["value"].expose(), "hello");
    }

    #[test]
    fn xml_error_codes_are_read() {
        let body = b"<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></ErrorResponse>";
        assert_eq!(xml_code(body).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_code(b"<Code>a b</Code>"), None);
        assert_eq!(xml_code(b"{}"), None);
        assert_eq!(
            kind_of_code("SignatureDoesNotMatch"),
            Some(ProviderErrorKind::Denied)
        );
    }

    #[test]
    fn credentials_come_from_the_stanza_or_the_environment() {
        let mut config = AwsSmConfig {
            region: "us-east-1".into(),
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
        };
        let env = |key: &str| match key {
            "AWS_ACCESS_KEY_ID" => Some("AKIAENV".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("env-secret".to_string()),
            "AWS_SESSION_TOKEN" => Some("env-session".to_string()),
            _ => None,
        };
        let from_env = credentials(&config, &env).expect("from env");
        assert_eq!(from_env.access_key_id, "AKIAENV");
        assert_eq!(from_env.session_token.as_deref(), Some("env-session"));
        config.access_key_id = Some("AKIACONF".into());
        config.secret_access_key = Some(Sensitive::new("conf-secret".into()));
        let from_config = credentials(&config, &env).expect("from config");
        assert_eq!(from_config.access_key_id, "AKIACONF");
        assert_eq!(from_config.session_token, None);
        assert!(credentials(
            &AwsSmConfig {
                access_key_id: None,
                ..config
            },
            &|_| None
        )
        .is_none());
    }

    #[test]
    fn debug_shows_no_secret_key() {
        let config = AwsSmConfig {
            region: "eu-west-1".into(),
            endpoint: None,
            access_key_id: Some("AKIAVISIBLE".into()),
            secret_access_key: Some(Sensitive::new("very-secret-key".into())),
            session_token: None,
        };
        let provider = AwsSmProvider::with_env("aws", &config, &|_| None).expect("provider");
        let text = format!("{provider:?}");
        assert!(
            text.contains("secretsmanager.eu-west-1.amazonaws.com"),
            "{text}"
        );
        assert!(!text.contains("very-secret-key"), "{text}");
    }
}
