//! `renew_login`: a token renews while its role still binds the service account, with the
//! role's current token fields, and stops renewing when the role is deleted or its bindings
//! change.

use serde_json::json;

use crate::cluster::{Account, FakeCluster};
use crate::harness::{err, Mount};

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.prod-web.sig";

async fn logged_in() -> (FakeCluster, Mount, secrethub_engine::LoginAuth) {
    let cluster = FakeCluster::start().await;
    cluster.add(JWT, Account::new("prod", "web"));
    let m = Mount::for_cluster(&cluster).await;
    m.ok(
        "role/app",
        json!({
            "bound_service_account_names": ["web"],
            "bound_service_account_namespaces": ["prod", "staging"],
            "token_policies": ["app"],
            "token_ttl": "10m",
        }),
    )
    .await;
    let auth = m.login("app", JWT).await.expect("login");
    (cluster, m, auth)
}

#[tokio::test]
async fn renewal_answers_the_roles_current_token_fields() {
    let (cluster, m, auth) = logged_in().await;
    let params = m.renew(&auth).await.expect("renew");
    assert_eq!(params.token_ttl, 600);

    m.ok("role/app", json!({"token_ttl": "20m"})).await;
    let params = m.renew(&auth).await.expect("renew");
    assert_eq!(
        (params.token_ttl, params.token_policies),
        (1200, vec!["app".into()])
    );
    // Renewal re-checks the role only; it does not call the cluster.
    assert_eq!(cluster.reviews().len(), 1);
}

#[tokio::test]
async fn renewal_fails_after_the_role_is_deleted() {
    let (_cluster, m, auth) = logged_in().await;
    m.send(secrethub_engine::Operation::Delete, "role/app", json!(null))
        .await;
    let e = m.renew(&auth).await.expect_err("role deleted");
    assert_eq!(
        err(&e),
        r#"BadRequest: role "app" no longer exists, not renewing"#
    );
}

#[tokio::test]
async fn renewal_fails_when_the_bindings_no_longer_admit_the_account() {
    let (_cluster, m, auth) = logged_in().await;
    m.ok(
        "role/app",
        json!({"bound_service_account_namespaces": "staging"}),
    )
    .await;
    let e = m.renew(&auth).await.expect_err("namespace unbound");
    assert_eq!(
        err(&e),
        r#"BadRequest: service account namespace "prod" is not bound to role "app" any more, not renewing"#
    );

    m.ok(
        "role/app",
        json!({"bound_service_account_namespaces": "prod", "bound_service_account_names": "api"}),
    )
    .await;
    let e = m.renew(&auth).await.expect_err("name unbound");
    assert_eq!(
        err(&e),
        r#"BadRequest: service account name "web" is not bound to role "app" any more, not renewing"#
    );

    // Bound again (by a glob): renewal works again.
    m.ok("role/app", json!({"bound_service_account_names": "w*"}))
        .await;
    m.renew(&auth).await.expect("renew");
}
