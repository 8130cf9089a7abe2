//! The agent end to end, with the real binary, a real server and the private
//! password-checking PostgreSQL cluster: the agent logs in with AppRole, renders a file with
//! short-lived database credentials, keeps them alive across renewals, replaces them before
//! their max TTL (the old user is then dropped by the server); an agent started before its
//! server keeps trying, then renders, proxies and reports provider health. The fixture here
//! is shared with `run_cmd`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrethub_testkit::pg_cluster::{self, Cluster};

use crate::harness::{self, Cli, ServerProcess, POLL_INTERVAL, SECRETHUB};

/// What the application may do: read its credentials, renew and revoke their leases.
const APP_POLICY: &str = r#"
path "database/creds/*" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
path "secret/data/app/*" { capabilities = ["read"] }
"#;

pub(crate) async fn private_cluster() -> &'static Cluster {
    tokio::task::spawn_blocking(pg_cluster::cluster)
        .await
        .expect("cluster start-up thread")
}

/// A server with the database engine pointed at the private cluster, a role `role` with the
/// given TTLs, and AppRole login for an app whose policy is [`APP_POLICY`].
pub(crate) struct Fixture {
    pub(crate) server: ServerProcess,
    pub(crate) admin: Cli,
    pub(crate) root: String,
    pub(crate) role: String,
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) async fn new(default_ttl: &str, max_ttl: &str) -> Fixture {
        let cluster = private_cluster().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = harness::unique_name("root");
        let server = ServerProcess::dev(dir.path(), &root, &[]).await;
        let admin =
            Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
        let role = format!("ag{}", secrethub_common::random_alnum(6).to_lowercase());
        admin.ok(&["secrets", "enable", "database"]);
        admin.ok(&[
            "write",
            "database/config/pg",
            "plugin_name=postgresql-database-plugin",
            &format!("connection_url={}", cluster.url()),
            "username=postgres",
            &format!("password={}", cluster.password),
            &format!("allowed_roles={role}"),
            "verify_connection=true",
        ]);
        let create = harness::write_file(
            dir.path(),
            "create.sql",
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
        );
        admin.ok(&[
            "write",
            &format!("database/roles/{role}"),
            "db_name=pg",
            &format!("default_ttl={default_ttl}"),
            &format!("max_ttl={max_ttl}"),
            &format!("creation_statements=@{}", create.display()),
        ]);
        let policy = harness::write_file(dir.path(), "app.hcl", APP_POLICY);
        admin.ok(&["policy", "write", "app", policy.to_str().unwrap()]);
        Fixture {
            server,
            admin,
            root,
            role,
            dir,
        }
    }

    /// Enables AppRole and writes the app's role ID and a secret ID to files.
    pub(crate) fn approle_files(&self) -> (PathBuf, PathBuf) {
        self.admin.ok(&["auth", "enable", "approle"]);
        self.admin.ok(&[
            "write",
            "auth/approle/role/app",
            "token_policies=app",
            "token_ttl=1h",
        ]);
        let role_id = self
            .admin
            .ok(&["read", "-field=role_id", "auth/approle/role/app/role-id"])
            .stdout;
        let secret_id = self
            .admin
            .ok(&[
                "write",
                "-f",
                "-field=secret_id",
                "auth/approle/role/app/secret-id",
            ])
            .stdout;
        (
            harness::write_file(self.dir.path(), "role-id", role_id.trim()),
            harness::write_file(self.dir.path(), "secret-id", secret_id.trim()),
        )
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A running `secrethub agent`, stopped with SIGTERM when dropped.
struct AgentProcess {
    child: Child,
    log: PathBuf,
}

impl AgentProcess {
    fn start(config: &Path, log: PathBuf) -> AgentProcess {
        let stderr = std::fs::File::create(&log).expect("creating the agent log");
        let child = Command::new(SECRETHUB)
            .args(["agent", "-config", config.to_str().unwrap()])
            .env_clear()
            .env("SECRETHUB_LOG", "trace")
            .env("HOME", config.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawning secrethub agent");
        AgentProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the agent") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent ignored SIGTERM");
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it answers `Some`, failing after `limit` with `what` and the agent log.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    agent: &AgentProcess,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; agent log:\n{}",
            agent.log()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `user=…` and `password=…` lines of the rendered file.
pub(crate) fn credentials(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    Some((field("user")?, field("password")?))
}

pub(crate) fn role_exists(cluster: &Cluster, name: &str) -> bool {
    cluster.admin_psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    )) == "1"
}

pub(crate) fn valid_until(cluster: &Cluster, name: &str) -> String {
    cluster.admin_psql(&format!(
        "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{name}'"
    ))
}

#[tokio::test]
async fn agent_renews_database_credentials_and_replaces_them_before_max_ttl() {
    let cluster = private_cluster().await;
    // A short lease (8 s) that may live 24 s: several renewals, then a replacement.
    let fx = Fixture::new("8s", "24s").await;
    let (role_id, secret_id) = fx.approle_files();
    let rendered = fx.path("db.conf");
    let renders = fx.path("renders.log");
    let sink = fx.path("agent-token");
    let config = harness::write_file(
        fx.dir.path(),
        "agent.hcl",
        &format!(
            r#"
vault {{ address = "{addr}" }}
auto_auth {{
  method "approle" {{
    config = {{
      role_id_file_path   = "{role_id}"
      secret_id_file_path = "{secret_id}"
      remove_secret_id_file_after_reading = false
    }}
  }}
  sink "file" {{ config = {{ path = "{sink}" }} }}
}}
lease_renewal {{
  renew_at = 0.5
  grace    = "6s"
}}
template {{
  # HCL interpolates $${{...}}: $$${{ is a literal $${{.
  contents    = "user=$${{secret:database/creds/{role}#username}}\npassword=$${{secret:database/creds/{role}#password}}\n"
  destination = "{rendered}"
  perms       = "0600"
  command     = "echo rendered >> {renders}"
}}
"#,
            addr = fx.server.addr(),
            role_id = role_id.display(),
            secret_id = secret_id.display(),
            sink = sink.display(),
            role = fx.role,
            rendered = rendered.display(),
            renders = renders.display(),
        ),
    );
    let mut agent = AgentProcess::start(&config, fx.path("agent.log"));

    let (user, password) = wait_for("the first render", Duration::from_secs(30), &agent, || {
        credentials(&rendered)
    })
    .await;
    let first_seen = Instant::now();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&rendered).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "rendered file mode");
    let sink_mode = std::fs::metadata(&sink).unwrap().permissions().mode() & 0o777;
    assert_eq!(sink_mode, 0o600, "token sink mode");
    assert!(user.starts_with(&format!("shub_{}_", fx.role)), "{user}");
    let me = cluster.psql_as(&user, &password, "SELECT current_user");
    assert_eq!(me.as_deref(), Ok(user.as_str()));
    let initial_valid_until = valid_until(cluster, &user);

    // Renewals move VALID UNTIL forward, and the credentials outlive their first 8 s.
    wait_for("a renewal", Duration::from_secs(15), &agent, || {
        (valid_until(cluster, &user) != initial_valid_until).then_some(())
    })
    .await;
    wait_for(
        "the first lease TTL to pass",
        Duration::from_secs(15),
        &agent,
        || (first_seen.elapsed() > Duration::from_secs(10)).then_some(()),
    )
    .await;
    let still = cluster.psql_as(&user, &password, "SELECT 1");
    assert_eq!(still.as_deref(), Ok("1"), "credentials after renewals");
    assert_eq!(credentials(&rendered).unwrap().0, user, "no early rotation");

    // Before the max TTL (24 s after issue), fresh credentials replace them.
    let (new_user, new_password) = wait_for(
        "fresh credentials before the max TTL",
        Duration::from_secs(30),
        &agent,
        || credentials(&rendered).filter(|(u, _)| *u != user),
    )
    .await;
    assert!(
        first_seen.elapsed() < Duration::from_secs(24),
        "replaced only after {:?}",
        first_seen.elapsed()
    );
    assert!(
        role_exists(cluster, &user),
        "the old user is kept until its lease ends"
    );
    let me = cluster.psql_as(&new_user, &new_password, "SELECT current_user");
    assert_eq!(me.as_deref(), Ok(new_user.as_str()));
    let render_count = std::fs::read_to_string(&renders).unwrap().lines().count();
    assert_eq!(render_count, 2, "the command ran once per render");

    // The server revokes the old lease at its max TTL: the old user is dropped.
    wait_for(
        "the old user to be dropped",
        Duration::from_secs(30),
        &agent,
        || (!role_exists(cluster, &user)).then_some(()),
    )
    .await;

    let status = agent.stop();
    assert!(status.success(), "agent exit: {status:?}");
    let log = agent.log();
    // The log is there (at trace level) and tells the story...
    for event in [
        "authenticated",
        "lease renewed",
        "fresh credentials fetched",
    ] {
        assert!(log.contains(event), "no {event:?} in the agent log:\n{log}");
    }
    // ...without a secret in it.
    for secret in [&password, &new_password] {
        assert!(
            !log.contains(secret.as_str()),
            "a password is in the agent's log"
        );
    }
    let token = std::fs::read_to_string(&sink).unwrap();
    assert!(
        !log.contains(token.trim()),
        "the token is in the agent's log"
    );
}

