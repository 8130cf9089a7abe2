//! Secrets never reach the server log, even at `trace`: a workload handles distinctive KV
//! values, a response-wrapping token, child tokens, a wrong token and a database credential
//! (whose statements carry its SCRAM verifier and, outside `PASSWORD '…'`, its clear password),
//! then the captured stderr is searched for every one of them.

use serde_json::json;

use crate::harness::{self, json_of, psql, Cli, PgDatabase, ServerProcess};

#[tokio::test]
async fn no_secret_appears_in_a_trace_level_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = harness::unique_name("rootTOKENzq");
    let kv_secret = harness::unique_name("KVSECRETxq");
    let kv_secret_api = harness::unique_name("APISECRETxw");
    let bogus_token = harness::unique_name("BOGUSTOKENxv");
    let server = ServerProcess::dev(dir.path(), &root, &[("SECRETHUB_LOG", "trace")]).await;
    let home = dir.path().join("home");
    let cli = Cli::secrethub(server.addr(), &home).env("SECRETHUB_TOKEN", &root);

    // KV through the CLI and through the API.
    cli.ok(&[
        "kv",
        "put",
        "secret/app/db",
        &format!("password={kv_secret}"),
    ]);
    assert_eq!(
        cli.ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        kv_secret
    );
    let resp = server
        .http()
        .put(server.url("secret/data/app/api"))
        .header("X-Vault-Token", &root)
        .json(&json!({ "data": { "api_key": kv_secret_api } }))
        .send()
        .await
        .expect("kv write");
    assert_eq!(resp.status().as_u16(), 200);

    // A wrapped read, then its unwrap with the wrapping token.
    let resp = server
        .http()
        .get(server.url("secret/data/app/api"))
        .header("X-Vault-Token", &root)
        .header("X-Vault-Wrap-TTL", "5m")
        .send()
        .await
        .expect("wrapped read");
    let (code, wrapped) = json_of(resp).await;
    assert_eq!(code, 200, "{wrapped}");
    let wrap_token = wrapped["wrap_info"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no wrap_info.token in {wrapped}"))
        .to_string();
    let resp = server
        .http()
        .post(server.url("sys/wrapping/unwrap"))
        .header("X-Vault-Token", &wrap_token)
        .send()
        .await
        .expect("unwrap");
    let (code, unwrapped) = json_of(resp).await;
    assert_eq!(
        (code, &unwrapped["data"]["data"]["api_key"]),
        (200, &json!(kv_secret_api)),
        "{unwrapped}"
    );

    // A child token, used, looked up, and stored by `login`.
    let created = cli
        .ok(&["token", "create", "-ttl=10m", "-format=json"])
        .json();
    let child = created["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_string();
    let as_child = Cli::secrethub(server.addr(), &home).env("SECRETHUB_TOKEN", &child);
    assert_eq!(
        as_child
            .ok(&["kv", "get", "-field=password", "secret/app/db"])
            .stdout,
        kv_secret
    );
    as_child.ok(&["token", "lookup"]);
    Cli::secrethub(server.addr(), &home).ok(&["login", &child]);

    // A wrong token is somebody's secret too.
    let denied = Cli::secrethub(server.addr(), &home)
        .env("SECRETHUB_TOKEN", &bogus_token)
        .run(&["kv", "get", "secret/app/db"]);
    assert_eq!(denied.code, 2, "{denied:?}");

    // A database credential: the PostgreSQL driver logs statement text at DEBUG, and these
    // statements carry the SCRAM verifier and (in the COMMENT) the clear password.
    let db = PgDatabase::create();
    let url = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:5432/{}?sslmode=disable",
        db.name()
    );
    let role = format!("lg{}", secrethub_common::random_alnum(5).to_lowercase());
    cli.ok(&["secrets", "enable", "database"]);
    cli.ok(&[
        "write",
        "database/config/logs",
        "plugin_name=postgresql-database-plugin",
        &format!("connection_url={url}"),
        "username=postgres",
        "password=trust-ignores-it",
        &format!("allowed_roles={role}"),
    ]);
    let create = harness::write_file(
        dir.path(),
        "create.sql",
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';\n\
         COMMENT ON ROLE \"{{name}}\" IS 'pw {{password}}';",
    );
    cli.ok(&[
        "write",
        &format!("database/roles/{role}"),
        "db_name=logs",
        &format!("creation_statements=@{}", create.display()),
    ]);
    let creds = cli
        .ok(&["read", "-format=json", &format!("database/creds/{role}")])
        .json();
    let db_user = creds["data"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    let db_password = creds["data"]["password"]
        .as_str()
        .expect("password")
        .to_string();
    let verifier = psql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{db_user}'"
    ))
    .trim()
    .to_string();
    assert!(verifier.starts_with("SCRAM-SHA-256$"), "{verifier}");
    let comment = psql(&format!(
        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = '{db_user}'"
    ));
    assert!(
        comment.contains(&db_password),
        "the statement did not run: {comment}"
    );
    let lease_id = creds["lease_id"].as_str().expect("lease_id");
    cli.ok(&["lease", "revoke", lease_id]);

    // The server logs no request at debug or trace level yet, so prove the level is in effect
    // with an event it does log there: a connection that speaks garbage.
    provoke_debug_event(server.addr()).await;

    let status = server.stop().await;
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(dir.path().join("server-1.log")).expect("server log");
    assert!(
        log.contains("DEBUG"),
        "the server did not log at trace level:\n{log}"
    );
    let unseal_key = std::fs::read_to_string(dir.path().join("server-1.stdout"))
        .expect("server stdout")
        .lines()
        .find_map(|l| l.strip_prefix("Unseal Key: ").map(str::to_string))
        .expect("dev mode prints its unseal key");
    let secrets = [
        ("root token", root.as_str()),
        ("kv value", kv_secret.as_str()),
        ("kv value written over the API", kv_secret_api.as_str()),
        ("wrapping token", wrap_token.as_str()),
        ("child token", child.as_str()),
        ("rejected token", bogus_token.as_str()),
        ("unseal key", unseal_key.trim()),
        ("database password", db_password.as_str()),
        ("start of the database password", &db_password[..10]),
        (
            "end of the database password",
            &db_password[db_password.len() - 10..],
        ),
        ("scram verifier", verifier.as_str()),
    ];
    // Every part of the verifier (salt, stored key, server key) on its own too.
    let parts: Vec<&str> = verifier
        .split(['$', ':'])
        .filter(|p| p.len() >= 16)
        .collect();
    assert_eq!(parts.len(), 3, "{verifier}");
    let secrets: Vec<(&str, &str)> = secrets
        .into_iter()
        .chain(parts.into_iter().map(|p| ("part of the scram verifier", p)))
        .collect();
    let leaked: Vec<&str> = secrets
        .iter()
        .filter(|(_, s)| log.contains(s))
        .map(|(what, _)| *what)
        .collect();
    assert!(leaked.is_empty(), "secrets in the server log: {leaked:?}");
}

/// Sends a malformed request on a raw connection and reads the answer to the end; the server
/// logs the failed connection at debug level.
async fn provoke_debug_event(addr: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = addr.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connecting to the server");
    stream
        .write_all(b"GARBAGE\r\n\r\n")
        .await
        .expect("sending garbage");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok_and(|r| r.is_ok()),
        "the server did not close a garbage connection"
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
