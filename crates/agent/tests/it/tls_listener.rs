//! The proxy's TCP listener with TLS, in front of a real server: a client trusting the
//! test-made certificate gets through (HTTP/1.1 and h2 by ALPN), plain HTTP to the TLS port
//! gets no answer, a client stalled in its handshake holds up neither other clients nor
//! shutdown, and a missing or bad certificate or key is named when binding.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use secrethub_agent::proxy::{serve, ProxyConfig, ProxyListener, ProxyState};
use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use secrethub_config::agent::AgentListener;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use crate::server::{unique, TestServer};

/// Shorter than the listener's 10 s handshake timeout: a request that had to wait for a
/// stalled handshake to time out fails instead of passing late.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let cert =
        rcgen::generate_simple_self_signed(names).expect("generating a self-signed certificate");
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).expect("write cert.pem");
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("write key.pem");
    (cert_file, key_file)
}

fn tls_stanza(cert: &Path, key: &Path) -> AgentListener {
    AgentListener::Tcp {
        address: "127.0.0.1:0".parse().expect("addr"),
        tls: Some((cert.to_path_buf(), key.to_path_buf())),
    }
}

/// A server, and the proxy in front of it on a TLS listener, using the root token for
/// requests without one.
struct TlsProxy {
    server: TestServer,
    _dir: tempfile::TempDir,
    cert: PathBuf,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
    /// Keeps the agent's token alive for the proxy.
    _token: watch::Sender<Option<Sensitive<String>>>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TlsProxy {
    async fn start() -> TlsProxy {
        let server = TestServer::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed(dir.path());
        let (token, agent_token) =
            watch::channel(Some(Sensitive::new(server.root_token().to_string())));
        let config = ProxyConfig {
            use_auto_auth_token: true,
            ..ProxyConfig::default()
        };
        let state = Arc::new(ProxyState::new(server.client(), agent_token, config));
        let listener = ProxyListener::bind(&tls_stanza(&cert, &key))
            .await
            .expect("bind the TLS listener");
        let addr = listener.local_addr().expect("proxy address");
        assert_eq!(listener.describe(), format!("https://{addr}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, state, shutdown.clone()));
        TlsProxy {
            server,
            _dir: dir,
            cert,
            addr,
            shutdown,
            task: Some(task),
            _token: token,
        }
    }

    /// A client of the proxy at `scheme://addr`, trusting the certificate, never retrying.
    fn client(&self, scheme: &str) -> Client {
        Client::new(ClientConfig {
            addr: format!("{scheme}://{}", self.addr),
            ca_cert: Some(self.cert.clone()),
            timeout: CLIENT_TIMEOUT,
            ..ClientConfig::default()
        })
        .expect("proxy client")
        .with_max_retries(0)
    }

    /// A TLS connection to the proxy offering `alpn`, trusting the certificate.
    async fn connect(&self, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        let pem = std::fs::read(&self.cert).expect("read cert.pem");
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert.expect("PEM certificate")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("server name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake")
    }

    /// Stops the proxy and answers what `serve` returned, failing if it does not return
    /// within [`CLIENT_TIMEOUT`].
    async fn stop(&mut self) -> io::Result<()> {
        self.shutdown.cancel();
        let task = self.task.take().expect("the proxy is running");
        tokio::time::timeout(CLIENT_TIMEOUT, task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task")
    }
}

#[tokio::test]
async fn a_client_trusting_the_certificate_reads_through_the_tls_listener() {
    let proxy = TlsProxy::start().await;
    let path = format!("secret/data/{}", unique("tls"));
    let value = unique("value");
    proxy
        .server
        .root_client()
        .write(&path, &json!({"data": {"value": value}}))
        .await
        .expect("write the secret");

    // No token of its own: the proxy adds the agent's.
    let client = proxy.client("https");
    let read = client
        .read(&path)
        .await
        .expect("read through the proxy")
        .expect("an answer");
    assert_eq!(read["data"]["data"]["value"], json!(value), "{read}");
    let health = client
        .read("sys/health")
        .await
        .expect("health through the proxy")
        .expect("an answer");
    assert_eq!(health["sealed"], json!(false), "{health}");
}

#[tokio::test]
async fn the_tls_listener_speaks_http1_and_offers_h2_by_alpn() {
    let proxy = TlsProxy::start().await;
    let h2 = proxy.connect(&[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let http1 = proxy.connect(&[b"http/1.1"]).await;
    assert_eq!(http1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(http1))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get("/v1/sys/health")
        .header("host", "agent")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["initialized"], json!(true), "{body}");
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_answer() {
    let proxy = TlsProxy::start().await;
    let err = proxy
        .client("http")
        .read("sys/health")
        .await
        .expect_err("plain HTTP to a TLS port");
    assert!(!err.to_string().is_empty());
    // The listener is still fine afterwards.
    proxy
        .client("https")
        .read("sys/health")
        .await
        .expect("HTTPS after a plain HTTP attempt");
}

#[tokio::test]
async fn a_stalled_handshake_holds_up_neither_other_clients_nor_shutdown() {
    let mut proxy = TlsProxy::start().await;
    // Connected, but never says a word: its handshake waits in its own task.
    let _stalled = TcpStream::connect(proxy.addr).await.expect("connect");
    let client = proxy.client("https");
    client
        .read("sys/health")
        .await
        .expect("served while another handshake is stalled");

    // The stalled handshake and the client's idle kept-alive connection are both open;
    // shutdown must not wait for either.
    proxy.stop().await.expect("serve ends cleanly");
    let refused = TcpStream::connect(proxy.addr).await;
    assert!(refused.is_err(), "the port is closed after shutdown");
}

#[tokio::test]
async fn a_missing_key_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _key) = self_signed(dir.path());
    let missing = dir.path().join(format!("{}.pem", unique("no-key")));
    let err = ProxyListener::bind(&tls_stanza(&cert, &missing))
        .await
        .expect_err("a missing key file");
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("tls_key_file") && text.contains(&missing.display().to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_certificate_or_key_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path());
    let not_pem = dir.path().join("not-pem.txt");
    std::fs::write(&not_pem, "not a PEM file\n").expect("write");

    let err = ProxyListener::bind(&tls_stanza(&not_pem, &key))
        .await
        .expect_err("no certificate");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("tls_cert_file") && text.contains(&not_pem.display().to_string()),
        "{text}"
    );

    let err = ProxyListener::bind(&tls_stanza(&cert, &not_pem))
        .await
        .expect_err("no key");
    let text = err.to_string();
    assert!(
        text.contains("tls_key_file") && text.contains(&not_pem.display().to_string()),
        "{text}"
    );

    // The key of another certificate: both files are named.
    let other = tempfile::tempdir().expect("tempdir");
    let (_other_cert, other_key) = self_signed(other.path());
    let err = ProxyListener::bind(&tls_stanza(&cert, &other_key))
        .await
        .expect_err("a key that does not match");
    let text = err.to_string();
    assert!(
        text.contains(&cert.display().to_string())
            && text.contains(&other_key.display().to_string()),
        "{text}"
    );
    // Key material never shows up in the error.
    let key_pem = std::fs::read_to_string(&other_key).expect("read key");
    let key_body = key_pem.lines().nth(1).expect("a base64 line");
    assert!(!format!("{err:?}").contains(key_body), "{err:?}");
}
