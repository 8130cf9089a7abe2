//! Valid agent configs, stanza by stanza: the defaults of every key left out, and Vault's
//! loose spellings (octal modes, percentages, `"force"`, the older `cache` form).

use std::path::Path;
use std::time::Duration;

use secrethub_config::agent::{
    provider_type, AuthMethodConfig, AutoAuthConfig, AwsSmConfig, FileFormat, LeaseRenewalConfig,
    ProviderConfig, ProviderKind, ServerConnection, SinkConfig, TemplateSettings, TemplateSource,
    DEFAULT_KUBERNETES_TOKEN_PATH,
};
use secrethub_config::AgentConfig;

use crate::agent_valid::{at, parse};

#[test]
fn empty_file_is_all_defaults() {
    let expected = AgentConfig {
        server: ServerConnection {
            address: None,
            ca_cert: None,
            tls_skip_verify: false,
            num_retries: 12,
            default_kv_mount: Some("secret".into()),
        },
        auto_auth: None,
        cache: false,
        use_auto_auth_token: false,
        listeners: vec![],
        lease_renewal: LeaseRenewalConfig::default(),
        templates: vec![],
        template_settings: TemplateSettings::default(),
        providers: vec![],
        exit_after_auth: false,
    };
    assert_eq!(parse(""), expected);
    assert_eq!(parse("# nothing\n"), expected);
    assert_eq!(
        parse("vault {}\nlease_renewal {}\ntemplate_config {}\n"),
        expected
    );
    let defaults = LeaseRenewalConfig::default();
    assert_eq!(defaults.renew_at, 0.33);
    assert_eq!(defaults.max_attempts, 5);
    assert_eq!(defaults.backoff_initial, Duration::from_secs(1));
    assert_eq!(defaults.backoff_max, Duration::from_secs(60));
    assert_eq!(defaults.grace, Duration::from_secs(10));
    assert_eq!(
        TemplateSettings::default().static_secret_render_interval,
        Duration::from_secs(300)
    );
}

fn method_of(method: &str) -> AutoAuthConfig {
    let text = format!("auto_auth {{\n{method}\n}}\n");
    parse(&text).auto_auth.expect("auto_auth")
}

#[test]
fn method_defaults() {
    let approle = method_of(
        "method \"approle\" {\n  config = { role_id_file_path = \"role-id\" }\n}\nsink \"file\" {\n  config = { path = \"token\" }\n}",
    );
    assert_eq!(approle.mount_path, "auth/approle");
    assert_eq!(
        approle.method,
        AuthMethodConfig::AppRole {
            role_id_file_path: at("role-id"),
            secret_id_file_path: None,
            remove_secret_id_file_after_reading: true,
        }
    );
    assert_eq!(
        approle.sinks,
        [SinkConfig {
            path: at("token"),
            mode: 0o600
        }]
    );

    let token_file =
        method_of("method \"token_file\" {\n  config = { token_file_path = \"~token\" }\n}");
    assert_eq!(token_file.mount_path, "auth/token");
    assert_eq!(
        token_file.method,
        AuthMethodConfig::TokenFile {
            token_file_path: at("~token")
        }
    );
    assert!(token_file.sinks.is_empty());

    let jwt = method_of(
        "method \"jwt\" {\n  config = {\n    path = \"/var/run/ci/jwt\"\n    role = \"ci\"\n  }\n}",
    );
    assert_eq!(jwt.mount_path, "auth/jwt");
    assert_eq!(
        jwt.method,
        AuthMethodConfig::Jwt {
            path: "/var/run/ci/jwt".into(),
            role: "ci".into()
        }
    );

    let kubernetes = method_of("method \"kubernetes\" {\n  config = { role = \"web\" }\n}");
    assert_eq!(kubernetes.mount_path, "auth/kubernetes");
    assert_eq!(
        kubernetes.method,
        AuthMethodConfig::Kubernetes {
            role: "web".into(),
            token_path: DEFAULT_KUBERNETES_TOKEN_PATH.into(),
        }
    );
    assert_eq!(
        DEFAULT_KUBERNETES_TOKEN_PATH,
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );

    // `config` may also be written as a block, as HCL 1 allowed.
    let userpass = method_of(
        "method \"userpass\" {\n  mount_path = \"auth/people\"\n  config {\n    username = \"ada\"\n    password_file_path = \"pw\"\n  }\n}",
    );
    assert_eq!(userpass.mount_path, "auth/people");
    assert_eq!(
        userpass.method,
        AuthMethodConfig::Userpass {
            username: "ada".into(),
            password_file_path: at("pw"),
        }
    );
}

#[test]
fn modes_in_every_spelling() {
    let mode_of = |mode: &str| {
        let text = format!(
            "auto_auth {{\n  method \"token_file\" {{\n    config = {{ token_file_path = \"t\" }}\n  }}\n  sink \"file\" {{\n    config = {{\n      path = \"s\"\n      mode = {mode}\n    }}\n  }}\n}}\n"
        );
        parse(&text).auto_auth.expect("auto_auth").sinks[0].mode
    };
    // A leading zero is octal, as in Vault's HCL 1; without one the number is decimal.
    assert_eq!(mode_of("0600"), 0o600);
    assert_eq!(mode_of("0640"), 0o640);
    assert_eq!(mode_of("0400"), 0o400);
    assert_eq!(mode_of("384"), 0o600);
    assert_eq!(mode_of("\"0640\""), 0o640);
    assert_eq!(mode_of("\"600\""), 0o600);
    let perms_of = |perms: &str| {
        let text = format!(
            "template {{\n  contents = \"x\"\n  destination = \"out\"\n  perms = {perms}\n}}\n"
        );
        parse(&text).templates[0].perms
    };
    assert_eq!(perms_of("0644"), 0o644);
    assert_eq!(perms_of("\"0444\""), 0o444);
    assert_eq!(perms_of("420"), 0o644);
}

