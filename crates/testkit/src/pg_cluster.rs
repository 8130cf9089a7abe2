//! A private PostgreSQL cluster with real password authentication (scram-sha-256 in
//! `pg_hba.conf`), started once per test binary on a free port in 19400–19599; and
//! [`OwnCluster`], one a single test owns and may stop and start again (an outage).
//!
//! The machine's shared cluster trusts every local connection, so only here can a test check
//! that credentials log in, that a wrong password does not, and that VALID UNTIL is enforced.
//! `initdb` refuses to run as root, so when the tests run as root the cluster belongs to the
//! `postgres` user (via `runuser`). A watchdog process waits for the test process to exit,
//! then stops the cluster and removes its directory, so nothing is left behind even though
//! statics are never dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A running private cluster.
pub struct Cluster {
    pub port: u16,
    /// The `postgres` superuser's password.
    pub password: String,
    /// The directory of its Unix socket (and data).
    pub dir: PathBuf,
    /// The PostgreSQL binaries (`psql` is there).
    pub bin: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster of this test process, started on first use. Blocking: call it from
/// `spawn_blocking` in async tests.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| start(false))
}

impl Cluster {
    /// A libpq-style connection string for `user`/`password` on database `postgres`.
    pub fn conn(&self, user: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password='{password}' dbname=postgres connect_timeout=5",
            self.port
        )
    }

    /// A templated connection URL as a database engine config uses.
    pub fn url(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Runs one statement with `psql` over TCP as `user`/`password` (so the password is
    /// checked); answers the unaligned output, or psql's error text.
    pub fn psql_as(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Runs one statement as the superuser.
    pub fn admin_psql(&self, sql: &str) -> String {
        self.psql_as("postgres", &self.password, sql)
            .unwrap_or_else(|e| panic!("psql as postgres on the private cluster: {e}"))
    }
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SECRETHUB_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL server binaries under /usr/lib/postgresql (or set SECRETHUB_TEST_PG_BIN)",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A shell command, as the `postgres` user when running as root.
fn shell(script: &str, root: bool) -> Command {
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    cmd.stdin(Stdio::null());
    cmd
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// `pg_ctl start` of the cluster in `dir` on `port`; whether it started.
fn pg_ctl_start(dir: &Path, bin: &Path, port: u16, root: bool) -> bool {
    shell(
        "\"$BIN/pg_ctl\" -D \"$D/data\" -l \"$D/server.log\" -w -t 30 \
         -o \"-p $PORT -k $D -c listen_addresses=127.0.0.1 -c fsync=off \
         -c shared_buffers=32MB -c max_connections=60\" start",
        root,
    )
    .env("D", dir)
    .env("BIN", bin)
    .env("PORT", port.to_string())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .expect("run pg_ctl")
    .success()
}

/// `pg_ctl stop` of the cluster in `dir` in `mode` (`fast`, `immediate`); whether it stopped.
fn pg_ctl_stop(dir: &Path, bin: &Path, mode: &str, root: bool) -> bool {
    shell(
        "\"$BIN/pg_ctl\" -D \"$D/data\" -m \"$MODE\" -w -t 30 stop",
        root,
    )
    .env("D", dir)
    .env("BIN", bin)
    .env("MODE", mode)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .expect("run pg_ctl")
    .success()
}

/// Creates and starts a cluster; `own` for an [`OwnCluster`] (see the ports below).
fn start(own: bool) -> Cluster {
    let root = is_root();
    let bin = bin_dir();
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!(
        "secrethub-db-it-{pid}-{}",
        secrethub_common::random_alnum(6).to_ascii_lowercase()
    ));
    let password = secrethub_common::random_alnum(24);
    let init = shell(
        "set -e; umask 077; mkdir -p \"$D\"; printf %s \"$PW\" > \"$D/pw\"; \
         \"$BIN/initdb\" -D \"$D/data\" -U postgres --pwfile=\"$D/pw\" \
         --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --no-sync \
         > \"$D/initdb.log\" 2>&1; rm -f \"$D/pw\"",
        root,
    )
    .env("D", &dir)
    .env("PW", &password)
    .env("BIN", &bin)
    .status()
    .expect("run initdb");
    assert!(
        init.success(),
        "initdb failed; see {}/initdb.log",
        dir.display()
    );
    spawn_watchdog(&dir, &bin, root, pid);

    // Another process may take a port between the check and the start: try a few.
    let first = 19_400 + (pid % 200) as u16;
    let shared_range = (0..40u16).map(|offset| 19_400 + (first - 19_400 + offset * 7) % 200);
    // A cluster that will be stopped for a while takes a port the kernel picks instead: one
    // from the range above would be free during the outage, and the next cluster started (in
    // this process or another) would take it.
    let any_port = (0..40).map(|_| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind an ephemeral port")
    });
    let ports: Box<dyn Iterator<Item = u16>> = if own {
        Box::new(any_port)
    } else {
        Box::new(shared_range)
    };
    for port in ports {
        if !port_is_free(port) {
            continue;
        }
        if pg_ctl_start(&dir, &bin, port, root) {
            return Cluster {
                port,
                password,
                dir,
                bin,
            };
        }
    }
    panic!(
        "could not start a private cluster; see {}/server.log",
        dir.display()
    );
}

/// A private cluster of one test, which it may stop (an outage) and start again on the same
/// port; stopped and removed when dropped (or, should the test process die first, by the
/// watchdog every cluster has).
pub struct OwnCluster {
    cluster: Cluster,
    root: bool,
}

impl OwnCluster {
    /// Starts a new cluster of its own (blocking: call it from `spawn_blocking` in async
    /// tests).
    pub fn start() -> OwnCluster {
        OwnCluster {
            cluster: start(true),
            root: is_root(),
        }
    }

    /// Stops the cluster with `pg_ctl -m fast` (sessions are ended, connections refused
    /// from then on). Blocking.
    pub fn stop(&self) {
        let c = &self.cluster;
        assert!(
            pg_ctl_stop(&c.dir, &c.bin, "fast", self.root),
            "pg_ctl stop failed; see {}/server.log",
            c.dir.display()
        );
    }

    /// Starts the stopped cluster again on its port. Blocking.
    pub fn restart(&self) {
        let c = &self.cluster;
        if !pg_ctl_start(&c.dir, &c.bin, c.port, self.root) {
            let log = std::fs::read_to_string(c.dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            panic!(
                "pg_ctl start on port {} failed (taken while stopped?); the end of its log:\n{}",
                c.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

impl std::ops::Deref for OwnCluster {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let c = &self.cluster;
        pg_ctl_stop(&c.dir, &c.bin, "immediate", self.root);
        let _ = std::fs::remove_dir_all(&c.dir);
    }
}

/// Stops the cluster and removes `dir` once the test process `pid` has exited.
// Never waited for on purpose: it outlives this process (and is reaped by init), which is
// what lets it clean up after the last test.
#[allow(clippy::zombie_processes)]
fn spawn_watchdog(dir: &Path, bin: &Path, root: bool, pid: u32) {
    use std::os::unix::process::CommandExt;
    let as_postgres = if root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "tail --pid=\"$TEST_PID\" -s 0.5 -f /dev/null; \
         {as_postgres}\"$BIN/pg_ctl\" -D \"$D/data\" -m immediate -w stop; rm -rf \"$D\""
    );
    Command::new("sh")
        .args(["-c", &script])
        .env("TEST_PID", pid.to_string())
        .env("D", dir)
        .env("BIN", bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C of the tests must not kill it before it cleans up.
        .process_group(0)
        .spawn()
        .expect("spawn the cluster watchdog");
}
