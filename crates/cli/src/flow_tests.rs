//! Command flows against a scripted responder: which requests a command sends, what it prints
//! and which exit code it ends with. End-to-end tests against a real server live with the lead.

use secrethub_client::testing::MockServer;
use secrethub_client::{Client, ClientConfig};
use secrethub_common::Sensitive;
use serde_json::{json, Value};

use super::*;

mod leases;

const PREFLIGHT_V2: &str = r#"{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}"#;
const PREFLIGHT_V1: &str = r#"{"data":{"path":"kv1/","type":"kv","options":null}}"#;

fn ctx(server: &MockServer, format: Format, env: Env) -> Ctx {
    let client = Client::new(ClientConfig {
        addr: server.addr.clone(),
        token: Some(Sensitive::new("test-token".to_string())),
        ..ClientConfig::default()
    })
    .expect("the mock address is valid");
    Ctx {
        client,
        format,
        env,
    }
}

/// Parses `args` like the binary would and runs the command, capturing stdout.
async fn run(ctx: &Ctx, args: &[&str]) -> (CmdResult, String) {
    let (result, out, _) = run_capturing_stderr(ctx, args).await;
    (result, out)
}

/// As [`run`], also returning what went to stderr (warnings, prompts).
async fn run_capturing_stderr(ctx: &Ctx, args: &[&str]) -> (CmdResult, String, String) {
    let argv = argv::normalize(
        std::iter::once("secrethub")
            .chain(args.iter().copied())
            .map(Into::into),
    );
    let cli = Cli::try_parse_from(argv).expect("test arguments parse");
    output::capture::start();
    let result = match cli.command {
        Command::Kv { command } => kv::run(ctx, command).await,
        Command::Read(args) => generic::read(ctx, args).await,
        Command::Write(args) => generic::write(ctx, args).await,
        Command::Status => operator::status(ctx).await,
        Command::Login(args) => login::run(ctx, args).await,
        Command::Token { command } => token::run(ctx, command).await,
        Command::Lease { command } => lease::run(ctx, command).await,
        _ => panic!("command not covered by this helper"),
    };
    (result, output::capture::take(), output::capture::take_err())
}

#[tokio::test]
async fn kv_put_v2_wraps_data_and_sends_cas() {
    let server = MockServer::start(vec![
        (200, PREFLIGHT_V2),
        (200, r#"{"data":{"created_time":"2024-05-01T10:00:00Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}}"#),
    ])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(
        &ctx,
        &["kv", "put", "-cas=0", "secret/app/db", "password=hunter2"],
    )
    .await;
    assert_eq!(result.unwrap(), 0);
    let preflight = server.next_request().await;
    assert_eq!(
        (preflight.method.as_str(), preflight.path.as_str()),
        ("GET", "/v1/sys/internal/ui/mounts/secret/app/db")
    );
    let put = server.next_request().await;
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/v1/secret/data/app/db")
    );
    let body: Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(
        body,
        json!({"data": {"password": "hunter2"}, "options": {"cas": 0}})
    );
    assert!(
        out.starts_with("=== Secret Path ===\nsecret/data/app/db\n\n======= Metadata =======\n"),
        "{out}"
    );
    assert!(out.contains("\nversion            1\n"), "{out}");
}

#[tokio::test]
async fn kv_get_field_prints_the_raw_value_and_version_goes_in_the_query() {
    let server = MockServer::start(vec![
        (200, PREFLIGHT_V2),
        (
            200,
            r#"{"data":{"data":{"password":"hunter2"},"metadata":{"version":2}}}"#,
        ),
    ])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(
        &ctx,
        &[
            "kv",
            "get",
            "-version=2",
            "-field=password",
            "-mount=secret",
            "app/db",
        ],
    )
    .await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "hunter2");
    assert_eq!(
        server.next_request().await.path,
        "/v1/sys/internal/ui/mounts/secret"
    );
    assert_eq!(
        server.next_request().await.path,
        "/v1/secret/data/app/db?version=2"
    );
}

