//! Token create/lookup/renew/revoke through the API: children die with their parent,
//! orphans survive, accessors work, use limits and expiry are enforced.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn create_lookup_and_revoke_tree() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root("POST", "auth/token/create", Some(json!({
            "policies": ["app"], "ttl": "1h", "display_name": "CI job", "meta": {"team": "billing"}, "num_uses": 0
        })))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let auth = &v["auth"];
    assert_eq!(auth["policies"], json!(["app", "default"]));
    assert_eq!(auth["lease_duration"], json!(3600));
    assert_eq!(auth["renewable"], json!(true));
    assert_eq!(auth["orphan"], json!(false));
    let parent = auth["client_token"].as_str().unwrap().to_string();
    let accessor = auth["accessor"].as_str().unwrap().to_string();
    assert!(parent.starts_with("hvs.") && parent.len() > 30);

    let (s, v) = t
        .req("GET", "auth/token/lookup-self", Some(&parent), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = &v["data"];
    assert_eq!(
        (d["display_name"].clone(), d["meta"]["team"].clone()),
        (json!("token-ci-job"), json!("billing"))
    );
    assert_eq!(d["accessor"], json!(accessor));
    assert!(d["ttl"].as_u64().unwrap() > 3590);

    let (s, v) = t
        .root(
            "POST",
            "auth/token/lookup-accessor",
            Some(json!({"accessor": accessor})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["data"]["id"],
        json!(""),
        "lookup by accessor never shows the token"
    );

    let (s, v) = t
        .req("POST", "auth/token/create", Some(&parent), Some(json!({})))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the default policy does not allow auth/token/create: {v}"
    );

    // Grant token creation to `app`; a child holds a subset of the parent's policies.
    t.root(
        "PUT",
        "sys/policies/acl/app",
        Some(json!({"policy": "path \"auth/token/create\" { capabilities = [\"update\"] }"})),
    )
    .await;
    let (s, v) = t
        .req("POST", "auth/token/create", Some(&parent), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let child = v["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        v["auth"]["policies"],
        json!(["app", "default"]),
        "child inherits parent's policies"
    );
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create",
            Some(&parent),
            Some(json!({"policies": ["admin"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create",
            Some(&parent),
            Some(json!({"no_parent": true})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "orphans need sudo: {v}");
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create-orphan",
            Some(json!({"policies": ["app"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["auth"]["orphan"], json!(true));

    let (s, _) = t
        .root("POST", "auth/token/revoke", Some(json!({"token": parent})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for tok in [&parent, &child] {
        let (s, v) = t
            .req("GET", "auth/token/lookup-self", Some(tok), None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v, json!({"errors": ["permission denied"]}));
    }
}

#[tokio::test]
async fn revoke_orphan_keeps_children_and_accessor_revocation() {
    let t = TestServer::dev().await;
    t.root(
        "PUT",
        "sys/policies/acl/maker",
        Some(json!({"policy": "path \"auth/token/create\" { capabilities = [\"update\"] }"})),
    )
    .await;
    let parent = t.token_with(&["maker"]).await;
    let (_, v) = t
        .req("POST", "auth/token/create", Some(&parent), Some(json!({})))
        .await;
    let child = v["auth"]["client_token"].as_str().unwrap().to_string();
    let child_accessor = v["auth"]["accessor"].as_str().unwrap().to_string();

    let user = t.token_with(&["default"]).await;
    let (s, _) = t
        .req(
            "POST",
            "auth/token/revoke-orphan",
            Some(&user),
            Some(json!({"token": parent})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "revoke-orphan needs sudo");
    let (s, _) = t
        .root(
            "POST",
            "auth/token/revoke-orphan",
            Some(json!({"token": parent})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&parent), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = t
        .req("GET", "auth/token/lookup-self", Some(&child), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["orphan"], json!(true));

    let (s, _) = t
        .root(
            "POST",
            "auth/token/revoke-accessor",
            Some(json!({"accessor": child_accessor})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&child), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t
        .req("POST", "auth/token/revoke-self", Some(&user), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&user), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn renew_is_capped_by_explicit_max_ttl() {
    let t = TestServer::dev().await;
    let (_, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "10m", "explicit_max_ttl": "30m"})),
        )
        .await;
    let tok = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, v) = t
        .req(
            "POST",
            "auth/token/renew-self",
            Some(&tok),
            Some(json!({"increment": "20m"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["auth"]["lease_duration"], json!(1200));
    assert_eq!(v["warnings"], json!(null));
    let (_, v) = t
        .root(
            "POST",
            "auth/token/renew",
            Some(json!({"token": tok, "increment": "2h"})),
        )
        .await;
    let d = v["auth"]["lease_duration"].as_u64().unwrap();
    assert!(
        (1790..=1800).contains(&d),
        "capped at explicit_max_ttl: {d}"
    );
    assert!(v["warnings"][0].as_str().unwrap().contains("capped"), "{v}");

    let (_, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"ttl": "10m", "renewable": false})),
        )
        .await;
    let fixed = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, v) = t
        .req("POST", "auth/token/renew-self", Some(&fixed), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let (s, v) = t
        .root("POST", "auth/token/create", Some(json!({"ttl": "soon"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A number is a one-item list to Vault's decoding; an object is no list at all.
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"policies": {"a": 1}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["errors"][0],
        "invalid policies: expected a list or a comma-separated string, got an object"
    );
}

#[tokio::test]
async fn use_limits_and_expiry_are_enforced() {
    let t = TestServer::dev().await;
    let (_, v) = t
        .root("POST", "auth/token/create", Some(json!({"num_uses": 2})))
        .await;
    let tok = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s1, _) = t
        .req("GET", "auth/token/lookup-self", Some(&tok), None)
        .await;
    let (s2, v2) = t
        .req("GET", "auth/token/lookup-self", Some(&tok), None)
        .await;
    let (s3, _) = t
        .req("GET", "auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!(
        (s1, s2, s3),
        (StatusCode::OK, StatusCode::OK, StatusCode::FORBIDDEN)
    );
    assert_eq!(v2["data"]["num_uses"], json!(1));

    let (_, v) = t
        .root("POST", "auth/token/create", Some(json!({"ttl": "1s"})))
        .await;
    let short = v["auth"]["client_token"].as_str().unwrap().to_string();
    // Expiry is real time passing, not synchronisation: poll with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (s, _) = t
            .req("GET", "auth/token/lookup-self", Some(&short), None)
            .await;
        if s == StatusCode::FORBIDDEN {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "token did not expire");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A child of a use-limited token would escape the limit; OpenBao refuses it with this text.
#[tokio::test]
async fn use_limited_token_cannot_create_children() {
    let t = TestServer::dev().await;
    let policy = r#"path "auth/token/create" { capabilities = ["update"] }
path "auth/token/create/*" { capabilities = ["update"] }"#;
    let (s, v) = t
        .root(
            "PUT",
            "sys/policies/acl/creator",
            Some(json!({"policy": policy})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = t
        .root(
            "POST",
            "auth/token/roles/child",
            Some(json!({"allowed_policies": ["creator"]})),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let (_, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["creator"], "num_uses": 3})),
        )
        .await;
    let limited = v["auth"]["client_token"].as_str().unwrap().to_string();
    for path in ["auth/token/create", "auth/token/create/child"] {
        let (s, v) = t.req("POST", path, Some(&limited), Some(json!({}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(
            v,
            json!({"errors": ["restricted use token cannot generate child tokens"]}),
            "{path}"
        );
    }

    let (_, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["creator"]})),
        )
        .await;
    let unlimited = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, v) = t
        .req(
            "POST",
            "auth/token/create",
            Some(&unlimited),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a token without a use limit still creates children: {v}"
    );
}

#[tokio::test]
async fn bearer_and_agent_token_headers() {
    let t = TestServer::dev().await;
    for header in ["authorization", "x-agent-token"] {
        let value = if header == "authorization" {
            format!("Bearer {}", t.root)
        } else {
            t.root.clone()
        };
        let req = axum::http::Request::builder()
            .uri("/v1/auth/token/lookup-self")
            .header(header, value)
            .body(axum::body::Body::empty())
            .unwrap();
        let (s, v) = t.raw(req).await;
        assert_eq!(s, StatusCode::OK, "{header}: {v}");
    }
    let (s, v) = t.req("GET", "auth/token/lookup-self", None, None).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::FORBIDDEN,
            json!({"errors": ["permission denied"]})
        )
    );
}
