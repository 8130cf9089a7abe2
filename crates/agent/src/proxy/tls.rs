//! TLS on the agent's TCP listener: the PEM certificate chain and private key of a
//! `listener "tcp"` stanza are loaded into a rustls (ring) `ServerConfig` at bind, and
//! [`serve_tls`] accepts connections with it, speaking HTTP/1.1 or h2 (by ALPN).
//!
//! Each connection is handshaken in its own task under [`HANDSHAKE_TIMEOUT`], so a client
//! that connects and then stalls (or speaks plain HTTP) costs one task, never the accept
//! loop. On shutdown the loop stops accepting, unfinished handshakes are dropped, and every
//! established connection finishes its requests in flight before [`serve_tls`] returns, as
//! `axum::serve`'s graceful shutdown does for the plain listener.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// How long a client may take to finish the TLS handshake before its connection is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop rests after an error that is not about one connection (such as
/// running out of file descriptors), so it does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Why the certificate or key of a listener cannot be used. Each names its file; none
/// carries key material.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("cannot read tls_cert_file {}", path.display())]
    ReadCert {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid certificate in tls_cert_file {}", path.display())]
    BadCert {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no certificate found in tls_cert_file {}", path.display())]
    NoCert { path: PathBuf },
    #[error("cannot read tls_key_file {}", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid private key in tls_key_file {}", path.display())]
    BadKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no private key found in tls_key_file {}", path.display())]
    NoKey { path: PathBuf },
    #[error(
        "cannot use the certificate in {} with the key in {}",
        cert.display(),
        key.display()
    )]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

impl From<TlsError> for io::Error {
    /// A file that cannot be read keeps its IO kind (`NotFound`, `PermissionDenied`); a file
    /// with the wrong content is `InvalidData`.
    fn from(e: TlsError) -> io::Error {
        let kind = match &e {
            TlsError::ReadCert { source, .. } | TlsError::ReadKey { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Loads `cert_file` (PEM chain, leaf first) and `key_file` (PEM PKCS#8, PKCS#1 or SEC1)
/// into a server config: TLS 1.2 and 1.3 through ring, no client certificates, ALPN h2 and
/// http/1.1.
pub(crate) fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(cert_file)?;
    let key = load_key(key_file)?;
    let unusable = |source| TlsError::Unusable {
        cert: cert_file.to_path_buf(),
        key: key_file.to_path_buf(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(unusable)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::ReadCert {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::BadCert {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    // The PEM holds the private key: it is wiped from memory once parsed.
    let pem = zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| TlsError::ReadKey {
        path: path.to_path_buf(),
        source,
    })?);
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| TlsError::BadKey {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_path_buf(),
        })
}

/// Serves `app` over TLS on `listener` until `shutdown` fires, then waits for the
/// connections' requests in flight.
pub(crate) async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = serve_connection(
                    stream,
                    peer,
                    acceptor.clone(),
                    app.clone(),
                    shutdown.clone(),
                );
                connections.spawn(conn);
            }
            // One client gave up between connect and accept: nothing to do about it.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    // Close the port first, so no client connects while the others drain.
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Errors of `accept` that concern one connection, not the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection: the handshake (bounded by [`HANDSHAKE_TIMEOUT`], dropped on shutdown),
/// then HTTP until the client leaves, or until shutdown lets its requests finish.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    shutdown: CancellationToken,
) {
    // Small JSON requests and answers: don't wait to fill a segment.
    let _ = stream.set_nodelay(true);
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        () = shutdown.cancelled() => return,
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "tls handshake failed");
                return;
            }
            Err(_) => {
                debug!(%peer, "tls handshake timed out");
                return;
            }
        },
    };
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            // Finish the requests in flight (h2 sends GOAWAY), close an idle connection now.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "connection ended with an error");
    }
}
