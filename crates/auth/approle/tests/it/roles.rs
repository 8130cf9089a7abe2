//! `role/:name`, `role`, `role/:name/role-id` and the per-field endpoints.

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::{json, Value};

use crate::harness::Mount;

#[tokio::test]
async fn create_read_list_update_delete() {
    let m = Mount::new();
    expect!["204"].assert_eq(
        &m.write(
            "role/App1",
            json!({
                "token_policies": "b,a",
                "token_ttl": "20m",
                "token_max_ttl": 1800,
                "secret_id_ttl": "10m",
                "secret_id_num_uses": 40,
                "secret_id_bound_cidrs": ["10.0.0.0/8"],
            }),
        )
        .await,
    );
    // Names are case-insensitive: stored, listed and read lowercased.
    expect![[r#"
        {
          "data": {
            "bind_secret_id": true,
            "local_secret_ids": false,
            "period": 0,
            "policies": [
              "b",
              "a"
            ],
            "secret_id_bound_cidrs": [
              "10.0.0.0/8"
            ],
            "secret_id_num_uses": 40,
            "secret_id_ttl": 600,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 1800,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": [
              "b",
              "a"
            ],
            "token_ttl": 1200,
            "token_type": "default"
          }
        }"#]]
    .assert_eq(&m.read("role/APP1").await);
    m.ok("role/other", json!({})).await;
    expect![[r#"
        {
          "data": {
            "keys": [
              "app1",
              "other"
            ]
          }
        }"#]]
    .assert_eq(&m.list("role").await);

    // An update changes only the fields it names and keeps the role ID.
    let role_id = m
        .data(Operation::Read, "role/app1/role-id", Value::Null)
        .await;
    m.ok("role/app1", json!({"secret_id_num_uses": 5})).await;
    let d = m.data(Operation::Read, "role/app1", Value::Null).await;
    assert_eq!(d["secret_id_num_uses"], 5);
    assert_eq!(d["token_ttl"], 1200);
    assert_eq!(
        m.data(Operation::Read, "role/app1/role-id", Value::Null)
            .await,
        role_id
    );

    expect!["204"].assert_eq(&m.delete("role/App1").await);
    expect!["NotFound: not found"].assert_eq(&m.read("role/app1").await);
    expect!["204"].assert_eq(&m.delete("role/app1").await);
    m.delete("role/other").await;
    expect!["NotFound: not found"].assert_eq(&m.list("role").await);
    // Nothing of the roles is left behind (the mount's HMAC key stays).
    assert_eq!(m.stored_keys().await, ["hmac-key"]);
}

#[tokio::test]
async fn exists_tells_create_from_update() {
    let m = Mount::new();
    let req = m.request_from(Operation::Update, "role/a", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), Some(false));
    m.ok("role/a", json!({})).await;
    let req = m.request_from(Operation::Update, "role/A", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), Some(true));
    let req = m.request_from(Operation::Update, "role/a/secret-id", Value::Null, None);
    assert_eq!(m.engine.exists(&req).await.unwrap(), None);
}

#[tokio::test]
async fn a_role_must_constrain_logins() {
    let m = Mount::new();
    expect!["BadRequest: at least one constraint must be enabled on the role: bind_secret_id, secret_id_bound_cidrs or token_bound_cidrs"]
        .assert_eq(&m.write("role/open", json!({"bind_secret_id": false})).await);
    expect!["204"].assert_eq(
        &m.write(
            "role/by-cidr",
            json!({"bind_secret_id": "false", "token_bound_cidrs": "10.0.0.0/8"}),
        )
        .await,
    );
    // Removing the last constraint through a field endpoint is refused too.
    expect!["BadRequest: at least one constraint must be enabled on the role: bind_secret_id, secret_id_bound_cidrs or token_bound_cidrs"]
        .assert_eq(&m.delete("role/by-cidr/token-bound-cidrs").await);
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let m = Mount::new();
    expect![[r#"BadRequest: invalid secret_id_bound_cidrs: invalid CIDR block "10.0.0.0/99""#]]
        .assert_eq(
            &m.write("role/a", json!({"secret_id_bound_cidrs": "10.0.0.0/99"}))
                .await,
        );
    expect!["BadRequest: invalid secret_id_num_uses: expected a non-negative integer"]
        .assert_eq(&m.write("role/a", json!({"secret_id_num_uses": -1})).await);
    expect![[r#"BadRequest: invalid secret_id_ttl: invalid duration "soon""#]]
        .assert_eq(&m.write("role/a", json!({"secret_id_ttl": "soon"})).await);
    expect!["BadRequest: token_ttl cannot be greater than token_max_ttl"].assert_eq(
        &m.write("role/a", json!({"token_ttl": 60, "token_max_ttl": 30}))
            .await,
    );
    expect!["BadRequest: invalid role name: use letters, digits, space, '-', '_' and '.' (under 4096 bytes)"]
        .assert_eq(&m.write("role/a*b", json!({})).await);
    expect!["BadRequest: invalid role name: use letters, digits, space, '-', '_' and '.' (under 4096 bytes)"]
        .assert_eq(&m.write("role/..", json!({})).await);
    // Nothing was stored by the failed writes.
    expect!["NotFound: not found"].assert_eq(&m.list("role").await);
    expect!["NotFound: unsupported path"].assert_eq(&m.read("role/a/nope").await);
    expect!["UnsupportedOperation: unsupported operation"].assert_eq(&m.delete("login").await);
}

#[tokio::test]
async fn local_secret_ids_is_set_at_creation_only() {
    let m = Mount::new();
    m.ok("role/a", json!({"local_secret_ids": true})).await;
    expect![[r#"
        {
          "data": {
            "local_secret_ids": true
          }
        }"#]]
    .assert_eq(&m.read("role/a/local-secret-ids").await);
    expect!["204"].assert_eq(&m.write("role/a", json!({"local_secret_ids": true})).await);
    expect!["BadRequest: local_secret_ids can only be set when the role is created"]
        .assert_eq(&m.write("role/a", json!({"local_secret_ids": false})).await);
    expect!["UnsupportedOperation: unsupported operation"].assert_eq(
        &m.write(
            "role/a/local-secret-ids",
            json!({"local_secret_ids": false}),
        )
        .await,
    );
}

#[tokio::test]
async fn role_ids_are_custom_and_unique() {
    let m = Mount::new();
    let generated = m.role("a", json!({})).await;
    assert_eq!(generated.len(), 36, "a UUID");
    let custom = m.role("b", json!({"role_id": "my-custom-id"})).await;
    assert_eq!(custom, "my-custom-id");

    // Another role can't take a role ID in use, on create or by role-id.
    expect!["BadRequest: role_id is already in use by another role"]
        .assert_eq(&m.write("role/c", json!({"role_id": "my-custom-id"})).await);
    expect!["NotFound: not found"].assert_eq(&m.read("role/c").await);
    expect!["BadRequest: role_id is already in use by another role"].assert_eq(
        &m.write("role/a/role-id", json!({"role_id": "my-custom-id"}))
            .await,
    );
    // Setting a role's own ID again is fine.
    expect!["204"].assert_eq(
        &m.write("role/b/role-id", json!({"role_id": "my-custom-id"}))
            .await,
    );

    // A changed role ID frees the old one.
    expect!["204"].assert_eq(
        &m.write("role/b/role-id", json!({"role_id": "second"}))
            .await,
    );
    expect![[r#"
        {
          "data": {
            "role_id": "second"
          }
        }"#]]
    .assert_eq(&m.read("role/B/role-id").await);
    expect!["204"].assert_eq(
        &m.write("role/a/role-id", json!({"role_id": "my-custom-id"}))
            .await,
    );

    expect!["BadRequest: missing role_id"].assert_eq(&m.write("role/a/role-id", json!({})).await);
    expect![[r#"BadRequest: role "zz" does not exist"#]]
        .assert_eq(&m.write("role/zz/role-id", json!({"role_id": "x"})).await);
    expect!["NotFound: not found"].assert_eq(&m.read("role/zz/role-id").await);

    // Deleting a role frees its role ID.
    m.delete("role/a").await;
    expect!["204"].assert_eq(&m.write("role/c", json!({"role_id": "my-custom-id"})).await);
}

#[tokio::test]
async fn field_endpoints_read_write_and_reset() {
    let m = Mount::new();
    m.ok("role/r", json!({})).await;
    // (path segment, body to write, what the read then shows)
    let cases = [
        (
            "policies",
            json!({"token_policies": ["p2", "p1"]}),
            json!({"policies": ["p2", "p1"], "token_policies": ["p2", "p1"]}),
        ),
        (
            "secret-id-num-uses",
            json!({"secret_id_num_uses": 7}),
            json!({"secret_id_num_uses": 7}),
        ),
        (
            "secret-id-ttl",
            json!({"secret_id_ttl": "1h"}),
            json!({"secret_id_ttl": 3600}),
        ),
        (
            "token-ttl",
            json!({"token_ttl": "5m"}),
            json!({"token_ttl": 300}),
        ),
        (
            "token-max-ttl",
            json!({"token_max_ttl": "1h"}),
            json!({"token_max_ttl": 3600}),
        ),
        (
            "token-num-uses",
            json!({"token_num_uses": 3}),
            json!({"token_num_uses": 3}),
        ),
        (
            "bind-secret-id",
            json!({"bind_secret_id": true}),
            json!({"bind_secret_id": true}),
        ),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
            json!({"secret_id_bound_cidrs": ["10.0.0.0/8"]}),
        ),
        (
            "bound-cidr-list",
            json!({"bound_cidr_list": ["10.1.0.0/16"]}),
            json!({"bound_cidr_list": null}),
        ),
        (
            // A single address is shown bare, as OpenBao shows it.
            "token-bound-cidrs",
            json!({"token_bound_cidrs": ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]}),
            json!({"token_bound_cidrs": ["127.0.0.1", "::1", "10.0.0.0/8"]}),
        ),
        (
            "period",
            json!({"period": "10m"}),
            json!({"period": 600, "token_period": 600}),
        ),
    ];
    for (segment, body, shown) in cases {
        let path = format!("role/r/{segment}");
        assert_eq!(m.write(&path, body).await, "204", "{segment}");
        let d = m.data(Operation::Read, &path, Value::Null).await;
        assert_eq!(d, shown, "{segment}");
    }
    // The whole role shows what the field endpoints wrote.
    let role = m.data(Operation::Read, "role/r", Value::Null).await;
    assert_eq!(role["token_ttl"], 300);
    assert_eq!(role["secret_id_bound_cidrs"], json!(["10.1.0.0/16"]));
    assert_eq!(
        role["token_bound_cidrs"],
        json!(["127.0.0.1", "::1", "10.0.0.0/8"])
    );
    assert_eq!(role["token_period"], 600);
    // The deprecated name reads as null with OpenBao's warning; deleting it keeps the
    // secret_id_bound_cidrs it wrote (on a missing role too, nothing happens).
    expect![[r#"
        {
          "data": {
            "bound_cidr_list": null
          },
          "warnings": [
            "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead."
          ]
        }"#]]
    .assert_eq(&m.read("role/r/bound-cidr-list").await);
    assert_eq!(m.delete("role/r/bound-cidr-list").await, "204");
    assert_eq!(m.delete("role/nope/bound-cidr-list").await, "204");
    let role = m.data(Operation::Read, "role/r", Value::Null).await;
    assert_eq!(role["secret_id_bound_cidrs"], json!(["10.1.0.0/16"]));

    // A write without the field is a 400 naming it; a bad value too.
    expect!["BadRequest: missing token_ttl"]
        .assert_eq(&m.write("role/r/token-ttl", json!({})).await);
    expect![[r#"BadRequest: invalid token_bound_cidrs: invalid CIDR block "x""#]].assert_eq(
        &m.write(
            "role/r/token-bound-cidrs",
            json!({"token_bound_cidrs": "x"}),
        )
        .await,
    );
    // Only the field's own keys count: token_ttl in a policies write changes nothing.
    m.ok("role/r/policies", json!({"policies": "z", "token_ttl": 1}))
        .await;
    let role = m.data(Operation::Read, "role/r", Value::Null).await;
    assert_eq!(
        (role["token_policies"].clone(), role["token_ttl"].clone()),
        (json!(["z"]), json!(300))
    );

    // Delete resets to the default.
    for segment in [
        "policies",
        "secret-id-num-uses",
        "secret-id-ttl",
        "token-ttl",
        "token-max-ttl",
        "token-num-uses",
        "secret-id-bound-cidrs",
        "token-bound-cidrs",
        "period",
        "bind-secret-id",
    ] {
        assert_eq!(
            m.delete(&format!("role/r/{segment}")).await,
            "204",
            "{segment}"
        );
    }
    let after = m.data(Operation::Read, "role/r", Value::Null).await;
    let other = Mount::new();
    other.ok("role/r", json!({})).await;
    let fresh = other.data(Operation::Read, "role/r", Value::Null).await;
    assert_eq!(after, fresh);

    // A missing role: reads are 404, writes a 400 naming it.
    let empty = Mount::new();
    expect!["NotFound: not found"].assert_eq(&empty.read("role/r/token-ttl").await);
    expect![[r#"BadRequest: role "r" does not exist"#]].assert_eq(
        &empty
            .write("role/r/token-ttl", json!({"token_ttl": 1}))
            .await,
    );
}
