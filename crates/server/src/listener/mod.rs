//! Listeners: a TCP accept loop serving the app over HTTP/1 and HTTP/2, with rustls when
//! the listener has a certificate. Each connection gets its peer address as `ConnectInfo`.
//!
//! No client holds server resources without making progress: every phase of a connection
//! has a deadline and the listener a connection limit ([`ListenerLimits`]; the rules are in
//! `connections`), and accept errors pause the loop instead of spinning it (`accept`).

mod accept;
mod connections;
mod limits;
mod service;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use secrethub_common::tls::{CipherSuite, TlsVersion};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use accept::{ReportLimiter, REPORT_WINDOW};
use connections::{Connections, Registration};
use limits::{
    connection_cap, open_file_limit, H2_MAX_CONCURRENT_STREAMS, H2_MAX_HEADER_LIST_SIZE,
    H2_PING_INTERVAL, H2_PING_TIMEOUT,
};
pub use limits::{raise_open_file_limit, ListenerLimits};
use service::{ConnService, Tracked};

/// Certificate and key files of a TLS listener (PEM) and its protocol settings.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
    /// The lowest TLS version served.
    pub min_version: TlsVersion,
    /// The TLS 1.2 suites offered (TLS 1.3 suites always are, as in Vault); empty for all.
    pub cipher_suites: Vec<CipherSuite>,
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ListenerLimits,
}

impl Listener {
    /// Binds `addr` and loads the TLS files, if any, with the default limits. Errors name
    /// the address or file.
    pub async fn bind(addr: SocketAddr, tls: Option<&TlsFiles>) -> anyhow::Result<Listener> {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let tls = tls.map(tls::load).transpose()?;
        Ok(Listener {
            tcp,
            tls,
            limits: ListenerLimits::DEFAULT,
        })
    }

    /// The same listener with other limits.
    pub fn with_limits(self, limits: ListenerLimits) -> Listener {
        Listener { limits, ..self }
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

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: Listener, app: Router, shutdown: CancellationToken) {
    let Listener { tcp, tls, limits } = listener;
    let max_connections = connection_cap(limits.max_connections, open_file_limit());
    if max_connections < limits.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            lowered_to = max_connections,
            "max_connections lowered to fit the open-file limit"
        );
    }
    let connections = Connections::new(limits, max_connections);
    let builder = Arc::new(http_builder(&limits));
    let refusals = Arc::new(Mutex::new(ReportLimiter::new(REPORT_WINDOW)));
    let on_error = |e: &std::io::Error, report: Option<u64>| {
        if let Some(suppressed) = report {
            tracing::warn!(error = %e, suppressed, "accept failed; pausing before the next accept");
        }
        // Out of descriptors: an idle connection gives one back.
        if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) {
            connections.evict_longest_idle();
        }
    };
    let handle = |stream: TcpStream, peer: SocketAddr| {
        let connections = connections.clone();
        let conn = Connection {
            app: app.clone(),
            tls: tls.clone(),
            builder: builder.clone(),
            limits,
            peer,
            shutdown: shutdown.clone(),
        };
        let refusals = refusals.clone();
        async move {
            let Some(registration) = connections.admit().await else {
                // Never held across an await; a poisoned limiter still counts correctly.
                let report = refusals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .allow(Instant::now());
                if let Some(suppressed) = report {
                    tracing::warn!(
                        max_connections,
                        suppressed,
                        "connection limit reached with every connection busy; closing new connections"
                    );
                }
                return;
            };
            tokio::spawn(conn.run(stream, registration));
        }
    };
    accept::accept_loop(tcp, shutdown.clone(), on_error, handle).await;
}

/// `EMFILE` and `ENFILE`: the process or the system is out of file descriptors.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// hyper's settings: HTTP/1 and HTTP/2 with the listener's bounds.
fn http_builder(limits: &ListenerLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper starts its header clock when a keep-alive connection goes idle, so it would
    // cut idle connections at the header timeout; the connection's own deadlines apply the
    // header timeout from the first byte instead, and hyper's clock is only a backstop.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.max(limits.read_header_timeout));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_SIZE)
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    builder
}

/// What a connection's task needs.
struct Connection {
    app: Router,
    tls: Option<TlsAcceptor>,
    builder: Arc<Builder<TokioExecutor>>,
    limits: ListenerLimits,
    peer: SocketAddr,
    shutdown: CancellationToken,
}

impl Connection {
    /// Serves one connection until the client leaves, a deadline passes, it is evicted to
    /// make room, or the server shuts down; dropping `registration` frees its slot.
    async fn run(self, stream: TcpStream, registration: Registration) {
        let Connection {
            app,
            tls,
            builder,
            limits,
            peer,
            shutdown,
        } = self;
        let conn = registration.conn().clone();
        // Small JSON requests and answers: don't wait to fill a segment.
        let _ = stream.set_nodelay(true);
        let service = ConnService {
            app,
            conn: conn.clone(),
            peer,
            read_timeout: limits.read_timeout,
        };
        let serve = async move {
            match tls {
                Some(acceptor) => {
                    let mut stream = stream;
                    if tls::answer_plain_http(&mut stream).await {
                        tracing::debug!(peer = %peer, "plain http on a tls listener refused");
                        return Ok(());
                    }
                    let stream = acceptor.accept(stream).await.map_err(|e| {
                        tracing::debug!(peer = %peer, error = %e, "tls handshake failed");
                    })?;
                    let io = TokioIo::new(Tracked::new(stream, conn.clone()));
                    builder.serve_connection(io, service).await
                }
                None => {
                    let io = TokioIo::new(Tracked::new(stream, conn.clone()));
                    builder.serve_connection(io, service).await
                }
            }
            .map_err(
                |e| tracing::debug!(peer = %peer, error = %e, "connection ended with an error"),
            )
        };
        let conn = registration.conn();
        tokio::select! {
            _ = serve => {}
            why = conn.expired() => {
                tracing::debug!(peer = %peer, reason = why.as_str(), "connection closed");
            }
            () = conn.evicted.cancelled() => {
                tracing::debug!(peer = %peer, "idle connection closed to make room for a new one");
            }
            () = shutdown.cancelled() => {}
        }
        drop(registration);
    }
}
