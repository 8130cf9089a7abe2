//! `login` against the local TokenReview server: what a successful login hands to core,
//! bindings and globs, audiences, and every way a login is refused, with messages that name
//! the cause but never a token.

use std::collections::BTreeMap;

use expect_test::expect;
use secrethub_engine::Operation;
use serde_json::json;

use crate::cluster::{unrelated_ca_pem, Account, FakeCluster, SeenReview, REVIEWER_JWT};
use crate::harness::{err, Logs, Mount};

const WEB_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.prod-web.sig";

async fn setup(role: serde_json::Value) -> (FakeCluster, Mount) {
    let cluster = FakeCluster::start().await;
    cluster.add(WEB_JWT, Account::new("prod", "web"));
    let m = Mount::for_cluster(&cluster).await;
    m.ok("role/app", role).await;
    (cluster, m)
}

fn bound(names: &str, namespaces: &str) -> serde_json::Value {
    json!({
        "bound_service_account_names": names,
        "bound_service_account_namespaces": namespaces,
        "token_policies": "app",
        "token_ttl": "10m",
    })
}

#[tokio::test]
async fn a_bound_service_account_logs_in() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    let (logs, _guard) = Logs::capture();
    let auth = m.login("app", WEB_JWT).await.expect("login");

    // Neither JWT reaches the log, even at trace level (hyper's connection logs included).
    // The capture saw the HTTP client at work: which of its lines appear depends on whether
    // the connection made when the mount was configured is idle, busy or gone, so only the
    // client's target is certain (naming the cluster's address was not).
    let text = logs.text();
    assert!(
        text.contains("hyper_util::client"),
        "the capture saw the request:\n{text}"
    );
    assert!(
        !text.contains(WEB_JWT) && !text.contains(REVIEWER_JWT),
        "{text}"
    );

    assert_eq!(auth.display_name, "prod-web");
    assert_eq!(auth.alias.name, "uid-prod-web");
    let account = BTreeMap::from([
        ("service_account_name".to_string(), "web".to_string()),
        ("service_account_namespace".into(), "prod".into()),
        ("service_account_secret_name".into(), String::new()),
        ("service_account_uid".into(), "uid-prod-web".into()),
    ]);
    assert_eq!(auth.alias.metadata, account);
    let mut metadata = account;
    metadata.insert("role".into(), "app".into());
    assert_eq!(auth.metadata, metadata);
    assert_eq!(auth.token.token_policies, vec!["app".to_string()]);
    assert_eq!(auth.token.token_ttl, 600);
    assert_eq!(
        auth.internal,
        json!({"v": 1, "role": "app", "namespace": "prod", "name": "web", "uid": "uid-prod-web"})
    );

    // One review, with the reviewer JWT as the bearer and no audience.
    assert_eq!(
        cluster.reviews(),
        vec![SeenReview {
            bearer: REVIEWER_JWT.into(),
            audiences: vec![],
        }]
    );
}

#[tokio::test]
async fn alias_by_service_account_name() {
    let mut role = bound("web", "prod");
    role["alias_name_source"] = json!("serviceaccount_name");
    let (_cluster, m) = setup(role).await;
    let auth = m.login("app", WEB_JWT).await.expect("login");
    assert_eq!(auth.alias.name, "prod/web");
}

