//! A local HTTPS server for tests that stand in for a provider's API where no real server can
//! run here (a Kubernetes API server, say): a CA made at test time signs a certificate for
//! 127.0.0.1 and localhost, and an axum app is served over rustls on a free port.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// A running server; stops accepting connections when dropped.
pub struct HttpsServer {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The CA that signed the server's certificate, for the client to trust.
    pub ca_pem: String,
    task: JoinHandle<()>,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh CA certificate and its key.
pub fn new_ca(common_name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("ca key");
    let cert = params.self_signed(&key).expect("ca certificate");
    (cert, key)
}

/// Serves `app` over HTTPS on 127.0.0.1 with a certificate from a new CA named `ca_name`.
pub async fn serve_https(ca_name: &str, app: Router) -> HttpsServer {
    let (ca_cert, ca_key) = new_ca(ca_name);
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "test server");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .expect("signing the leaf");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // Clients that do not trust the certificate end here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    HttpsServer {
        url: format!("https://127.0.0.1:{port}"),
        ca_pem: ca_cert.pem(),
        task,
    }
}
