//! `login/:name`: what a successful login reports, one answer (and one argon2 verification)
//! for a wrong user and a wrong password, bound CIDRs, and the re-check on renewal.

use expect_test::expect;
use secrethub_engine::{Alias, Engine, LoginRenewal, Operation, TokenParams};
use serde_json::{json, Value};

use crate::harness::{render, Mount};

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
    m.write(
        "users/alice",
        json!({"password": "pw-alice", "token_policies": "dev", "token_ttl": 600}),
    )
    .await;
    assert!(m.engine.path_flags("login/alice", Operation::Update).login);
    assert!(!m.engine.path_flags("login", Operation::Update).login);
    assert!(!m.engine.path_flags("login/a/b", Operation::Update).login);
    assert!(!m.engine.path_flags("users/alice", Operation::Update).login);
    // The username of the path is case-insensitive.
    expect![[r#"
        {
          "alias": {
            "metadata": {},
            "name": "alice"
          },
          "display_name": "alice",
          "internal": {
            "username": "alice"
          },
          "metadata": {
            "username": "alice"
          },
          "token": {
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": [
              "dev"
            ],
            "token_ttl": 600,
            "token_type": "default"
          }
        }"#]]
    .assert_eq(&render(m.login("Alice", "pw-alice").await));
}

#[tokio::test]
async fn wrong_user_and_wrong_password_look_the_same() {
    let m = Mount::new();
    m.write("users/bob", json!({"password": "pw-bob"})).await;
    let before = m.engine.password_verifications();

    let wrong_password = render(m.login("bob", "not-it").await);
    assert_eq!(m.engine.password_verifications(), before + 1);
    let wrong_user = render(m.login("nobody", "pw-bob").await);
    // The unknown user costs one argon2 verification too (against the dummy hash).
    assert_eq!(m.engine.password_verifications(), before + 2);
    let impossible_user = render(m.login(".bad.", "pw-bob").await);
    assert_eq!(m.engine.password_verifications(), before + 3);

    expect!["BadRequest: invalid username or password"].assert_eq(&wrong_password);
    assert_eq!(wrong_user, wrong_password);
    assert_eq!(impossible_user, wrong_password);
    // A missing password is refused before any work.
    let req = m.request_from(Operation::Update, "login/bob", json!({}), None);
    expect!["BadRequest: missing password"].assert_eq(&render(m.engine.handle(req).await));
    assert_eq!(m.engine.password_verifications(), before + 3);
}

#[tokio::test]
async fn bound_cidrs_are_checked_after_the_password() {
    let m = Mount::new();
    m.write(
        "users/carol",
        json!({"password": "pw-carol", "token_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    assert!(m.login_from("carol", "pw-carol", "10.2.3.4").await.is_ok());
    expect!["PermissionDenied: permission denied"].assert_eq(&render(
        m.login_from("carol", "pw-carol", "192.168.0.1").await,
    ));
    // From outside, a wrong password still answers as a wrong password.
    expect!["BadRequest: invalid username or password"]
        .assert_eq(&render(m.login_from("carol", "nope", "192.168.0.1").await));
}

#[tokio::test]
async fn login_role_is_the_username() {
    let m = Mount::new();
    let req = m.request_from(
        Operation::Update,
        "login/Dave",
        json!({"password": "x"}),
        None,
    );
    assert_eq!(m.engine.login_role(&req).await.as_deref(), Some("dave"));
    let req = m.request_from(Operation::Update, "users/dave", Value::Null, None);
    assert_eq!(m.engine.login_role(&req).await, None);
}

#[tokio::test]
async fn renewal_follows_the_user() {
    let m = Mount::new();
    m.write(
        "users/erin",
        json!({"password": "pw-erin", "token_policies": "a"}),
    )
    .await;
    let auth = m.login("erin", "pw-erin").await.unwrap().auth.unwrap();
    let login = renewal(auth.internal.clone());

    m.write("users/erin", json!({"token_ttl": 90})).await;
    let params = m
        .engine
        .renew_login(&login, &m.storage)
        .await
        .expect("renew");
    assert_eq!(
        params,
        TokenParams {
            token_policies: vec!["a".into()],
            token_ttl: 90,
            ..Default::default()
        }
    );

    m.delete("users/erin").await;
    let e = m.engine.renew_login(&login, &m.storage).await.unwrap_err();
    expect![[r#"user "erin" no longer exists, not renewing"#]].assert_eq(&e.to_string());
    let e = m
        .engine
        .renew_login(&renewal(json!(5)), &m.storage)
        .await
        .unwrap_err();
    expect!["invalid userpass login data"].assert_eq(&e.to_string());
}
