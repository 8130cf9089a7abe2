//! `lease lookup|renew|revoke|list` and `read` of a leased secret against the scripted
//! responder: the exact requests (Vault's wire shapes), the printed tables and messages, and
//! the exit codes.

use secrethub_client::testing::{MockServer, Recorded};
use serde_json::{json, Value};

use super::{ctx, run, run_capturing_stderr};
use crate::output::Format;
use crate::settings::Env;

const LEASE: &str = "database/creds/ro/3f2a";

fn method_path(req: &Recorded) -> (&str, &str) {
    (req.method.as_str(), req.path.as_str())
}

fn body(req: &Recorded) -> Value {
    serde_json::from_str(&req.body).expect("the CLI sends JSON bodies")
}

const LOOKUP_ANSWER: &str = r#"{"lease_id":"","lease_duration":0,"renewable":false,"data":{
    "id":"database/creds/ro/3f2a","issue_time":"2024-05-01T10:00:00Z",
    "expire_time":"2024-05-01T11:00:00Z","last_renewal":null,"renewable":true,"ttl":3599,
    "metadata":{"role":"ro"}},"warnings":null}"#;

#[tokio::test]
async fn lookup_puts_the_id_in_the_body_and_prints_the_lease_table() {
    let server = MockServer::start(vec![(200, LOOKUP_ANSWER)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "lookup", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    let req = server.next_request().await;
    assert_eq!(method_path(&req), ("PUT", "/v1/sys/leases/lookup"));
    assert_eq!(body(&req), json!({ "lease_id": LEASE }));
    let expected = "\
Key             Value
---             -----
expire_time     2024-05-01T11:00:00Z
id              database/creds/ro/3f2a
issue_time      2024-05-01T10:00:00Z
last_renewal    <nil>
metadata        map[role:ro]
renewable       true
ttl             59m59s
";
    assert_eq!(out, expected);
}

#[tokio::test]
async fn lookup_field_and_json_format() {
    let server = MockServer::start(vec![(200, LOOKUP_ANSWER)]).await;
    let table = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&table, &["lease", "lookup", "-field=expire_time", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "2024-05-01T11:00:00Z");
    let server = MockServer::start(vec![(200, LOOKUP_ANSWER)]).await;
    let json_ctx = ctx(&server, Format::Json, Env::default());
    let (result, out) = run(&json_ctx, &["lease", "lookup", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["data"]["ttl"], json!(3599));
    assert_eq!(printed["data"]["id"], json!(LEASE));
}

#[tokio::test]
async fn lookup_of_an_unknown_lease_exits_2_with_vaults_prefix() {
    let server = MockServer::start(vec![(400, r#"{"errors":["invalid lease"]}"#)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "lookup", "nope/1"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code, 2);
    assert!(
        failure
            .message
            .starts_with("error looking up lease id nope/1: Error making API request.")
            && failure.message.ends_with("* invalid lease"),
        "{}",
        failure.message
    );
    assert_eq!(out, "");
}

#[tokio::test]
async fn renew_sends_the_increment_in_seconds_and_prints_lease_rows_and_warnings() {
    let server = MockServer::start(vec![(
        200,
        r#"{"request_id":"r1","lease_id":"database/creds/ro/3f2a","lease_duration":1800,
            "renewable":true,"data":null,
            "warnings":["TTL of \"1h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly"]}"#,
    )])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out, err) =
        run_capturing_stderr(&ctx, &["lease", "renew", "-increment=1h", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    let req = server.next_request().await;
    assert_eq!(method_path(&req), ("PUT", "/v1/sys/leases/renew"));
    assert_eq!(body(&req), json!({ "lease_id": LEASE, "increment": 3600 }));
    let expected = "\
Key                Value
---                -----
lease_id           database/creds/ro/3f2a
lease_duration     30m
lease_renewable    true
";
    assert_eq!(out, expected);
    assert_eq!(
        err,
        "WARNING! The following warnings were returned from the server:\n\n\
         \x20 * TTL of \"1h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly\n\n"
    );
}

#[tokio::test]
async fn renew_without_increment_sends_zero_and_a_bad_increment_sends_nothing() {
    let server = MockServer::start(vec![(
        200,
        r#"{"lease_id":"database/creds/ro/3f2a","lease_duration":3600,"renewable":true,"data":{}}"#,
    )])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "renew", "-field=lease_duration", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "3600");
    assert_eq!(
        body(&server.next_request().await),
        json!({ "lease_id": LEASE, "increment": 0 })
    );
    let (result, _) = run(&ctx, &["lease", "renew", "-increment=soon", LEASE]).await;
    let failure = result.unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (1, "Invalid -increment: invalid duration \"soon\"")
    );
    assert_eq!(server.request_count(), 1, "a local error sends no request");
}

#[tokio::test]
async fn revoke_one_lease_queued_or_sync() {
    let server = MockServer::start(vec![(204, ""), (204, "")]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "revoke", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "All revocation operations queued successfully!\n");
    let req = server.next_request().await;
    assert_eq!(method_path(&req), ("PUT", "/v1/sys/leases/revoke"));
    assert_eq!(body(&req), json!({ "lease_id": LEASE, "sync": false }));

    let (result, out) = run(&ctx, &["lease", "revoke", "-sync=true", LEASE]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, format!("Success! Revoked lease: {LEASE}\n"));
    assert_eq!(
        body(&server.next_request().await),
        json!({ "lease_id": LEASE, "sync": true })
    );
}

#[tokio::test]
async fn revoke_prefix_and_force() {
    let server = MockServer::start(vec![(204, ""), (204, ""), (204, "")]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "revoke", "-prefix", "database/creds/ro"]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "All revocation operations queued successfully!\n");
    let req = server.next_request().await;
    assert_eq!(
        method_path(&req),
        ("PUT", "/v1/sys/leases/revoke-prefix/database/creds/ro")
    );
    assert_eq!(body(&req), json!({ "sync": false }));

    let (result, out) = run(
        &ctx,
        &["lease", "revoke", "-prefix", "-sync", "database/creds/"],
    )
    .await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(
        out,
        "Success! Revoked any leases with prefix: database/creds/\n"
    );
    let req = server.next_request().await;
    assert_eq!(req.path, "/v1/sys/leases/revoke-prefix/database/creds/");
    assert_eq!(body(&req), json!({ "sync": true }));

    let (result, out, err) = run_capturing_stderr(
        &ctx,
        &["lease", "revoke", "-force", "-prefix", "database/creds/ro"],
    )
    .await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(
        out,
        "Success! Force revoked any leases with prefix: database/creds/ro\n"
    );
    assert!(err.starts_with("Warning! Force-removing leases"), "{err}");
    let req = server.next_request().await;
    assert_eq!(
        method_path(&req),
        ("PUT", "/v1/sys/leases/revoke-force/database/creds/ro")
    );
    assert_eq!(
        req.body, "",
        "force revocation sends no body, as Vault's client"
    );
}

#[tokio::test]
async fn revoke_force_needs_prefix_and_api_errors_exit_2() {
    let server = MockServer::start(vec![(403, r#"{"errors":["permission denied"]}"#)]).await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, _) = run(&ctx, &["lease", "revoke", "-f", LEASE]).await;
    let failure = result.unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (1, "Specifying -force requires also specifying -prefix")
    );
    assert_eq!(server.request_count(), 0);

    let (result, out) = run(&ctx, &["lease", "revoke", "-prefix", "database/"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code, 2);
    assert_eq!(
        failure.message,
        format!(
            "Error revoking leases with prefix database/: Error making API request.\n\nURL: PUT {}/v1/sys/leases/revoke-prefix/database/\nCode: 403. Errors:\n\n* permission denied",
            server.addr
        )
    );
    assert_eq!(out, "");
}

#[tokio::test]
async fn list_lists_lookup_under_the_prefix() {
    let server = MockServer::start(vec![
        (200, r#"{"data":{"keys":["b2","a1"]}}"#),
        (404, r#"{"errors":[]}"#),
    ])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["lease", "list", "database/creds/ro/"]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "Keys\n----\na1\nb2\n");
    let req = server.next_request().await;
    assert_eq!(
        method_path(&req),
        ("LIST", "/v1/sys/leases/lookup/database/creds/ro/")
    );
    let (result, _) = run(&ctx, &["lease", "list", "database/creds/none"]).await;
    let failure = result.unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (
            2,
            "No value found at sys/leases/lookup/database/creds/none/"
        )
    );
}

#[tokio::test]
async fn read_of_a_leased_secret_sends_query_args_and_prints_lease_rows_first() {
    let server = MockServer::start(vec![(
        200,
        r#"{"request_id":"r1","lease_id":"database/creds/ro/3f2a","lease_duration":3600,
            "renewable":true,"data":{"username":"v-ro-3f2a","password":"A1a-secret"},
            "warnings":null,"auth":null}"#,
    )])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["read", "database/creds/ro", "ttl=1h"]).await;
    assert_eq!(result.unwrap(), 0);
    let req = server.next_request().await;
    assert_eq!(method_path(&req), ("GET", "/v1/database/creds/ro?ttl=1h"));
    assert_eq!(req.body, "");
    let expected = "\
Key                Value
---                -----
lease_id           database/creds/ro/3f2a
lease_duration     1h
lease_renewable    true
password           A1a-secret
username           v-ro-3f2a
";
    assert_eq!(out, expected);
}

#[tokio::test]
async fn read_field_gives_lease_fields_and_bad_args_fail_locally() {
    let server = MockServer::start(vec![(
        200,
        r#"{"lease_id":"database/creds/ro/3f2a","lease_duration":3600,"renewable":true,"data":{"username":"u"}}"#,
    )])
    .await;
    let ctx = ctx(&server, Format::Table, Env::default());
    let (result, out) = run(&ctx, &["read", "-field=lease_id", "database/creds/ro"]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, LEASE);
    assert_eq!(
        server.next_request().await.path,
        "/v1/database/creds/ro",
        "no arguments, no query string"
    );
    let (result, _) = run(&ctx, &["read", "database/creds/ro", "novalue"]).await;
    assert_eq!(result.unwrap_err().code, 1);
    assert_eq!(server.request_count(), 1);
}
