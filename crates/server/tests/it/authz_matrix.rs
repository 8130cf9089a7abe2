//! The authorisation matrix: every route of every built-in mount (read from core's own
//! path tables, `secrethub_core::BuiltIn::paths`) × every kind of credential, each
//! answer checked against the expectation written here. A route added to a table without a
//! row in `EXPECTED` fails, and so does a row whose route is gone.
//!
//! Credentials: none, bogus, expired, revoked, use-exhausted (all five refused with 403
//! "permission denied" except on unauthenticated paths), a token with only `default` (what
//! the default policy grants), and a token with every capability but sudo on `*` (allowed
//! except on sudo paths). "Allowed" means the pipeline let the request through: any answer
//! other than its 403 "permission denied" (the handler may still say 400 or 404 to the
//! sample path), and never a 5xx.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use secrethub_core::BuiltIn;
use serde_json::{json, Value};

use crate::harness::{eventually, TestServer};

/// How a route is protected, as this test expects it (independent of core's declaration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Needs a valid token and a grant.
    Normal,
    /// Needs `sudo` on top of the grant.
    Sudo,
    /// Served without a token.
    Open,
}
use Class::{Normal, Open, Sudo};

/// (mount path + pattern, operation, what a `default`-only token gets, class).
const EXPECTED: &[(&str, &str, bool, Class)] = &[
    ("sys/mounts", "read", false, Normal),
    ("sys/mounts/{*path}", "read", false, Normal),
    ("sys/mounts/{*path}", "update", false, Normal),
    ("sys/mounts/{*path}", "delete", false, Normal),
    ("sys/auth", "read", false, Normal),
    ("sys/auth/{*path}", "read", false, Sudo),
    ("sys/auth/{*path}", "update", false, Sudo),
    ("sys/auth/{*path}", "delete", false, Sudo),
    ("sys/policy", "read", false, Normal),
    ("sys/policy", "list", false, Normal),
    ("sys/policy/{*name}", "read", false, Normal),
    ("sys/policy/{*name}", "update", false, Normal),
    ("sys/policy/{*name}", "delete", false, Normal),
    ("sys/policies/acl", "list", false, Normal),
    ("sys/policies/acl/{*name}", "read", false, Normal),
    ("sys/policies/acl/{*name}", "update", false, Normal),
    ("sys/policies/acl/{*name}", "delete", false, Normal),
    ("sys/audit", "read", false, Sudo),
    ("sys/audit/{*path}", "update", false, Sudo),
    ("sys/audit/{*path}", "delete", false, Sudo),
    ("sys/audit-hash/{*path}", "update", false, Normal),
    ("sys/audit-verify/{*path}", "read", false, Sudo),
    ("sys/capabilities", "update", false, Normal),
    ("sys/capabilities-self", "update", true, Normal),
    ("sys/capabilities-accessor", "update", false, Normal),
    ("sys/rotate", "update", false, Sudo),
    ("sys/key-status", "read", false, Normal),
    ("sys/seal", "update", false, Sudo),
    ("sys/wrapping/lookup", "read", true, Open),
    ("sys/wrapping/lookup", "update", true, Open),
    ("sys/wrapping/unwrap", "update", true, Open),
    ("sys/wrapping/rewrap", "update", false, Normal),
    ("sys/wrapping/wrap", "update", true, Normal),
    ("sys/leases", "read", false, Sudo),
    ("sys/leases", "list", false, Sudo),
    ("sys/leases/lookup", "update", true, Normal),
    ("sys/leases/lookup", "list", false, Sudo),
    // OpenBao protects every operation under `leases/lookup/`, not only its LIST.
    ("sys/leases/lookup/{*prefix}", "update", false, Sudo),
    ("sys/leases/lookup/{*prefix}", "list", false, Sudo),
    ("sys/leases/renew", "update", true, Normal),
    ("sys/leases/renew/{*lease_id}", "update", false, Normal),
    ("sys/leases/revoke", "update", false, Normal),
    ("sys/leases/revoke/{*lease_id}", "update", false, Normal),
    ("sys/leases/revoke-prefix", "update", false, Sudo),
    ("sys/leases/revoke-prefix/{*prefix}", "update", false, Sudo),
    ("sys/leases/revoke-force", "update", false, Sudo),
    ("sys/leases/revoke-force/{*prefix}", "update", false, Sudo),
    ("sys/leases/tidy", "update", false, Normal),
    ("sys/leases/count", "read", false, Normal),
    ("sys/leases/stats", "read", false, Normal),
    ("sys/renew", "update", true, Normal),
    ("sys/renew/{*lease_id}", "update", false, Normal),
    ("sys/revoke", "update", false, Normal),
    ("sys/revoke/{*lease_id}", "update", false, Normal),
    ("sys/revoke-prefix", "update", false, Sudo),
    ("sys/revoke-prefix/{*prefix}", "update", false, Sudo),
    ("sys/revoke-force", "update", false, Sudo),
    ("sys/revoke-force/{*prefix}", "update", false, Sudo),
    ("sys/quotas/lease-count", "list", false, Normal),
    ("sys/quotas/lease-count/{*name}", "read", false, Normal),
    ("sys/quotas/lease-count/{*name}", "update", false, Normal),
    ("sys/quotas/lease-count/{*name}", "delete", false, Normal),
    ("sys/quotas/rate-limit", "list", false, Normal),
    ("sys/quotas/rate-limit/{*name}", "read", false, Normal),
    ("sys/quotas/rate-limit/{*name}", "update", false, Normal),
    ("sys/quotas/rate-limit/{*name}", "delete", false, Normal),
    ("sys/internal/ui/mounts", "read", true, Open),
    ("sys/internal/ui/mounts/{*path}", "read", true, Open),
    ("auth/token/create", "update", false, Normal),
    ("auth/token/create-orphan", "update", false, Normal),
    ("auth/token/create/{*role}", "update", false, Normal),
    ("auth/token/roles", "list", false, Normal),
    ("auth/token/roles/{*name}", "read", false, Normal),
    ("auth/token/roles/{*name}", "update", false, Normal),
    ("auth/token/roles/{*name}", "delete", false, Normal),
    ("auth/token/lookup-self", "read", true, Normal),
    ("auth/token/lookup-self", "update", false, Normal),
    ("auth/token/lookup", "update", false, Normal),
    ("auth/token/lookup-accessor", "update", false, Normal),
    ("auth/token/renew-self", "update", true, Normal),
    ("auth/token/renew", "update", false, Normal),
    ("auth/token/renew-accessor", "update", false, Normal),
    ("auth/token/revoke-self", "update", true, Normal),
    ("auth/token/revoke", "update", false, Normal),
    ("auth/token/revoke-accessor", "update", false, Normal),
    ("auth/token/revoke-orphan", "update", false, Sudo),
    ("auth/token/accessors", "list", false, Sudo),
    ("cubbyhole/", "list", true, Normal),
    ("cubbyhole/{*path}", "read", true, Normal),
    ("cubbyhole/{*path}", "update", true, Normal),
    ("cubbyhole/{*path}", "delete", true, Normal),
    ("cubbyhole/{*path}", "list", true, Normal),
    ("identity/entity/id", "list", false, Normal),
    ("identity/entity/id/{id}", "read", false, Normal),
];

