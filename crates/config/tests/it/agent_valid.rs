//! Valid agent configs: every stanza parsed to the expected `AgentConfig`, secrets kept out of
//! `Debug`, and paths resolved against the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrethub_common::Sensitive;
use secrethub_config::agent::{
    AgentListener, AuthMethodConfig, AutoAuthConfig, AwsSmConfig, AzureKvConfig, FileFormat,
    FileProviderConfig, LeaseRenewalConfig, ProviderConfig, ProviderKind, RemoteVault,
    ServerConnection, SinkConfig, TemplateConfig, TemplateSettings, TemplateSource,
    DEFAULT_PROVIDER_CACHE_MAX_ENTRIES, DEFAULT_PROVIDER_CACHE_TTL, DEFAULT_PROVIDER_TIMEOUT,
};
use secrethub_config::{load_agent, parse_agent, AgentConfig};

const BASE: &str = "/etc/secrethub-agent";

pub(crate) fn parse(text: &str) -> AgentConfig {
    parse_agent(text, Path::new(BASE)).unwrap_or_else(|e| panic!("config should be valid: {e}"))
}

pub(crate) fn at(path: &str) -> PathBuf {
    Path::new(BASE).join(path)
}

fn secret(s: &str) -> Sensitive<String> {
    Sensitive::new(s.to_owned())
}

const FULL: &str = r#"
# Every stanza, in Vault Agent's shape where it has one.
vault {
  address         = "https://secrethub.internal:8200"
  ca_cert         = "tls/ca.pem"
  tls_skip_verify = "false"
  default_kv_mount = "/kv/team/"
  retry {
    num_retries = 5
  }
}

auto_auth {
  method "approle" {
    mount_path = "/auth/apps/"
    config = {
      role_id_file_path                   = "role-id"
      secret_id_file_path                 = "/run/secrets/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = {
      path = "/run/agent/token"
      mode = 0640
    }
  }
  sink "file" {
    config = { path = "token-copy" }
  }
}

cache {}

api_proxy {
  use_auto_auth_token = "force"
}

listener "tcp" {
  address       = "0.0.0.0:8100"
  tls_cert_file = "tls/agent.crt"
  tls_key_file  = "/etc/ssl/private/agent.key"
}
listener "tcp" {
  address     = "127.0.0.1:8101"
  tls_disable = true
}
listener "unix" {
  address = "agent.sock"
}

lease_renewal {
  renew_at        = "50%"
  max_attempts    = "7"
  backoff_initial = 2
  backoff_max     = "5m"
  grace           = "30s"
  on_failed       = "logger lease renewal failed"
}

template {
  source               = "templates/app.yaml.tmpl"
  destination          = "/etc/app/app.yaml"
  perms                = "0640"
  command              = "systemctl reload app"
  error_on_missing_key = true
}
template {
  contents    = <<-EOT
    password: {{ with secret "database/creds/app" }}{{ .Data.password }}{{ end }}
    EOT
  destination = "db.yaml"
  perms       = 384
}

template_config {
  static_secret_render_interval = "10m"
  exit_on_retry_failure         = true
}

provider "prod" {
  type            = "secrethub"
  address         = "https://prod.secrethub.internal:8200"
  token_file      = "prod-token"
  ca_cert         = "tls/prod-ca.pem"
  tls_skip_verify = false
  prefix          = "prod/"
  fallback        = "secrethub"
}
provider "legacy" {
  type    = "vault"
  address = "http://vault.legacy:8200"
  token   = "hvs.legacy-root-token"
  default_kv_mount = ""
}
provider "aws" {
  type              = "aws-sm"
  region            = "eu-west-1"
  endpoint          = "http://localhost:4566"
  access_key_id     = "AKIAEXAMPLE"
  secret_access_key = "aws-secret-key-value"
  session_token     = "aws-session-token-value"
  prefix            = "aws/"
  fallback          = "dev"
  timeout           = "3s"
  cache_ttl         = 0
  cache_max_entries = 50
}
provider "azure-1" {
  type           = "azure-kv"
  vault_url      = "https://my-vault.vault.azure.net"
  tenant_id      = "tenant-123"
  client_id      = "client-456"
  client_secret  = "azure-client-secret-value"
  authority_host = "https://login.example.com"
}
provider "dev" {
  type   = "file"
  path   = "dev-secrets.env"
  format = "yaml"
}

exit_after_auth = true
"#;

