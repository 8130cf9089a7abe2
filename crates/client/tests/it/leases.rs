//! `sys/leases/*` helpers and `read_with_query`: the exact requests they send, which mirror
//! Vault's client so the same calls work against Vault.

use std::time::Duration;

use secrethub_client::testing::{MockServer, Recorded};
use secrethub_client::RevokeTarget;
use serde_json::{json, Value};

use super::client;

fn body(req: &Recorded) -> Value {
    serde_json::from_str(&req.body).expect("the client sends JSON bodies")
}

#[tokio::test]
async fn lookup_and_renew_put_the_lease_id_in_the_body() {
    let server = MockServer::start(vec![
        (200, r#"{"data":{"id":"database/creds/ro/a1","ttl":60}}"#),
        (
            200,
            r#"{"lease_id":"database/creds/ro/a1","lease_duration":3600,"renewable":true,"data":null}"#,
        ),
    ])
    .await;
    let c = client(&server.addr, Some("tok"));
    let found = c
        .lease_lookup("database/creds/ro/a1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found["data"]["ttl"], json!(60));
    let renewed = c
        .lease_renew("database/creds/ro/a1", Duration::from_secs(5400))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed["lease_duration"], json!(3600));

    let lookup = server.next_request().await;
    assert_eq!(
        (lookup.method.as_str(), lookup.path.as_str()),
        ("PUT", "/v1/sys/leases/lookup")
    );
    assert_eq!(body(&lookup), json!({"lease_id": "database/creds/ro/a1"}));
    let renew = server.next_request().await;
    assert_eq!(
        (renew.method.as_str(), renew.path.as_str()),
        ("PUT", "/v1/sys/leases/renew")
    );
    assert_eq!(
        body(&renew),
        json!({"lease_id": "database/creds/ro/a1", "increment": 5400})
    );
}

#[tokio::test]
async fn revoke_targets_pick_the_endpoint_and_force_sends_no_body() {
    let server = MockServer::start(vec![(204, ""), (204, ""), (204, "")]).await;
    let c = client(&server.addr, Some("tok"));
    c.lease_revoke(RevokeTarget::Lease("database/creds/ro/a1"), false)
        .await
        .unwrap();
    c.lease_revoke(RevokeTarget::Prefix(" /database/creds/"), true)
        .await
        .unwrap();
    c.lease_revoke(RevokeTarget::ForcePrefix("database/creds/ro"), true)
        .await
        .unwrap();

    let one = server.next_request().await;
    assert_eq!(
        (one.method.as_str(), one.path.as_str()),
        ("PUT", "/v1/sys/leases/revoke")
    );
    assert_eq!(
        body(&one),
        json!({"lease_id": "database/creds/ro/a1", "sync": false})
    );
    let prefix = server.next_request().await;
    assert_eq!(prefix.path, "/v1/sys/leases/revoke-prefix/database/creds/");
    assert_eq!(body(&prefix), json!({"sync": true}));
    let force = server.next_request().await;
    assert_eq!(force.path, "/v1/sys/leases/revoke-force/database/creds/ro");
    assert_eq!(force.body, "");
}

#[tokio::test]
async fn lease_list_lists_under_the_prefix_and_404_is_none() {
    let server = MockServer::start(vec![
        (200, r#"{"data":{"keys":["a1","a2"]}}"#),
        (404, r#"{"errors":[]}"#),
    ])
    .await;
    let c = client(&server.addr, Some("tok"));
    let keys = c.lease_list("database/creds/ro").await.unwrap().unwrap();
    assert_eq!(keys["data"]["keys"], json!(["a1", "a2"]));
    assert_eq!(c.lease_list("").await.unwrap(), None);
    let first = server.next_request().await;
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("LIST", "/v1/sys/leases/lookup/database/creds/ro/")
    );
    assert_eq!(server.next_request().await.path, "/v1/sys/leases/lookup/");
}

#[tokio::test]
async fn read_with_query_sends_the_pairs_in_the_query_string() {
    let server = MockServer::start(vec![(200, r#"{"data":{}}"#), (200, r#"{"data":{}}"#)]).await;
    let c = client(&server.addr, Some("tok"));
    let query = vec![
        ("ttl".to_string(), "1h".to_string()),
        ("note".to_string(), "a b/c".to_string()),
    ];
    c.read_with_query("database/creds/ro", &query)
        .await
        .unwrap();
    c.read_with_query("secret/data/x?version=2", &query[..1])
        .await
        .unwrap();
    let first = server.next_request().await;
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/v1/database/creds/ro?ttl=1h&note=a+b%2Fc")
    );
    assert_eq!(first.body, "");
    assert_eq!(
        server.next_request().await.path,
        "/v1/secret/data/x?version=2&ttl=1h"
    );
}
