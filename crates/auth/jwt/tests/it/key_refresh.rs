//! Remote keys: rotation is picked up by refreshing on an unknown key ID, refreshes are
//! rate-limited and shared, and a restarted mount fetches lazily.

use jsonwebtoken::{Algorithm, Header};
use secrethub_engine::EngineError;
use serde_json::json;

use crate::harness::{github_claims, Idp, Mount, Signer, GITHUB_ISSUER};

const UNKNOWN_KID: &str =
    "error validating token: error verifying token signature: no known key matches the token's key ID (kid)";

async fn mount_for(idp: &Idp) -> Mount {
    let m = Mount::new();
    m.write(
        "config",
        json!({"oidc_discovery_url": idp.base, "bound_issuer": GITHUB_ISSUER}),
    )
    .await;
    m.write(
        "role/ci",
        json!({"role_type": "jwt", "bound_audiences": "https://github.com/acme"}),
    )
    .await;
    m
}

#[tokio::test]
async fn key_rotation_is_picked_up_by_a_refresh() {
    let old = Signer::rsa("rsa1", "2024-key");
    let new = Signer::rsa("rsa2", "2025-key");
    let idp = Idp::start(&[&old]).await;
    let m = mount_for(&idp).await;
    assert_eq!(idp.jwks_hits(), 1);
    m.login_ok("ci", &old.sign(&github_claims())).await;
    assert_eq!(idp.jwks_hits(), 1, "cached keys serve logins");

    // The provider rotates: the old key is withdrawn, the new one published.
    idp.publish(&[&new]);
    m.login_ok("ci", &new.sign(&github_claims())).await;
    assert_eq!(idp.jwks_hits(), 2, "the unknown kid caused one refresh");
    m.login_ok("ci", &new.sign(&github_claims())).await;
    assert_eq!(idp.jwks_hits(), 2);

    // Tokens of the withdrawn key are now refused; the refresh they would ask for is
    // within the rate limit, so the provider is not asked again.
    assert_eq!(
        m.login_refused("ci", &old.sign(&github_claims())).await,
        UNKNOWN_KID
    );
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn rotation_is_picked_up_for_tokens_without_a_kid() {
    let old = Signer::ec("a", Algorithm::ES256);
    let new = Signer::ec("b", Algorithm::ES256);
    let idp = Idp::start(&[&old]).await;
    let m = mount_for(&idp).await;
    idp.publish(&[&new]);
    let no_kid = Header::new(Algorithm::ES256);
    m.login_ok("ci", &new.sign_with(&no_kid, &github_claims()))
        .await;
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_kids_refresh_at_most_once_per_interval() {
    let published = Signer::rsa("rsa1", "published");
    let idp = Idp::start(&[&published]).await;
    let m = mount_for(&idp).await;
    let stranger = Signer::rsa("rsa2", "x");
    for i in 0..5 {
        let mut header = stranger.header();
        header.kid = Some(format!("forged-{i}"));
        let jwt = stranger.sign_with(&header, &github_claims());
        assert_eq!(m.login_refused("ci", &jwt).await, UNKNOWN_KID);
    }
    assert_eq!(idp.jwks_hits(), 2, "one refresh for five unknown kids");
}

#[tokio::test]
async fn concurrent_logins_share_one_refresh() {
    let old = Signer::rsa("rsa1", "old");
    let new = Signer::rsa("rsa2", "new");
    let idp = Idp::start(&[&old]).await;
    let m = mount_for(&idp).await;
    idp.publish(&[&new]);
    let jwt = new.sign(&github_claims());
    let logins = (0..8).map(|_| m.login(json!({"role": "ci", "jwt": jwt})));
    for result in futures::future::join_all(logins).await {
        assert!(result.is_ok(), "{:?}", result.err());
    }
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn a_restarted_mount_fetches_keys_on_first_use() {
    let signer = Signer::rsa("rsa1", "k1");
    let idp = Idp::start(&[&signer]).await;
    let m = mount_for(&idp).await;
    let restarted = m.reopen();
    restarted
        .login_ok("ci", &signer.sign(&github_claims()))
        .await;
    assert_eq!(idp.jwks_hits(), 2);

    // With the provider gone and nothing cached, a login is a 503 naming the URL.
    let again = m.reopen();
    let base = idp.base.clone();
    drop(idp);
    match again
        .login(json!({"role": "ci", "jwt": signer.sign(&github_claims())}))
        .await
    {
        Err(e @ EngineError::Upstream { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("upstream error: error fetching the OIDC discovery document from")
                    && msg.contains(&base),
                "{msg}"
            );
        }
        other => panic!("expected an upstream error, got {:?}", other.map(|_| ())),
    }
    // The mount that cached the keys keeps working.
    m.login_ok("ci", &signer.sign(&github_claims())).await;
}

#[tokio::test]
async fn jwt_supported_algs_limits_the_algorithms() {
    let rsa = Signer::rsa("rsa1", "rsa");
    let ec = Signer::ec("ec", Algorithm::ES256);
    let idp = Idp::start(&[&rsa, &ec]).await;
    let m = mount_for(&idp).await;
    m.login_ok("ci", &rsa.sign(&github_claims())).await;
    m.write(
        "config",
        json!({
            "oidc_discovery_url": idp.base,
            "bound_issuer": GITHUB_ISSUER,
            "jwt_supported_algs": ["ES256"],
        }),
    )
    .await;
    m.login_ok("ci", &ec.sign(&github_claims())).await;
    assert_eq!(
        m.login_refused("ci", &rsa.sign(&github_claims())).await,
        "error validating token: token signed with unexpected algorithm RS256 (not in jwt_supported_algs)"
    );
}