#[tokio::test]
async fn glob_bindings() {
    let cluster = FakeCluster::start().await;
    let accounts = [
        ("t1", "team-a", "api-v1"),
        ("t2", "team-b", "api-v2"),
        ("t3", "team-a", "worker"),
        ("t4", "ops", "api-v1"),
    ];
    for (token, ns, name) in accounts {
        cluster.add(token, Account::new(ns, name));
    }
    let m = Mount::for_cluster(&cluster).await;
    m.ok("role/api", bound("api-*", "team-*")).await;
    m.ok("role/any-name", bound("*", "ops")).await;
    m.ok("role/any-ns", bound("worker", "*")).await;

    let outcome = |r: Result<secrethub_engine::LoginAuth, secrethub_engine::EngineError>| match r {
        Ok(a) => a.display_name,
        Err(e) => err(&e),
    };
    let mut got = Vec::new();
    for role in ["api", "any-name", "any-ns"] {
        for (token, _, _) in accounts {
            got.push(format!(
                "{role} {token}: {}",
                outcome(m.login(role, token).await)
            ));
        }
    }
    expect![[r#"
        api t1: team-a-api-v1
        api t2: team-b-api-v2
        api t3: PermissionDenied: permission denied: service account name "worker" is not bound to role "api"
        api t4: PermissionDenied: permission denied: service account namespace "ops" is not bound to role "api"
        any-name t1: PermissionDenied: permission denied: service account namespace "team-a" is not bound to role "any-name"
        any-name t2: PermissionDenied: permission denied: service account namespace "team-b" is not bound to role "any-name"
        any-name t3: PermissionDenied: permission denied: service account namespace "team-a" is not bound to role "any-name"
        any-name t4: ops-api-v1
        any-ns t1: PermissionDenied: permission denied: service account name "api-v1" is not bound to role "any-ns"
        any-ns t2: PermissionDenied: permission denied: service account name "api-v2" is not bound to role "any-ns"
        any-ns t3: team-a-worker
        any-ns t4: PermissionDenied: permission denied: service account name "api-v1" is not bound to role "any-ns""#]]
    .assert_eq(&got.join("\n"));
}

#[tokio::test]
async fn wrong_namespace_or_name_is_denied() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    cluster.add("dev-web", Account::new("dev", "web"));
    cluster.add("prod-db", Account::new("prod", "db"));
    let (logs, _guard) = Logs::capture();
    for token in ["dev-web", "prod-db"] {
        let e = m.login("app", token).await.expect_err("unbound");
        assert!(
            err(&e).starts_with("PermissionDenied: permission denied: "),
            "{}",
            err(&e)
        );
    }
    // The client sees Vault's plain 403; the operator's log says what did not match.
    assert_eq!(
        logs.denials(),
        vec![
            r#"service account namespace "dev" is not bound to role "app""#,
            r#"service account name "db" is not bound to role "app""#,
        ]
    );
    // Both were reviewed: the cluster vouched for them, the role refused them.
    assert_eq!(cluster.reviews().len(), 2);
}

#[tokio::test]
async fn a_token_the_cluster_does_not_authenticate_is_denied() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    let (logs, _guard) = Logs::capture();
    let e = m
        .login("app", "forged.jwt.token")
        .await
        .expect_err("forged");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    assert_eq!(
        logs.denials(),
        vec!["the kubernetes TokenReview API did not authenticate the JWT"]
    );
    // The API's own reason is logged at debug, without the token.
    let text = logs.text();
    assert!(text.contains("token lookup failed"), "{text}");
    assert!(!text.contains("forged.jwt.token"), "{text}");

    // A deleted service account's token stops working.
    cluster.remove(WEB_JWT);
    let e = m.login("app", WEB_JWT).await.expect_err("deleted");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
}

#[tokio::test]
async fn a_user_that_is_not_a_service_account_is_denied() {
    let (cluster, m) = setup(bound("*", "*-prod")).await;
    cluster.add("oidc-user", Account::user("alice@example.com"));
    let (logs, _guard) = Logs::capture();
    let e = m.login("app", "oidc-user").await.expect_err("not an SA");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    assert_eq!(
        logs.denials(),
        vec!["the JWT does not belong to a service account"]
    );
}

