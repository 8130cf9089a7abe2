//! The proxy's listeners: TCP, TCP with TLS (certificate and key loaded at bind, see
//! `tls.rs`), or a Unix socket with mode 0600 (a stale socket left by a dead agent is removed
//! first; a live one is an error).
//!
//! The socket listens from the moment it is bound, with the mode the umask gives it, so it is
//! bound inside a fresh 0700 directory next to `path`, chmod'ed, and only then renamed into
//! place: nobody else can connect in between. (Setting the umask around the bind would be
//! process-wide, racing every other thread that creates files.)

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrethub_config::agent::AgentListener;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::tls;
use super::ProxyState;

/// Permission bits of the Unix socket: only the agent's user may connect.
const SOCKET_MODE: u32 = 0o600;

/// A bound listener, ready for [`serve`].
#[derive(Debug)]
pub enum ProxyListener {
    Tcp(TcpListener),
    /// TCP with TLS: the certificate and key were loaded at bind.
    Tls {
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    },
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

impl ProxyListener {
    /// Binds a `listener` stanza; a `tcp` one with `tls_cert_file` and `tls_key_file`
    /// serves TLS.
    pub async fn bind(config: &AgentListener) -> io::Result<ProxyListener> {
        match config {
            AgentListener::Tcp {
                address,
                tls: Some((cert_file, key_file)),
            } => Self::bind_tls(*address, cert_file, key_file).await,
            AgentListener::Tcp { address, tls: None } => Self::bind_tcp(*address).await,
            AgentListener::Unix { path } => Self::bind_unix(path),
        }
    }

    pub async fn bind_tcp(addr: SocketAddr) -> io::Result<ProxyListener> {
        Ok(ProxyListener::Tcp(tcp_socket(addr).await?))
    }

    /// Loads the PEM certificate chain and private key (errors name the file), then binds
    /// `addr` to serve TLS 1.2+ with HTTP/1.1 and h2.
    pub async fn bind_tls(
        addr: SocketAddr,
        cert_file: &Path,
        key_file: &Path,
    ) -> io::Result<ProxyListener> {
        // The files first: a bad certificate should not leave a port bound behind it.
        let config = tls::load_server_config(cert_file, key_file)?;
        let listener = tcp_socket(addr).await?;
        Ok(ProxyListener::Tls { listener, config })
    }

    /// Binds a Unix socket at `path` with mode 0600.
    pub fn bind_unix(path: &Path) -> io::Result<ProxyListener> {
        let context = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", path.display()),
            )
        };
        remove_stale_socket(path).map_err(context)?;
        let listener = bind_private(path).map_err(context)?;
        Ok(ProxyListener::Unix {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The bound TCP address (useful with port 0); `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            ProxyListener::Tcp(l) | ProxyListener::Tls { listener: l, .. } => l.local_addr().ok(),
            ProxyListener::Unix { .. } => None,
        }
    }

    /// `http://127.0.0.1:8100`, `https://127.0.0.1:8100` or `unix:/run/agent.sock`, for
    /// banners and logs.
    pub fn describe(&self) -> String {
        match self {
            ProxyListener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("http://{a}"),
                Err(_) => "tcp".to_string(),
            },
            ProxyListener::Tls { listener, .. } => match listener.local_addr() {
                Ok(a) => format!("https://{a}"),
                Err(_) => "tcp with tls".to_string(),
            },
            ProxyListener::Unix { path, .. } => format!("unix:{}", path.display()),
        }
    }
}

async fn tcp_socket(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Binds a socket that only its owner can reach, then moves it to `path` (see the module doc).
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Short names: a socket path is limited to about 100 bytes.
    let private = parent.join(format!(".sh-{:08x}", rand::random::<u32>()));
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let staged = private.join("s");
    let bound = UnixListener::bind(&staged).and_then(|listener| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(SOCKET_MODE))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    });
    // Empty once the rename succeeded; on an error the staged socket goes with it.
    let _ = std::fs::remove_file(&staged);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// A socket file left by an agent that died is removed; a socket someone still answers on,
/// or a file that is not a socket, is left alone and reported.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process is listening on this socket",
        ));
    }
    std::fs::remove_file(path)
}

/// Serves `state` on `listener` until `shutdown` fires, then lets requests in flight finish.
/// A Unix socket file is removed on the way out.
pub async fn serve(
    listener: ProxyListener,
    state: Arc<ProxyState>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let app = state.router();
    let described = listener.describe();
    info!(listener = %described, "agent proxy listening");
    match listener {
        ProxyListener::Tcp(l) => {
            axum::serve(l, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        }
        ProxyListener::Tls { listener, config } => {
            tls::serve_tls(listener, config, app, shutdown).await
        }
        ProxyListener::Unix { listener, path } => {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            let _ = std::fs::remove_file(&path);
            result
        }
    }
}
