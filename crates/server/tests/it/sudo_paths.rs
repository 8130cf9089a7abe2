//! Root-protected paths (OpenBao's `PathsSpecial.Root`) that were once served without
//! `sudo`: a token with every other capability on every path gets 403 on each, and the
//! same request works once the policy adds `sudo`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::unique;
use crate::leases::{creds, with_engine};

const ALL_BUT_SUDO: &str =
    r#"path "*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }"#;
const ALL: &str = r#"path "*" { capabilities = ["create", "read", "update", "delete", "list", "patch", "sudo"] }"#;

/// One request a sudo-less token must not get through, and the status it gets with sudo.
struct Case {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    with_sudo: StatusCode,
}

fn cases() -> Vec<Case> {
    let case = |method, path, body, with_sudo| Case {
        method,
        path,
        body,
        with_sudo,
    };
    // Listings first and revocations last, so that the sudo round finds the lease to list.
    vec![
        case("GET", "sys/leases", None, StatusCode::OK),
        case("LIST", "sys/leases/lookup", None, StatusCode::OK),
        case(
            "LIST",
            "sys/leases/lookup/database/creds/",
            None,
            StatusCode::OK,
        ),
        case(
            "POST",
            "sys/auth/up-sudo",
            Some(json!({"type": "userpass"})),
            StatusCode::NO_CONTENT,
        ),
        case(
            "POST",
            "sys/auth/up-sudo/tune",
            Some(json!({"default_lease_ttl": "1h"})),
            StatusCode::NO_CONTENT,
        ),
        case("GET", "sys/auth/up-sudo/tune", None, StatusCode::OK),
        case("DELETE", "sys/auth/up-sudo", None, StatusCode::NO_CONTENT),
        case(
            "PUT",
            "sys/revoke-force/database/x",
            None,
            StatusCode::NO_CONTENT,
        ),
        case(
            "PUT",
            "sys/leases/revoke-force/database/x",
            None,
            StatusCode::NO_CONTENT,
        ),
        case(
            "PUT",
            "sys/leases/revoke-prefix/database/x",
            None,
            StatusCode::NO_CONTENT,
        ),
        case(
            "PUT",
            "sys/leases/revoke-prefix",
            None,
            StatusCode::NO_CONTENT,
        ),
        case("PUT", "sys/revoke-force", None, StatusCode::NO_CONTENT),
        case(
            "PUT",
            "sys/revoke-prefix/database/creds",
            None,
            StatusCode::NO_CONTENT,
        ),
    ]
}

pub(crate) async fn token(t: &crate::harness::TestServer, hcl: &str) -> String {
    let name = unique("sudo");
    let (s, v) = t
        .root(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({"policy": hcl})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // Without `default`, whose exact `sys/leases/lookup` rule would decide that LIST instead.
    let (s, v) = t
        .root(
            "POST",
            "auth/token/create",
            Some(json!({"policies": [name], "no_default_policy": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["auth"]["client_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn root_protected_paths_need_sudo() {
    let t = with_engine().await;
    let (lease_id, _) = creds(&t, &t.root.clone(), "app", json!({"ttl": "1h"})).await;
    let no_sudo = token(&t, ALL_BUT_SUDO).await;
    let sudo = token(&t, ALL).await;
    // The auth mount exists for the refused round, so its 403s are the sudo check.
    let (s, v) = t
        .root(
            "POST",
            "sys/auth/up-sudo",
            Some(json!({"type": "userpass"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    for c in cases() {
        let (s, v) = t
            .req(c.method, c.path, Some(&no_sudo), c.body.clone())
            .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "{} {} without sudo: {v}",
            c.method,
            c.path
        );
    }
    // The refused revocations revoked nothing.
    let lookup = json!({"lease_id": lease_id});
    let (s, v) = t
        .root("PUT", "sys/leases/lookup", Some(lookup.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = t.root("DELETE", "sys/auth/up-sudo", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    for c in cases() {
        let (s, v) = t.req(c.method, c.path, Some(&sudo), c.body.clone()).await;
        assert_eq!(s, c.with_sudo, "{} {} with sudo: {v}", c.method, c.path);
    }
    let (s, _) = t.root("PUT", "sys/leases/lookup", Some(lookup)).await;
    assert_ne!(
        s,
        StatusCode::OK,
        "revoke-prefix with sudo revoked the lease"
    );
}

#[tokio::test]
async fn token_store_root_paths_need_sudo() {
    let t = with_engine().await;
    let no_sudo = token(&t, ALL_BUT_SUDO).await;
    let sudo = token(&t, ALL).await;
    let victim = t.token_with(&["default"]).await;
    for (method, path, body) in [
        ("LIST", "auth/token/accessors", None),
        (
            "PUT",
            "auth/token/revoke-orphan",
            Some(json!({"token": victim})),
        ),
    ] {
        let (s, v) = t.req(method, path, Some(&no_sudo), body.clone()).await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "{method} {path} without sudo: {v}"
        );
        let (s, v) = t.req(method, path, Some(&sudo), body).await;
        assert!(s.is_success(), "{method} {path} with sudo: {s} {v}");
    }
}