#[tokio::test]
async fn a_bad_reviewer_jwt_is_a_clear_upstream_error() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": "expired.reviewer.jwt",
        }),
    )
    .await;
    let e = m.login("app", WEB_JWT).await.expect_err("bad reviewer");
    assert_eq!(
        err(&e),
        format!(
            "Unavailable: upstream error: kubernetes API at {}: the token reviewer JWT was \
             refused (HTTP 401): Unauthorized",
            cluster.url
        )
    );
    assert!(!e.to_string().contains("expired.reviewer.jwt"));

    // A reviewer that is a valid account without permission to create TokenReviews.
    cluster.add("no-delegator", Account::new("kube-system", "plain"));
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": "no-delegator",
        }),
    )
    .await;
    let e = m
        .login("app", WEB_JWT)
        .await
        .expect_err("forbidden reviewer");
    let msg = err(&e);
    assert!(
        msg.starts_with(&format!(
            "Unavailable: upstream error: kubernetes API at {}: the token reviewer JWT was \
             refused (HTTP 403): tokenreviews.authentication.k8s.io is forbidden",
            cluster.url
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn without_a_reviewer_jwt_the_client_jwt_is_the_bearer() {
    let cluster = FakeCluster::start().await;
    cluster.add(WEB_JWT, Account::new("prod", "web").can_review());
    cluster.add("prod-api", Account::new("prod", "api"));
    let m = Mount::new();
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "disable_local_ca_jwt": true,
        }),
    )
    .await;
    m.ok("role/app", bound("web, api", "prod")).await;

    let auth = m.login("app", WEB_JWT).await.expect("login");
    assert_eq!(auth.display_name, "prod-web");
    assert_eq!(cluster.reviews()[0].bearer, WEB_JWT);

    // An account that may not create TokenReviews cannot vouch for itself.
    let (logs, _guard) = Logs::capture();
    let e = m.login("app", "prod-api").await.expect_err("no delegator");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    // Nor can an unknown token.
    let e = m.login("app", "forged").await.expect_err("forged");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    let reason = |code| {
        format!(
            "the kubernetes API refused the JWT as a bearer token for the TokenReview API \
             (HTTP {code}); configure token_reviewer_jwt"
        )
    };
    assert_eq!(logs.denials(), vec![reason(403), reason(401)]);
}

#[tokio::test]
async fn a_server_certificate_not_signed_by_the_configured_ca_is_refused() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": unrelated_ca_pem(),
            "token_reviewer_jwt": REVIEWER_JWT,
        }),
    )
    .await;
    let e = m.login("app", WEB_JWT).await.expect_err("untrusted");
    assert_eq!(
        err(&e),
        format!(
            "Unavailable: upstream error: kubernetes API at {}: TLS handshake failed (invalid \
             peer certificate: UnknownIssuer); check that kubernetes_ca_cert is the CA of the \
             cluster's API server",
            cluster.url
        )
    );
    // The token never reached the impostor.
    assert!(cluster.reviews().is_empty());

    // Back to the right CA: the cached client for the old CA is not reused.
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT,
        }),
    )
    .await;
    m.login("app", WEB_JWT).await.expect("login");
}

