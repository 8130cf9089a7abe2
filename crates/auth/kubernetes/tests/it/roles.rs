//! `role/:name` and LIST `role`: required bindings, partial updates, token fields and
//! refused inputs.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::Mount;

#[tokio::test]
async fn create_read_update_list_delete() {
    let m = Mount::new();
    assert_eq!(m.exists("role/app").await, Some(false));
    assert_eq!(
        m.send(Operation::List, "role", Value::Null).await,
        "NotFound: not found"
    );
    m.ok(
        "role/app",
        json!({
            "bound_service_account_names": "web, api-*",
            "bound_service_account_namespaces": ["prod"],
            "token_policies": ["App-Read", "db"],
            "ttl": "1h",
            "token_max_ttl": 7200,
        }),
    )
    .await;
    assert_eq!(m.exists("role/app").await, Some(true));
    expect![[r#"
        {
          "alias_name_source": "serviceaccount_uid",
          "audience": "",
          "bound_service_account_names": [
            "web",
            "api-*"
          ],
          "bound_service_account_namespace_selector": "",
          "bound_service_account_namespaces": [
            "prod"
          ],
          "token_bound_cidrs": [],
          "token_explicit_max_ttl": 0,
          "token_max_ttl": 7200,
          "token_no_default_policy": false,
          "token_num_uses": 0,
          "token_period": 0,
          "token_policies": [
            "App-Read",
            "db"
          ],
          "token_ttl": 3600,
          "token_type": "default",
          "ttl": 3600
        }"#]]
    .assert_eq(&m.read("role/app").await);

    // An update changes only what it names.
    m.ok(
        "role/app",
        json!({"audience": "vault", "alias_name_source": "serviceaccount_name"}),
    )
    .await;
    let read: Value = serde_json::from_str(&m.read("role/app").await).expect("json");
    assert_eq!(read["audience"], "vault");
    assert_eq!(read["alias_name_source"], "serviceaccount_name");
    assert_eq!(read["bound_service_account_names"], json!(["web", "api-*"]));
    assert_eq!(read["token_ttl"], 3600);

    m.ok(
        "role/batch",
        json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "jobs"}),
    )
    .await;
    expect![[r#"
        {
          "keys": [
            "app",
            "batch"
          ]
        }"#]]
    .assert_eq(&m.send(Operation::List, "role", Value::Null).await);

    assert_eq!(
        m.send(Operation::Delete, "role/app", Value::Null).await,
        "204"
    );
    assert_eq!(m.read("role/app").await, "NotFound: not found");
    // Deleting again is fine.
    assert_eq!(
        m.send(Operation::Delete, "role/app", Value::Null).await,
        "204"
    );
}

#[tokio::test]
async fn bad_roles_are_refused_by_name() {
    let m = Mount::new();
    let both = json!({"bound_service_account_names": ["web"], "bound_service_account_namespaces": ["prod"]});
    let with = |extra: Value| {
        let mut b = both.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            json!({"bound_service_account_namespaces": ["prod"]}),
            "BadRequest: bound_service_account_names is required",
        ),
        (
            json!({"bound_service_account_names": ["web"]}),
            "BadRequest: bound_service_account_namespaces is required",
        ),
        (
            json!({"bound_service_account_names": "*", "bound_service_account_namespaces": ["*"]}),
            r#"BadRequest: bound_service_account_names and bound_service_account_namespaces can not both be "*""#,
        ),
        (
            with(json!({"alias_name_source": "serviceaccount_email"})),
            "BadRequest: invalid alias_name_source: expected serviceaccount_uid or serviceaccount_name",
        ),
        (
            with(json!({"bound_service_account_names": {"a": 1}})),
            "BadRequest: invalid bound_service_account_names: expected a list or a comma-separated string, got an object",
        ),
        (
            with(json!({"bound_service_account_namespace_selector": "{\"matchLabels\":{\"a\":\"b\"}}"})),
            "BadRequest: invalid bound_service_account_namespace_selector: namespace selectors \
             are not supported; list the namespaces instead",
        ),
        (
            with(json!({"token_ttl": "2h", "token_max_ttl": "1h"})),
            "BadRequest: token_ttl cannot be greater than token_max_ttl",
        ),
        (
            with(json!({"token_type": "weird"})),
            r#"BadRequest: invalid token_type: "weird" (expected service, batch or default)"#,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(m.write("role/app", body.clone()).await, want, "{body}");
    }
    assert_eq!(m.read("role/app").await, "NotFound: not found");
    assert_eq!(
        m.write("role/..", both.clone()).await,
        "BadRequest: invalid role name"
    );

    // A refused update leaves the stored role as it was.
    m.ok("role/app", both).await;
    assert_eq!(
        m.write("role/app", json!({"bound_service_account_names": []}))
            .await,
        "BadRequest: bound_service_account_names is required"
    );
    let read: Value = serde_json::from_str(&m.read("role/app").await).expect("json");
    assert_eq!(read["bound_service_account_names"], json!(["web"]));
}

#[tokio::test]
async fn older_token_field_names_are_shown_while_in_use() {
    let m = Mount::new();
    // Written through Vault's older names, a role shows them next to the token_* fields, as
    // OpenBao does (hvac users read `role['policies']`).
    m.ok(
        "role/app",
        json!({
            "bound_service_account_names": "web",
            "bound_service_account_namespaces": "prod",
            "policies": "a,b", "ttl": "1h", "max_ttl": "2h", "period": "30m",
            "num_uses": 3, "bound_cidrs": ["127.0.0.1/32", "10.0.0.0/8"],
        }),
    )
    .await;
    let read: Value = serde_json::from_str(&m.read("role/app").await).expect("json");
    let legacy = |read: &Value| {
        [
            "policies",
            "ttl",
            "max_ttl",
            "period",
            "num_uses",
            "bound_cidrs",
        ]
        .map(|k| read.get(k).cloned().unwrap_or(Value::Null))
    };
    assert_eq!(
        legacy(&read),
        [
            json!(["a", "b"]),
            json!(3600),
            json!(7200),
            json!(1800),
            json!(3),
            json!(["127.0.0.1", "10.0.0.0/8"])
        ]
    );
    // Written through the token_* name, the older one goes; an older name set to nothing is
    // not shown either.
    m.ok("role/app", json!({"token_ttl": "5m", "policies": ""}))
        .await;
    let read: Value = serde_json::from_str(&m.read("role/app").await).expect("json");
    assert_eq!(read["token_ttl"], 300);
    assert_eq!(
        legacy(&read),
        [
            Value::Null,
            Value::Null,
            json!(7200),
            json!(1800),
            json!(3),
            json!(["127.0.0.1", "10.0.0.0/8"])
        ]
    );
}
