//! GitHub Actions: RS256 tokens, keys found through OIDC discovery, the issuer bound with
//! `bound_issuer` (the real issuer is not reachable here, so discovery is served locally).

use std::collections::BTreeMap;

use serde_json::json;

use crate::harness::{github_claims, with, Idp, Mount, Signer, GITHUB_ISSUER, GITLAB_ISSUER};

async fn setup() -> (Mount, Idp, Signer) {
    let signer = Signer::rsa("rsa1", "gh-key-1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    m.write(
        "config",
        json!({"oidc_discovery_url": idp.base, "bound_issuer": GITHUB_ISSUER}),
    )
    .await;
    m.write(
        "role/deploy-api",
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["https://github.com/acme"],
            "bound_claims": {
                "repository": "acme/api",
                "ref": "refs/heads/main",
                "environment": "production",
            },
            "claim_mappings": {
                "repository": "repository",
                "ref": "ref",
                "sha": "sha",
                "actor": "actor",
                "run_id": "run_id",
                "workflow": "workflow",
            },
            "token_policies": ["deploy-api"],
            "token_ttl": "10m",
            "token_max_ttl": "1h",
        }),
    )
    .await;
    (m, idp, signer)
}

#[tokio::test]
async fn github_actions_token_logs_in() {
    let (m, _idp, signer) = setup().await;
    let auth = m
        .login_ok("deploy-api", &signer.sign(&github_claims()))
        .await;
    assert_eq!(auth.display_name, "repo:acme/api:ref:refs/heads/main");
    assert_eq!(auth.alias.name, "repo:acme/api:ref:refs/heads/main");
    let expected: BTreeMap<String, String> = [
        ("actor", "octocat"),
        ("ref", "refs/heads/main"),
        ("repository", "acme/api"),
        ("role", "deploy-api"),
        ("run_id", "9012345678"),
        ("sha", "d6cd1e2bd19e03a81132a23b2025920577f84e37"),
        ("workflow", "deploy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(auth.metadata, expected);
    assert_eq!(auth.alias.metadata, expected);
    assert_eq!(auth.token.token_policies, ["deploy-api"]);
    assert_eq!(
        (auth.token.token_ttl, auth.token.token_max_ttl),
        (600, 3600)
    );
    // Only what the bindings looked at is kept for renewal.
    assert_eq!(
        auth.internal,
        json!({
            "v": 1,
            "role": "deploy-api",
            "iss": GITHUB_ISSUER,
            "sub": "repo:acme/api:ref:refs/heads/main",
            "aud": ["https://github.com/acme"],
            "bound": {
                "environment": "production",
                "ref": "refs/heads/main",
                "repository": "acme/api",
            },
        })
    );
}

#[tokio::test]
async fn github_bindings_refuse_other_repositories_branches_audiences_and_issuers() {
    let (m, _idp, signer) = setup().await;
    let cases = [
        (
            json!({"repository": "acme/web", "sub": "repo:acme/web:ref:refs/heads/main"}),
            "error validating claims: claim \"repository\" does not match any associated bound claim values",
        ),
        (
            json!({"ref": "refs/heads/feature", "sub": "repo:acme/api:ref:refs/heads/feature"}),
            "error validating claims: claim \"ref\" does not match any associated bound claim values",
        ),
        (
            json!({"environment": null, "event_name": "pull_request"}),
            "error validating claims: claim \"environment\" is missing",
        ),
        (
            json!({"aud": "sts.amazonaws.com"}),
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
        ),
        (
            json!({"iss": GITLAB_ISSUER}),
            "error validating token: invalid issuer (iss) claim",
        ),
    ];
    for (changes, want) in cases {
        let jwt = signer.sign(&with(github_claims(), changes.clone()));
        assert_eq!(m.login_refused("deploy-api", &jwt).await, want, "{changes}");
    }
    // A token for several audiences is fine when one of them is bound.
    let jwt = signer.sign(&with(
        github_claims(),
        json!({"aud": ["sts.amazonaws.com", "https://github.com/acme"]}),
    ));
    m.login_ok("deploy-api", &jwt).await;
}

#[tokio::test]
async fn glob_bound_claims_admit_reusable_workflows_of_the_org() {
    let (m, _idp, signer) = setup().await;
    m.write(
        "role/org-deploy",
        json!({
            "role_type": "jwt",
            "user_claim": "repository",
            "bound_audiences": "https://github.com/acme",
            "bound_claims_type": "glob",
            "bound_claims": {
                "sub": "repo:acme/*:ref:refs/heads/main",
                "job_workflow_ref": [
                    "acme/platform/.github/workflows/*.yml@refs/heads/main",
                    "acme/platform/.github/workflows/*.yml@refs/tags/v*",
                ],
            },
            "token_policies": "org-deploy",
        }),
    )
    .await;
    let reusable = "acme/platform/.github/workflows/deploy.yml@refs/tags/v1.4.0";
    let jwt = signer.sign(&with(
        github_claims(),
        json!({
            "repository": "acme/web",
            "sub": "repo:acme/web:ref:refs/heads/main",
            "job_workflow_ref": reusable,
        }),
    ));
    let auth = m.login_ok("org-deploy", &jwt).await;
    assert_eq!(auth.alias.name, "acme/web");
    assert_eq!(auth.metadata["role"], "org-deploy");

    for changes in [
        // The repository's own workflow, not the platform's reusable one.
        json!({"job_workflow_ref": "acme/web/.github/workflows/deploy.yml@refs/heads/main"}),
        // Another organisation copying the workflow path.
        json!({"job_workflow_ref": "evil/platform/.github/workflows/deploy.yml@refs/heads/main"}),
    ] {
        let jwt = signer.sign(&with(github_claims(), changes));
        let msg = m.login_refused("org-deploy", &jwt).await;
        assert_eq!(
            msg,
            "error validating claims: claim \"job_workflow_ref\" does not match any associated bound claim values"
        );
    }
    let jwt = signer.sign(&with(
        github_claims(),
        json!({
            "sub": "repo:acme/web:ref:refs/heads/feature",
            "job_workflow_ref": reusable,
        }),
    ));
    let msg = m.login_refused("org-deploy", &jwt).await;
    assert_eq!(
        msg,
        "error validating claims: claim \"sub\" does not match any associated bound claim values"
    );
}

#[tokio::test]
async fn default_role_is_used_when_the_login_names_none() {
    let (m, idp, signer) = setup().await;
    let jwt = signer.sign(&github_claims());
    assert_eq!(
        m.login(json!({"jwt": jwt}))
            .await
            .err()
            .unwrap()
            .to_string(),
        "missing role"
    );
    m.write(
        "config",
        json!({
            "oidc_discovery_url": format!("{}/", idp.base),
            "bound_issuer": GITHUB_ISSUER,
            "default_role": "deploy-api",
        }),
    )
    .await;
    let auth = m.login(json!({"jwt": jwt})).await.unwrap();
    assert_eq!(auth.metadata["role"], "deploy-api");
    let msg = m
        .login(json!({"role": "nope", "jwt": jwt}))
        .await
        .err()
        .unwrap();
    assert_eq!(msg.to_string(), "role \"nope\" could not be found");
}
