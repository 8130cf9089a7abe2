//! `storage "postgresql"` against the machine's PostgreSQL: the core flow with a restart, and
//! PostgreSQL dropping every connection under a running server (what a PostgreSQL restart
//! looks like from the server's side), which the server must ride out on its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{
    self, assert_errors_shape, json_of, psql, Cli, PgDatabase, ServerProcess, PLAIN_LISTENER,
};

/// How long the server may take to recover once PostgreSQL accepts connections again.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(20);

fn postgres_config(db: &PgDatabase) -> String {
    format!(
        "storage \"postgresql\" {{\n  connection_url = \"{}\"\n  table = \"secrethub_store\"\n}}\n{PLAIN_LISTENER}",
        db.url()
    )
}

#[tokio::test]
async fn postgres_storage_core_flow_survives_restart() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = harness::write_file(dir.path(), "server.hcl", &postgres_config(&db));
    let home = dir.path().join("home");

    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(server.addr(), &home);
    assert_eq!(cli.run(&["status"]).code, 2);
    let init = harness::init_and_unseal(&cli, 3, 2);
    let cli = cli.env("SECRETHUB_TOKEN", &harness::root_token(&init));
    assert_eq!(cli.run(&["status"]).code, 0);
    cli.ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
    cli.ok(&["kv", "put", "secret/app/db", "password=s3cret"]);
    assert_eq!(
        cli.ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        "s3cret"
    );

    // The rows really are in the configured table, and encrypted: no plaintext in PostgreSQL.
    let stored = stored_values(&db);
    assert!(!stored.is_empty(), "no rows in secrethub_store");
    assert!(
        !stored.contains("s3cret"),
        "plaintext secret found in PostgreSQL"
    );

    assert!(server.stop().await.success());
    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli =
        Cli::secrethub(server.addr(), &home).env("SECRETHUB_TOKEN", &harness::root_token(&init));
    assert_eq!(cli.run(&["status"]).code, 2, "a restarted server is sealed");
    for key in &harness::unseal_keys(&init)[1..] {
        cli.ok(&["operator", "unseal", key]);
    }
    assert_eq!(
        cli.ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        "s3cret"
    );
}

/// Every stored value of the test's table, as text (bytes escaped) for a plaintext search.
fn stored_values(db: &PgDatabase) -> String {
    let sql = "SELECT string_agg(encode(value, 'escape'), ' ') FROM secrethub_store";
    let output = std::process::Command::new("psql")
        .args([
            "-w",
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db.name(),
            "-tA",
            "-c",
            sql,
        ])
        .output()
        .expect("running psql");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn server_recovers_when_postgres_drops_its_connections() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = harness::write_file(dir.path(), "server.hcl", &postgres_config(&db));
    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home"));
    let init = harness::init_and_unseal(&cli, 1, 1);
    let root = harness::root_token(&init);
    let cli = cli.env("SECRETHUB_TOKEN", &root);
    cli.ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
    cli.ok(&["kv", "put", "secret/app/db", "password=round-0"]);
    let server = Arc::new(server);

    // Readers keep the server busy while PostgreSQL kills its backends, so some requests are
    // in flight at the moment their connection dies.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (server, stop, root) = (server.clone(), stop.clone(), root.clone());
        readers.spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(server.get_json("secret/data/app/db", &root).await);
            }
            answers
        });
    }

    for round in 1..=3 {
        let terminated = psql(&format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()) AS t",
            db.name()
        ));
        assert_ne!(
            terminated, "0",
            "the server held no connection to terminate"
        );
        let value = format!("round-{round}");
        write_until_accepted(&server, &root, &value).await;
        let (code, body) = server.get_json("secret/data/app/db", &root).await;
        assert_eq!(
            (code, &body["data"]["data"]["password"]),
            (200, &json!(value)),
            "{body}"
        );
    }

    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    while let Some(answers) = readers.join_next().await {
        for (code, body) in answers.expect("reader task panicked") {
            match code {
                200 => {}
                500..=599 => {
                    assert_errors_shape(code, &body);
                    failures.push(code);
                }
                _ => panic!("a read during the outage answered {code}: {body}"),
            }
        }
    }
    // Clear 5xx answers are allowed while connections die; a crash or a hang is not.
    assert!(
        failures.iter().all(|c| *c == 503),
        "outage answers other than 503: {failures:?}"
    );
    assert_eq!(
        cli.run(&["status"]).code,
        0,
        "the server stayed unsealed throughout"
    );
}

/// Writes the secret, retrying (bounded) while the server answers 5xx in Vault's error shape.
async fn write_until_accepted(server: &ServerProcess, root: &str, value: &str) {
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    let body = json!({ "data": { "password": value } });
    loop {
        let resp = server
            .http()
            .put(server.url("secret/data/app/db"))
            .header("X-Vault-Token", root)
            .json(&body)
            .send()
            .await
            .expect("the server keeps answering while PostgreSQL drops connections");
        let (code, answer): (u16, Value) = json_of(resp).await;
        if code == 200 {
            return;
        }
        assert!(
            (500..=599).contains(&code),
            "write answered {code}: {answer}"
        );
        assert_errors_shape(code, &answer);
        assert!(
            Instant::now() < deadline,
            "still failing after {RECOVERY_DEADLINE:?}: {code} {answer}"
        );
        tokio::time::sleep(harness::POLL_INTERVAL).await;
    }
}
