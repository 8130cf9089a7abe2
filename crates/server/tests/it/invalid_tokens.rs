//! What the token and lease APIs answer about a token, accessor or lease that does not exist
//! (never did, revoked, expired, its auth method disabled): OpenBao 2.7's status codes and
//! `{"errors": [...]}` bodies, pinned path by path (each words it differently). The same
//! calls are compared against a real OpenBao in `crates/secrethub/tests/it/openbao_errors.rs`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};
use crate::leases::{creds, with_engine};

/// `{"errors": [msg]}`.
fn errors(msg: &str) -> Value {
    json!({ "errors": [msg] })
}

/// Go's multierror text, which OpenBao answers for accessor errors.
fn multi(msg: &str) -> Value {
    errors(&format!("1 error occurred:\n\t* {msg}\n\n"))
}

/// A token (and its accessor) as root creates it, with `body`'s terms.
async fn token(t: &TestServer, body: Value) -> (String, String) {
    let (s, v) = t.root("POST", "auth/token/create", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let auth = &v["auth"];
    (
        auth["client_token"].as_str().unwrap().to_string(),
        auth["accessor"].as_str().unwrap().to_string(),
    )
}

/// A token and accessor of each way to not exist.
async fn dead_tokens(t: &TestServer) -> Vec<(&'static str, String, String)> {
    let mut dead = vec![(
        "that never existed",
        "hvs.CAESIDoesNotExistDoesNotExistDoesNotExist".to_string(),
        "NoSuchAccessor0123456789".to_string(),
    )];

    let (tok, acc) = token(t, json!({})).await;
    let (s, _) = t
        .root("POST", "auth/token/revoke", Some(json!({"token": tok})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    dead.push(("that was revoked", tok, acc));

    let (tok, acc) = token(t, json!({"ttl": "1s"})).await;
    eventually("the 1s token expires", || async {
        t.req("GET", "auth/token/lookup-self", Some(&tok), None)
            .await
            .0
            == StatusCode::FORBIDDEN
    })
    .await;
    dead.push(("that expired", tok, acc));

    let (s, v) = t
        .root(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "test-login"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    t.root(
        "POST",
        "auth/userpass/users/alice",
        Some(json!({"password": "correct horse"})),
    )
    .await;
    let (s, v) = t
        .req(
            "POST",
            "auth/userpass/login/alice",
            None,
            Some(json!({"password": "correct horse"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let tok = v["auth"]["client_token"].as_str().unwrap().to_string();
    let acc = v["auth"]["accessor"].as_str().unwrap().to_string();
    let (s, _) = t.root("DELETE", "sys/auth/userpass", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    dead.push(("whose auth method was disabled", tok, acc));
    dead
}

/// Status and body (`warnings` only for a 200, `null` for a 204).
async fn answer(
    t: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let token = token.unwrap_or(&t.root).to_string();
    let (s, v) = t.req("POST", path, Some(&token), body).await;
    let v = match s {
        StatusCode::OK => json!({ "warnings": v["warnings"] }),
        StatusCode::NO_CONTENT => Value::Null,
        _ => v,
    };
    (s.as_u16(), v)
}

#[tokio::test]
async fn token_paths_answer_like_openbao_for_tokens_that_do_not_exist() {
    let t = TestServer::dev().await;
    for (how, tok, acc) in dead_tokens(&t).await {
        let by_token = json!({ "token": tok });
        let by_accessor = json!({ "accessor": acc });
        let cases = [
            ("auth/token/lookup", &by_token, (403, errors("bad token"))),
            (
                "auth/token/renew",
                &by_token,
                (400, errors("token not found")),
            ),
            ("auth/token/revoke", &by_token, (204, Value::Null)),
            (
                "auth/token/revoke-orphan",
                &by_token,
                (400, errors("token to revoke not found")),
            ),
            (
                "auth/token/lookup-accessor",
                &by_accessor,
                (400, multi("invalid accessor")),
            ),
            (
                "auth/token/renew-accessor",
                &by_accessor,
                (400, multi("invalid accessor")),
            ),
            (
                "auth/token/revoke-accessor",
                &by_accessor,
                (
                    200,
                    json!({"warnings": ["No token found with this accessor"]}),
                ),
            ),
        ];
        for (path, body, want) in cases {
            let got = answer(&t, path, None, Some(body.clone())).await;
            assert_eq!(got, want, "{path} of a token {how}");
        }
        for path in [
            "auth/token/lookup-self",
            "auth/token/renew-self",
            "auth/token/revoke-self",
            "auth/token/create",
            "sys/capabilities-self",
        ] {
            let got = answer(&t, path, Some(&tok), Some(json!({"paths": ["x"]}))).await;
            assert_eq!(
                got,
                (403, errors("permission denied")),
                "{path} with a token {how}"
            );
        }
        let got = answer(
            &t,
            "sys/capabilities",
            None,
            Some(json!({"token": tok, "paths": ["x"]})),
        )
        .await;
        assert_eq!(got, (400, multi("invalid token")), "{how}");
        let got = answer(
            &t,
            "sys/capabilities-accessor",
            None,
            Some(json!({"accessor": acc, "paths": ["x"]})),
        )
        .await;
        assert_eq!(got, (400, multi("invalid accessor")), "{how}");
    }
    let (s, v) = t.req("GET", "secret/data/x", Some("hvs.nope"), None).await;
    assert_eq!((s, v), (StatusCode::FORBIDDEN, errors("permission denied")));
}

#[tokio::test]
async fn token_paths_answer_like_openbao_for_missing_parameters_and_batch_tokens() {
    let t = TestServer::dev().await;
    for (path, want) in [
        ("auth/token/renew", (400, errors("missing token ID"))),
        ("auth/token/revoke", (400, errors("missing token ID"))),
        (
            "auth/token/revoke-orphan",
            (400, errors("missing token ID")),
        ),
        (
            "auth/token/lookup-accessor",
            (400, multi("missing accessor")),
        ),
        (
            "auth/token/renew-accessor",
            (400, multi("missing accessor")),
        ),
        (
            "auth/token/revoke-accessor",
            (400, multi("missing accessor")),
        ),
        (
            "sys/capabilities-accessor",
            (400, errors("missing accessor")),
        ),
    ] {
        let got = answer(&t, path, None, Some(json!({"paths": ["x"]}))).await;
        assert_eq!(got, want, "{path} without a token or accessor");
    }
    // Without a token in the body, lookup is of the caller's own token.
    let (s, v) = t
        .root("POST", "auth/token/lookup", Some(json!({"token": ""})))
        .await;
    assert_eq!((s, &v["data"]["id"]), (StatusCode::OK, &json!(t.root)));

    let (batch, _) = token(&t, json!({"type": "batch", "policies": ["default"]})).await;
    let by_token = json!({ "token": batch });
    for (path, want) in [
        ("auth/token/revoke", "batch tokens cannot be revoked"),
        ("auth/token/revoke-orphan", "batch tokens cannot be revoked"),
        ("auth/token/renew", "batch tokens cannot be renewed"),
    ] {
        let got = answer(&t, path, None, Some(by_token.clone())).await;
        assert_eq!(got, (400, errors(want)), "{path} of a batch token");
    }
    let got = answer(&t, "auth/token/revoke-self", Some(&batch), None).await;
    assert_eq!(got, (400, errors("batch tokens cannot be revoked")));
}

#[tokio::test]
async fn lease_paths_answer_like_openbao_for_leases_that_do_not_exist() {
    let t = with_engine().await;
    for id in ["database/creds/ro/nope", "auth/token/create/nope"] {
        let lease = json!({ "lease_id": id });
        let cases = [
            ("sys/leases/lookup", (400, errors("invalid lease"))),
            ("sys/leases/renew", (400, errors("lease not found"))),
            ("sys/leases/revoke", (204, Value::Null)),
        ];
        for (path, want) in cases {
            let got = answer(&t, path, None, Some(lease.clone())).await;
            assert_eq!(got, want, "{path} of {id}");
        }
    }
    for path in ["sys/leases/lookup", "sys/leases/renew", "sys/leases/revoke"] {
        let got = answer(&t, path, None, Some(json!({}))).await;
        assert_eq!(
            got,
            (400, errors("lease_id must be specified")),
            "{path} without lease_id"
        );
    }
}

#[tokio::test]
async fn lease_lookup_answers_openbao_fields_with_the_request_path() {
    let t = with_engine().await;
    let root = t.root.clone();
    let (id, _) = creds(&t, &root, "readonly", json!({"ttl": "1h"})).await;
    token(&t, json!({"ttl": "1h"})).await;
    let (_, v) = t
        .root("LIST", "sys/leases/lookup/auth/token/create/", None)
        .await;
    let token_lease = format!(
        "auth/token/create/{}",
        v["data"]["keys"][0].as_str().unwrap()
    );
    for (lease, path) in [
        (&id, "database/creds/readonly"),
        (&token_lease, "auth/token/create"),
    ] {
        for method in ["PUT", "POST"] {
            let body = json!({ "lease_id": lease });
            let (s, v) = t.root(method, "sys/leases/lookup", Some(body)).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let keys: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                [
                    "expire_time",
                    "id",
                    "issue_time",
                    "last_renewal",
                    "path",
                    "renewable",
                    "ttl"
                ],
                "{method} sys/leases/lookup of {lease}"
            );
            assert_eq!(
                (&v["data"]["id"], &v["data"]["path"]),
                (&json!(lease), &json!(path))
            );
        }
    }
}
