//! Secret values, tokens and keys stay out of `Debug`, errors and logs.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_config::agent::{AwsSmConfig, AzureKvConfig, FileFormat, FileProviderConfig};
use secrethub_providers::{
    AwsSmProvider, AzureKvProvider, FileProvider, Provider, ProviderOptions, Providers, Secret,
    SecretHubProvider,
};

#[test]
fn debug_output_shows_no_secret() {
    let secret = Secret {
        fields: BTreeMap::from([(
            "password".to_string(),
            Sensitive::new("field-value-secret".to_string()),
        )]),
        lease: None,
        version: Some("1".into()),
    };
    let client = Client::new(ClientConfig {
        addr: "http://127.0.0.1:8200".into(),
        token: Some(Sensitive::new("vault-token-secret".into())),
        ..ClientConfig::default()
    })
    .expect("client");
    let vault = SecretHubProvider::new("vault", client);
    vault.set_token(Sensitive::new("new-token-secret".into()));
    let aws = AwsSmProvider::with_env(
        "aws",
        &AwsSmConfig {
            region: "us-east-1".into(),
            endpoint: None,
            access_key_id: Some("AKIAPUBLIC".into()),
            secret_access_key: Some(Sensitive::new("aws-key-secret".into())),
            session_token: Some(Sensitive::new("aws-session-secret".into())),
        },
        &|_| None,
    )
    .expect("aws");
    let azure = AzureKvProvider::new(
        "azure",
        &AzureKvConfig {
            vault_url: "https://v.vault.azure.net".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: Sensitive::new("azure-secret".into()),
            authority_host: None,
        },
    )
    .expect("azure");
    let text = format!("{secret:?} {vault:?} {aws:?} {azure:?}");
    assert!(text.contains("password"), "{text}");
    for hidden in [
        "field-value-secret",
        "vault-token-secret",
        "new-token-secret",
        "aws-key-secret",
        "aws-session-secret",
        "azure-secret",
    ] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
}

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn a_fallback_is_logged_with_provider_and_path_but_no_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.env");
    std::fs::write(&good, "DB_PASSWORD=logged-value-secret\n").expect("write");
    let file = |name: &str, path: std::path::PathBuf| -> Arc<dyn Provider> {
        Arc::new(FileProvider::new(
            name,
            &FileProviderConfig {
                path,
                format: FileFormat::Dotenv,
            },
        ))
    };
    let mut set = Providers::new(file("secrethub", good.clone()));
    set.add(file("backup", good), ProviderOptions::default())
        .expect("add backup");
    set.add(
        file("primary", dir.path().join("absent.env")),
        ProviderOptions {
            prefix: Some("dev/".into()),
            fallback: Some("backup".into()),
            timeout: Duration::from_secs(5),
            ..ProviderOptions::default()
        },
    )
    .expect("add primary");

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let (name, secret) = set.read(None, "dev/DB_PASSWORD").await.expect("read");
    drop(guard);
    assert_eq!(name, "backup");
    assert_eq!(secret.fields["value"].expose(), "logged-value-secret");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).expect("UTF-8");
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("provider=primary"), "{log}");
    assert!(log.contains("path=DB_PASSWORD"), "{log}");
    assert!(log.contains("fallback=backup"), "{log}");
    assert!(!log.contains("logged-value-secret"), "{log}");
}
