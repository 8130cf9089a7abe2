//! A TLS listener's rustls configuration (certificate, `tls_min_version`,
//! `tls_cipher_suites`) and the answer to plain HTTP sent to it.
//!
//! Vault limits only the TLS 1.2 suites with `tls_cipher_suites` (Go offers every TLS 1.3
//! suite whatever the list says), and so do we: the list filters the provider's TLS 1.2
//! suites and the TLS 1.3 ones stay.
//!
//! A client that speaks plain HTTP to a TLS port gets Vault's 400 "Client sent an HTTP
//! request to an HTTPS server." instead of a handshake error it can't read. The first bytes
//! are peeked before the handshake, inside the connection's handshake deadline, so a silent
//! client is still dropped at the header timeout.

use std::sync::Arc;

use anyhow::Context as _;
use secrethub_common::tls::{CipherSuite, TlsVersion};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
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

/// Go's answer (and so Vault's) to plain HTTP on a TLS port, as HTTP/1.1 with a length.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Cache-Control: no-store\r\n\
Connection: close\r\n\
Content-Length: 48\r\n\
\r\n\
Client sent an HTTP request to an HTTPS server.\n";

/// The most of a plain HTTP request read and dropped before closing, so the close does not
/// reset the connection (and lose the answer) over unread bytes.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Waits for the client's first bytes; when they look like an HTTP request rather than a
/// TLS record (a ClientHello starts with 0x16), answers 400 and returns true: the caller
/// then closes the connection. Returns false, with nothing consumed, otherwise.
pub(super) async fn answer_plain_http(stream: &mut TcpStream) -> bool {
    let mut first = [0u8; 8];
    let Ok(n) = stream.peek(&mut first).await else {
        return false;
    };
    if !looks_like_http(&first[..n]) {
        return false;
    }
    let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
    let _ = stream.shutdown().await;
    // Take what the client already sent; the connection's deadlines bound the wait.
    let mut drained = 0;
    let mut buf = [0u8; 4096];
    while drained < DRAIN_LIMIT {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    true
}

/// An HTTP method's start: uppercase ASCII letters, up to a space if one was read. No TLS
/// record starts with a letter (content types are 20 to 24, SSLv2 hellos have the top bit).
fn looks_like_http(bytes: &[u8]) -> bool {
    let method = bytes.split(|&b| b == b' ').next().unwrap_or_default();
    !bytes.is_empty() && !method.is_empty() && method.iter().all(u8::is_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_methods_and_not_tls_records() {
        assert!(looks_like_http(b"GET / HT"));
        assert!(looks_like_http(b"PO"));
        assert!(looks_like_http(b"LIST /v1"));
        assert!(!looks_like_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_http(&[0x80, 0x2e, 0x01]));
        assert!(!looks_like_http(b""));
        assert!(!looks_like_http(b" GET"));
        assert!(!looks_like_http(b"get / HTTP/1.1"));
    }

    #[test]
    fn the_answer_has_the_length_it_says() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.len(), 48);
        assert_eq!(body, "Client sent an HTTP request to an HTTPS server.\n");
    }
}
