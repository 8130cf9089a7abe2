//! moto (AWS's APIs, mocked; PyPI `moto[server]`) for the AWS tests: one local server per
//! [`Moto`], started under [`crate::process`]'s keep-alive wrapper. It accepts any
//! credentials until [`Moto::reset_auth`], so IAM users and keys are made first (with
//! [`bootstrap_credentials`], or [`Moto::bootstrap_admin`] for an allow-all user); from then
//! on it checks every request's SigV4 signature and the caller's policies.
//!
//! The binary is `SECRETHUB_TEST_MOTO`, else `~/.cache/secrethub-test/venv/bin/moto_server`
//! (which `scripts/test` installs); without either, the test panics with instructions.

use std::path::PathBuf;
use std::time::SystemTime;

use secrethub_aws_sigv4::{self as sigv4, AwsCredentials, SigningRequest};

use crate::process::{free_port, venv_binary, Process};

/// The account moto puts everything in.
pub const ACCOUNT: &str = "123456789012";

/// A running moto server, killed when dropped (or when the test binary ends).
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    process: Process,
    http: reqwest::Client,
}

/// Throwaway credentials, good for any call before [`Moto::reset_auth`] (moto tells
/// services apart by the signature's scope, so calls are still signed).
pub fn bootstrap_credentials() -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIABOOTSTRAP".into(),
        secret_access_key: "bootstrap".into(),
        session_token: None,
    }
}

impl Moto {
    /// Starts moto on a free port, its output to `log`, and waits until it answers.
    pub async fn start(log: PathBuf) -> Self {
        let binary = venv_binary(
            "SECRETHUB_TEST_MOTO",
            "moto_server",
            "'moto[server]==5.2.5'",
        );
        let port = free_port();
        let args = [
            "-H".to_string(),
            "127.0.0.1".to_string(),
            "-p".to_string(),
            port.to_string(),
        ];
        let process = Process::spawn(&binary, &args, port, log, "/moto-api/").await;
        Self {
            endpoint: process.addr.clone(),
            process,
            http: reqwest::Client::new(),
        }
    }

    /// Everything moto wrote so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// From now on moto checks every request's SigV4 signature against the keys it issued,
    /// and the caller's IAM policies.
    pub async fn reset_auth(&self) {
        let resp = self
            .http
            .post(format!("{}/moto-api/reset-auth", self.endpoint))
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .await
            .expect("POST /moto-api/reset-auth");
        assert!(resp.status().is_success(), "reset-auth: {}", resp.status());
    }

    /// Before [`Moto::reset_auth`]: creates IAM user `name` allowed everything and returns
    /// its access key.
    pub async fn bootstrap_admin(&self, name: &str) -> AwsCredentials {
        let anyone = bootstrap_credentials();
        self.iam(&anyone, &[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        self.iam(
            &anyone,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "all"),
                ("PolicyDocument", policy),
            ],
        )
        .await;
        self.access_key(&anyone, name).await
    }

    /// Creates an access key for IAM user `user`, as `creds`.
    pub async fn access_key(&self, creds: &AwsCredentials, user: &str) -> AwsCredentials {
        let text = self
            .iam(creds, &[("Action", "CreateAccessKey"), ("UserName", user)])
            .await;
        AwsCredentials {
            access_key_id: xml(&text, "AccessKeyId"),
            secret_access_key: xml(&text, "SecretAccessKey"),
            session_token: None,
        }
    }

    /// An IAM query-protocol call signed as `creds`; panics unless it answers 200.
    pub async fn iam(&self, creds: &AwsCredentials, params: &[(&str, &str)]) -> String {
        let (status, text) = self.call(creds, "iam", "iam.amazonaws.com", params).await;
        assert_eq!(status, 200, "IAM {params:?}: {text}");
        text
    }

    /// A query-protocol (form-encoded) call to `service` at `host`, signed as `creds`;
    /// (status, body).
    pub async fn call(
        &self,
        creds: &AwsCredentials,
        service: &str,
        host: &str,
        params: &[(&str, &str)],
    ) -> (u16, String) {
        let headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("Host".to_string(), host.to_string()),
        ];
        self.signed(creds, service, headers, form_encode(params).into_bytes())
            .await
    }

    /// A POST of `body` to `/` with `headers`, signed as `creds` for `service` in
    /// `us-east-1`; (status, body).
    pub async fn signed(
        &self,
        creds: &AwsCredentials,
        service: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> (u16, String) {
        let req = SigningRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: &body,
        };
        let added = sigv4::sign(creds, "us-east-1", service, &req, SystemTime::now());
        let mut builder = self.http.post(format!("{}/", self.endpoint)).body(body);
        for (k, v) in headers.iter().chain(&added) {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let resp = builder.send().await.expect("moto call");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("moto body"))
    }
}

/// `k=v&…`, percent-encoded (RFC 3986 unreserved characters pass through).
pub fn form_encode(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text of the first `<tag>` element of an XML answer; panics when there is none.
pub fn xml(doc: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {doc}"))
        + open.len();
    let len = doc[start..]
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("no </{tag}> in {doc}"));
    doc[start..start + len].to_string()
}
