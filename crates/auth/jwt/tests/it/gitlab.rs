//! GitLab CI: ES256 ID tokens, keys from a JWKS URL, protected-ref and project bindings.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::harness::{gitlab_claims, with, Idp, Mount, Signer, GITLAB_ISSUER};

async fn setup() -> (Mount, Idp, Signer) {
    let signer = Signer::ec("gitlab-2024", Algorithm::ES256);
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    m.write(
        "config",
        json!({"jwks_url": idp.jwks_url(), "bound_issuer": GITLAB_ISSUER}),
    )
    .await;
    m.write(
        "role/api-prod",
        json!({
            "role_type": "jwt",
            "user_claim": "user_login",
            "bound_audiences": "https://secrethub.example.com",
            "bound_claims": {
                "project_path": "acme/api",
                "ref_type": "branch",
                "ref_protected": "true",
            },
            "claim_mappings": {
                "project_path": "project_path",
                "ref": "ref",
                "pipeline_source": "pipeline_source",
                "environment": "environment",
                "runner_id": "runner_id",
            },
            "token_policies": "api-prod,api-read",
            "token_ttl": 900,
        }),
    )
    .await;
    (m, idp, signer)
}

#[tokio::test]
async fn gitlab_ci_token_on_a_protected_branch_logs_in() {
    let (m, _idp, signer) = setup().await;
    let auth = m.login_ok("api-prod", &signer.sign(&gitlab_claims())).await;
    assert_eq!(auth.display_name, "alice");
    assert_eq!(auth.alias.name, "alice");
    assert_eq!(auth.metadata["project_path"], "acme/api");
    assert_eq!(auth.metadata["ref"], "main");
    assert_eq!(auth.metadata["pipeline_source"], "push");
    assert_eq!(auth.metadata["environment"], "production");
    // A numeric claim is copied as text.
    assert_eq!(auth.metadata["runner_id"], "1");
    assert_eq!(auth.metadata["role"], "api-prod");
    assert_eq!(auth.token.token_policies, ["api-prod", "api-read"]);
    assert_eq!(auth.token.token_ttl, 900);
}

#[tokio::test]
async fn gitlab_bindings_refuse_unprotected_refs_and_other_projects() {
    let (m, _idp, signer) = setup().await;
    for (changes, claim) in [
        (
            json!({"ref": "wip", "ref_protected": "false"}),
            "ref_protected",
        ),
        (json!({"project_path": "acme/api-fork"}), "project_path"),
        (json!({"ref_type": "tag", "ref": "v1.0.0"}), "ref_type"),
    ] {
        let jwt = signer.sign(&with(gitlab_claims(), changes));
        assert_eq!(
            m.login_refused("api-prod", &jwt).await,
            format!(
                "error validating claims: claim {claim:?} does not match any associated bound claim values"
            )
        );
    }
    // A claim mapped to metadata may be absent (no environment on this job).
    let jwt = signer.sign(&with(gitlab_claims(), json!({"environment": null})));
    let auth = m.login_ok("api-prod", &jwt).await;
    assert!(!auth.metadata.contains_key("environment"));
}

#[tokio::test]
async fn gitlab_release_refs_by_glob_and_subject() {
    let (m, _idp, signer) = setup().await;
    m.write(
        "role/releases",
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_subject": "project_path:acme/api:ref_type:tag:ref:v2.1.0",
            "bound_audiences": "https://secrethub.example.com",
            "bound_claims_type": "glob",
            "bound_claims": {"ref": "v*", "namespace_path": "acme"},
            "token_policies": "release",
        }),
    )
    .await;
    let tag = with(
        gitlab_claims(),
        json!({
            "ref": "v2.1.0", "ref_type": "tag", "ref_path": "refs/tags/v2.1.0",
            "sub": "project_path:acme/api:ref_type:tag:ref:v2.1.0",
        }),
    );
    let auth = m.login_ok("releases", &signer.sign(&tag)).await;
    assert_eq!(
        auth.alias.name,
        "project_path:acme/api:ref_type:tag:ref:v2.1.0"
    );

    let other_tag = with(
        tag.clone(),
        json!({"ref": "v2.2.0", "sub": "project_path:acme/api:ref_type:tag:ref:v2.2.0"}),
    );
    assert_eq!(
        m.login_refused("releases", &signer.sign(&other_tag)).await,
        "error validating token: invalid subject (sub) claim"
    );
    m.write("role/releases", json!({"bound_subject": ""})).await;
    m.login_ok("releases", &signer.sign(&other_tag)).await;
    let branch = with(tag, json!({"ref": "main"}));
    assert_eq!(
        m.login_refused("releases", &signer.sign(&branch)).await,
        "error validating claims: claim \"ref\" does not match any associated bound claim values"
    );
}
