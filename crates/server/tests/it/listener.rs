//! The listener on real sockets: slow and silent clients are cut off at their deadlines
//! while others are served, and a full listener still answers `sys/health`.
//!
//! Timeouts are short and real; every wait has a generous deadline, and each test checks
//! what a client observes (an answer, or the connection closing), never a sleep.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrethub_common::tls::{CipherSuite, TlsVersion};
use secrethub_server::{serve, Listener, ListenerLimits, TlsFiles};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::harness::TestServer;

/// Far beyond any timeout used here; reaching it fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(300);

struct Running {
    addr: SocketAddr,
    stop: CancellationToken,
    _server: TestServer,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(limits: ListenerLimits, tls: Option<&TlsFiles>) -> Running {
    let server = TestServer::dev().await;
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .expect("bind")
        .with_limits(limits);
    let addr = listener.local_addr().expect("address");
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, server.app.clone(), stop.clone()));
    Running {
        addr,
        stop,
        _server: server,
    }
}

const HEALTH: &[u8] = b"GET /v1/sys/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// Reads until the server closes the connection; what it sent, and how long that took.
async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await
        .expect("the server closes the connection in time");
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

async fn health(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(HEALTH).await.expect("write");
    read_until_closed(&mut stream).await.0
}

#[tokio::test]
async fn half_a_request_line_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let limits = ListenerLimits {
        read_header_timeout: SHORT,
        ..ListenerLimits::DEFAULT
    };
    let running = start(limits, None).await;
    let mut slow = TcpStream::connect(running.addr).await.expect("connect");
    slow.write_all(b"GET /v1/sys/hea").await.expect("write");
    let cut_off = tokio::spawn(async move { read_until_closed(&mut slow).await });

    let answer = health(running.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let (sent, took) = cut_off.await.expect("reader");
    assert_eq!(sent, "", "closed without an answer");
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
}

#[tokio::test]
async fn a_request_body_that_never_ends_is_cut_off_at_the_read_timeout() {
    let limits = ListenerLimits {
        read_timeout: SHORT,
        ..ListenerLimits::DEFAULT
    };
    let running = start(limits, None).await;
    let mut slow = TcpStream::connect(running.addr).await.expect("connect");
    let head = "PUT /v1/sys/policies/acl/slow HTTP/1.1\r\nHost: t\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"policy\":";
    slow.write_all(head.as_bytes()).await.expect("write");
    let (answer, took) = read_until_closed(&mut slow).await;
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
}

#[tokio::test]
async fn at_the_connection_limit_a_fresh_health_check_is_answered_at_once() {
    let limits = ListenerLimits {
        max_connections: 4,
        ..ListenerLimits::DEFAULT
    };
    let running = start(limits, None).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(running.addr).await.expect("connect"));
    }
    let started = Instant::now();
    let answer = health(running.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Long before any of the idle connections' 10 s header timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    // The connection idle longest made room.
    let (sent, took) = read_until_closed(&mut idle[0]).await;
    assert_eq!(sent, "");
    assert!(took < Duration::from_secs(5));
}

/// A self-signed ECDSA P-256 certificate for 127.0.0.1 written to `dir`, and its files with
/// the given TLS settings.
fn tls_files(
    dir: &std::path::Path,
    min_version: TlsVersion,
    cipher_suites: Vec<CipherSuite>,
) -> (rcgen::CertifiedKey, TlsFiles) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    let files = TlsFiles {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
        min_version,
        cipher_suites,
    };
    std::fs::write(&files.cert_file, cert.cert.pem()).expect("cert file");
    std::fs::write(&files.key_file, cert.key_pair.serialize_pem()).expect("key file");
    (cert, files)
}

