//! Core's part of logins, through the API with a minimal auth method (`test-login`): `sys/auth`
//! enable/list/disable, login without a token, the minted token (policies, TTLs, metadata,
//! entity), policy templating by alias, renewal re-checked by the method, bound CIDRs,
//! rate-limit quotas per client address and role (429, audited), tokens revoked with their
//! mount.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::{unique, TestServer};

/// A server with the test auth method enabled at `userpass/` and user `alice`.
async fn with_alice(params: Value) -> TestServer {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let mut body = json!({"password": "correct horse"});
    body.as_object_mut()
        .unwrap()
        .extend(params.as_object().cloned().unwrap_or_default());
    let (s, v) = t
        .root("POST", "auth/userpass/users/alice", Some(body))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t
}

/// Writes policy `name`: create/read/update under `prefix` + the value of `field` (`name`,
/// `metadata.<key>`) of the caller's alias on `userpass/`.
async fn put_alias_policy(t: &TestServer, name: &str, prefix: &str, field: &str) {
    let (_, v) = t.root("GET", "sys/auth", None).await;
    let accessor = v["data"]["userpass/"]["accessor"].as_str().unwrap();
    let policy = format!(
        "path \"{prefix}{{{{identity.entity.aliases.{accessor}.{field}}}}}/*\" {{\n  capabilities = [\"create\", \"read\", \"update\"]\n}}\n"
    );
    let path = format!("sys/policies/acl/{name}");
    let (s, v) = t
        .root("PUT", &path, Some(json!({ "policy": policy })))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

async fn login_from(t: &TestServer, addr: Option<&str>, password: &str) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method("POST")
        .uri("/v1/auth/userpass/login/alice");
    if let Some(a) = addr {
        let peer: SocketAddr = format!("{a}:40000").parse().unwrap();
        b = b.extension(ConnectInfo(peer));
    }
    let body = Body::from(json!({ "password": password }).to_string());
    t.raw(b.body(body).unwrap()).await
}

async fn get_from(t: &TestServer, addr: &str, path: &str, token: &str) -> StatusCode {
    let peer: SocketAddr = format!("{addr}:40000").parse().unwrap();
    let req = Request::builder()
        .method("GET")
        .uri(format!("/v1/{path}"))
        .header("x-vault-token", token)
        .extension(ConnectInfo(peer))
        .body(Body::empty())
        .unwrap();
    t.raw(req).await.0
}

