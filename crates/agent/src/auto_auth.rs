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

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng as _;
use secrethub_client::{Client, ClientError};
use secrethub_common::{ErrorKind, Sensitive};
use secrethub_config::agent::{AuthMethodConfig, AutoAuthConfig};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::sink::FileSink;

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

    /// One login with the configured method. Does not write the sinks.
    pub async fn login_once(&self) -> Result<TokenInfo, AuthError> {
        let mount = self.config.mount_path.trim_matches('/');
        let (path, body, secrets) = match &self.config.method {
            AuthMethodConfig::TokenFile { token_file_path } => {
                let token = read_trimmed(token_file_path, "token").await?;
                return self.lookup_token(Sensitive::new(token)).await;
            }
            AuthMethodConfig::AppRole {
                role_id_file_path,
                secret_id_file_path,
                remove_secret_id_file_after_reading,
            } => {
                let role_id = read_trimmed(role_id_file_path, "role_id").await?;
                let mut body = json!({ "role_id": role_id });
                let mut secrets = Vec::new();
                if let Some(path) = secret_id_file_path {
                    let secret_id = self
                        .secret_id(path, *remove_secret_id_file_after_reading)
                        .await?;
                    body["secret_id"] = Value::String(secret_id.expose().clone());
                    secrets.push(secret_id);
                }
                (format!("{mount}/login"), body, secrets)
            }
            AuthMethodConfig::Jwt { path, role } => {
                let jwt = Sensitive::new(read_trimmed(path, "jwt").await?);
                let body = json!({ "role": role, "jwt": jwt.expose() });
                (format!("{mount}/login"), body, vec![jwt])
            }
            AuthMethodConfig::Kubernetes { role, token_path } => {
                let jwt = Sensitive::new(read_trimmed(token_path, "kubernetes token").await?);
                let body = json!({ "role": role, "jwt": jwt.expose() });
                (format!("{mount}/login"), body, vec![jwt])
            }
            AuthMethodConfig::Userpass {
                username,
                password_file_path,
            } => {
                let password = Sensitive::new(read_password(password_file_path).await?);
                let body = json!({ "password": password.expose() });
                (format!("{mount}/login/{username}"), body, vec![password])
            }
        };
        let secrets: Vec<&str> = secrets.iter().map(|s| s.expose().as_str()).collect();
        let answer = self
            .client
            .write(&path, &body)
            .await
            .map_err(|e| AuthError::request(&path, &e, &secrets))?;
        let info = auth_block(&path, answer)?;
        info!(path = %path, accessor = %info.accessor, ttl_secs = info.lease_duration.as_secs(), "auto-auth login succeeded");
        Ok(info)
    }

    /// Logs in until it works (backing off between failures), then writes the sinks.
    /// `None` when `shutdown` fired first.
    pub async fn authenticate(&self, shutdown: &CancellationToken) -> Option<TokenInfo> {
        let mut backoff = Backoff::new(self.timing);
        loop {
            let result = tokio::select! {
                _ = shutdown.cancelled() => return None,
                r = self.login_once() => r,
            };
            match result {
                Ok(info) => {
                    self.write_sinks(&info.token).await;
                    return Some(info);
                }
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
            token_tx.send_replace(Some(info.token.clone()));
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

    /// The secret ID to send: the file's content when it is there (removed afterwards when
    /// configured), else the one read before.
    async fn secret_id(&self, path: &Path, remove: bool) -> Result<Sensitive<String>, AuthError> {
        let read = match tokio::fs::read_to_string(path).await {
            Ok(text) => Some(Sensitive::new(text.trim().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(AuthError::ReadFile {
                    what: "secret_id",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut cached = self.secret_id.lock().unwrap_or_else(|e| e.into_inner());
        match read {
            Some(fresh) if !fresh.expose().is_empty() => {
                *cached = Some(fresh.clone());
                if remove {
                    if let Err(e) = std::fs::remove_file(path) {
                        warn!(path = %path.display(), error = %e, "cannot remove the secret_id file");
                    }
                }
                Ok(fresh)
            }
            Some(_) => cached.clone().ok_or_else(|| AuthError::EmptyFile {
                what: "secret_id",
                path: path.to_path_buf(),
            }),
            None => cached.clone().ok_or_else(|| AuthError::ReadFile {
                what: "secret_id",
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }

    /// `token_file`: the token is given; `lookup-self` tells its TTL and renewability.
    async fn lookup_token(&self, token: Sensitive<String>) -> Result<TokenInfo, AuthError> {
        let path = "auth/token/lookup-self";
        let answer = self
            .client
            .with_token(token.clone())
            .request("GET", path, None, &[])
            .await
            .map_err(|e| AuthError::request(path, &e, &[token.expose()]))?;
        let data = answer.as_ref().and_then(|a| a.get("data"));
        let secs = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_u64);
        let ttl = secs("ttl").ok_or_else(|| AuthError::BadAnswer {
            path: path.into(),
            field: "data.ttl",
        })?;
        Ok(TokenInfo {
            lease_duration: Duration::from_secs(ttl),
            original_ttl: Duration::from_secs(secs("creation_ttl").unwrap_or(ttl)),
            renewable: data
                .and_then(|d| d.get("renewable"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            accessor: data
                .and_then(|d| d.get("accessor"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            token,
        })
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

/// The `auth` block of a login or renewal answer.
fn auth_block(path: &str, answer: Option<Value>) -> Result<TokenInfo, AuthError> {
    let bad = |field| AuthError::BadAnswer {
        path: path.to_string(),
        field,
    };
    let mut answer = answer.ok_or_else(|| bad("a body"))?;
    let auth = answer
        .get_mut("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("auth"))?;
    let token = match auth.get_mut("client_token").map(Value::take) {
        Some(Value::String(t)) if !t.is_empty() => Sensitive::new(t),
        _ => return Err(bad("auth.client_token")),
    };
    let lease = Duration::from_secs(
        auth.get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    );
    Ok(TokenInfo {
        token,
        lease_duration: lease,
        original_ttl: lease,
        renewable: auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        accessor: auth
            .get("accessor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
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

/// Reads a credential file, trimming surrounding whitespace; empty is an error.
async fn read_trimmed(path: &Path, what: &'static str) -> Result<String, AuthError> {
    let text = read_file(path, what).await?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AuthError::EmptyFile {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(trimmed.to_string())
}

/// Reads a password file: only the final line break is dropped, spaces may be part of it.
async fn read_password(path: &Path) -> Result<String, AuthError> {
    let text = read_file(path, "password").await?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(AuthError::EmptyFile {
            what: "password",
            path: path.to_path_buf(),
        });
    }
    Ok(password.to_string())
}

async fn read_file(path: &Path, what: &'static str) -> Result<String, AuthError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| AuthError::ReadFile {
            what,
            path: path.to_path_buf(),
            source,
        })
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

/// Exponential backoff with jitter: `initial`, doubling up to `max`, each delay scaled by a
/// random factor in [0.75, 1] so that many agents restarted together spread out.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(timing: AuthTiming) -> Backoff {
        Backoff {
            next: timing.backoff_initial,
            max: timing.backoff_max.max(timing.backoff_initial),
        }
    }

    fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        base.mul_f64(rand::thread_rng().gen_range(0.75..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(AuthTiming {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5),
        });
        let delays: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        let bases = [1.0, 2.0, 4.0, 5.0, 5.0];
        for (delay, base) in delays.iter().zip(bases) {
            let secs = delay.as_secs_f64();
            assert!(secs <= base && secs >= base * 0.75, "{delays:?}");
        }
    }

    #[test]
    fn redact_removes_every_secret() {
        let text = redact("bad secret abc123 and abc123 again".into(), &["abc123", ""]);
        assert_eq!(text, "bad secret <redacted> and <redacted> again");
    }

    #[test]
    fn auth_block_reads_a_login_answer() {
        let answer = json!({"auth": {"client_token": "s.x", "accessor": "acc", "lease_duration": 30, "renewable": true}});
        let info = auth_block("auth/x/login", Some(answer)).expect("auth");
        assert_eq!(info.token.expose(), "s.x");
        assert_eq!(
            (info.lease_duration, info.renewable, info.accessor.as_str()),
            (Duration::from_secs(30), true, "acc")
        );
        let err = auth_block("auth/x/login", Some(json!({"data": {}}))).expect_err("no auth");
        assert_eq!(err.to_string(), "auth/x/login answered without auth");
    }
}
