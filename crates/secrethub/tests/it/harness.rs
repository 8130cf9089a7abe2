//! The harness the end-to-end tests share: a real `secrethub` server process on an ephemeral
//! port, a runner for CLI processes (ours or OpenBao's `bao`), a throwaway PostgreSQL
//! database, and a moto server for the AWS logins.
//!
//! Everything a test creates lives under its own temporary directory or has a unique name, so
//! tests run in parallel and twice in a row. Waiting is always a bounded poll of something
//! observable (a stdout line, `/v1/sys/health`, a process exit), never a fixed sleep.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The binary under test, built by cargo for this integration test.
pub(crate) const SECRETHUB: &str = env!("CARGO_BIN_EXE_secrethub");

/// How long a server may take to print its address and answer `/v1/sys/health`.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_secs(15);
/// Interval of every readiness poll.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// A name no other test (in this run or an earlier one) uses: lowercase, a valid SQL identifier.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{millis}_{n}", std::process::id())
}

/// Writes `contents` to `dir/name` and returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A `listener "tcp"` stanza without TLS on an ephemeral port.
pub(crate) const PLAIN_LISTENER: &str =
    "listener \"tcp\" {\n  address     = \"127.0.0.1:0\"\n  tls_disable = true\n}\n";

/// A running `secrethub server`; killed when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    addr: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl ServerProcess {
    /// `secrethub server -config FILE`; `ca_pem` is the certificate to trust when the listener
    /// uses TLS. Returns once `/v1/sys/health` answers.
    pub(crate) async fn with_config(
        dir: &Path,
        config: &Path,
        ca_pem: Option<&Path>,
    ) -> ServerProcess {
        let config = config.to_str().expect("temporary paths are UTF-8");
        Self::spawn(dir, &["server", "-config", config], &[], ca_pem).await
    }

    /// `secrethub server -config FILE` with extra environment variables (no TLS).
    pub(crate) async fn with_config_env(
        dir: &Path,
        config: &Path,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let config = config.to_str().expect("temporary paths are UTF-8");
        Self::spawn(dir, &["server", "-config", config], env, None).await
    }

    /// `secrethub server -dev` on an ephemeral port with the given root token.
    pub(crate) async fn dev(dir: &Path, root_token: &str, env: &[(&str, &str)]) -> ServerProcess {
        Self::dev_with(dir, root_token, "127.0.0.1:0", env).await
    }

    /// `secrethub server -dev` listening on `listen` (for a client started before its server).
    pub(crate) async fn dev_on(dir: &Path, root_token: &str, listen: &str) -> ServerProcess {
        Self::dev_with(dir, root_token, listen, &[]).await
    }

    async fn dev_with(
        dir: &Path,
        root_token: &str,
        listen: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let token_flag = format!("-dev-root-token-id={root_token}");
        let listen_flag = format!("-dev-listen-address={listen}");
        let args = ["server", "-dev", listen_flag.as_str(), token_flag.as_str()];
        Self::spawn(dir, &args, env, None).await
    }

    async fn spawn(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        ca_pem: Option<&Path>,
    ) -> ServerProcess {
        let (log, stdout_copy) = next_log_paths(dir);
        let stderr = std::fs::File::create(&log).expect("creating the server log file");
        let mut command = Command::new(SECRETHUB);
        command
            .args(args)
            .env_remove("SECRETHUB_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command.spawn().expect("spawning secrethub server");
        let stdout = child.stdout.take().expect("stdout is piped");
        let lines = forward_lines(stdout, stdout_copy);
        let mut server = ServerProcess {
            child,
            addr: String::new(),
            log,
            http: http_client(ca_pem),
        };
        server.addr = server.wait_for_address(&lines);
        server.wait_for_health().await;
        server
    }

    /// Reads stdout until the banner names the bound address.
    fn wait_for_address(&mut self, lines: &mpsc::Receiver<String>) -> String {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let line = line.trim();
                    let url = line
                        .strip_prefix("Listener: ")
                        .or_else(|| line.strip_prefix("Api Address: "));
                    if let Some(url) = url {
                        return url.trim().to_string();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "server exited ({status:?}) before printing its address; log:\n{}",
                        self.log()
                    );
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "server printed no address within {START_DEADLINE:?}; log:\n{}",
                        self.log()
                    )
                }
            }
        }
    }

    /// Polls `/v1/sys/health` until it answers at all (any status: 501 and 503 are answers).
    async fn wait_for_health(&mut self) {
        let deadline = Instant::now() + START_DEADLINE;
        let url = format!("{}/v1/sys/health", self.addr);
        loop {
            match self.http.get(&url).send().await {
                Ok(_) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!(
                        "{url} did not answer within {START_DEADLINE:?}: {e}; log:\n{}",
                        self.log()
                    )
                }
                Err(_) => {}
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) while starting; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://`).
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// `addr` followed by `/v1/` and `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.addr, path.trim_start_matches('/'))
    }

    /// An HTTP client that trusts the server's certificate, if it has one.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns its status.
    pub(crate) async fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", pid.as_str()]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "could not send SIGTERM to {pid}"
        );
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server ignored SIGTERM for {STOP_DEADLINE:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// GET with a token; returns the status and the JSON body (`Null` when not JSON).
    pub(crate) async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .header("X-Vault-Token", token)
            .send()
            .await;
        json_of(resp.unwrap_or_else(|e| panic!("GET {path}: {e}"))).await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Already exited after `stop`, or a test failed: either way nothing may outlive it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status and JSON body of a response (`Null` when the body is not JSON).
pub(crate) async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `server-N.log` and `server-N.stdout` for the next server started in `dir`.
fn next_log_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (1..)
        .map(|n| {
            (
                dir.join(format!("server-{n}.log")),
                dir.join(format!("server-{n}.stdout")),
            )
        })
        .find(|(log, _)| !log.exists())
        .expect("an unbounded range always yields a free name")
}

