//! Issuing, listing, looking up and destroying secret IDs, by value and by accessor.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::{pretty, Mount};

#[tokio::test]
async fn issue_takes_the_role_defaults() {
    let m = Mount::new();
    m.role(
        "r",
        json!({"secret_id_ttl": "10m", "secret_id_num_uses": 5}),
    )
    .await;
    let d = m.ok("role/r/secret-id", json!({})).await;
    assert_eq!(d["secret_id"].as_str().unwrap().len(), 36);
    assert_eq!(d["secret_id_accessor"].as_str().unwrap().len(), 36);
    assert_ne!(d["secret_id"], d["secret_id_accessor"]);
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(600), json!(5))
    );

    // Lower limits are accepted, higher ones refused; zero takes the role's.
    let d = m
        .ok("role/r/secret-id", json!({"ttl": 60, "num_uses": 2}))
        .await;
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(60), json!(2))
    );
    let d = m
        .ok("role/r/secret-id", json!({"ttl": 0, "num_uses": 0}))
        .await;
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(600), json!(5))
    );
    expect!["BadRequest: ttl cannot be longer than the role's secret_id_ttl"]
        .assert_eq(&m.write("role/r/secret-id", json!({"ttl": "1h"})).await);
    expect!["BadRequest: num_uses cannot be higher than the role's secret_id_num_uses"]
        .assert_eq(&m.write("role/r/secret-id", json!({"num_uses": 6})).await);

    // Without role limits anything goes.
    m.role("free", json!({})).await;
    let d = m
        .ok(
            "role/free/secret-id",
            json!({"ttl": "24h", "num_uses": 100}),
        )
        .await;
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(86400), json!(100))
    );
}

