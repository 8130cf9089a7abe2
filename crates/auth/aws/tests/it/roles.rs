//! `role/:name`, `config/client` and `config/identity`: no AWS needed.

use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::{err, Mount};

#[tokio::test]
async fn roles_round_trip_lower_cased_and_list() {
    let m = Mount::new();
    assert_eq!(
        m.engine
            .exists(&m.request(Operation::Update, "role/Dev", Value::Null))
            .await
            .unwrap(),
        Some(false)
    );
    let warnings = m
        .write(
            "role/Dev",
            json!({
                "auth_type": "iam",
                "bound_iam_principal_arn": ["arn:aws:iam::123456789012:role/dev", "arn:aws:iam::123456789012:user/ci-*"],
                "token_policies": "b,a",
                "ttl": "30m",
                "max_ttl": 7200,
            }),
        )
        .await;
    assert!(warnings.is_empty());
    assert_eq!(
        m.engine
            .exists(&m.request(Operation::Update, "role/dev", Value::Null))
            .await
            .unwrap(),
        Some(true)
    );

    let data = m.read("role/DEV").await;
    assert_eq!(data["auth_type"], "iam");
    assert_eq!(
        data["bound_iam_principal_arn"],
        json!([
            "arn:aws:iam::123456789012:role/dev",
            "arn:aws:iam::123456789012:user/ci-*"
        ])
    );
    assert_eq!(data["resolve_aws_unique_ids"], false);
    // Policies are shown as given, as Vault does (core normalises them at login).
    assert_eq!(data["token_policies"], json!(["b", "a"]));
    assert_eq!(data["token_ttl"], 1800);
    assert_eq!(data["token_max_ttl"], 7200);
    let role_id = data["role_id"].as_str().unwrap().to_string();
    assert_eq!(role_id.len(), 36);

    // An update keeps what it does not name, including the role ID.
    m.write("role/dev", json!({"token_ttl": 60})).await;
    let data = m.read("role/dev").await;
    assert_eq!(data["token_ttl"], 60);
    assert_eq!(data["role_id"], role_id.as_str());
    assert_eq!(data["bound_iam_principal_arn"].as_array().unwrap().len(), 2);

    m.write(
        "role/ops",
        json!({"bound_iam_principal_arn": "arn:aws:iam::123456789012:*"}),
    )
    .await;
    for path in ["role", "roles"] {
        let r = m.call(Operation::List, path, Value::Null).await.unwrap();
        assert_eq!(r.data.unwrap()["keys"], json!(["dev", "ops"]));
    }
    m.call(Operation::Delete, "role/DEV", Value::Null)
        .await
        .unwrap();
    assert_eq!(
        err(m.call(Operation::Read, "role/dev", Value::Null).await),
        "NotFound: not found"
    );
}

#[tokio::test]
async fn role_input_is_checked() {
    let m = Mount::new();
    let arn = "arn:aws:iam::123456789012:role/x";
    let cases = [
        (
            json!({"auth_type": "ec2", "bound_iam_principal_arn": arn}),
            "BadRequest: auth_type \"ec2\" is not supported: only iam is",
        ),
        (
            json!({"auth_type": "saml", "bound_iam_principal_arn": arn}),
            "BadRequest: invalid auth_type \"saml\": only iam is supported",
        ),
        (
            json!({}),
            "BadRequest: bound_iam_principal_arn is required: at least one IAM principal ARN must be bound",
        ),
        (
            json!({"bound_iam_principal_arn": "arn:aws:iam::*:role/x"}),
            "BadRequest: invalid bound_iam_principal_arn \"arn:aws:iam::*:role/x\": a wildcard is only allowed at the end",
        ),
        (
            json!({"bound_iam_principal_arn": "*"}),
            "BadRequest: invalid bound_iam_principal_arn \"*\": expected an ARN such as arn:aws:iam::123456789012:role/name",
        ),
        (
            json!({"bound_iam_principal_arn": arn, "bound_ami_id": "ami-1"}),
            "BadRequest: bound_ami_id is only supported with the ec2 auth type, which SecretHub does not support",
        ),
        (
            json!({"bound_iam_principal_arn": arn, "inferred_entity_type": "ec2_instance"}),
            "BadRequest: inferred_entity_type is not supported: SecretHub does not infer EC2 instances",
        ),
        (
            json!({"bound_iam_principal_arn": arn, "token_type": "weird"}),
            "BadRequest: invalid token_type: \"weird\" (expected service, batch or default)",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            err(m.call(Operation::Update, "role/r", body.clone()).await),
            want,
            "{body}"
        );
    }
    assert_eq!(
        err(m.call(Operation::Read, "role/r", Value::Null).await),
        "NotFound: not found"
    );

    let warnings = m
        .write(
            "role/r",
            json!({"bound_iam_principal_arn": arn, "resolve_aws_unique_ids": true}),
        )
        .await;
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].starts_with("resolve_aws_unique_ids is not supported"));
    m.write("role/r", json!({"resolve_aws_unique_ids": false}))
        .await;
}

