//! `users/:name`, `users`, `users/:name/password` and `users/:name/policies`.

use expect_test::expect;
use secrethub_engine::{Engine, Operation};
use serde_json::{json, Value};

use crate::harness::Mount;

#[tokio::test]
async fn create_read_list_update_delete() {
    let m = Mount::new();
    expect!["BadRequest: missing password"]
        .assert_eq(&m.write("users/alice", json!({"token_policies": "a"})).await);
    expect!["204"].assert_eq(
        &m.write(
            "users/Alice",
            json!({
                "password": "correct horse",
                "token_policies": ["admin", "default"],
                "token_bound_cidrs": ["127.0.0.1/32", "128.252.0.0/16"],
                "token_ttl": "1h",
            }),
        )
        .await,
    );
    // The password never comes back; names are lowercased; a /32 is shown as the bare
    // address, as OpenBao shows it.
    expect![[r#"
        {
          "data": {
            "policies": [
              "admin",
              "default"
            ],
            "token_bound_cidrs": [
              "127.0.0.1",
              "128.252.0.0/16"
            ],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": [
              "admin",
              "default"
            ],
            "token_ttl": 3600,
            "token_type": "default"
          }
        }"#]]
    .assert_eq(&m.read("users/ALICE").await);

    // An update without a password keeps the password and changes only what it names.
    expect!["204"].assert_eq(&m.write("users/alice", json!({"token_ttl": 60})).await);
    assert!(m.login("alice", "correct horse").await.is_ok());
    let r = m.read("users/alice").await;
    assert!(
        r.contains("\"token_ttl\": 60") && r.contains("\"admin\""),
        "{r}"
    );

    m.write("users/bob", json!({"password": "x"})).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "alice",
              "bob"
            ]
          }
        }"#]]
    .assert_eq(&m.list("users").await);

    expect!["204"].assert_eq(&m.delete("users/Alice").await);
    expect!["NotFound: not found"].assert_eq(&m.read("users/alice").await);
    expect!["204"].assert_eq(&m.delete("users/alice").await);
    m.delete("users/bob").await;
    expect!["NotFound: not found"].assert_eq(&m.list("users").await);
}

#[tokio::test]
async fn bad_input_is_refused_and_named() {
    let m = Mount::new();
    expect!["BadRequest: invalid username: use letters, digits, '_', '-' and '.', not starting with '-' or '.' and not ending with '.'"]
        .assert_eq(&m.write("users/-bob", json!({"password": "x"})).await);
    expect!["BadRequest: password must not be empty"]
        .assert_eq(&m.write("users/bob", json!({"password": ""})).await);
    expect!["BadRequest: invalid password: expected a string"]
        .assert_eq(&m.write("users/bob", json!({"password": 5})).await);
    expect!["BadRequest: password_hash is not supported: send password (stored as argon2id)"]
        .assert_eq(
            &m.write("users/bob", json!({"password_hash": "$2a$10$abc"}))
                .await,
        );
    expect![[r#"BadRequest: invalid token_bound_cidrs: invalid CIDR block "nope""#]].assert_eq(
        &m.write(
            "users/bob",
            json!({"password": "x", "token_bound_cidrs": "nope"}),
        )
        .await,
    );
    expect!["NotFound: not found"].assert_eq(&m.list("users").await);
    expect!["UnsupportedOperation: unsupported operation"]
        .assert_eq(&m.read("users/bob/password").await);
    expect!["NotFound: unsupported path"].assert_eq(&m.read("nope").await);
}

#[tokio::test]
async fn exists_tells_create_from_update() {
    let m = Mount::new();
    let req = m.request_from(Operation::Update, "users/carol", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), Some(false));
    m.write("users/carol", json!({"password": "x"})).await;
    let req = m.request_from(Operation::Update, "users/CAROL", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), Some(true));
    let req = m.request_from(Operation::Update, "login/carol", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), None);
}

#[tokio::test]
async fn password_update_replaces_the_old_one() {
    let m = Mount::new();
    m.write("users/dave", json!({"password": "first-password"}))
        .await;
    expect!["204"].assert_eq(
        &m.write(
            "users/dave/password",
            json!({"password": "second-password"}),
        )
        .await,
    );
    assert!(m.login("dave", "second-password").await.is_ok());
    expect!["BadRequest: invalid username or password"].assert_eq(&crate::harness::render(
        m.login("dave", "first-password").await,
    ));
    // A full write with a password changes it too.
    m.write("users/dave", json!({"password": "third-password"}))
        .await;
    assert!(m.login("dave", "third-password").await.is_ok());
    assert!(m.login("dave", "second-password").await.is_err());

    expect!["BadRequest: missing password"]
        .assert_eq(&m.write("users/dave/password", json!({})).await);
    expect![[r#"BadRequest: user "eve" does not exist"#]].assert_eq(
        &m.write("users/eve/password", json!({"password": "x"}))
            .await,
    );
}

#[tokio::test]
async fn policies_update_changes_only_the_policies() {
    let m = Mount::new();
    m.write("users/frank", json!({"password": "pw", "token_ttl": 120}))
        .await;
    expect!["204"].assert_eq(
        &m.write(
            "users/frank/policies",
            json!({"token_policies": "b,a", "token_ttl": 5}),
        )
        .await,
    );
    let r = m.read("users/frank").await;
    assert!(r.contains("\"token_ttl\": 120"), "{r}");
    assert!(r.contains("\"b\",\n      \"a\""), "{r}");
    // The older name `policies` works too.
    m.write("users/frank/policies", json!({"policies": ["c"]}))
        .await;
    assert!(m.read("users/frank").await.contains("\"c\""));
    expect!["BadRequest: missing token_policies"]
        .assert_eq(&m.write("users/frank/policies", json!({})).await);
    expect![[r#"BadRequest: user "nobody" does not exist"#]].assert_eq(
        &m.write("users/nobody/policies", json!({"token_policies": "a"}))
            .await,
    );
}

#[tokio::test]
async fn passwords_are_stored_only_as_argon2id_hashes() {
    let m = Mount::new();
    m.write(
        "users/gina",
        json!({"password": "a-very-distinctive-password"}),
    )
    .await;
    m.write(
        "users/gina/password",
        json!({"password": "another-distinctive-password"}),
    )
    .await;
    assert!(!m.storage_contains("a-very-distinctive-password").await);
    assert!(!m.storage_contains("another-distinctive-password").await);
    assert!(m.storage_contains("$argon2id$v=19$m=19456,t=2,p=1$").await);
}