#[tokio::test]
async fn login_mints_a_token_for_the_alias_entity() {
    let t = with_alice(json!({"token_policies": "dev,ops", "token_ttl": "20m"})).await;
    let (_, v) = t.root("GET", "sys/auth", None).await;
    let accessor = v["data"]["userpass/"]["accessor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["userpass/"]["type"], "test-login");

    let (s, v) = login_from(&t, None, "correct horse").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let auth = &v["auth"];
    assert_eq!(auth["policies"], json!(["default", "dev", "ops"]));
    assert_eq!(auth["lease_duration"], 1200);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["metadata"]["username"], "alice");
    let token = auth["client_token"].as_str().unwrap().to_string();
    let entity = auth["entity_id"].as_str().unwrap().to_string();
    assert!(!entity.is_empty());

    let (s, v) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["display_name"], "userpass-alice");
    assert_eq!(v["data"]["path"], "auth/userpass/login/alice");
    assert_eq!(v["data"]["entity_id"], json!(entity));
    assert_eq!(v["data"]["meta"]["username"], "alice");

    // The default policy lets a caller read its own entity: the alias names the mount.
    let (s, v) = t
        .req(
            "GET",
            &format!("identity/entity/id/{entity}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["aliases"][0]["name"], "alice");
    assert_eq!(v["data"]["aliases"][0]["mount_accessor"], json!(accessor));
    let name = v["data"]["name"].clone();
    // LIST shows each entity's name and aliases in `key_info`, as OpenBao does.
    let (s, v) = t.root("LIST", "identity/entity/id", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["data"],
        json!({
            "keys": [entity],
            "key_info": {
                entity.as_str(): {
                    "name": name,
                    "aliases": [{
                        "mount_accessor": accessor,
                        "mount_path": "auth/userpass/",
                        "mount_type": "test-login",
                        "name": "alice",
                    }],
                },
            },
        })
    );

    // A second login is the same entity; a wrong password is a 400 and mints nothing.
    let (_, v) = login_from(&t, None, "correct horse").await;
    assert_eq!(v["auth"]["entity_id"], json!(entity));
    let (s, v) = login_from(&t, None, "wrong").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"][0], "invalid username or password");
    assert!(v.get("auth").is_none_or(Value::is_null));

    // A login needs no token, and a bad one sent along does not get in the way.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/auth/userpass/login/alice")
        .header("x-vault-token", "hvs.not-a-token")
        .body(Body::from(json!({"password": "correct horse"}).to_string()))
        .unwrap();
    assert_eq!(t.raw(req).await.0, StatusCode::OK);
    // Other paths of an auth method are not open.
    let (s, _) = t
        .req(
            "POST",
            "auth/userpass/users/mallory",
            None,
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn policies_are_templated_with_the_alias_name() {
    let t = with_alice(json!({"token_policies": "per-user"})).await;
    put_alias_policy(&t, "per-user", "secret/data/users/", "name").await;
    let (_, v) = login_from(&t, None, "correct horse").await;
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    let body = json!({"data": {"k": "v"}});
    let (s, v) = t
        .req(
            "POST",
            "secret/data/users/alice/app",
            Some(&token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = t
        .req(
            "POST",
            "secret/data/users/bob/app",
            Some(&token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another user's path stays closed");
    // A token without an entity gets nothing from the templated rule.
    let plain = t.token_with(&["per-user"]).await;
    let (s, _) = t
        .req(
            "POST",
            "secret/data/users/alice/app",
            Some(&plain),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_login_with_new_alias_metadata_changes_what_templated_policies_allow() {
    let t = with_alice(json!({"token_policies": "per-team"})).await;
    put_alias_policy(&t, "per-team", "secret/data/teams/", "metadata.team").await;
    let login = |team: &'static str| {
        let t = &t;
        async move {
            let body = json!({"password": "correct horse", "alias_metadata": {"team": team}});
            let (s, v) = t
                .req("POST", "auth/userpass/login/alice", None, Some(body))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["auth"]["client_token"].as_str().unwrap().to_string()
        }
    };
    let write = |token: String, team: &'static str| {
        let t = &t;
        async move {
            let path = format!("secret/data/teams/{team}/app");
            let body = json!({"data": {"k": "v"}});
            t.req("POST", &path, Some(&token), Some(body)).await.0
        }
    };

    let red = login("red").await;
    assert_eq!(write(red.clone(), "red").await, StatusCode::OK);
    assert_eq!(write(red.clone(), "blue").await, StatusCode::FORBIDDEN);
    // Alice moved team: the policy follows her entity's alias, for new and old tokens alike.
    let blue = login("blue").await;
    assert_eq!(write(blue.clone(), "blue").await, StatusCode::OK);
    assert_eq!(write(blue, "red").await, StatusCode::FORBIDDEN);
    assert_eq!(write(red, "blue").await, StatusCode::OK);
}

#[tokio::test]
async fn renewal_is_rechecked_by_the_auth_method() {
    let t =
        with_alice(json!({"token_policies": "dev", "token_ttl": "10m", "token_max_ttl": "30m"}))
            .await;
    let (_, v) = login_from(&t, None, "correct horse").await;
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();

    let (s, v) = t
        .req(
            "POST",
            "auth/token/renew-self",
            Some(&token),
            Some(json!({"increment": "1h"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = v["auth"]["lease_duration"].as_u64().unwrap();
    assert!((1790..=1800).contains(&d), "capped at token_max_ttl: {d}");
    assert!(!v["warnings"].as_array().unwrap().is_empty());

    // The method now grants other policies: renewal is refused, the token keeps working.
    t.root(
        "POST",
        "auth/userpass/users/alice",
        Some(json!({"token_policies": "dev,admin"})),
    )
    .await;
    let (s, v) = t
        .req("POST", "auth/token/renew-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errors"][0], "policies have changed, not renewing");

    // The user is gone: renewal names why.
    t.root("DELETE", "auth/userpass/users/alice", None).await;
    let (s, v) = t
        .req("POST", "auth/token/renew-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errors"][0], "user \"alice\" no longer exists");
}

#[tokio::test]
async fn bound_cidrs_limit_login_and_token_use() {
    let t = with_alice(json!({"token_bound_cidrs": "10.0.0.0/8"})).await;
    let (s, _) = login_from(&t, Some("192.168.1.5"), "correct horse").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = login_from(&t, Some("10.1.2.3"), "correct horse").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        get_from(&t, "10.9.9.9", "auth/token/lookup-self", &token).await,
        StatusCode::OK
    );
    assert_eq!(
        get_from(&t, "192.168.1.5", "auth/token/lookup-self", &token).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address_and_role_and_audited() {
    let t = with_alice(json!({})).await;
    let (_dir, file) = t.audit_to_file().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/quotas/rate-limit/alice-logins",
            Some(json!({"path": "auth/userpass/", "role": "alice", "rate": 3, "interval": "1h"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t
        .root("GET", "sys/quotas/rate-limit/alice-logins", None)
        .await;
    assert_eq!(v["data"]["role"], "alice");
    assert_eq!(v["data"]["interval"], 3600);

    for _ in 0..3 {
        let (s, _) = login_from(&t, Some("10.0.0.7"), "guess").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let (s, v) = login_from(&t, Some("10.0.0.7"), "correct horse").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["errors"][0]
        .as_str()
        .unwrap()
        .contains("rate limit quota exceeded"));
    // Another client address has its own budget.
    let (s, _) = login_from(&t, Some("10.0.0.8"), "correct horse").await;
    assert_eq!(s, StatusCode::OK);

    let text = std::fs::read_to_string(&file).unwrap();
    let refused = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| {
            l["request"]["path"] == "auth/userpass/login/alice"
                && l["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("rate limit quota exceeded"))
        })
        .count();
    assert_eq!(refused, 2, "the 429 is audited (request and response)");
    assert!(!text.contains("correct horse"), "passwords are hmac'd");

    // A role quota needs an auth mount as its path.
    let (s, _) = t
        .root(
            "POST",
            "sys/quotas/rate-limit/bad",
            Some(json!({"path": "secret/", "role": "x", "rate": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn disabling_an_auth_method_revokes_its_tokens() {
    let t = with_alice(json!({})).await;
    let (_, v) = login_from(&t, None, "correct horse").await;
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    let (s, v) = t
        .root("LIST", "sys/leases/lookup/auth/userpass/login/", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["keys"], json!(["alice/"]));

    let (s, _) = t.root("DELETE", "sys/auth/userpass", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = t.root("GET", "sys/auth", None).await;
    assert!(v["data"].get("userpass/").is_none());
    // The entity stays; LIST no longer names the gone mount of its alias, as in OpenBao.
    let (_, v) = t.root("LIST", "identity/entity/id", None).await;
    let info = v["data"]["key_info"].as_object().unwrap().values().next();
    let alias = info.unwrap()["aliases"][0].as_object().unwrap();
    let mut fields: Vec<&str> = alias.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, ["mount_accessor", "name"]);
}

#[tokio::test]
async fn enabling_checks_type_and_path() {
    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "POST",
            "sys/auth/x",
            Some(json!({"type": "no-such-method"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["errors"][0].as_str().unwrap().contains("test-login"),
        "{v}"
    );
    let (s, _) = t
        .root(
            "POST",
            "sys/auth/token",
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A secrets engine type is not an auth method.
    let (s, _) = t
        .root("POST", "sys/auth/kv", Some(json!({"type": "kv"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let path = unique("ci");
    let (s, _) = t
        .root(
            "POST",
            &format!("sys/auth/{path}"),
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .root(
            "POST",
            &format!("sys/auth/{path}"),
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "path in use");
    let (s, v) = t
        .root(
            "POST",
            &format!("sys/auth/{path}/tune"),
            Some(json!({"default_lease_ttl": "5m"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = t.root("GET", &format!("sys/auth/{path}/tune"), None).await;
    assert_eq!(v["data"]["default_lease_ttl"], 300);
}

#[tokio::test]
async fn rate_limit_quotas_show_inheritable_as_openbao() {
    let t = TestServer::dev().await;
    let inheritable = |body: Value| {
        let t = &t;
        async move {
            let (s, v) = t.root("POST", "sys/quotas/rate-limit/q", Some(body)).await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
            let (_, v) = t.root("GET", "sys/quotas/rate-limit/q", None).await;
            v["data"]["inheritable"].clone()
        }
    };
    // Each write sets it: as given, else true for a global quota and false for any other.
    let mount = json!({"path": "secret/", "rate": 10000});
    assert_eq!(inheritable(mount).await, json!(false));
    assert_eq!(inheritable(json!({"rate": 10000})).await, json!(true));
    let given = json!({"rate": 10000, "inheritable": "false"});
    assert_eq!(inheritable(given).await, json!(false));
    let given = json!({"path": "secret/", "rate": 10000, "inheritable": true});
    assert_eq!(inheritable(given).await, json!(true));
    let (s, v) = t
        .root(
            "POST",
            "sys/quotas/rate-limit/q",
            Some(json!({"rate": 1, "inheritable": "maybe"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