#[tokio::test]
async fn client_config_never_returns_the_secret_key() {
    let m = Mount::new();
    assert_eq!(
        err(m.call(Operation::Read, "config/client", Value::Null).await),
        "NotFound: not found"
    );
    assert_eq!(
        m.engine
            .exists(&m.request(Operation::Update, "config/client", Value::Null))
            .await
            .unwrap(),
        Some(false)
    );
    m.write(
        "config/client",
        json!({
            "access_key": "AKIAEXAMPLE",
            "secret_key": "very-secret-value",
            "sts_endpoint": "https://sts.eu-west-1.amazonaws.com",
            "sts_region": "eu-west-1",
            "iam_server_id_header_value": "vault.example.com",
            "max_retries": "5",
        }),
    )
    .await;
    let data = m.read("config/client").await;
    assert_eq!(
        Value::Object(data.clone()),
        json!({
            "access_key": "AKIAEXAMPLE",
            "endpoint": "",
            "iam_endpoint": "",
            "sts_endpoint": "https://sts.eu-west-1.amazonaws.com",
            "sts_region": "eu-west-1",
            "iam_server_id_header_value": "vault.example.com",
            "allowed_sts_header_values": [],
            "max_retries": 5,
            "use_sts_region_from_client": false,
        })
    );
    assert!(!format!("{data:?}").contains("very-secret-value"));

    // Updates keep other fields.
    m.write("config/client", json!({"iam_server_id_header_value": ""}))
        .await;
    let data = m.read("config/client").await;
    assert_eq!(data["iam_server_id_header_value"], "");
    assert_eq!(data["sts_region"], "eu-west-1");

    for (body, want) in [
        (
            json!({"sts_endpoint": "sts.amazonaws.com"}),
            "BadRequest: invalid sts_endpoint: \"sts.amazonaws.com\" is not an http or https URL",
        ),
        (
            json!({"max_retries": -2}),
            "BadRequest: invalid max_retries: must be between -1 and 100",
        ),
        (
            json!({"sts_region": "us east"}),
            "BadRequest: invalid sts_region: \"us east\" is not a region name",
        ),
    ] {
        assert_eq!(
            err(m
                .call(Operation::Update, "config/client", body.clone())
                .await),
            want,
            "{body}"
        );
    }

    m.call(Operation::Delete, "config/client", Value::Null)
        .await
        .unwrap();
    assert_eq!(
        err(m.call(Operation::Read, "config/client", Value::Null).await),
        "NotFound: not found"
    );
}

#[tokio::test]
async fn identity_config_has_vault_defaults() {
    let m = Mount::new();
    assert_eq!(
        Value::Object(m.read("config/identity").await),
        json!({
            "iam_alias": "role_id",
            "iam_metadata": ["account_id", "auth_type"],
            "ec2_alias": "role_id",
            "ec2_metadata": ["account_id", "auth_type"],
        })
    );
    m.write(
        "config/identity",
        json!({"iam_alias": "canonical_arn", "iam_metadata": ["default", "client_arn"]}),
    )
    .await;
    let data = m.read("config/identity").await;
    assert_eq!(data["iam_alias"], "canonical_arn");
    assert_eq!(
        data["iam_metadata"],
        json!(["account_id", "auth_type", "client_arn"])
    );
    assert_eq!(
        err(m.call(Operation::Update, "config/identity", json!({"iam_alias": "instance_id"})).await),
        "BadRequest: invalid iam_alias: \"instance_id\" (expected role_id, unique_id, full_arn or canonical_arn)"
    );
    assert!(err(m
        .call(
            Operation::Update,
            "config/identity",
            json!({"iam_metadata": "nope"})
        )
        .await)
    .starts_with("BadRequest: invalid iam_metadata: \"nope\" is not one of default,"));
}

#[tokio::test]
async fn login_is_the_only_login_path_and_checks_its_fields() {
    let m = Mount::new();
    assert!(m.engine.path_flags("login", Operation::Update).login);
    assert!(!m.engine.path_flags("role/x", Operation::Update).login);
    let req = m.request(Operation::Update, "login", json!({"role": "Dev"}));
    assert_eq!(m.engine.login_role(&req).await.as_deref(), Some("dev"));

    let cases = [
        (json!({}), "BadRequest: missing iam_http_request_method"),
        (
            json!({"pkcs7": "x"}),
            "BadRequest: ec2 logins are not supported: use the iam login type",
        ),
        (
            json!({"iam_http_request_method": "POST"}),
            "BadRequest: missing iam_request_url",
        ),
        (
            json!({"iam_http_request_method": "POST", "iam_request_url": "%%%"}),
            "BadRequest: invalid iam_request_url: not valid base64",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            err(m.call(Operation::Update, "login", body.clone()).await),
            want,
            "{body}"
        );
    }
    assert_eq!(
        err(m.call(Operation::Read, "login", Value::Null).await),
        "UnsupportedOperation: unsupported operation"
    );
}
