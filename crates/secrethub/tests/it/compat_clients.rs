//! Real third-party clients against the real binary: the Python `hvac` suite in
//! `tests/compat/hvac` and the npm `node-vault` suite in `tests/compat/node-vault`, each run
//! against a fresh `secrethub server -dev` and a fresh `bao server -dev` (OpenBao 2.7.2, which
//! the suites call wherever SecretHub could answer differently, to compare the two answers).
//!
//! `scripts/test` installs what the suites need: hvac and pytest into the test venv
//! (`SECRETHUB_TEST_VENV`, default `~/.cache/secrethub-test/venv`), and node-vault with
//! `npm ci`. When they are missing these tests fail and say so; they never skip.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::bao_cli::bao_binary;
use crate::harness::{self, ServerProcess};

/// The repository root, where `tests/compat` lives.
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How long a whole client suite may run.
const SUITE_DEADLINE: Duration = Duration::from_secs(600);

/// How long `bao server -dev` may take to answer `/v1/sys/health`.
const BAO_START_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn hvac_suite_passes() {
    let python = venv_python();
    let servers = Servers::start().await;
    let suite = Path::new(REPO_ROOT).join("tests/compat/hvac");
    let mut command = Command::new(&python);
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"])
        .arg(&suite)
        .current_dir(&suite)
        // The suite's bytecode stays out of the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    servers.run_suite("hvac (pytest)", command).await;
}

#[tokio::test]
async fn node_vault_suite_passes() {
    let suite = Path::new(REPO_ROOT).join("tests/compat/node-vault");
    assert!(
        suite.join("node_modules/node-vault").is_dir(),
        "node-vault is not installed in {}: run scripts/test (it runs `npm ci` there), or \
         `npm ci` in that directory yourself",
        suite.display()
    );
    let servers = Servers::start().await;
    let mut command = Command::new("node");
    command.arg("--test").current_dir(&suite);
    servers.run_suite("node-vault (node --test)", command).await;
}

/// `$SECRETHUB_TEST_VENV`, else `~/.cache/secrethub-test/venv` (where `scripts/test` puts it).
fn venv() -> PathBuf {
    std::env::var_os("SECRETHUB_TEST_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            home.unwrap_or_default().join(".cache/secrethub-test/venv")
        })
}

/// The venv's python; panics with instructions when there is none.
fn venv_python() -> PathBuf {
    let venv = venv();
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "no Python venv at {}: run scripts/test (it creates it and installs \
         tests/compat/hvac/requirements.txt), or set SECRETHUB_TEST_VENV to a venv with \
         `pip install -r tests/compat/hvac/requirements.txt`",
        venv.display()
    );
    python
}

/// A SecretHub dev server and an OpenBao dev server, both with known root tokens.
struct Servers {
    _dir: tempfile::TempDir,
    secrethub: ServerProcess,
    secrethub_token: String,
    bao: BaoDev,
}

impl Servers {
    async fn start() -> Servers {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrethub_token = harness::unique_name("root");
        let secrethub = ServerProcess::dev(dir.path(), &secrethub_token, &[]).await;
        let bao = BaoDev::start(dir.path()).await;
        Servers {
            _dir: dir,
            secrethub,
            secrethub_token,
            bao,
        }
    }

    /// Runs a client suite with the servers' addresses in its environment; asserts it passes
    /// and shows everything it printed (and the servers' logs) when it does not.
    async fn run_suite(&self, name: &str, mut command: Command) {
        let pg_url = std::env::var("PG_URL")
            .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_string());
        command
            .env("SECRETHUB_ADDR", self.secrethub.addr())
            .env("SECRETHUB_TOKEN", &self.secrethub_token)
            .env("BAO_ADDR", &self.bao.addr)
            .env("BAO_TOKEN", &self.bao.root_token)
            .env("PG_URL", pg_url)
            // The clients must use what the suite gives them, not a developer's own server.
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let run = tokio::time::timeout(SUITE_DEADLINE, command.output()).await;
        let output = run
            .unwrap_or_else(|_| panic!("the {name} suite ran longer than {SUITE_DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("cannot start the {name} suite: {e}"));
        assert!(
            output.status.success(),
            "the {name} suite failed ({}):\n{}\n{}\n--- secrethub log (tail) ---\n{}\n--- bao log (tail) ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            tail(&self.secrethub.log(), 60),
            tail(&self.bao.log(), 30),
        );
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `bao server -dev` under a small `sh` that kills it once our end of its stdin pipe closes
/// (when this is dropped, or when the test binary dies), so no server outlives the test.
pub(crate) struct BaoDev {
    pub(crate) addr: String,
    pub(crate) root_token: String,
    log: PathBuf,
    _keepalive: (Child, ChildStdin),
}

impl BaoDev {
    pub(crate) async fn start(dir: &Path) -> BaoDev {
        // `SECRETHUB_TEST_BAO` first, then the venv scripts/test installs it into, then PATH.
        let in_venv = venv().join("bin/bao");
        let binary = if std::env::var_os("SECRETHUB_TEST_BAO").is_none() && in_venv.is_file() {
            in_venv
        } else {
            bao_binary()
        };
        let root_token = harness::unique_name("root");
        let port = free_port();
        let log = dir.join("bao.log");
        // `$0` is the binary, `$1` the log, the rest its arguments.
        let script = r#"bin="$0"; log="$1"; shift; "$bin" "$@" </dev/null >"$log" 2>&1 & pid=$!; read -r line; kill "$pid""#;
        let mut child = StdCommand::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&binary)
            .arg(&log)
            .args([
                "server".to_string(),
                "-dev".to_string(),
                format!("-dev-root-token-id={root_token}"),
                format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", binary.display()));
        let stdin = child.stdin.take().expect("stdin is piped");
        let bao = BaoDev {
            addr: format!("http://127.0.0.1:{port}"),
            root_token,
            log,
            _keepalive: (child, stdin),
        };
        bao.wait_for_health().await;
        bao
    }

    /// Polls `/v1/sys/health` until it answers 200 (a process we do not control: there is
    /// nothing to wait on instead).
    async fn wait_for_health(&self) {
        let http = reqwest::Client::new();
        let url = format!("{}/v1/sys/health", self.addr);
        let deadline = Instant::now() + BAO_START_DEADLINE;
        loop {
            let answer = http.get(&url).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bao server -dev did not answer {url} within {BAO_START_DEADLINE:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(harness::POLL_INTERVAL).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}