#[tokio::test]
async fn agent_started_before_its_server_keeps_trying_then_renders_and_proxies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let root = harness::unique_name("root");
    let token_file = harness::write_file(dir.path(), "token", &root);
    let socket = dir.path().join("agent.sock");
    let rendered = dir.path().join("app.conf");
    let config = harness::write_file(
        dir.path(),
        "agent.hcl",
        &format!(
            r#"
vault {{
  address = "http://{addr}"
  retry {{ num_retries = 1 }}
}}
auto_auth {{
  method "token_file" {{
    config = {{ token_file_path = "{token}" }}
  }}
}}
cache {{}}
api_proxy {{ use_auto_auth_token = true }}
listener "unix" {{ address = "{socket}" }}
template {{
  contents    = "key=$${{secret:secret/app#key}}\n"
  destination = "{rendered}"
}}
template_config {{ static_secret_render_interval = "1s" }}
provider "dev" {{
  type = "file"
  path = "{missing}"
}}
"#,
            missing = dir.path().join("not-written-yet.yaml").display(),
            token = token_file.display(),
            socket = socket.display(),
            rendered = rendered.display(),
        ),
    );
    let mut agent = AgentProcess::start(&config, dir.path().join("agent.log"));

    // No server yet: the agent says why it is waiting (naming the address) and keeps going.
    wait_for(
        "a clear login error",
        Duration::from_secs(30),
        &agent,
        || {
            let log = agent.log();
            (log.contains("auto-auth login failed") && log.contains(&addr)).then_some(())
        },
    )
    .await;
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent gave up"
    );

    let server = ServerProcess::dev_on(dir.path(), &root, &addr).await;
    let admin =
        Cli::secrethub(server.addr(), &dir.path().join("admin")).env("SECRETHUB_TOKEN", &root);
    admin.ok(&["kv", "put", "secret/app", "key=first-value"]);
    wait_for("the first render", Duration::from_secs(60), &agent, || {
        (std::fs::read_to_string(&rendered).ok()? == "key=first-value\n").then_some(())
    })
    .await;
    // A new KV version is picked up by the static-secret interval.
    admin.ok(&["kv", "put", "secret/app", "key=second-value"]);
    wait_for("the new version", Duration::from_secs(30), &agent, || {
        (std::fs::read_to_string(&rendered).ok()? == "key=second-value\n").then_some(())
    })
    .await;

    // The Unix socket listener proxies with the agent's token (the request carries none).
    let out = Command::new("curl")
        .args(["-sS", "--unix-socket", socket.to_str().unwrap()])
        .arg("http://agent/v1/secret/data/app")
        .output()
        .expect("running curl");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("proxy answer is not JSON ({e}): {out:?}"));
    assert_eq!(body["data"]["data"]["key"], "second-value", "{body}");

    // The listener reports the providers' health: 503 while the dev file is missing...
    let health = || {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(&socket)
            .arg("http://agent/agent/v1/health")
            .output()
            .expect("running curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        (status.to_string(), body)
    };
    let (status, body) = health();
    assert_eq!(status, "503", "{body}");
    assert_eq!(body["providers"]["secrethub"]["healthy"], true, "{body}");
    assert_eq!(body["providers"]["dev"]["healthy"], false, "{body}");
    // ...and 200 once it exists.
    harness::write_file(
        dir.path(),
        "not-written-yet.yaml",
        "app:\n  key: dev-value\n",
    );
    let (status, body) = health();
    assert_eq!(status, "200", "{body}");

    // `template render` resolves a file once with the CLI's own token.
    let template = harness::write_file(dir.path(), "t.tmpl", "k: ${secret:secret/app#key}\n");
    let out = admin.ok(&["template", "render", template.to_str().unwrap()]);
    assert_eq!(out.stdout.trim_end(), "k: second-value");

    assert!(agent.stop().success());
    assert!(
        !agent.log().contains(&root),
        "the token is in the agent's log"
    );
}
