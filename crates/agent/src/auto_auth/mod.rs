//! Auto-auth: logs in with the configured method, publishes the token, writes it to the sinks
//! and keeps it alive, as Vault Agent's `auto_auth` does.
//!
//! [`AutoAuth::login_once`] performs one login (reading the credential files anew each time).
//! [`AutoAuth::spawn`] runs the life cycle on a task:
//! login (retried with exponential backoff and jitter) → publish the token on a `watch`
//! channel and write every sink → renew it (`auth/token/renew-self`) each time two thirds of
//! its TTL have passed → log in again when a renewal fails, when the token is not renewable
//! and has entered the last third of its life, or when a renewal came back capped (the token
//! reached its max TTL), or when someone calls [`AutoAuthHandle::reauthenticate`] (a request
//! answered 403 because the token was revoked).
//!
//! Secret inputs (secret ID, password, JWT) and tokens never appear in errors or logs: error
//! text from the server is scrubbed of every secret the login sent.
//!
//! Layout: this module holds the public types and the life cycle (login loop, keep-alive,
//! renewal); `login` builds each method's login request from its files and reads the answer;
//! `backoff` computes the delays between failed logins.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use secrethub_client::{Client, ClientError};
use secrethub_common::{ErrorKind, Sensitive};
use secrethub_config::agent::AutoAuthConfig;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::sink::FileSink;
use backoff::Backoff;
use login::auth_block;

mod backoff;
mod login;

/// Delays of the login retries. [`AuthTiming::default`] is Vault Agent's: 1 s doubling up to 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTiming {
    /// Pause after the first failed login.
    pub backoff_initial: Duration,
    /// Upper bound of the pause; each failure doubles it until then.
    pub backoff_max: Duration,
}

impl Default for AuthTiming {
    fn default() -> Self {
        AuthTiming {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// A token and what the server said about its life.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub token: Sensitive<String>,
    /// Time left when the answer arrived; zero for a token that never expires.
    pub lease_duration: Duration,
    /// The TTL the token was created with: what each renewal asks for.
    pub original_ttl: Duration,
    pub renewable: bool,
    pub accessor: String,
}

/// A failed login or renewal. Names files and paths, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the {what} file {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the {what} file {path} is empty")]
    EmptyFile { what: &'static str, path: PathBuf },
    /// The server refused or could not be reached; `message` is scrubbed of secrets.
    #[error("{path}: {message}")]
    Request {
        path: String,
        status: Option<u16>,
        kind: ErrorKind,
        message: String,
    },
    #[error("{path} answered without {field}")]
    BadAnswer { path: String, field: &'static str },
}

impl AuthError {
    /// The shared error category (`PermissionDenied` for a refused login or a dead token).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::ReadFile { .. } | AuthError::EmptyFile { .. } => ErrorKind::BadRequest,
            AuthError::Request { kind, .. } => *kind,
            AuthError::BadAnswer { .. } => ErrorKind::Internal,
        }
    }

    fn request(path: &str, err: &ClientError, secrets: &[&str]) -> AuthError {
        AuthError::Request {
            path: path.to_string(),
            status: err.status,
            kind: err.kind(),
            message: redact(err.to_string(), secrets),
        }
    }
}

/// Logs in with one configured method and keeps the token alive. See the module doc.
#[derive(Debug)]
pub struct AutoAuth {
    /// The server, presenting no token (logins carry none).
    client: Client,
    config: AutoAuthConfig,
    sinks: Vec<FileSink>,
    timing: AuthTiming,
    /// The last secret ID read: the file may be removed after reading, and re-logins still
    /// need it (Vault Agent keeps it the same way).
    secret_id: Mutex<Option<Sensitive<String>>>,
}

/// What the life-cycle task listens to and publishes; cheap to clone.
#[derive(Debug, Clone)]
pub struct AutoAuthHandle {
    token: watch::Receiver<Option<Sensitive<String>>>,
    reauth: mpsc::Sender<()>,
}

impl AutoAuthHandle {
    /// The current token (`None` until the first login succeeds), updated at every login.
    pub fn token(&self) -> watch::Receiver<Option<Sensitive<String>>> {
        self.token.clone()
    }

    /// The token right now.
    pub fn current(&self) -> Option<Sensitive<String>> {
        self.token.borrow().clone()
    }

    /// Waits for a token; `None` when the task stopped before it had one.
    pub async fn wait_for_token(&self) -> Option<Sensitive<String>> {
        let mut rx = self.token.clone();
        let found = rx.wait_for(Option::is_some).await.ok()?;
        found.clone()
    }

    /// Asks for a fresh login now (the token was revoked or is refused). Calls made while a
    /// login is already pending are merged into it.
    pub fn reauthenticate(&self) {
        // A full channel means a re-login is already pending; nothing to add.
        let _ = self.reauth.try_send(());
    }
}

/// Why a wait ended.
enum Wake {
    Elapsed,
    Reauth,
    Shutdown,
}

impl AutoAuth {
    /// `client` is the agent's connection to the server; whatever token it carries is dropped.
    pub fn new(client: Client, config: AutoAuthConfig) -> AutoAuth {
        let sinks = config.sinks.iter().map(FileSink::from_config).collect();
        AutoAuth {
            client: client.without_token(),
            config,
            sinks,
            timing: AuthTiming::default(),
            secret_id: Mutex::new(None),
        }
    }

    /// Other retry delays (tests use milliseconds).
    pub fn with_timing(mut self, timing: AuthTiming) -> AutoAuth {
        self.timing = timing;
        self
    }