/// Copies the server's stdout to a file and hands each line to the caller. Keeping the pipe
/// drained for the whole life of the process means the server never writes to a closed pipe.
fn forward_lines(stdout: std::process::ChildStdout, copy: PathBuf) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(copy).ok();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            // The receiver goes away once the address is known; keep draining anyway.
            let _ = tx.send(line);
        }
    });
    rx
}

fn http_client(ca_pem: Option<&Path>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(path) = ca_pem {
        let pem = std::fs::read(path).expect("reading the test CA certificate");
        let cert = reqwest::Certificate::from_pem(&pem).expect("the test CA certificate is PEM");
        builder = builder.add_root_certificate(cert);
    }
    builder.build().expect("building the test HTTP client")
}

/// What a finished CLI process said.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    /// The stdout parsed as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs a CLI (ours or `bao`) with a clean environment: only what the test sets, so nothing
/// from the developer's shell (VAULT_TOKEN, ~/.vault-token) leaks in.
#[derive(Clone)]
pub(crate) struct Cli {
    program: PathBuf,
    env: Vec<(String, String)>,
}

impl Cli {
    /// Our CLI talking to `addr`, with `home` as its home directory (token helper file).
    pub(crate) fn secrethub(addr: &str, home: &Path) -> Cli {
        Cli::new(Path::new(SECRETHUB), home).env("SECRETHUB_ADDR", addr)
    }

    /// OpenBao's CLI talking to `addr`.
    pub(crate) fn bao(program: &Path, addr: &str, home: &Path) -> Cli {
        Cli::new(program, home).env("VAULT_ADDR", addr)
    }

    fn new(program: &Path, home: &Path) -> Cli {
        std::fs::create_dir_all(home).expect("creating the CLI home directory");
        let home = home.to_str().expect("temporary paths are UTF-8");
        Cli {
            program: program.to_path_buf(),
            env: Vec::new(),
        }
        .env("HOME", home)
        // Bounds every CLI call, so a hung server fails the test instead of hanging it.
        .env("VAULT_CLIENT_TIMEOUT", "15s")
    }

