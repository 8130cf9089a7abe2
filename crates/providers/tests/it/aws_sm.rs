//! `aws-sm` against moto with signature checking on: secrets are created with signed
//! `CreateSecret` calls, read through the provider (whose SigV4 signature moto verifies).

use secrethub_aws_sigv4::AwsCredentials;
use secrethub_common::Sensitive;
use secrethub_config::agent::AwsSmConfig;
use secrethub_providers::{AwsSmProvider, Provider, ProviderErrorKind};
use serde_json::{json, Value};

use crate::external::start_moto;
use crate::unique;

const REGION: &str = "us-east-1";

struct Moto {
    server: secrethub_testkit::moto::Moto,
    /// An IAM user allowed everything, created before signature checking was switched on.
    admin: AwsCredentials,
}

static MOTO: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();

async fn moto() -> &'static Moto {
    MOTO.get_or_init(|| async {
        let server = start_moto().await;
        // While moto accepts anything, make an admin user and its key.
        let admin = server.bootstrap_admin("secrethub-providers-admin").await;
        // From now on moto checks signatures and policies.
        server.reset_auth().await;
        Moto { server, admin }
    })
    .await
}

/// A signed Secrets Manager call as the admin; the answer's JSON.
async fn secretsmanager(action: &str, body: Value) -> Value {
    let moto = moto().await;
    let host = moto
        .server
        .endpoint
        .trim_start_matches("http://")
        .to_string();
    let headers = vec![
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        ("Host".to_string(), host),
        (
            "X-Amz-Target".to_string(),
            format!("secretsmanager.{action}"),
        ),
    ];
    let (status, text) = moto
        .server
        .signed(
            &moto.admin,
            "secretsmanager",
            headers,
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(
        status,
        200,
        "{action}: {text}\nmoto log:\n{}",
        moto.server.log()
    );
    serde_json::from_str(&text).expect("JSON answer")
}

fn provider(access_key_id: &str, secret_access_key: &str, endpoint: &str) -> AwsSmProvider {
    let config = AwsSmConfig {
        region: REGION.into(),
        endpoint: Some(endpoint.to_string()),
        access_key_id: Some(access_key_id.to_string()),
        secret_access_key: Some(Sensitive::new(secret_access_key.to_string())),
        session_token: None,
    };
    AwsSmProvider::with_env("aws", &config, &|_| None).expect("provider")
}

async fn admin_provider() -> AwsSmProvider {
    let moto = moto().await;
    provider(
        &moto.admin.access_key_id,
        &moto.admin.secret_access_key,
        &moto.server.endpoint,
    )
}

#[tokio::test]
async fn json_secrets_give_their_keys_and_versions_follow_puts() {
    let name = unique("app/db");
    let created = secretsmanager(
        "CreateSecret",
        json!({"Name": name, "SecretString": r#"{"user":"app","password":"aws-pw-1","port":5432}"#}),
    )
    .await;
    let provider = admin_provider().await;
    let secret = provider.read(&name).await.expect("read");
    assert_eq!(secret.fields["user"].expose(), "app");
    assert_eq!(secret.fields["password"].expose(), "aws-pw-1");
    assert_eq!(secret.fields["port"].expose(), "5432");
    assert_eq!(secret.version.as_deref(), created["VersionId"].as_str());
    assert!(secret.lease.is_none());

    let put = secretsmanager(
        "PutSecretValue",
        json!({"SecretId": name, "SecretString": r#"{"user":"app","password":"aws-pw-2"}"#}),
    )
    .await;
    let secret = provider.read(&name).await.expect("read after put");
    assert_eq!(secret.fields["password"].expose(), "aws-pw-2");
    assert_eq!(secret.version.as_deref(), put["VersionId"].as_str());
    assert_ne!(put["VersionId"], created["VersionId"]);
}

#[tokio::test]
async fn plain_strings_are_the_value_field_and_arns_work() {
    let name = unique("plain");
    let created = secretsmanager(
        "CreateSecret",
        json!({"Name": name, "SecretString": "just a string"}),
    )
    .await;
    let provider = admin_provider().await;
    let secret = provider.read(&name).await.expect("read by name");
    assert_eq!(
        secret.fields.keys().collect::<Vec<_>>(),
        vec!["value"],
        "{secret:?}"
    );
    assert_eq!(secret.fields["value"].expose(), "just a string");
    let arn = created["ARN"].as_str().expect("ARN");
    let by_arn = provider.read(arn).await.expect("read by ARN");
    assert_eq!(by_arn.fields["value"].expose(), "just a string");
}

#[tokio::test]
async fn missing_secrets_are_not_found_and_health_is_good() {
    let provider = admin_provider().await;
    let err = provider.read(&unique("missing")).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
    let health = provider.health().await;
    assert!(health.healthy, "{health:?}");
}

#[tokio::test]
async fn a_wrong_secret_key_is_denied() {
    let moto = moto().await;
    let name = unique("denied");
    secretsmanager("CreateSecret", json!({"Name": name, "SecretString": "x"})).await;
    let provider = provider(
        &moto.admin.access_key_id,
        "not-the-key",
        &moto.server.endpoint,
    );
    let err = provider.read(&name).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Denied, "{err}");
    assert!(!err.to_string().contains("not-the-key"), "{err}");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    let health = provider.health().await;
    assert!(!health.healthy, "{health:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let provider = provider("AKIAX", "x", &format!("http://127.0.0.1:{port}"));
    let err = provider.read("anything").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unavailable, "{err}");
}
