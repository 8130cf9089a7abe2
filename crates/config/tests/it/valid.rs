//! Valid configs: every key, the defaults, each storage type and Vault's loose spellings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use expect_test::expect;
use secrethub_common::tls::TlsVersion;
use secrethub_config::{parse, LogLevel, StorageConfig, DEFAULT_LEASE_TTL};

use crate::check_ok;

const LISTENER: &str = "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\n";

fn storage_of(stanza: &str) -> StorageConfig {
    let text = format!("{stanza}\n{LISTENER}");
    parse(&text, Path::new("/etc/secrethub"))
        .unwrap_or_else(|e| panic!("{stanza}: {e}"))
        .storage
}

#[test]
fn full_config() {
    check_ok(
        r#"
# A production config, with Vault's keys.
storage "postgresql" {
  connection_url = "postgres://secrethub:hunter2@db.internal:5432/secrethub"
  table          = "secrethub_kv"
  max_parallel   = "16"
}

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "tls/server.crt"
  tls_key_file  = "/etc/ssl/private/server.key"
  tls_min_version   = "tls13"
  tls_cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
}

listener "tcp" {
  address                  = "127.0.0.1:8210"
  tls_disable              = "true"
  http_read_header_timeout = "5s"
  http_read_timeout        = 60
  http_write_timeout       = "1m"
  http_idle_timeout        = "0"   # the default
  max_connections          = "256"
}

api_addr          = "https://secrethub.example.com:8200"
cluster_addr      = "https://10.0.0.5:8201"
default_lease_ttl = "1h"
max_lease_ttl     = "720h"
ui                = true
log_level         = "Debug"
disable_mlock     = true

lease_revocation {
  workers           = "64"
  base_delay        = 2        # seconds
  max_delay         = "10m"
  max_attempts      = 12
  irrevocable_retry = "2h"
  breaker_threshold = "3"
  breaker_cooldown  = "1m30s"
}
"#,
        expect![[r#"
            ServerConfig {
                storage: Postgres {
                    connection_url: <redacted>,
                    table: Some(
                        "secrethub_kv",
                    ),
                    max_parallel: Some(
                        16,
                    ),
                },
                listeners: [
                    ListenerConfig {
                        address: 0.0.0.0:8200,
                        tls: Some(
                            TlsFiles {
                                cert_file: "/etc/secrethub/tls/server.crt",
                                key_file: "/etc/ssl/private/server.key",
                                min_version: Tls13,
                                cipher_suites: [
                                    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                                    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                                ],
                            },
                        ),
                        read_header_timeout: 10s,
                        read_timeout: 30s,
                        write_timeout: 30s,
                        idle_timeout: 300s,
                        max_connections: 1024,
                    },
                    ListenerConfig {
                        address: 127.0.0.1:8210,
                        tls: None,
                        read_header_timeout: 5s,
                        read_timeout: 60s,
                        write_timeout: 60s,
                        idle_timeout: 300s,
                        max_connections: 256,
                    },
                ],
                api_addr: Some(
                    "https://secrethub.example.com:8200",
                ),
                cluster_addr: Some(
                    "https://10.0.0.5:8201",
                ),
                default_lease_ttl: 3600s,
                max_lease_ttl: 2592000s,
                ui: true,
                log_level: Debug,
                lease_revocation: LeaseRevocationConfig {
                    workers: 64,
                    base_delay: 2s,
                    max_delay: 600s,
                    max_attempts: 12,
                    irrevocable_retry: 7200s,
                    breaker_threshold: 3,
                    breaker_cooldown: 90s,
                },
            }"#]],
    );
}

#[test]
fn defaults() {
    check_ok(
        LISTENER,
        expect![[r#"
            ServerConfig {
                storage: Embedded {
                    path: "/etc/secrethub/secrethub.db",
                },
                listeners: [
                    ListenerConfig {
                        address: 127.0.0.1:0,
                        tls: None,
                        read_header_timeout: 10s,
                        read_timeout: 30s,
                        write_timeout: 30s,
                        idle_timeout: 300s,
                        max_connections: 1024,
                    },
                ],
                api_addr: None,
                cluster_addr: None,
                default_lease_ttl: 2764800s,
                max_lease_ttl: 2764800s,
                ui: false,
                log_level: Info,
                lease_revocation: LeaseRevocationConfig {
                    workers: 32,
                    base_delay: 1s,
                    max_delay: 300s,
                    max_attempts: 8,
                    irrevocable_retry: 3600s,
                    breaker_threshold: 5,
                    breaker_cooldown: 30s,
                },
            }"#]],
    );
}

#[test]
fn listener_address_defaults_to_vaults() {
    let config = parse("listener \"tcp\" {\n  tls_disable = 1\n}\n", Path::new("")).unwrap();
    assert_eq!(config.listeners[0].address.to_string(), "127.0.0.1:8200");
    assert_eq!(config.listeners[0].tls, None);
}

#[test]
fn tls_settings_default_to_vaults() {
    let text = "listener \"tcp\" {\n  tls_cert_file = \"c.pem\"\n  tls_key_file = \"k.pem\"\n}\n";
    let config = parse(text, Path::new("/d")).unwrap();
    let tls = config.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.min_version, TlsVersion::Tls12);
    assert!(tls.cipher_suites.is_empty());
    let text = "listener \"tcp\" {\n  tls_cert_file = \"c.pem\"\n  tls_key_file = \"k.pem\"\n  tls_min_version = \"tls12\"\n  tls_cipher_suites = \"\"\n}\n";
    let config = parse(text, Path::new("/d")).unwrap();
    let tls = config.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.min_version, TlsVersion::Tls12);
    assert!(tls.cipher_suites.is_empty());
}

#[test]
fn storage_types() {
    let embedded = |path: &str| StorageConfig::Embedded {
        path: PathBuf::from(path),
    };
    let cases = [
        (
            r#"storage "file" { path = "/var/lib/secrethub/data.db" }"#,
            embedded("/var/lib/secrethub/data.db"),
        ),
        (
            r#"storage "file" { path = "data/kv.db" }"#,
            embedded("/etc/secrethub/data/kv.db"),
        ),
        (
            r#"storage "embedded" { path = "/data/x.db" }"#,
            embedded("/data/x.db"),
        ),
        (
            r#"storage "raft" { path = "/opt/vault/data" }"#,
            embedded("/opt/vault/data/secrethub.db"),
        ),
        (
            "storage \"raft\" {\n  path = \"/d\"\n  node_id = \"node1\"\n}",
            embedded("/d/secrethub.db"),
        ),
        (r#"storage "inmem" {}"#, StorageConfig::Memory),
    ];
    for (stanza, want) in cases {
        assert_eq!(storage_of(stanza), want, "{stanza}");
    }
    let StorageConfig::Postgres {
        connection_url,
        table,
        max_parallel,
    } = storage_of(r#"storage "postgresql" { connection_url = "host=db user=sh" }"#)
    else {
        panic!("not postgres");
    };
    assert_eq!(connection_url.expose(), "host=db user=sh");
    assert_eq!((table, max_parallel), (None, None));
    let max_parallel = |stanza| match storage_of(stanza) {
        StorageConfig::Postgres { max_parallel, .. } => max_parallel,
        other => panic!("{other:?}"),
    };
    let number =
        "storage \"postgresql\" {\n  connection_url = \"postgres://h/db\"\n  max_parallel = 4\n}";
    assert_eq!(max_parallel(number), Some(4));
}

#[test]
fn vault_loose_values_and_comments() {
    let text = r#"
// Comments of every HCL style.
/* block comment */
listener "tcp" {
  address     = "[::1]:8200"
  tls_disable = "1"
}
ui                = "true"
default_lease_ttl = 600      # seconds as a number
max_lease_ttl     = "2d"
log_level         = "warn"
api_addr          = "http://127.0.0.1:8200"
"#;
    let config = parse(text, Path::new("/")).unwrap();
    assert_eq!(config.listeners[0].address.to_string(), "[::1]:8200");
    assert!(config.ui);
    assert_eq!(config.default_lease_ttl, Duration::from_secs(600));
    assert_eq!(config.max_lease_ttl, Duration::from_secs(2 * 86400));
    assert_eq!(config.log_level, LogLevel::Warn);
    assert_eq!(config.log_level.to_string(), "warn");
}

#[test]
fn zero_ttl_means_the_default() {
    let text = format!("{LISTENER}default_lease_ttl = \"0\"\nmax_lease_ttl = 0\n");
    let config = parse(&text, Path::new("/")).unwrap();
    assert_eq!(config.default_lease_ttl, DEFAULT_LEASE_TTL);
    assert_eq!(config.max_lease_ttl, DEFAULT_LEASE_TTL);
}

#[test]
fn tls_disable_false_still_needs_files() {
    let text = "listener \"tcp\" {\n  tls_disable = false\n  tls_cert_file = \"c.pem\"\n  tls_key_file = \"k.pem\"\n}\n";
    let config = parse(text, Path::new("/srv")).unwrap();
    let tls = config.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.cert_file, Path::new("/srv/c.pem"));
    assert_eq!(tls.key_file, Path::new("/srv/k.pem"));
}

#[test]
fn load_resolves_paths_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.hcl");
    std::fs::write(&path, LISTENER).unwrap();
    let config = secrethub_config::load(&path).unwrap();
    assert_eq!(
        config.storage,
        StorageConfig::Embedded {
            path: dir.path().join("secrethub.db")
        }
    );
}

#[test]
fn the_connection_url_never_shows_in_debug() {
    let text = format!(
        "storage \"postgresql\" {{\n  connection_url = \"postgres://u:s3cr3t-pw@h/db\"\n}}\n{LISTENER}"
    );
    let raw = secrethub_config::parse_raw(&text).unwrap();
    let config = parse(&text, Path::new("/")).unwrap();
    for debug in [
        format!("{raw:?}"),
        format!("{raw:#?}"),
        format!("{config:?}"),
    ] {
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}

#[test]
fn raw_values_carry_their_lines() {
    let raw =
        secrethub_config::parse_raw("\n\nlog_level = \"info\"\nlistener \"tcp\" {}\n").unwrap();
    assert_eq!(raw.log_level.unwrap().line, Some(3));
    assert_eq!(raw.listener[0].line, Some(4));
}

#[test]
fn the_readme_server_example_parses_with_the_listener_defaults_it_shows() {
    let readme = include_str!("../../../../README.md");
    let start = readme
        .find("```hcl\nstorage \"file\"")
        .expect("the README has a server.hcl example starting with a storage stanza");
    let body = &readme[start + "```hcl\n".len()..];
    let end = body.find("```").expect("the example block is closed");
    let shown = parse(&body[..end], Path::new("/etc/secrethub"))
        .unwrap_or_else(|e| panic!("README server example: {e}"));
    let defaults = parse(LISTENER, Path::new("/etc/secrethub")).expect("valid");
    let (shown, defaults) = (&shown.listeners[0], &defaults.listeners[0]);
    assert_eq!(shown.read_header_timeout, defaults.read_header_timeout);
    assert_eq!(shown.read_timeout, defaults.read_timeout);
    assert_eq!(shown.write_timeout, defaults.write_timeout);
    assert_eq!(shown.idle_timeout, defaults.idle_timeout);
    assert_eq!(shown.max_connections, defaults.max_connections);
}
