//! A small pool of authenticated connections: at most `size` in use at once (a semaphore),
//! idle ones kept in a list. A connection goes back only when its command finished cleanly;
//! one that failed or timed out is dropped. The list's lock is never held across `.await`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::resp::{Conn, ConnError, Endpoint};
use crate::tls;

/// How long one connection attempt (TCP, TLS, `AUTH`) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a connection when all are busy.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to connect and how; shared by the issuing and the revoking pool.
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) tls: Option<TlsSettings>,
}

pub(crate) struct TlsSettings {
    pub(crate) ca_cert: String,
    pub(crate) insecure: bool,
    pub(crate) name: ServerName<'static>,
    /// Built on first use (the system's roots are read from disk).
    pub(crate) config: OnceCell<Arc<ClientConfig>>,
}

impl Target {
    async fn connect(&self) -> Result<Conn, ConnError> {
        let tls = match &self.tls {
            None => None,
            Some(t) => {
                let config = t
                    .config
                    .get_or_try_init(|| async {
                        let (ca, insecure) = (t.ca_cert.clone(), t.insecure);
                        tokio::task::spawn_blocking(move || tls::client_config(&ca, insecure))
                            .await
                            .map_err(|_| ConnError::Protocol("TLS setup panicked"))?
                            .map_err(|e| ConnError::Io(std::io::Error::other(e)))
                    })
                    .await?;
                Some((Arc::clone(config), t.name.clone()))
            }
        };
        Conn::open(&self.endpoint, tls, CONNECT_TIMEOUT).await
    }
}

pub(crate) struct Pool {
    target: Arc<Target>,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

/// A connection taken from a pool; dropped (closed) unless given back with [`Pooled::done`].
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    pub(crate) conn: Conn,
    /// Taken from the idle list rather than opened (and authenticated) just now.
    pub(crate) reused: bool,
    _permit: SemaphorePermit<'a>,
}

impl Pooled<'_> {
    /// Returns a healthy connection to the pool.
    pub(crate) fn done(self) {
        let Pooled { pool, conn, .. } = self;
        if let Ok(mut idle) = pool.idle.lock() {
            idle.push(conn);
        }
    }
}

impl Pool {
    pub(crate) fn new(target: Arc<Target>, size: usize) -> Pool {
        Pool {
            target,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// An idle connection, else a new one; `fresh` skips the idle ones (after one turned
    /// out dead).
    pub(crate) async fn get(&self, fresh: bool) -> Result<Pooled<'_>, ConnError> {
        let permit = tokio::time::timeout(WAIT_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| ConnError::Timeout("waiting for a free connection"))?
            .map_err(|_| ConnError::Protocol("pool closed"))?;
        let idle = if fresh {
            None
        } else {
            self.idle.lock().ok().and_then(|mut idle| idle.pop())
        };
        let (conn, reused) = match idle {
            Some(c) => (c, true),
            None => (self.target.connect().await?, false),
        };
        Ok(Pooled {
            pool: self,
            conn,
            reused,
            _permit: permit,
        })
    }
}
