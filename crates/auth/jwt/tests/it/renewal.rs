//! `renew_login`: the role and config as they are now must still admit the claims recorded
//! at login; otherwise core refuses to renew the token.

use secrethub_engine::{EngineError, LoginAuth};
use serde_json::json;

use crate::harness::{github_claims, Idp, Mount, Signer, GITHUB_ISSUER};

async fn logged_in() -> (Mount, Idp, LoginAuth) {
    let signer = Signer::rsa("rsa1", "k1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    m.write(
        "config",
        json!({"oidc_discovery_url": idp.base, "bound_issuer": GITHUB_ISSUER}),
    )
    .await;
    m.write(
        "role/deploy",
        json!({
            "role_type": "jwt",
            "bound_audiences": ["https://github.com/acme"],
            "bound_subject": "repo:acme/api:ref:refs/heads/main",
            "bound_claims": {"repository": "acme/api", "ref": ["refs/heads/main", "refs/heads/hotfix"]},
            "token_policies": "deploy",
            "token_ttl": "5m",
        }),
    )
    .await;
    let auth = m.login_ok("deploy", &signer.sign(&github_claims())).await;
    (m, idp, auth)
}

fn refusal(result: Result<secrethub_engine::TokenParams, EngineError>) -> String {
    match result {
        Err(EngineError::BadRequest(msg)) => msg,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn renewal_answers_the_roles_current_token_parameters() {
    let (m, _idp, auth) = logged_in().await;
    let params = m.renew(&auth).await.unwrap();
    assert_eq!(params.token_policies, ["deploy"]);
    assert_eq!(params.token_ttl, 300);
    m.write("role/deploy", json!({"token_ttl": "15m"})).await;
    assert_eq!(m.renew(&auth).await.unwrap().token_ttl, 900);
    // Widening a binding keeps the login valid.
    m.write(
        "role/deploy",
        json!({"bound_audiences": ["https://github.com/acme", "sts.amazonaws.com"]}),
    )
    .await;
    m.renew(&auth).await.unwrap();
}

#[tokio::test]
async fn renewal_fails_once_bound_claims_no_longer_admit_the_login() {
    let (m, _idp, auth) = logged_in().await;
    m.write(
        "role/deploy",
        json!({"bound_claims": {"repository": "acme/api", "ref": "refs/heads/release"}}),
    )
    .await;
    assert_eq!(
        refusal(m.renew(&auth).await),
        "role \"deploy\" no longer admits this login: claim \"ref\" does not match any associated bound claim values"
    );
    m.write(
        "role/deploy",
        json!({"bound_claims_type": "glob", "bound_claims": {"repository": "acme/*"}}),
    )
    .await;
    m.renew(&auth).await.unwrap();
    // A claim the login was never checked against cannot be vouched for.
    m.write(
        "role/deploy",
        json!({"bound_claims": {"repository": "acme/*", "environment": "production"}}),
    )
    .await;
    assert_eq!(
        refusal(m.renew(&auth).await),
        "role \"deploy\" no longer admits this login: claim \"environment\" is missing"
    );
}

#[tokio::test]
async fn renewal_fails_when_subject_audience_or_issuer_bindings_change() {
    let (m, idp, auth) = logged_in().await;
    m.write(
        "role/deploy",
        json!({"bound_subject": "repo:acme/api:environment:production"}),
    )
    .await;
    assert_eq!(
        refusal(m.renew(&auth).await),
        "role \"deploy\" no longer admits this login: invalid subject (sub) claim"
    );
    m.write(
        "role/deploy",
        json!({"bound_subject": "", "bound_audiences": "secrethub"}),
    )
    .await;
    assert!(refusal(m.renew(&auth).await)
        .ends_with("audience claim does not match any expected audience"));
    m.write(
        "role/deploy",
        json!({"bound_audiences": "https://github.com/acme"}),
    )
    .await;
    m.renew(&auth).await.unwrap();
    m.write(
        "config",
        json!({"oidc_discovery_url": idp.base, "bound_issuer": "https://gitlab.example.com"}),
    )
    .await;
    assert_eq!(
        refusal(m.renew(&auth).await),
        "role \"deploy\" no longer admits this login: invalid issuer (iss) claim"
    );
}

#[tokio::test]
async fn renewal_fails_after_the_role_is_deleted() {
    let (m, _idp, auth) = logged_in().await;
    m.call(
        secrethub_engine::Operation::Delete,
        "role/deploy",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(
        refusal(m.renew(&auth).await),
        "role \"deploy\" no longer exists, not renewing"
    );
    let mut broken = auth.clone();
    broken.internal = json!({"something": "else"});
    assert_eq!(
        refusal(m.renew(&broken).await),
        "the login data of this token is unreadable, not renewing"
    );
}