#[tokio::test]
async fn an_unreachable_api_server_is_named() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let host = format!("https://127.0.0.1:{closed}");
    m.ok(
        "config",
        json!({
            "kubernetes_host": host,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT,
        }),
    )
    .await;
    let e = m.login("app", WEB_JWT).await.expect_err("unreachable");
    let msg = err(&e);
    assert!(
        msg.starts_with(&format!(
            "Unavailable: upstream error: kubernetes API at {host}: unreachable ("
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn the_role_audience_is_requested_and_must_be_confirmed() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    cluster.add(
        "for-vault",
        Account::new("prod", "web").audiences(&["vault", "other"]),
    );
    m.ok("role/app", json!({"audience": "vault"})).await;
    let (logs, _guard) = Logs::capture();

    m.login("app", "for-vault").await.expect("login");
    // A token only for the API server is not valid for the role's audience.
    let e = m.login("app", WEB_JWT).await.expect_err("wrong audience");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    let audiences: Vec<Vec<String>> = cluster.reviews().into_iter().map(|r| r.audiences).collect();
    assert_eq!(audiences, vec![vec!["vault".to_string()]; 2]);

    // Without an audience on the role, the audience-bound token is not valid for the API.
    m.ok("role/app", json!({"audience": ""})).await;
    let e = m.login("app", "for-vault").await.expect_err("API audience");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    m.login("app", WEB_JWT).await.expect("login");
    assert_eq!(
        cluster.reviews().last().expect("review").audiences,
        Vec::<String>::new()
    );

    let not_authenticated = "the kubernetes TokenReview API did not authenticate the JWT";
    assert_eq!(logs.denials(), vec![not_authenticated; 2]);
}

#[tokio::test]
async fn an_audience_the_api_server_does_not_confirm_is_refused() {
    // An API server that ignores `spec.audiences` vouches for the token, but only for its
    // own audience: the role's audience is not confirmed, so the login is refused.
    let (cluster, m) = setup(bound("web", "prod")).await;
    cluster.ignore_audiences();
    m.ok("role/app", json!({"audience": "vault"})).await;
    let (logs, _guard) = Logs::capture();
    let e = m
        .login("app", WEB_JWT)
        .await
        .expect_err("unconfirmed audience");
    assert!(
        err(&e).starts_with("PermissionDenied: permission denied: "),
        "{}",
        err(&e)
    );
    assert_eq!(
        logs.denials(),
        vec![r#"the JWT is not valid for audience "vault" of role "app""#]
    );
}

#[tokio::test]
async fn bad_login_requests() {
    let (_cluster, m) = setup(bound("web", "prod")).await;
    let cases = [
        (json!({"jwt": WEB_JWT}), "BadRequest: missing role"),
        (json!({"role": "app"}), "BadRequest: missing jwt"),
        (
            json!({"role": "app", "jwt": " "}),
            "BadRequest: missing jwt",
        ),
        (
            json!({"role": "app", "jwt": [WEB_JWT]}),
            "BadRequest: invalid jwt: expected a string",
        ),
        (
            json!({"role": "nope", "jwt": WEB_JWT}),
            r#"BadRequest: invalid role name "nope""#,
        ),
    ];
    for (body, want) in cases {
        let got = m.write("login", body.clone()).await;
        assert_eq!(got, want, "{body}");
        assert!(!got.contains(WEB_JWT));
    }

    // A role but no config yet.
    let fresh = Mount::new();
    fresh.ok("role/app", bound("web", "prod")).await;
    assert_eq!(
        fresh
            .write("login", json!({"role": "app", "jwt": WEB_JWT}))
            .await,
        "BadRequest: the kubernetes auth method is not configured; write its config first"
    );
}

/// The seed's quick start logs in with only a `jwt`: a mount configured with `default_role`
/// takes that role; without one, `role` stays required, as in Vault.
#[tokio::test]
async fn a_login_without_a_role_uses_the_configured_default_role() {
    let (cluster, m) = setup(bound("web", "prod")).await;
    m.ok(
        "config",
        json!({
            "kubernetes_host": cluster.url,
            "kubernetes_ca_cert": cluster.ca_pem,
            "token_reviewer_jwt": REVIEWER_JWT,
            "default_role": "app",
        }),
    )
    .await;
    let config = m.read("config").await;
    assert!(config.contains(r#""default_role": "app""#), "{config}");

    let resp = m
        .call(Operation::Update, "login", json!({"jwt": WEB_JWT}))
        .await
        .expect("login with the default role");
    let auth = resp.auth.expect("a login answers `auth`");
    assert_eq!(auth.metadata["role"], "app");
    assert_eq!(auth.token.token_policies, vec!["app".to_string()]);

    // A named role still wins over the default.
    m.ok("role/other", bound("nobody", "prod")).await;
    assert_eq!(
        m.write("login", json!({"role": "other", "jwt": WEB_JWT}))
            .await,
        r#"PermissionDenied: permission denied: service account name "web" is not bound to role "other""#
    );
}
