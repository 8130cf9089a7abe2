//! An external server a test binary starts (moto, OpenBao's dev server): the binary from an
//! environment variable or `scripts/test`'s virtualenv, a free port, and a small `sh` wrapper
//! that kills the server when this process's end of its stdin pipe closes (when the
//! [`Process`] is dropped or the test binary ends), so no server outlives the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `$var`, else `~/.cache/secrethub-test/venv/bin/<name>`; panics with instructions (run
/// `scripts/test`, which installs `package` there, or set `$var`) when neither is a file.
pub fn venv_binary(var: &str, name: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{var}={} is not a file; it must be the path of {name}",
            path.display()
        );
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running server, kept alive by the open pipe to its wrapper.
pub struct Process {
    /// `http://127.0.0.1:<port>`.
    pub addr: String,
    log: PathBuf,
    _keepalive: Mutex<(Child, ChildStdin)>,
}

impl Process {
    /// Starts `binary args…` (listening on `port`, its output to `log`) under the keep-alive
    /// wrapper and waits up to 60 s until `GET <addr><probe>` answers 2xx; panics with the
    /// log if it exits or does not answer.
    pub async fn spawn(
        binary: &Path,
        args: &[String],
        port: u16,
        log: PathBuf,
        probe: &str,
    ) -> Self {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
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
            .unwrap_or_else(|e| panic!("spawning sh for {}: {e}", binary.display()));
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
        Self {
            addr,
            log,
            _keepalive: Mutex::new((child, stdin)),
        }
    }

    /// Everything the server wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
