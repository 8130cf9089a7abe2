//! The hardening issue's one-request outage, against the real binary: a config-file server,
//! initialised and unsealed, is sent the 845-byte policy nested 400 deep (and a
//! `password_policy` like it). Before the pre-parse guard this overflowed a worker thread's
//! stack and aborted the process, which came back sealed; now each is a 400 and the same
//! process, still unsealed, keeps answering and exits cleanly on SIGTERM.

use serde_json::{json, Value};

use crate::harness::{self, Cli, ServerProcess, PLAIN_LISTENER};

async fn call(
    server: &ServerProcess,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
    let resp = server
        .http()
        .request(method, server.url(path))
        .header("X-Vault-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: the server did not answer: {e}"));
    harness::json_of(resp).await
}

#[tokio::test]
async fn a_deeply_nested_policy_is_a_400_not_an_outage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("secrethub.db");
    let config = format!("storage \"file\" {{\n  path = {data:?}\n}}\n{PLAIN_LISTENER}");
    let config = harness::write_file(dir.path(), "server.hcl", &config);
    let server = ServerProcess::with_config(dir.path(), &config, None).await;
    let cli = Cli::secrethub(server.addr(), &dir.path().join("home"));
    let root = harness::root_token(&harness::init_and_unseal(&cli, 1, 1));

    let deep = format!("{}{}", "[".repeat(400), "]".repeat(400));
    let body = json!({"policy": format!("path \"x\" {{ capabilities = {deep} }}")});
    assert!(
        body.to_string().len() < 1024,
        "the issue's example is under 1 KB"
    );
    let (status, answer) = call(&server, &root, "PUT", "sys/policies/acl/deep", body).await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"errors": ["failed to parse policy: line 1: policy is nested too deeply (limit 32)"]})
        ),
        "log:\n{}",
        server.log()
    );

    let (status, answer) = call(
        &server,
        &root,
        "POST",
        "sys/mounts/database",
        json!({"type": "database"}),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let policy = format!("length = 20\nx = {deep}\nrule \"charset\" {{ charset = \"ab\" }}\n");
    let config = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": "postgresql://h/d",
        "verify_connection": false,
        "password_policy": policy,
    });
    let (status, answer) = call(&server, &root, "PUT", "database/config/deep", config).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["errors"][0],
        "invalid password_policy: password_policy is nested too deeply (limit 32)"
    );

    // The same process still answers, unsealed, and still writes policies.
    let (status, health) = server.get_json("sys/health", &root).await;
    assert_eq!(
        (status, health["sealed"].clone()),
        (200, json!(false)),
        "{health}"
    );
    let fine = json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"});
    let (status, answer) = call(&server, &root, "PUT", "sys/policies/acl/fine", fine).await;
    assert_eq!(status, 204, "{answer}");
    let log = server.log();
    assert!(!log.contains("overflow"), "log:\n{log}");
    let exit = server.stop().await;
    assert!(exit.success(), "{exit:?}; log:\n{log}");
}
