//! A TLS listener's rustls configuration: certificate, `tls_min_version`,
//! `tls_cipher_suites`.
//!
//! Vault limits only the TLS 1.2 suites with `tls_cipher_suites` (Go offers every TLS 1.3
//! suite whatever the list says), and so do we: the list filters the provider's TLS 1.2
//! suites and the TLS 1.3 ones stay.

use std::sync::Arc;

use anyhow::Context as _;
use secrethub_common::tls::{CipherSuite, TlsVersion};
use tokio_rustls::TlsAcceptor;

use super::TlsFiles;

/// Loads the certificate and key and builds the acceptor. Errors name the file or setting.
pub(super) fn load(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let certs = {
        let pem = std::fs::read(&files.cert_file)
            .with_context(|| format!("cannot read tls_cert_file {}", files.cert_file.display()))?;
        rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("invalid certificate in {}", files.cert_file.display()))?
    };
    if certs.is_empty() {
        anyhow::bail!("no certificate found in {}", files.cert_file.display());
    }
    let key = {
        let pem = std::fs::read(&files.key_file)
            .with_context(|| format!("cannot read tls_key_file {}", files.key_file.display()))?;
        rustls_pemfile::private_key(&mut pem.as_slice())
            .with_context(|| format!("invalid private key in {}", files.key_file.display()))?
            .with_context(|| format!("no private key found in {}", files.key_file.display()))?
    };
    let mut provider = rustls::crypto::ring::default_provider();
    if !files.cipher_suites.is_empty() {
        let wanted: Vec<rustls::CipherSuite> = files
            .cipher_suites
            .iter()
            .map(|&s| rustls_suite(s))
            .collect();
        provider.cipher_suites.retain(|s| match s {
            rustls::SupportedCipherSuite::Tls13(_) => true,
            rustls::SupportedCipherSuite::Tls12(_) => wanted.contains(&s.suite()),
        });
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match files.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .context("tls_min_version and tls_cipher_suites leave no way to connect")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// rustls's name for a suite of the config's table.
fn rustls_suite(suite: CipherSuite) -> rustls::CipherSuite {
    use rustls::CipherSuite as R;
    match suite {
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
            R::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
            R::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            R::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => {
            R::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => {
            R::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            R::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        CipherSuite::TLS_AES_128_GCM_SHA256 => R::TLS13_AES_128_GCM_SHA256,
        CipherSuite::TLS_AES_256_GCM_SHA384 => R::TLS13_AES_256_GCM_SHA384,
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256 => R::TLS13_CHACHA20_POLY1305_SHA256,
    }
}