#[tokio::test]
async fn issue_checks_cidrs_metadata_and_the_role() {
    let m = Mount::new();
    m.role(
        "r",
        json!({"secret_id_bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": ["192.168.0.0/16"]}),
    )
    .await;
    expect!["BadRequest: cidr_list must be a subset of the role's secret_id_bound_cidrs"]
        .assert_eq(
            &m.write("role/r/secret-id", json!({"cidr_list": "11.0.0.0/16"}))
                .await,
        );
    expect!["BadRequest: cidr_list must be a subset of the role's secret_id_bound_cidrs"]
        .assert_eq(
            &m.write("role/r/secret-id", json!({"cidr_list": "0.0.0.0/0"}))
                .await,
        );
    expect!["BadRequest: token_bound_cidrs must be a subset of the role's token_bound_cidrs"]
        .assert_eq(
            &m.write("role/r/secret-id", json!({"token_bound_cidrs": "10.0.0.1"}))
                .await,
        );
    expect![[r#"BadRequest: invalid cidr_list: invalid CIDR block "nope""#]].assert_eq(
        &m.write("role/r/secret-id", json!({"cidr_list": "nope"}))
            .await,
    );
    expect!["BadRequest: invalid metadata: expected a JSON object of strings"].assert_eq(
        &m.write("role/r/secret-id", json!({"metadata": "[1]"}))
            .await,
    );
    expect![[r#"BadRequest: invalid metadata: the value of "n" is not a string"#]].assert_eq(
        &m.write("role/r/secret-id", json!({"metadata": "{\"n\": 1}"}))
            .await,
    );

    let (_, accessor) = m
        .secret_id(
            "r",
            json!({
                "cidr_list": ["10.1.0.0/16"],
                "token_bound_cidrs": "192.168.1.0/24",
                "metadata": "{ \"tag1\": \"production\" }",
            }),
        )
        .await;
    let mut d = m
        .data(
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await;
    assert_eq!(d["secret_id_accessor"], accessor.as_str());
    d["secret_id_accessor"] = "<accessor>".into();
    expect![[r#"
        {
          "cidr_list": [
            "10.1.0.0/16"
          ],
          "creation_time": "2024-01-01T00:00:00.000000000Z",
          "expiration_time": "0001-01-01T00:00:00Z",
          "last_updated_time": "2024-01-01T00:00:00.000000000Z",
          "metadata": {
            "tag1": "production"
          },
          "secret_id_accessor": "<accessor>",
          "secret_id_num_uses": 0,
          "secret_id_ttl": 0,
          "token_bound_cidrs": [
            "192.168.1.0/24"
          ]
        }"#]]
    .assert_eq(&pretty(&d));

    expect![[r#"BadRequest: role "nope" does not exist"#]]
        .assert_eq(&m.write("role/nope/secret-id", json!({})).await);
    m.role(
        "cidr-only",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    expect![[r#"BadRequest: bind_secret_id is not set on role "cidr-only""#]]
        .assert_eq(&m.write("role/cidr-only/secret-id", json!({})).await);
}

#[tokio::test]
async fn list_lookup_and_destroy() {
    let m = Mount::new();
    let role_id = m
        .role("r", json!({"secret_id_ttl": 300, "secret_id_num_uses": 3}))
        .await;
    expect!["NotFound: not found"].assert_eq(&m.list("role/r/secret-id").await);
    let (s1, a1) = m.secret_id("r", json!({})).await;
    let (s2, a2) = m.secret_id("r", json!({})).await;
    let (_, a3) = m.secret_id("r", json!({})).await;

    let listed = m
        .data(Operation::List, "role/r/secret-id", Value::Null)
        .await;
    let mut want = vec![a1.clone(), a2.clone(), a3.clone()];
    want.sort();
    assert_eq!(listed["keys"], json!(want));

    m.advance_secs(10);
    let mut d = m
        .data(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": s1}),
        )
        .await;
    assert_eq!(d["secret_id_accessor"], a1.as_str());
    d["secret_id_accessor"] = "<accessor>".into();
    expect![[r#"
        {
          "cidr_list": [],
          "creation_time": "2024-01-01T00:00:00.000000000Z",
          "expiration_time": "2024-01-01T00:05:00.000000000Z",
          "last_updated_time": "2024-01-01T00:00:00.000000000Z",
          "metadata": {},
          "secret_id_accessor": "<accessor>",
          "secret_id_num_uses": 3,
          "secret_id_ttl": 300,
          "token_bound_cidrs": []
        }"#]]
    .assert_eq(&pretty(&d));
    // The lookup never shows the secret ID itself.
    assert!(d.get("secret_id").is_none());

    // Destroy by value, then by accessor; both are gone from lookups and the list.
    expect!["204"].assert_eq(
        &m.write("role/r/secret-id/destroy", json!({"secret_id": s1}))
            .await,
    );
    expect!["NotFound: not found"].assert_eq(
        &m.write("role/r/secret-id/lookup", json!({"secret_id": s1}))
            .await,
    );
    expect!["204"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/destroy",
            json!({"secret_id_accessor": a2}),
        )
        .await,
    );
    expect!["NotFound: not found"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": a2}),
        )
        .await,
    );
    expect!["NotFound: not found"].assert_eq(
        &m.write("role/r/secret-id/lookup", json!({"secret_id": s2}))
            .await,
    );
    let listed = m
        .data(Operation::List, "role/r/secret-id", Value::Null)
        .await;
    assert_eq!(listed["keys"], json!([a3]));
    assert!(m.login(&role_id, &s2).await.is_err());

    // DELETE works on the destroy paths too, and destroying twice is fine.
    let d = m
        .call(
            Operation::Delete,
            "role/r/secret-id-accessor/destroy",
            json!({"secret_id_accessor": a3}),
        )
        .await;
    assert!(d.is_ok());
    expect!["204"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/destroy",
            json!({"secret_id_accessor": a3}),
        )
        .await,
    );
    expect!["NotFound: not found"].assert_eq(&m.list("role/r/secret-id").await);

    // Bad input.
    expect!["BadRequest: missing secret_id"]
        .assert_eq(&m.write("role/r/secret-id/lookup", json!({})).await);
    expect!["BadRequest: invalid secret_id_accessor"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": "../x"}),
        )
        .await,
    );
    expect![[r#"BadRequest: role "zz" does not exist"#]]
        .assert_eq(&m.list("role/zz/secret-id").await);
}

#[tokio::test]
async fn custom_secret_ids() {
    let m = Mount::new();
    let role_id = m.role("r", json!({})).await;
    let d = m
        .ok(
            "role/r/custom-secret-id",
            json!({"secret_id": "pushed-secret-1", "num_uses": 2, "ttl": 600}),
        )
        .await;
    assert_eq!(d["secret_id"], "pushed-secret-1");
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(600), json!(2))
    );
    expect!["BadRequest: secret_id is already registered on the role"].assert_eq(
        &m.write(
            "role/r/custom-secret-id",
            json!({"secret_id": "pushed-secret-1"}),
        )
        .await,
    );
    expect!["BadRequest: missing secret_id"]
        .assert_eq(&m.write("role/r/custom-secret-id", json!({})).await);
    assert!(m.login(&role_id, "pushed-secret-1").await.is_ok());
}

#[tokio::test]
async fn secret_ids_are_never_stored_in_clear() {
    let m = Mount::new();
    let role_id = m.role("r", json!({"secret_id_num_uses": 5})).await;
    let (generated, accessor) = m
        .secret_id("r", json!({"metadata": "{\"k\": \"v\"}"}))
        .await;
    m.ok(
        "role/r/custom-secret-id",
        json!({"secret_id": "custom-secret-value-42"}),
    )
    .await;
    // A login rewrites the record (one use fewer): still no clear text.
    assert!(m.login(&role_id, &generated).await.is_ok());
    assert!(!m.storage_contains(&generated).await);
    assert!(!m.storage_contains("custom-secret-value-42").await);
    // The scan itself works: the accessor is stored (as a key) and so is the metadata.
    assert!(m.storage_contains(&accessor).await);
    assert!(m.storage_contains("\"k\":\"v\"").await);
}

#[tokio::test]
async fn deleting_a_role_removes_its_secret_ids() {
    let m = Mount::new();
    let role_id = m.role("r", json!({})).await;
    let (secret, _) = m.secret_id("r", json!({})).await;
    m.secret_id("r", json!({})).await;
    m.delete("role/r").await;
    assert_eq!(m.stored_keys().await, ["hmac-key"]);
    // A new role of the same name and role ID does not inherit them.
    m.role("r", json!({"role_id": role_id})).await;
    expect!["BadRequest: invalid role or secret ID"]
        .assert_eq(&crate::harness::err(m.login(&role_id, &secret).await));
}