/// A rustls client trusting `cert`, limited to `versions` (and `suites`, when given).
fn tls_connector(
    cert: &rcgen::CertifiedKey,
    versions: &[&'static rustls::SupportedProtocolVersion],
    suites: Option<&[rustls::CipherSuite]>,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = suites {
        provider
            .cipher_suites
            .retain(|s| suites.contains(&s.suite()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    tokio::time::timeout(PATIENCE, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

#[tokio::test]
async fn a_tls_client_that_never_says_hello_is_dropped_at_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, files) = tls_files(dir.path(), TlsVersion::Tls12, vec![]);
    let limits = ListenerLimits {
        read_header_timeout: SHORT,
        ..ListenerLimits::DEFAULT
    };
    let running = start(limits, Some(&files)).await;

    let mut silent = TcpStream::connect(running.addr).await.expect("connect");
    let dropped = tokio::spawn(async move { read_until_closed(&mut silent).await });

    // Meanwhile a client that does speak TLS is served.
    let connector = tls_connector(&cert, BOTH, None);
    let mut tls = tls_connect(&connector, running.addr)
        .await
        .expect("handshake");
    tls.write_all(HEALTH).await.expect("write");
    let (answer, _) = read_until_closed(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let (sent, took) = dropped.await.expect("reader");
    assert_eq!(sent, "");
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
}

#[tokio::test]
async fn tls_min_version_13_refuses_a_tls12_client_and_serves_a_tls13_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, files) = tls_files(dir.path(), TlsVersion::Tls13, vec![]);
    let running = start(ListenerLimits::DEFAULT, Some(&files)).await;

    let old = tls_connector(&cert, TLS12_ONLY, None);
    let err = tls_connect(&old, running.addr)
        .await
        .expect_err("a TLS 1.2 client is refused");
    assert!(err.to_string().contains("ProtocolVersion"), "{err}");

    let new = tls_connector(&cert, BOTH, None);
    let mut tls = tls_connect(&new, running.addr).await.expect("handshake");
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    tls.write_all(HEALTH).await.expect("write");
    let (answer, _) = read_until_closed(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn tls_cipher_suites_limit_what_tls12_negotiates() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Not the suite rustls would pick first (AES-256-GCM).
    let only = CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
    let (cert, files) = tls_files(dir.path(), TlsVersion::Tls12, vec![only]);
    let running = start(ListenerLimits::DEFAULT, Some(&files)).await;

    let any_suite = tls_connector(&cert, TLS12_ONLY, None);
    let tls = tls_connect(&any_suite, running.addr)
        .await
        .expect("handshake");
    let negotiated = tls.get_ref().1.negotiated_cipher_suite().expect("suite");
    assert_eq!(
        negotiated.suite(),
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    );

    let other_suite = tls_connector(
        &cert,
        TLS12_ONLY,
        Some(&[rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]),
    );
    let err = tls_connect(&other_suite, running.addr)
        .await
        .expect_err("no shared suite");
    assert!(err.to_string().contains("HandshakeFailure"), "{err}");

    // TLS 1.3 suites are not limited, as in Vault.
    let tls13 = tls_connector(
        &cert,
        TLS13_ONLY,
        Some(&[rustls::CipherSuite::TLS13_AES_128_GCM_SHA256]),
    );
    let tls = tls_connect(&tls13, running.addr).await.expect("handshake");
    let negotiated = tls.get_ref().1.negotiated_cipher_suite().expect("suite");
    assert_eq!(
        negotiated.suite(),
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
    );
}

#[tokio::test]
async fn plain_http_on_a_tls_listener_gets_vaults_400() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, files) = tls_files(dir.path(), TlsVersion::Tls12, vec![]);
    let running = start(ListenerLimits::DEFAULT, Some(&files)).await;

    let mut plain = TcpStream::connect(running.addr).await.expect("connect");
    plain.write_all(HEALTH).await.expect("write");
    let (answer, took) = read_until_closed(&mut plain).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    assert!(head.contains("\r\nConnection: close"), "{head}");
    assert_eq!(body, "Client sent an HTTP request to an HTTPS server.\n");

    // TLS clients are still served.
    let connector = tls_connector(&cert, BOTH, None);
    let mut tls = tls_connect(&connector, running.addr)
        .await
        .expect("handshake");
    tls.write_all(HEALTH).await.expect("write");
    let (answer, _) = read_until_closed(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_http2_connection_without_a_request_is_closed_at_the_header_timeout() {
    let limits = ListenerLimits {
        read_header_timeout: SHORT,
        ..ListenerLimits::DEFAULT
    };
    let running = start(limits, None).await;
    let mut h2c = TcpStream::connect(running.addr).await.expect("connect");
    // The client preface and an empty SETTINGS frame, then silence.
    h2c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("write");
    let (sent, took) = read_until_closed(&mut h2c).await;
    assert!(!sent.is_empty(), "the server spoke HTTP/2 (its SETTINGS)");
    assert!(took >= SHORT - Duration::from_millis(50), "{took:?}");
}
