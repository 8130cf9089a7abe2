//! The proxy's listeners: TCP, or a Unix socket whose file gets mode 0600 right after bind
//! (a stale socket left by a dead agent is removed first; a live one is an error).

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrethub_config::agent::AgentListener;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::ProxyState;

/// Permission bits of the Unix socket: only the agent's user may connect.
const SOCKET_MODE: u32 = 0o600;

/// A bound listener, ready for [`serve`].
#[derive(Debug)]
pub enum ProxyListener {
    Tcp(TcpListener),
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

impl ProxyListener {
    /// Binds a `listener` stanza. TLS on the agent's own listener is not supported yet.
    pub async fn bind(config: &AgentListener) -> io::Result<ProxyListener> {
        match config {
            AgentListener::Tcp { tls: Some(_), .. } => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS on agent listeners is not supported yet: set tls_disable = true",
            )),
            AgentListener::Tcp { address, tls: None } => Self::bind_tcp(*address).await,
            AgentListener::Unix { path } => Self::bind_unix(path),
        }
    }

    pub async fn bind_tcp(addr: SocketAddr) -> io::Result<ProxyListener> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        Ok(ProxyListener::Tcp(listener))
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
        let listener = UnixListener::bind(path).map_err(context)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
            .map_err(context)?;
        Ok(ProxyListener::Unix {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The bound TCP address (useful with port 0); `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            ProxyListener::Tcp(l) => l.local_addr().ok(),
            ProxyListener::Unix { .. } => None,
        }
    }

    /// `http://127.0.0.1:8100` or `unix:/run/agent.sock`, for banners and logs.
    pub fn describe(&self) -> String {
        match self {
            ProxyListener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("http://{a}"),
                Err(_) => "tcp".to_string(),
            },
            ProxyListener::Unix { path, .. } => format!("unix:{}", path.display()),
        }
    }
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
        ProxyListener::Unix { listener, path } => {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            let _ = std::fs::remove_file(&path);
            result
        }
    }
}