const ALL_BUT_SUDO: &str =
    r#"path "*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }"#;

/// A concrete path for a pattern: each `{name}` or `{*rest}` becomes `sample`.
fn sample(route: &str) -> String {
    route
        .split('/')
        .map(|seg| if seg.starts_with('{') { "sample" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn method(op: &str) -> &'static str {
    match op {
        "read" => "GET",
        "update" => "POST",
        "delete" => "DELETE",
        "list" => "LIST",
        other => panic!("no method for {other}"),
    }
}

/// Whether the pipeline refused the request (rather than a handler answering it).
fn refused(s: StatusCode, v: &Value) -> bool {
    s == StatusCode::FORBIDDEN && *v == json!({"errors": ["permission denied"]})
}

async fn token(t: &TestServer, body: Value) -> String {
    let (s, v) = t.root("POST", "auth/token/create", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["auth"]["client_token"].as_str().unwrap().to_string()
}

/// Tokens that no longer work, as (credential name, token).
async fn dead_tokens(t: &TestServer) -> Vec<(&'static str, Option<String>)> {
    let expired = token(t, json!({"ttl": "1s"})).await;
    let revoked = token(t, json!({})).await;
    let (s, _) = t
        .root("POST", "auth/token/revoke", Some(json!({"token": revoked})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let exhausted = token(t, json!({"num_uses": 1})).await;
    let (s, _) = t
        .req("GET", "auth/token/lookup-self", Some(&exhausted), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    eventually("the 1s token expires", || async {
        t.req("GET", "auth/token/lookup-self", Some(&expired), None)
            .await
            .0
            == StatusCode::FORBIDDEN
    })
    .await;
    vec![
        ("no token", None),
        (
            "bogus",
            Some("hvs.CAESIDoesNotExistDoesNotExistDoesNotExist".into()),
        ),
        ("expired", Some(expired)),
        ("revoked", Some(revoked)),
        ("use-exhausted", Some(exhausted)),
    ]
}

#[tokio::test]
async fn every_builtin_route_against_every_credential() {
    let rows: Vec<(String, &'static str)> = BuiltIn::ALL
        .iter()
        .flat_map(|b| {
            b.paths().entries().iter().flat_map(move |r| {
                r.ops()
                    .iter()
                    .map(move |op| (format!("{}{}", b.mount_path(), r.pattern()), op.as_str()))
            })
        })
        .collect();
    let table: BTreeSet<(&str, &str)> = rows.iter().map(|(r, o)| (r.as_str(), *o)).collect();
    let expected: BTreeSet<(&str, &str)> = EXPECTED.iter().map(|(r, o, _, _)| (*r, *o)).collect();
    let missing: Vec<_> = table.difference(&expected).collect();
    let stale: Vec<_> = expected.difference(&table).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without an expectation: {missing:?}; expectations without a route: {stale:?}"
    );

    let t = TestServer::dev().await;
    let (s, v) = t
        .root(
            "PUT",
            "sys/policies/acl/all-but-sudo",
            Some(json!({"policy": ALL_BUT_SUDO})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let dead = dead_tokens(&t).await;
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (route, op, default_allowed, class) in EXPECTED {
        let path = sample(route.trim_end_matches('/'));
        let m = method(op);
        // Fresh live tokens per row: some rows revoke or use up the caller.
        let default_only = token(&t, json!({"policies": ["default"]})).await;
        let no_sudo = token(
            &t,
            json!({"policies": ["all-but-sudo"], "no_default_policy": true}),
        )
        .await;
        let mut creds: Vec<(&str, Option<String>, bool)> = dead
            .iter()
            .map(|(name, tok)| (*name, tok.clone(), *class == Open))
            .collect();
        creds.push((
            "default only",
            Some(default_only),
            *default_allowed || *class == Open,
        ));
        creds.push(("all but sudo", Some(no_sudo), *class != Sudo));
        for (name, tok, allowed) in creds {
            let (s, v) = t.req(m, &path, tok.as_deref(), None).await;
            checked += 1;
            let ok = if allowed {
                !refused(s, &v) && !s.is_server_error()
            } else {
                refused(s, &v)
            };
            if !ok {
                wrong.push(format!(
                    "{m} {path} ({route} {op}) as {name}: expected {}, got {s} {v}",
                    if allowed { "allowed" } else { "403" }
                ));
            }
        }
    }
    eprintln!(
        "authorisation matrix: {} routes × 7 credentials = {checked} requests",
        EXPECTED.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