    /// Logs in until it works (backing off between failures). `None` when `shutdown` fired
    /// first.
    pub async fn authenticate(&self, shutdown: &CancellationToken) -> Option<TokenInfo> {
        let mut backoff = Backoff::new(self.timing);
        loop {
            let result = tokio::select! {
                _ = shutdown.cancelled() => return None,
                r = self.login_once() => r,
            };
            match result {
                Ok(info) => return Some(info),
                Err(e) => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "auto-auth login failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Writes `token` to every sink; a failing sink is logged and the others still written.
    pub async fn write_sinks(&self, token: &Sensitive<String>) {
        for sink in &self.sinks {
            let sink = sink.clone();
            let token = token.clone();
            let path = sink.path().to_path_buf();
            match tokio::task::spawn_blocking(move || sink.write(&token)).await {
                Ok(Ok(())) => debug!(path = %path.display(), "token sink written"),
                Ok(Err(e)) => warn!(error = %e, "token sink not written"),
                Err(e) => warn!(path = %path.display(), error = %e, "token sink task failed"),
            }
        }
    }

    /// Runs the life cycle (see the module doc) until `shutdown` fires.
    pub fn spawn(self, shutdown: CancellationToken) -> (AutoAuthHandle, JoinHandle<()>) {
        let (token_tx, token_rx) = watch::channel(None);
        let (reauth_tx, reauth_rx) = mpsc::channel(1);
        let task = tokio::spawn(self.run(token_tx, reauth_rx, shutdown));
        let handle = AutoAuthHandle {
            token: token_rx,
            reauth: reauth_tx,
        };
        (handle, task)
    }

    async fn run(
        self,
        token_tx: watch::Sender<Option<Sensitive<String>>>,
        mut reauth: mpsc::Receiver<()>,
        shutdown: CancellationToken,
    ) {
        loop {
            // A request made before this login is answered by it.
            while reauth.try_recv().is_ok() {}
            let Some(info) = self.authenticate(&shutdown).await else {
                return;
            };
            // Published before the sinks are written, so whoever sees a token in a sink finds
            // the same one (or a newer one) on the handle.
            token_tx.send_replace(Some(info.token.clone()));
            self.write_sinks(&info.token).await;
            match self.keep_alive(&info, &mut reauth, &shutdown).await {
                Wake::Shutdown => return,
                Wake::Reauth | Wake::Elapsed => {}
            }
        }
    }

    /// Renews `info`'s token until it should be replaced (`Reauth`) or the agent stops.
    async fn keep_alive(
        &self,
        info: &TokenInfo,
        reauth: &mut mpsc::Receiver<()>,
        shutdown: &CancellationToken,
    ) -> Wake {
        if info.lease_duration.is_zero() {
            // A token without expiry (root, or a periodic token file) needs no care.
            return match pause(None, reauth, shutdown).await {
                Wake::Shutdown => Wake::Shutdown,
                _ => Wake::Reauth,
            };
        }
        let client = self.client.with_token(info.token.clone());
        let increment = info.original_ttl.max(info.lease_duration);
        let mut lease = info.lease_duration;
        let mut renewable = info.renewable;
        let mut capped = false;
        loop {
            match pause(Some(lease * 2 / 3), reauth, shutdown).await {
                Wake::Elapsed => {}
                other => return other,
            }
            if !renewable || capped {
                info!(accessor = %info.accessor, "token near the end of its life, logging in again");
                return Wake::Reauth;
            }
            match renew_self(&client, increment, &info.token).await {
                Ok(renewed) if renewed.lease_duration.is_zero() => return Wake::Reauth,
                Ok(renewed) => {
                    capped = renewed.lease_duration < increment;
                    lease = renewed.lease_duration;
                    renewable = renewed.renewable;
                    debug!(accessor = %info.accessor, ttl_secs = lease.as_secs(), capped, "token renewed");
                }
                Err(e) => {
                    warn!(error = %e, "token renewal failed, logging in again");
                    return Wake::Reauth;
                }
            }
        }
    }
}

/// `auth/token/renew-self {increment}`.
async fn renew_self(
    client: &Client,
    increment: Duration,
    token: &Sensitive<String>,
) -> Result<TokenInfo, AuthError> {
    let path = "auth/token/renew-self";
    let body = json!({ "increment": increment.as_secs() });
    let answer = client
        .write(path, &body)
        .await
        .map_err(|e| AuthError::request(path, &e, &[token.expose()]))?;
    let mut info = auth_block(path, answer)?;
    // Our server echoes the token; the renewal is of this one in any case.
    info.token = token.clone();
    Ok(info)
}

/// Waits `delay` (forever when `None`), a re-login request or shutdown, whichever comes first.
async fn pause(
    delay: Option<Duration>,
    reauth: &mut mpsc::Receiver<()>,
    shutdown: &CancellationToken,
) -> Wake {
    let sleep = async {
        match delay {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown.cancelled() => Wake::Shutdown,
        Some(()) = reauth.recv() => Wake::Reauth,
        _ = sleep => Wake::Elapsed,
    }
}

/// Replaces every occurrence of each secret by `<redacted>`: the server may echo input.
fn redact(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = text.replace(secret, "<redacted>");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_every_secret() {
        let text = redact("bad secret abc123 and abc123 again".into(), &["abc123", ""]);
        assert_eq!(text, "bad secret <redacted> and <redacted> again");
    }
}