#[test]
fn full_config() {
    let expected = AgentConfig {
        server: ServerConnection {
            address: Some("https://secrethub.internal:8200".into()),
            ca_cert: Some(at("tls/ca.pem")),
            tls_skip_verify: false,
            num_retries: 5,
            default_kv_mount: Some("kv/team".into()),
        },
        auto_auth: Some(AutoAuthConfig {
            method: AuthMethodConfig::AppRole {
                role_id_file_path: at("role-id"),
                secret_id_file_path: Some("/run/secrets/secret-id".into()),
                remove_secret_id_file_after_reading: false,
            },
            mount_path: "auth/apps".into(),
            sinks: vec![
                SinkConfig {
                    path: "/run/agent/token".into(),
                    mode: 0o640,
                },
                SinkConfig {
                    path: at("token-copy"),
                    mode: 0o600,
                },
            ],
        }),
        cache: true,
        use_auto_auth_token: true,
        listeners: vec![
            AgentListener::Tcp {
                address: SocketAddr::from(([0, 0, 0, 0], 8100)),
                tls: Some((at("tls/agent.crt"), "/etc/ssl/private/agent.key".into())),
            },
            AgentListener::Tcp {
                address: SocketAddr::from(([127, 0, 0, 1], 8101)),
                tls: None,
            },
            AgentListener::Unix {
                path: at("agent.sock"),
            },
        ],
        lease_renewal: LeaseRenewalConfig {
            renew_at: 0.5,
            max_attempts: 7,
            backoff_initial: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            grace: Duration::from_secs(30),
            on_failed: Some("logger lease renewal failed".into()),
        },
        templates: vec![
            TemplateConfig {
                source: TemplateSource::File(at("templates/app.yaml.tmpl")),
                destination: "/etc/app/app.yaml".into(),
                perms: 0o640,
                command: Some("systemctl reload app".into()),
            },
            TemplateConfig {
                source: TemplateSource::Inline(
                    "password: {{ with secret \"database/creds/app\" }}{{ .Data.password }}{{ end }}\n"
                        .into(),
                ),
                destination: at("db.yaml"),
                perms: 0o600,
                command: None,
            },
        ],
        template_settings: TemplateSettings {
            static_secret_render_interval: Duration::from_secs(600),
            exit_on_retry_failure: true,
        },
        providers: vec![
            ProviderConfig {
                name: "prod".into(),
                prefix: Some("prod/".into()),
                fallback: Some("secrethub".into()),
                timeout: DEFAULT_PROVIDER_TIMEOUT,
                cache_ttl: DEFAULT_PROVIDER_CACHE_TTL,
                cache_max_entries: DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
                kind: ProviderKind::SecretHub(RemoteVault {
                    address: "https://prod.secrethub.internal:8200".into(),
                    token: None,
                    token_file: Some(at("prod-token")),
                    ca_cert: Some(at("tls/prod-ca.pem")),
                    tls_skip_verify: false,
                    default_kv_mount: Some("secret".into()),
                }),
            },
            ProviderConfig {
                name: "legacy".into(),
                prefix: None,
                fallback: None,
                timeout: DEFAULT_PROVIDER_TIMEOUT,
                cache_ttl: DEFAULT_PROVIDER_CACHE_TTL,
                cache_max_entries: DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
                kind: ProviderKind::Vault(RemoteVault {
                    address: "http://vault.legacy:8200".into(),
                    token: Some(secret("hvs.legacy-root-token")),
                    token_file: None,
                    ca_cert: None,
                    tls_skip_verify: false,
                    default_kv_mount: None,
                }),
            },
            ProviderConfig {
                name: "aws".into(),
                prefix: Some("aws/".into()),
                fallback: Some("dev".into()),
                timeout: Duration::from_secs(3),
                cache_ttl: Duration::ZERO,
                cache_max_entries: 50,
                kind: ProviderKind::AwsSecretsManager(AwsSmConfig {
                    region: "eu-west-1".into(),
                    endpoint: Some("http://localhost:4566".into()),
                    access_key_id: Some("AKIAEXAMPLE".into()),
                    secret_access_key: Some(secret("aws-secret-key-value")),
                    session_token: Some(secret("aws-session-token-value")),
                }),
            },
            ProviderConfig {
                name: "azure-1".into(),
                prefix: None,
                fallback: None,
                timeout: DEFAULT_PROVIDER_TIMEOUT,
                cache_ttl: DEFAULT_PROVIDER_CACHE_TTL,
                cache_max_entries: DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
                kind: ProviderKind::AzureKeyVault(AzureKvConfig {
                    vault_url: "https://my-vault.vault.azure.net".into(),
                    tenant_id: "tenant-123".into(),
                    client_id: "client-456".into(),
                    client_secret: secret("azure-client-secret-value"),
                    authority_host: Some("https://login.example.com".into()),
                }),
            },
            ProviderConfig {
                name: "dev".into(),
                prefix: None,
                fallback: None,
                timeout: DEFAULT_PROVIDER_TIMEOUT,
                cache_ttl: DEFAULT_PROVIDER_CACHE_TTL,
                cache_max_entries: DEFAULT_PROVIDER_CACHE_MAX_ENTRIES,
                // `format` wins over the extension.
                kind: ProviderKind::File(FileProviderConfig {
                    path: at("dev-secrets.env"),
                    format: FileFormat::Yaml,
                }),
            },
        ],
        exit_after_auth: true,
    };
    assert_eq!(parse(FULL), expected);
}

#[test]
fn secrets_never_show_in_debug() {
    let shown = format!("{:?}", parse(FULL));
    for secret in [
        "hvs.legacy-root-token",
        "aws-secret-key-value",
        "aws-session-token-value",
        "azure-client-secret-value",
    ] {
        assert!(!shown.contains(secret), "{secret} shows in {shown}");
    }
    assert!(shown.contains("<redacted>"));
}

#[test]
fn load_resolves_paths_against_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.hcl");
    std::fs::write(
        &path,
        "template {\n  source = \"in.tmpl\"\n  destination = \"out/app.conf\"\n}\n",
    )
    .expect("write config");
    let config = load_agent(&path).expect("valid config");
    assert_eq!(
        config.templates[0].source,
        TemplateSource::File(dir.path().join("in.tmpl"))
    );
    assert_eq!(
        config.templates[0].destination,
        dir.path().join("out/app.conf")
    );
}

#[test]
fn missing_file_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent-agent.hcl");
    let err = load_agent(&path).expect_err("no such file");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read config file", path.display())),
        "{err}"
    );
}