#[tokio::test]
async fn kv_get_on_v1_reads_the_plain_path_and_missing_fields_fail_locally() {
    let server = MockServer::start(vec![
        (200, PREFLIGHT_V1),
        (200, r#"{"lease_duration":2764800,"data":{"a":"1"}}"#),
    ])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, _) = run(&ctx, &["kv", "get", "-field=nope", "kv1/app"]).await;
    let failure = result.unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (1, "Field \"nope\" not present in secret")
    );
    server.next_request().await;
    assert_eq!(server.next_request().await.path, "/v1/kv1/app");
}

#[tokio::test]
async fn read_of_a_missing_path_exits_2() {
    let server = MockServer::start(vec![(404, r#"{"errors":[]}"#)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["read", "secret/missing"]).await;
    let failure = result.unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (2, "No value found at secret/missing")
    );
    assert_eq!(out, "");
}

#[tokio::test]
async fn write_errors_are_prefixed_like_vault_and_exit_2() {
    let server = MockServer::start(vec![(403, r#"{"errors":["permission denied"]}"#)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, _) = run(&ctx, &["write", "secret/x", "a=1"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code, 2);
    assert_eq!(
        failure.message,
        format!(
            "Error writing data to secret/x: Error making API request.\n\nURL: PUT {}/v1/secret/x\nCode: 403. Errors:\n\n* permission denied",
            server.addr
        )
    );
    let (result, _) = run(&ctx, &["write", "secret/x"]).await;
    assert_eq!(
        result.unwrap_err().code,
        1,
        "no data and no -force is a local error"
    );
}

#[tokio::test]
async fn status_exits_2_when_sealed_and_1_when_unreachable() {
    let server = MockServer::start(vec![(
        200,
        r#"{"type":"shamir","initialized":true,"sealed":true,"t":1,"n":1,"progress":0}"#,
    )])
    .await;
    let ctx_sealed = ctx(&server, Format::Json, Env::default());
    let (result, out) = run(&ctx_sealed, &["status"]).await;
    assert_eq!(result.unwrap(), 2);
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (printed["sealed"].clone(), printed["ha_enabled"].clone()),
        (json!(true), json!(false))
    );
    let closed = Client::new(ClientConfig {
        addr: MockServer::closed_port_addr().await,
        ..ClientConfig::default()
    })
    .unwrap();
    let ctx_down = Ctx {
        client: closed,
        format: Format::Table,
        env: Env::default(),
    };
    let (result, _) = run(&ctx_down, &["status"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code, 1);
    assert!(
        failure
            .message
            .starts_with("Error checking seal status: Get \""),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn login_verifies_the_token_and_stores_it() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start(vec![(
        200,
        r#"{"data":{"accessor":"acc","policies":["root"],"ttl":0}}"#,
    )])
    .await;
    let env = Env::from_pairs(&[("HOME", home.path().to_str().unwrap())]);
    let ctx = ctx(&server, Format::Table, env);
    let (result, out) = run(&ctx, &["login", "hvs.new-token"]).await;
    assert_eq!(result.unwrap(), 0);
    let lookup = server.next_request().await;
    assert_eq!(lookup.path, "/v1/auth/token/lookup-self");
    assert_eq!(
        lookup.header("x-vault-token").as_deref(),
        Some("hvs.new-token"),
        "the new token is checked, not the old one"
    );
    let stored = std::fs::read_to_string(home.path().join(settings::TOKEN_HELPER_FILE)).unwrap();
    assert_eq!(stored, "hvs.new-token");
    assert!(
        out.contains("Success! You are now authenticated.")
            && out.contains("token_duration       ∞"),
        "{out}"
    );
}

#[tokio::test]
async fn token_create_sends_policies_and_prints_the_token_field() {
    let server = MockServer::start(vec![(200, r#"{"auth":{"client_token":"hvs.child","accessor":"a","policies":["default","dev"],"lease_duration":3600,"renewable":true}}"#)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(
        &ctx,
        &["token", "create", "-policy=dev", "-ttl=1h", "-field=token"],
    )
    .await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "hvs.child");
    let req = server.next_request().await;
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/auth/token/create")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"policies": ["dev"], "ttl": "1h", "renewable": true})
    );
}
