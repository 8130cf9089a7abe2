//! Tokens created against token roles (`auth/token/create/:name`): the role's policies,
//! orphan, period, explicit max TTL, uses, CIDRs, type, path suffix and entity aliases;
//! OpenBao's refusals word for word; what a role lets a token without sudo create, the ACL's
//! create/update split for role writes, and renewal with the role's current terms.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{unique, TestServer};
use crate::token_roles::{errors, write_role};

#[tokio::test]
async fn tokens_follow_their_role() {
    let t = TestServer::dev().await;
    write_role(
        &t,
        "ci",
        json!({
            "allowed_policies": "a,b,c", "allowed_policies_glob": "dev-*",
            "disallowed_policies_glob": "*-prod", "orphan": true, "renewable": false,
            "path_suffix": "v1x", "token_bound_cidrs": "127.0.0.1/32",
            "token_explicit_max_ttl": "2h", "token_no_default_policy": true,
            "token_num_uses": 3, "token_period": "1h"
        }),
    )
    .await;

    // Without `policies` the token gets the role's allowed policies.
    let (s, v) = t
        .root("POST", "auth/token/create/ci", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["auth"];
    assert_eq!(
        (
            &a["policies"],
            &a["orphan"],
            &a["renewable"],
            &a["num_uses"],
            &a["lease_duration"]
        ),
        (
            &json!(["a", "b", "c"]),
            &json!(true),
            &json!(false),
            &json!(3),
            &json!(3600)
        )
    );

    // The lesser of the request's and the role's terms, with OpenBao's warnings.
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create/ci",
            Some(json!({"policies": ["a", "dev-x"], "num_uses": 5, "explicit_max_ttl": "3h", "period": "2h", "no_parent": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["warnings"],
        json!([
            "Explicit max TTL specified both during creation call and in role; using the lesser value of 7200 seconds",
            "Period specified both during creation call and in role; using the lesser value of 3600 seconds"
        ])
    );
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (_, v) = t
        .root("POST", "auth/token/lookup", Some(json!({"token": token})))
        .await;
    let d = &v["data"];
    assert_eq!(d["role"], json!("ci"));
    assert_eq!(d["path"], json!("auth/token/create/ci/v1x"));
    assert_eq!(d["policies"], json!(["a", "dev-x"]));
    assert_eq!(d["bound_cidrs"], json!(["127.0.0.1"]));
    assert_eq!((&d["num_uses"], &d["orphan"]), (&json!(3), &json!(true)));

    for (body, msg) in [
        (
            json!({"policies": ["a", "zzz"]}),
            r#"token policies (["a" "zzz"]) must be subset of the role's allowed policies (["a" "b" "c"]) or glob policies (["dev-*"])"#,
        ),
        (
            json!({"policies": ["dev-prod"]}),
            r#"token policy "dev-prod" is disallowed by this role"#,
        ),
        (
            json!({"entity_alias": "alice"}),
            "invalid 'entity_alias' value",
        ),
    ] {
        let (s, v) = t
            .root("POST", "auth/token/create/ci", Some(body.clone()))
            .await;
        assert_eq!((s, v), (StatusCode::BAD_REQUEST, errors(msg)), "{body}");
    }
    let (s, v) = t
        .root("POST", "auth/token/create/nope", Some(json!({})))
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::BAD_REQUEST, errors("unknown role nope"))
    );
    let (s, _) = t.root("GET", "auth/token/create/ci", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"entity_alias": "alice"})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            errors("'entity_alias' is only allowed in combination with token role")
        )
    );

    // `default` is added unless the role disallows it.
    write_role(
        &t,
        "nodefault",
        json!({"allowed_policies": "default,a", "disallowed_policies": "Default"}),
    )
    .await;
    let (s, v) = t
        .root("POST", "auth/token/create/nodefault", Some(json!({})))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            errors("token policy \"default\" is disallowed by this role")
        )
    );

    // A default-batch role mints batch tokens unless the request asks for a service token.
    write_role(
        &t,
        "batchy",
        json!({"token_type": "default-batch", "orphan": true, "renewable": false}),
    )
    .await;
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create/batchy",
            Some(json!({"policies": ["a"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["auth"]["token_type"], json!("batch"));
    assert!(v["auth"]["client_token"]
        .as_str()
        .unwrap()
        .starts_with("hvb."));
    let (_, v) = t
        .root(
            "POST",
            "auth/token/create/batchy",
            Some(json!({"policies": ["a"], "type": "service"})),
        )
        .await;
    assert_eq!(v["auth"]["token_type"], json!("service"));
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create/batchy",
            Some(json!({"num_uses": 2})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            errors("batch tokens cannot have \"num_uses\" set")
        )
    );

    // An allowed entity alias gives the token that alias's entity.
    write_role(&t, "people", json!({"allowed_entity_aliases": "Bob*"})).await;
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create/people",
            Some(json!({"entity_alias": "BOBBY"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let entity = v["auth"]["entity_id"].as_str().unwrap().to_string();
    assert!(!entity.is_empty());
    let (_, v) = t
        .root(
            "POST",
            "auth/token/create/people",
            Some(json!({"entity_alias": "BOBBY"})),
        )
        .await;
    assert_eq!(
        v["auth"]["entity_id"],
        json!(entity),
        "the same alias, the same entity"
    );
}

#[tokio::test]
async fn a_role_grants_what_sudo_would_and_the_acl_splits_create_from_update() {
    let t = TestServer::dev().await;
    let (s, _) = t
        .root(
            "PUT",
            "sys/policies/acl/creator",
            Some(json!({"policy": "path \"auth/token/create/*\" { capabilities = [\"update\"] }\npath \"auth/token/roles/*\" { capabilities = [\"update\", \"read\"] }"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let user = t.token_with(&["creator"]).await;
    write_role(
        &t,
        "ops",
        json!({"allowed_policies": "ops", "orphan": true, "token_period": "1h"}),
    )
    .await;
    write_role(&t, "plain", json!({})).await;

    // Writing a role that does not exist needs `create`; updating one needs `update`.
    let (s, v) = t
        .req(
            "POST",
            "auth/token/roles/fresh",
            Some(&user),
            Some(json!({})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::FORBIDDEN, errors("permission denied")));
    let (s, _) = t
        .req(
            "POST",
            "auth/token/roles/plain",
            Some(&user),
            Some(json!({"renewable": true})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.req("LIST", "auth/token/roles", Some(&user), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The role gives policies the caller does not hold, an orphan and a period, without sudo.
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create/ops",
            Some(&user),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            &v["auth"]["policies"],
            &v["auth"]["orphan"],
            &v["auth"]["lease_duration"]
        ),
        (&json!(["default", "ops"]), &json!(true), &json!(3600))
    );

    // A role without policy rules keeps the parent's rules.
    for (body, msg) in [
        (
            json!({"policies": ["other"]}),
            "child policies must be subset of parent",
        ),
        (
            json!({"period": "1h"}),
            "root or sudo privileges required to create periodic token",
        ),
        (
            json!({"id": "chosen"}),
            "root or sudo privileges required to specify token id",
        ),
    ] {
        let (s, v) = t
            .req(
                "POST",
                "auth/token/create/plain",
                Some(&user),
                Some(body.clone()),
            )
            .await;
        assert_eq!((s, v), (StatusCode::BAD_REQUEST, errors(msg)), "{body}");
    }
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create/plain",
            Some(&user),
            Some(json!({"no_parent": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["auth"]["orphan"],
        json!(false),
        "a role decides orphans; no_parent is ignored"
    );
}

#[tokio::test]
async fn role_tokens_renew_with_the_role_and_not_without_it() {
    let t = TestServer::dev().await;
    let name = unique("periodic");
    write_role(&t, &name, json!({"token_period": "1h"})).await;
    let (_, v) = t
        .root(
            "POST",
            &format!("auth/token/create/{name}"),
            Some(json!({"policies": ["a"]})),
        )
        .await;
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(v["auth"]["lease_duration"], json!(3600));

    write_role(&t, &name, json!({"token_period": "2h"})).await;
    let (s, v) = t
        .root("POST", "auth/token/renew", Some(json!({"token": token})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["auth"]["lease_duration"],
        json!(7200),
        "the role's current period"
    );

    let (s, _) = t
        .root("DELETE", &format!("auth/token/roles/{name}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = t
        .root("POST", "auth/token/renew", Some(json!({"token": token})))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            errors(&format!(
                "original token role \"{name}\" could not be found, not renewing"
            ))
        )
    );
}