    /// The same CLI with one more environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Cli {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs the CLI to completion.
    pub(crate) fn run(&self, args: &[&str]) -> Outcome {
        let output = Command::new(&self.program)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", self.program.display()));
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs the CLI and asserts exit code 0; returns what it printed.
    pub(crate) fn ok(&self, args: &[&str]) -> Outcome {
        let outcome = self.run(args);
        assert_eq!(
            outcome.code,
            0,
            "{} {args:?} failed: {outcome:?}",
            self.program.display()
        );
        outcome
    }
}

/// A database of its own on the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust
/// auth), dropped with everything in it when this goes out of scope.
pub(crate) struct PgDatabase {
    name: String,
}

impl PgDatabase {
    /// Creates a database with a unique name.
    pub(crate) fn create() -> PgDatabase {
        let name = unique_name("secrethub_it");
        psql(&format!("CREATE DATABASE {name}"));
        PgDatabase { name }
    }

    /// The database's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL for `storage "postgresql"`.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:5432/{}?sslmode=disable",
            self.name
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // FORCE: a server killed mid-test may still hold connections for a moment.
        let _ = run_psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs one SQL statement in the `postgres` database and returns its unaligned output.
pub(crate) fn psql(sql: &str) -> String {
    match run_psql(sql) {
        Ok(out) => out,
        Err(e) => panic!("psql {sql:?}: {e} (is PostgreSQL running on 127.0.0.1:5432?)"),
    }
}

fn run_psql(sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args([
            "-w",
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-tA", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `operator init -format=json` then `operator unseal` with the first `threshold` shares;
/// returns the init answer (`unseal_keys_b64`, `root_token`).
pub(crate) fn init_and_unseal(cli: &Cli, shares: u32, threshold: u32) -> Value {
    let (n, t) = (shares.to_string(), threshold.to_string());
    let init = cli
        .ok(&[
            "operator",
            "init",
            "-key-shares",
            &n,
            "-key-threshold",
            &t,
            "-format=json",
        ])
        .json();
    for key in unseal_keys(&init).iter().take(threshold as usize) {
        cli.ok(&["operator", "unseal", key]);
    }
    init
}

/// The base64 unseal keys of an init answer.
pub(crate) fn unseal_keys(init: &Value) -> Vec<String> {
    init["unseal_keys_b64"]
        .as_array()
        .unwrap_or_else(|| panic!("no unseal_keys_b64 in {init}"))
        .iter()
        .map(|k| k.as_str().expect("key shares are strings").to_string())
        .collect()
}

/// The root token of an init answer.
pub(crate) fn root_token(init: &Value) -> String {
    init["root_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no root_token in {init}"))
        .to_string()
}

/// Asserts a body is Vault's error shape, `{"errors": ["...", ...]}` with at least one message.
pub(crate) fn assert_errors_shape(status: u16, body: &Value) {
    let errors = body["errors"].as_array();
    assert!(
        errors.is_some_and(|e| !e.is_empty() && e.iter().all(Value::is_string)),
        "status {status}: body is not {{\"errors\": [...]}}: {body}"
    );
}

/// A moto server (AWS's APIs, mocked) of one test, killed when dropped: a
/// `secrethub_testkit::moto::Moto` logging to the test's directory. It accepts any
/// credentials until [`Moto::check_signatures`]: create the IAM users first.
pub(crate) struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    server: secrethub_testkit::moto::Moto,
}

/// An IAM user with an access key.
pub(crate) struct IamUser {
    pub(crate) arn: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
}

impl Moto {
    /// Starts moto on a free port (logging to `dir/moto.log`) and waits until it answers.
    pub(crate) async fn start(dir: &Path) -> Moto {
        let server = secrethub_testkit::moto::Moto::start(dir.join("moto.log")).await;
        Moto {
            endpoint: server.endpoint.clone(),
            server,
        }
    }

    /// Creates IAM user `name` with an access key (before [`Moto::check_signatures`]).
    pub(crate) async fn create_user(&self, name: &str) -> IamUser {
        let anyone = secrethub_testkit::moto::bootstrap_credentials();
        let user = self
            .server
            .iam(&anyone, &[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let key = self.server.access_key(&anyone, name).await;
        IamUser {
            arn: secrethub_testkit::moto::xml(&user, "Arn"),
            access_key_id: key.access_key_id.clone(),
            secret_access_key: key.secret_access_key.clone(),
        }
    }

    /// From now on moto checks every request's SigV4 signature against the keys it issued.
    pub(crate) async fn check_signatures(&self) {
        self.server.reset_auth().await;
    }

    /// Everything moto wrote so far.
    pub(crate) fn log(&self) -> String {
        self.server.log()
    }
}