#[test]
fn loose_values() {
    // num_retries: 0 is Vault's default, -1 turns retries off.
    let retries = |n: &str| {
        let text = format!("vault {{\n  retry {{\n    num_retries = {n}\n  }}\n}}\n");
        parse(&text).server.num_retries
    };
    assert_eq!(retries("0"), 12);
    assert_eq!(retries("-1"), 0);
    assert_eq!(retries("\"3\""), 3);
    assert_eq!(parse("vault {\n  retry {}\n}\n").server.num_retries, 12);

    let renew_at = |v: &str| {
        let text = format!("lease_renewal {{\n  renew_at = {v}\n}}\n");
        parse(&text).lease_renewal.renew_at
    };
    assert_eq!(renew_at("0.75"), 0.75);
    assert_eq!(renew_at("\"0.25\""), 0.25);
    assert_eq!(renew_at("\"10%\""), 0.1);

    // Vault before 1.14 put use_auto_auth_token in cache.
    let old = parse("cache {\n  use_auto_auth_token = true\n}\n");
    assert!(old.cache && old.use_auto_auth_token);
    let proxy_only = parse("api_proxy {\n  use_auto_auth_token = false\n}\n");
    assert!(!proxy_only.cache && !proxy_only.use_auto_auth_token);
    assert!(parse("api_proxy {\n  use_auto_auth_token = \"true\"\n}\n").use_auto_auth_token);

    // `$${` is HCL's escape for a literal `${`, as template references need.
    let escaped = parse(
        "template {\n  contents = \"pw=$${secret:aws:db#password}\"\n  destination = \"out\"\n}\n",
    );
    assert_eq!(
        escaped.templates[0].source,
        TemplateSource::Inline("pw=${secret:aws:db#password}".into())
    );

    assert!(parse("exit_after_auth = \"true\"\n").exit_after_auth);
    assert!(!parse("exit_after_auth = false\n").exit_after_auth);

    // Backoff may start at its cap; grace may be zero.
    let renewal = parse(
        "lease_renewal {\n  backoff_initial = \"500ms\"\n  backoff_max = \"500ms\"\n  grace = 0\n}\n",
    )
    .lease_renewal;
    assert_eq!(renewal.backoff_initial, Duration::from_millis(500));
    assert_eq!(renewal.grace, Duration::ZERO);
}

#[test]
fn provider_defaults_and_file_formats() {
    let config = parse(
        r#"
provider "a" {
  type = "file"
  path = "secrets.yaml"
}
provider "b" {
  type = "file"
  path = "/srv/secrets.yml"
}
provider "c" {
  type = "file"
  path = "secrets.env"
}
provider "d" {
  type   = "file"
  path   = "secrets"
  format = "DOTENV"
}
provider "e1" {
  type   = "aws-sm"
  region = "us-east-1"
  fallback = "a"
}
"#,
    );
    let formats: Vec<_> = config
        .providers
        .iter()
        .filter_map(|p| match &p.kind {
            ProviderKind::File(f) => Some(f.format),
            _ => None,
        })
        .collect();
    use FileFormat::{Dotenv, Yaml};
    assert_eq!(formats, [Yaml, Yaml, Dotenv, Dotenv]);
    let aws = &config.providers[4];
    assert_eq!(
        aws,
        &ProviderConfig {
            name: "e1".into(),
            prefix: None,
            fallback: Some("a".into()),
            timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(300),
            cache_max_entries: 1000,
            kind: ProviderKind::AwsSecretsManager(AwsSmConfig {
                region: "us-east-1".into(),
                endpoint: None,
                access_key_id: None,
                secret_access_key: None,
                session_token: None,
            }),
        }
    );
}

/// The integration story's provider names are aliases of our types: the same config results.
#[test]
fn provider_type_aliases_name_the_same_types() {
    let aliased = parse(
        r#"
provider "aws" {
  type   = "aws-secrets"
  region = "eu-west-1"
}
provider "kv" {
  type          = "azure-keyvault"
  vault_url     = "https://example.vault.azure.net"
  tenant_id     = "t"
  client_id     = "c"
  client_secret = "s"
}
provider "dev" {
  type = "local-file"
  path = "dev.yaml"
}
"#,
    );
    let canonical = parse(
        r#"
provider "aws" {
  type   = "aws-sm"
  region = "eu-west-1"
}
provider "kv" {
  type          = "azure-kv"
  vault_url     = "https://example.vault.azure.net"
  tenant_id     = "t"
  client_id     = "c"
  client_secret = "s"
}
provider "dev" {
  type = "file"
  path = "dev.yaml"
}
"#,
    );
    assert_eq!(aliased.providers, canonical.providers);
    // Keys of the aliased type are checked as the type's own.
    let err = secrethub_config::parse_agent(
        "provider \"dev\" {\n  type = \"local-file\"\n  region = \"x\"\n}\n",
        Path::new("/etc"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
    assert_eq!(provider_type("aws-secrets"), Some("aws-sm"));
    assert_eq!(provider_type("vault"), Some("vault"));
    assert_eq!(provider_type("gcp-sm"), None);
}
