//! Token roles through the API (`auth/token/roles/:name`): the field set a read shows, the
//! older field names and OpenBao's refusals word for word. Tokens created against roles are
//! in `token_role_tokens.rs`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::TestServer;

pub(crate) fn errors(msg: &str) -> Value {
    json!({ "errors": [msg] })
}

pub(crate) async fn write_role(t: &TestServer, name: &str, body: Value) {
    let (s, v) = t
        .root("POST", &format!("auth/token/roles/{name}"), Some(body))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

#[tokio::test]
async fn roles_are_written_read_listed_and_deleted() {
    let t = TestServer::dev().await;
    let (s, v) = t.root("LIST", "auth/token/roles", None).await;
    assert_eq!((s, v), (StatusCode::NOT_FOUND, json!({"errors": []})));

    write_role(&t, "web", json!({})).await;
    let (s, v) = t.root("GET", "auth/token/roles/web", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["data"],
        json!({
            "allowed_entity_aliases": null, "allowed_policies": [], "allowed_policies_glob": [],
            "disallowed_policies": [], "disallowed_policies_glob": [], "explicit_max_ttl": 0,
            "name": "web", "orphan": false, "path_suffix": "", "period": 0, "renewable": true,
            "token_explicit_max_ttl": 0, "token_no_default_policy": false, "token_period": 0,
            "token_type": "default-service"
        })
    );

    // Lists as comma strings, lowercased and sorted; a single address shows without /32.
    write_role(
        &t,
        "web",
        json!({
            "allowed_policies": "a, B ,c", "disallowed_policies": ["x", "X"],
            "allowed_policies_glob": "dev-*", "disallowed_policies_glob": "*-prod",
            "orphan": true, "renewable": false, "path_suffix": "v1x",
            "allowed_entity_aliases": "Foo,bar*", "token_bound_cidrs": "127.0.0.1/32",
            "token_explicit_max_ttl": "2h", "token_no_default_policy": true,
            "token_num_uses": 3, "token_period": "1h", "token_type": "service",
            "token_ttl": "5m"
        }),
    )
    .await;
    let (_, v) = t.root("GET", "auth/token/roles/web", None).await;
    assert_eq!(
        v["data"],
        json!({
            "allowed_entity_aliases": ["bar*", "foo"], "allowed_policies": ["a", "b", "c"],
            "allowed_policies_glob": ["dev-*"], "disallowed_policies": ["x"],
            "disallowed_policies_glob": ["*-prod"], "explicit_max_ttl": 0, "name": "web",
            "orphan": true, "path_suffix": "v1x", "period": 0, "renewable": false,
            "token_bound_cidrs": ["127.0.0.1"], "token_explicit_max_ttl": 7200,
            "token_no_default_policy": true, "token_num_uses": 3, "token_period": 3600,
            "token_type": "service"
        })
    );

    // An update changes only what it names.
    write_role(
        &t,
        "web",
        json!({"orphan": false, "allowed_policies": null}),
    )
    .await;
    let (_, v) = t.root("GET", "auth/token/roles/web", None).await;
    assert_eq!(
        (&v["data"]["orphan"], &v["data"]["allowed_policies"]),
        (&json!(false), &json!(["a", "b", "c"]))
    );

    write_role(&t, "api.v2", json!({})).await;
    let (s, v) = t.root("LIST", "auth/token/roles", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["keys"], json!(["api.v2", "web"]));

    let (s, _) = t.root("DELETE", "auth/token/roles/web", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.root("DELETE", "auth/token/roles/never-was", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "deleting is idempotent");
    let (s, v) = t.root("GET", "auth/token/roles/web", None).await;
    assert_eq!((s, v), (StatusCode::NOT_FOUND, json!({"errors": []})));
    let (s, v) = t.root("GET", "auth/token/roles/bad%20name", None).await;
    assert_eq!((s, v), (StatusCode::NOT_FOUND, errors("unsupported path")));
}

#[tokio::test]
async fn older_field_names_are_kept_and_lose_to_token_fields() {
    let t = TestServer::dev().await;
    write_role(
        &t,
        "old",
        json!({"period": "1h", "explicit_max_ttl": 7200, "bound_cidrs": ["10.0.0.0/8"]}),
    )
    .await;
    let (_, v) = t.root("GET", "auth/token/roles/old", None).await;
    let d = &v["data"];
    assert_eq!(
        [
            &d["period"],
            &d["token_period"],
            &d["explicit_max_ttl"],
            &d["token_explicit_max_ttl"]
        ],
        [&json!(3600), &json!(3600), &json!(7200), &json!(7200)]
    );
    assert_eq!(
        (&d["bound_cidrs"], &d["token_bound_cidrs"]),
        (&json!(["10.0.0.0/8"]), &json!(["10.0.0.0/8"]))
    );

    let (s, v) = t
        .root(
            "POST",
            "auth/token/roles/old",
            Some(json!({
                "period": "1h", "token_period": "2h", "explicit_max_ttl": 7200,
                "token_explicit_max_ttl": "3h", "bound_cidrs": "10.0.0.0/8",
                "token_bound_cidrs": "1.2.3.4"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["warnings"],
        json!([
            "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value",
            "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value",
            "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value"
        ])
    );
    let (_, v) = t.root("GET", "auth/token/roles/old", None).await;
    let d = &v["data"];
    assert_eq!(
        [
            &d["period"],
            &d["token_period"],
            &d["explicit_max_ttl"],
            &d["token_explicit_max_ttl"]
        ],
        [&json!(0), &json!(7200), &json!(0), &json!(10800)]
    );
    assert_eq!(
        (d.get("bound_cidrs"), &d["token_bound_cidrs"]),
        (None, &json!(["1.2.3.4"]))
    );

    let (s, v) = t
        .root(
            "POST",
            "auth/token/roles/old",
            Some(json!({"token_explicit_max_ttl": "999999h"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["warnings"],
        json!(["Given explicit max TTL of 3599996400 is greater than system/mount allowed value of 2764800 seconds; until this is fixed attempting to create tokens against this role will result in an error"])
    );
}

#[tokio::test]
async fn bad_roles_are_refused_with_openbao_messages() {
    let t = TestServer::dev().await;
    for (body, msg) in [
        (json!({"token_type": "batch"}), "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens"),
        (json!({"token_type": "batch", "orphan": true}), "'token_type' cannot be 'batch' when role is set to generate renewable tokens"),
        (json!({"token_type": "batch", "orphan": true, "renewable": false, "token_period": 60}), "'token_type' cannot be 'batch' when role is set to generate periodic tokens"),
        (json!({"token_type": "batch", "orphan": true, "renewable": false, "explicit_max_ttl": 60}), "'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL"),
        (json!({"token_type": "bogus"}), "invalid 'token_type' value \"bogus\""),
        (json!({"path_suffix": "v1"}), r"given role path suffix contains invalid characters; must match \w[\w-.]+\w"),
        (json!({"path_suffix": "a..b"}), "error registering path suffix: path cannot contain parent references"),
    ] {
        let (s, v) = t.root("POST", "auth/token/roles/bad", Some(body.clone())).await;
        assert_eq!((s, v), (StatusCode::BAD_REQUEST, errors(msg)), "{body}");
    }
    let (s, v) = t
        .root(
            "POST",
            "auth/token/roles/bad",
            Some(json!({"token_num_uses": -1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains("token_num_uses"),
        "{v}"
    );
    let (s, _) = t.root("GET", "auth/token/roles/bad", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing was stored");
}
