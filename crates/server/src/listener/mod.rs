//! Listeners: a TCP accept loop serving the app over HTTP/1 and HTTP/2, with rustls when
//! the listener has a certificate. Each connection gets its peer address as `ConnectInfo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Certificate and key files of a TLS listener (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Binds `addr` and loads the TLS files, if any. Errors name the address or file.
    pub async fn bind(addr: SocketAddr, tls: Option<&TlsFiles>) -> anyhow::Result<Listener> {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let tls = tls.map(load_tls).transpose()?;
        Ok(Listener { tcp, tls })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.tcp.local_addr()?)
    }

    /// Whether this listener speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

fn load_tls(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("tls protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: Listener, app: Router, shutdown: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = listener.tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = app.map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let svc = TowerToHyperService::new(svc);
            let builder = Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => {
                        let conn = builder.serve_connection(TokioIo::new(s), svc);
                        tokio::select! { r = conn => r, _ = shutdown.cancelled() => Ok(()) }
                    }
                    Err(e) => {
                        tracing::debug!(peer = %peer, error = %e, "tls handshake failed");
                        return;
                    }
                },
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::select! { r = conn => r, _ = shutdown.cancelled() => Ok(()) }
                }
            };
            if let Err(e) = result {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
}
