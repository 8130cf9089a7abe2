//! `secrethub run` end to end with the real binary, a real server and the private
//! password-checking PostgreSQL cluster: credentials injected into a child that connects with
//! them, renewed while it runs, revoked when it exits (also after SIGTERM), its exit code
//! passed on, output masked, and clear errors that run nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::agent::{private_cluster, role_exists, Fixture};
use crate::harness::{self, Cli, Outcome, SECRETHUB};

/// `DB_URL=postgresql://…` for the private cluster, its user and password references to
/// `creds`.
fn db_url_env(creds: &str, port: u16) -> String {
    format!(
        "DB_URL=postgresql://${{secret:{creds}#username}}:${{secret:{creds}#password}}@127.0.0.1:{port}/postgres"
    )
}

/// A shell command that (after `before`) prints `current_user` as `$DB_URL` logs in.
fn psql_current_user(psql: &std::path::Path, before: &str) -> String {
    format!(
        "{before}{} -X -A -t \"$DB_URL\" -c 'SELECT current_user'",
        psql.display()
    )
}

/// `secrethub run -config CONFIG ARGS… -- sh -c SCRIPT`.
fn run_sh(cli: &Cli, config: &Path, args: &[&str], script: &str) -> Outcome {
    let config = config.to_str().unwrap();
    let mut all = vec!["run", "-config", config];
    all.extend_from_slice(args);
    all.extend(["--", "sh", "-c", script]);
    cli.run(&all)
}

/// A `run.hcl` that logs in with the fixture's AppRole, plus `extra` stanzas.
fn approle_run_config(fx: &Fixture, extra: &str) -> PathBuf {
    let (role_id, secret_id) = fx.approle_files();
    let auto_auth = format!(
        r#"
auto_auth {{
  method "approle" {{
    config = {{
      role_id_file_path   = "{}"
      secret_id_file_path = "{}"
      remove_secret_id_file_after_reading = false
    }}
  }}
}}
"#,
        role_id.display(),
        secret_id.display()
    );
    harness::write_file(fx.dir.path(), "run.hcl", &(auto_auth + extra))
}

#[tokio::test]
async fn run_injects_credentials_into_a_child_that_connects_and_revokes_them_after() {
    let cluster = private_cluster().await;
    let fx = Fixture::new("1m", "10m").await;
    let config = approle_run_config(&fx, "");
    let psql = cluster.bin.join("psql");
    let cli = Cli::secrethub(fx.server.addr(), &fx.path("app"));
    let creds = format!("database/creds/{}", fx.role);
    let url = db_url_env(&creds, cluster.port);
    let out = run_sh(
        &cli,
        &config,
        &["--env", &url],
        &psql_current_user(&psql, ""),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let user = out.stdout.trim().to_string();
    assert!(user.starts_with(&format!("shub_{}_", fx.role)), "{out:?}");
    // The child has exited: its lease was revoked and the user dropped.
    assert!(!role_exists(cluster, &user), "the user outlived the child");

    // The child's exit code comes back; --keep-leases leaves the user alive.
    let user_env = format!("U=${{secret:{creds}#username}}");
    let out = run_sh(
        &cli,
        &config,
        &["--keep-leases", "--env", &user_env],
        "echo \"$U\"; exit 3",
    );
    assert_eq!(out.code, 3, "{out:?}");
    let kept = out.stdout.trim().to_string();
    assert!(role_exists(cluster, &kept), "--keep-leases revoked {kept}");
    fx.admin.ok(&[
        "lease",
        "revoke",
        "-prefix",
        &format!("database/creds/{}", fx.role),
    ]);

    // --mask hides the values in the child's output.
    let password_env = format!("P=${{secret:{creds}#password}}");
    let out = run_sh(
        &cli,
        &config,
        &["--mask", "--env", &password_env],
        "echo \"password is $P\"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "password is *****", "{out:?}");

    // A missing field: a clear error naming the reference, and the command never runs; the
    // credentials already created for it are revoked, --keep-leases or not.
    let marker = fx.path("ran");
    let out = cli.run(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "--keep-leases",
        "--env",
        &format!("U=${{secret:{creds}#username}}"),
        "--env",
        &format!("X=${{secret:{creds}#nope}}"),
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!("${{secret:{creds}#nope}}")),
        "{out:?}"
    );
    assert!(!marker.exists(), "the command ran despite the error");
    // ...and the credentials created for it were revoked.
    let left = cluster.admin_psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'shub_{}_%'",
        fx.role
    ));
    assert_eq!(left, "0", "credentials left behind by a failed run");
}

#[tokio::test]
async fn run_renews_the_leases_of_a_long_running_child() {
    let cluster = private_cluster().await;
    // A 3 s lease: without renewal the server drops the user before the child connects.
    let fx = Fixture::new("3s", "1m").await;
    let config = approle_run_config(&fx, "lease_renewal { renew_at = 0.5 }");
    let creds = format!("database/creds/{}", fx.role);
    let url = db_url_env(&creds, cluster.port);
    let cli = Cli::secrethub(fx.server.addr(), &fx.path("app"));
    // The child works for twice the lease's TTL before it connects.
    let script = psql_current_user(&cluster.bin.join("psql"), "sleep 6; ");
    let out = run_sh(&cli, &config, &["--env", &url], &script);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.trim().starts_with(&format!("shub_{}_", fx.role)),
        "{out:?}"
    );
}

#[tokio::test]
async fn run_with_the_server_down_fails_clearly_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let marker = dir.path().join("ran");
    let cli = Cli::secrethub(&closed, &dir.path().join("home")).env("SECRETHUB_TOKEN", "t");
    let out = cli.run(&[
        "run",
        "--env",
        "X=${secret:secret/app#key}",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(&closed) && out.stderr.contains("${secret:secret/app#key}"),
        "{out:?}"
    );
    assert!(!marker.exists(), "the command ran without its secrets");
}

#[tokio::test]
async fn run_forwards_sigterm_to_the_child_and_still_revokes_its_leases() {
    use std::io::BufRead as _;
    let cluster = private_cluster().await;
    let fx = Fixture::new("1m", "10m").await;
    let creds = format!("database/creds/{}", fx.role);
    let mut child = Command::new(SECRETHUB)
        .args([
            "run",
            "--env",
            &format!("U=${{secret:{creds}#username}}"),
            "--",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo \"ready $U\"; while :; do sleep 0.05; done",
        ])
        .env_clear()
        .env("HOME", fx.dir.path())
        .env("SECRETHUB_ADDR", fx.server.addr())
        .env("SECRETHUB_TOKEN", &fx.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning secrethub run");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("a first line").expect("stdout");
    let user = ready
        .strip_prefix("ready ")
        .expect("the ready line")
        .to_string();
    assert!(
        role_exists(cluster, &user),
        "{user} exists while the child runs"
    );

    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let status = child.wait().expect("waiting for secrethub run");
    assert_eq!(status.code(), Some(42), "the child's own exit code");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest, ["got-term"], "the child saw SIGTERM");
    assert!(!role_exists(cluster, &user), "the lease outlived the run");
}
