//! `login`: what a successful login reports, every way a login is refused, the use count
//! under concurrency, and the re-check on renewal.

use std::sync::Arc;

use expect_test::expect;
use secrethub_engine::{Alias, LoginRenewal, Operation, TokenParams};
use serde_json::{json, Value};

use crate::harness::{err, render, Mount};

fn renewal(internal: Value) -> LoginRenewal {
    LoginRenewal {
        internal,
        alias: Alias::default(),
        metadata: Default::default(),
        token_policies: Vec::new(),
        remote_addr: None,
    }
}

#[tokio::test]
async fn login_reports_who_and_what_token() {
    let m = Mount::new();
    let role_id = m
        .role(
            "Web",
            json!({"token_policies": "web,db", "token_ttl": "1h", "token_bound_cidrs": "127.0.0.0/8"}),
        )
        .await;
    let (secret, _) = m
        .secret_id(
            "web",
            json!({"metadata": "{\"env\": \"prod\"}", "token_bound_cidrs": "127.0.0.1"}),
        )
        .await;
    assert!(m.engine.path_flags("login", Operation::Update).login);
    assert!(!m.engine.path_flags("role/web", Operation::Update).login);
    let resp = m.login(&role_id, &secret).await.expect("login");
    let auth = resp.auth.as_ref().expect("auth");
    assert_eq!(auth.alias.name, role_id);
    assert_eq!(
        auth.internal,
        json!({"role_name": "web", "role_id": role_id})
    );
    expect![[r#"
        {
          "alias": {
            "metadata": {
              "role_name": "web"
            },
            "name": "<role id>"
          },
          "display_name": "web",
          "metadata": {
            "env": "prod",
            "role_name": "web"
          },
          "token": {
            "token_bound_cidrs": [
              "127.0.0.1"
            ],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": [
              "web",
              "db"
            ],
            "token_ttl": 3600,
            "token_type": "default"
          }
        }"#]]
    .assert_eq(&render(Ok(resp)).replace(&role_id, "<role id>"));
}

#[tokio::test]
async fn forged_and_unknown_credentials_get_one_answer() {
    let m = Mount::new();
    let role_id = m.role("r", json!({})).await;
    let (secret, _) = m.secret_id("r", json!({})).await;
    let invalid = "BadRequest: invalid role or secret ID";
    assert_eq!(err(m.login(&role_id, "forged-secret-id").await), invalid);
    assert_eq!(err(m.login("unknown-role-id", &secret).await), invalid);
    assert_eq!(err(m.login(&secret, &role_id).await), invalid);
    // A secret ID of another role does not open this one.
    let other_id = m.role("other", json!({})).await;
    assert_eq!(err(m.login(&other_id, &secret).await), invalid);
    expect!["BadRequest: missing secret_id"].assert_eq(&err(m.login(&role_id, "").await));
    expect!["BadRequest: missing role_id"].assert_eq(&m.write("login", json!({})).await);
    // The genuine pair still works after all that.
    assert!(m.login(&role_id, &secret).await.is_ok());
}

#[tokio::test]
async fn a_used_up_secret_id_cannot_be_replayed() {
    let m = Mount::new();
    let role_id = m.role("r", json!({})).await;
    let (once, accessor) = m.secret_id("r", json!({"num_uses": 1})).await;
    assert!(m.login(&role_id, &once).await.is_ok());
    expect!["BadRequest: invalid role or secret ID"]
        .assert_eq(&err(m.login(&role_id, &once).await));
    // The used-up secret ID is deleted with its accessor.
    expect!["NotFound: not found"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await,
    );

    // With two uses, the count goes down and the last use deletes it.
    let (twice, _) = m.secret_id("r", json!({"num_uses": 2})).await;
    assert!(m.login(&role_id, &twice).await.is_ok());
    let d = m
        .data(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": twice}),
        )
        .await;
    assert_eq!(d["secret_id_num_uses"], 1);
    assert!(m.login(&role_id, &twice).await.is_ok());
    assert!(m.login(&role_id, &twice).await.is_err());

    // Unlimited uses stay.
    let (always, _) = m.secret_id("r", json!({})).await;
    for _ in 0..3 {
        assert!(m.login(&role_id, &always).await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_never_exceed_the_uses() {
    let m = Arc::new(Mount::new());
    let role_id = m.role("r", json!({})).await;
    let (secret, _) = m.secret_id("r", json!({"num_uses": 3})).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (m, role_id, secret) = (m.clone(), role_id.clone(), secret.clone());
        tasks.spawn(async move { m.login(&role_id, &secret).await.is_ok() });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += usize::from(r.expect("task"));
    }
    assert_eq!(ok, 3);
}

#[tokio::test]
async fn expired_secret_ids_are_refused_and_deleted() {
    let m = Mount::new();
    let role_id = m.role("r", json!({"secret_id_ttl": 60})).await;
    let (secret, accessor) = m.secret_id("r", json!({})).await;
    m.advance_secs(59);
    assert!(m.login(&role_id, &secret).await.is_ok());
    m.advance_secs(1);
    expect!["BadRequest: invalid role or secret ID"]
        .assert_eq(&err(m.login(&role_id, &secret).await));
    expect!["NotFound: not found"].assert_eq(
        &m.write(
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await,
    );
    assert!(!m
        .stored_keys()
        .await
        .iter()
        .any(|k| k.starts_with("secret-id/")));
}

#[tokio::test]
async fn addresses_outside_the_bindings_are_refused_without_spending_a_use() {
    let m = Mount::new();
    let role_id = m
        .role(
            "r",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": "10.1.0.0/16"}),
        )
        .await;
    let (secret, _) = m
        .secret_id("r", json!({"num_uses": 1, "cidr_list": "10.1.2.0/24"}))
        .await;
    expect!["BadRequest: source address unauthorized by the role's secret_id_bound_cidrs"]
        .assert_eq(&err(m.login_from(&role_id, &secret, "192.168.1.1").await));
    expect!["BadRequest: source address unauthorized by the secret ID's cidr_list"]
        .assert_eq(&err(m.login_from(&role_id, &secret, "10.1.3.1").await));
    // An address the token could not be used from: 403, as core answers.
    let (wide, _) = m.secret_id("r", json!({})).await;
    expect!["PermissionDenied: permission denied"]
        .assert_eq(&err(m.login_from(&role_id, &wide, "10.2.0.1").await));
    // None of the refusals used up the one-use secret ID.
    assert!(m.login_from(&role_id, &secret, "10.1.2.3").await.is_ok());
    // An IPv4-mapped IPv6 address counts as its IPv4 address.
    assert!(m
        .login_from(&role_id, &wide, "::ffff:10.1.9.9")
        .await
        .is_ok());
}

#[tokio::test]
async fn roles_without_a_secret_id_log_in_by_address() {
    let m = Mount::new();
    let role_id = m
        .role(
            "agent",
            json!({"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}),
        )
        .await;
    let resp = m.login_from(&role_id, "", "10.9.9.9").await.expect("login");
    assert_eq!(resp.auth.expect("auth").display_name, "agent");
    expect!["BadRequest: source address unauthorized by the role's secret_id_bound_cidrs"]
        .assert_eq(&err(m.login_from(&role_id, "", "11.0.0.1").await));
    expect!["BadRequest: invalid role or secret ID"]
        .assert_eq(&err(m.login_from("guess", "", "10.9.9.9").await));
}

#[tokio::test]
async fn login_role_names_the_role_of_a_role_id() {
    let m = Mount::new();
    let probe = |role_id: &str| {
        m.request_from(
            Operation::Update,
            "login",
            json!({"role_id": role_id}),
            None,
        )
    };
    // Before any role exists there is no key, and probing creates none.
    assert_eq!(m.engine.login_role(&probe("x")).await, None);
    assert!(m.stored_keys().await.is_empty());
    let role_id = m.role("Billing", json!({})).await;
    assert_eq!(
        m.engine.login_role(&probe(&role_id)).await.as_deref(),
        Some("billing")
    );
    assert_eq!(m.engine.login_role(&probe("unknown")).await, None);
}

#[tokio::test]
async fn renewal_follows_the_role() {
    let m = Mount::new();
    let role_id = m
        .role("r", json!({"token_policies": "a", "token_ttl": 60}))
        .await;
    let (secret, _) = m.secret_id("r", json!({})).await;
    let auth = m.login(&role_id, &secret).await.unwrap().auth.unwrap();
    let login = renewal(auth.internal.clone());

    // The renewal answers the role's current token parameters.
    m.ok("role/r/token-ttl", json!({"token_ttl": 120})).await;
    let params = m
        .engine
        .renew_login(&login, &m.storage)
        .await
        .expect("renew");
    assert_eq!(
        params,
        TokenParams {
            token_policies: vec!["a".into()],
            token_ttl: 120,
            ..Default::default()
        }
    );

    // A changed role ID stops renewals; changing it back lets them through again.
    m.ok("role/r/role-id", json!({"role_id": "rotated"})).await;
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    expect![[r#"the role ID of role "r" has changed, not renewing"#]].assert_eq(&e.to_string());
    m.ok("role/r/role-id", json!({"role_id": role_id})).await;
    assert!(m.engine.renew_login(&login, &m.storage).await.is_ok());

    m.delete("role/r").await;
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    expect![[r#"role "r" no longer exists, not renewing"#]].assert_eq(&e.to_string());
    // Data that is not ours is refused, not trusted.
    let e = m
        .engine
        .renew_login(&renewal(json!({"x": 1})), &m.storage)
        .await
        .unwrap_err();
    expect!["invalid approle login data"].assert_eq(&e.to_string());
}
