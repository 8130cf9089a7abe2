//! `jwt_validation_pubkeys`: PEM keys in the config (Ed25519, RSA, EC), no HTTP at all, and
//! claims found by JSON pointer.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::harness::{now, Mount, Signer};

/// Claims shaped like a Kubernetes service account token, whose interesting parts are nested.
fn service_account_claims() -> serde_json::Value {
    let t = now();
    json!({
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:ci:deployer",
        "aud": ["secrethub"],
        "iat": t, "nbf": t, "exp": t + 600,
        "kubernetes.io": {
            "namespace": "ci",
            "serviceaccount": {"name": "deployer", "uid": "4b1a4c9e-77b4-4a8f-8d1e-2f3f0f4b5c6d"},
            "pod": {"name": "runner-7d9f", "uid": "0f6f3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"},
        },
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ci"],
    })
}

#[tokio::test]
async fn static_keys_verify_eddsa_rs256_and_es384() {
    let ed = Signer::ed25519("ed");
    let rsa = Signer::rsa("rsa1", "rsa");
    let ec = Signer::ec("ec384", Algorithm::ES384);
    let m = Mount::new();
    m.write(
        "config",
        json!({
            "jwt_validation_pubkeys": [ed.public_pem, rsa.public_pem, ec.public_pem],
            "bound_issuer": "https://kubernetes.default.svc.cluster.local",
        }),
    )
    .await;
    m.write(
        "role/deployer",
        json!({
            "role_type": "jwt",
            "user_claim": "/kubernetes.io/serviceaccount/name",
            "user_claim_json_pointer": true,
            "bound_audiences": "secrethub",
            "bound_claims": {
                "/kubernetes.io/namespace": "ci",
                "/kubernetes.io/serviceaccount/name": ["deployer", "releaser"],
            },
            "claim_mappings": {"/kubernetes.io/pod/name": "pod"},
            "groups_claim": "groups",
            "token_policies": "ci-deploy",
        }),
    )
    .await;
    for signer in [&ed, &rsa, &ec] {
        // Static keys have no key IDs: a token's kid does not matter.
        let auth = m
            .login_ok("deployer", &signer.sign(&service_account_claims()))
            .await;
        assert_eq!(auth.alias.name, "deployer", "{:?}", signer.alg);
        assert_eq!(auth.metadata["pod"], "runner-7d9f");
        assert_eq!(
            auth.metadata["groups"],
            "system:serviceaccounts,system:serviceaccounts:ci"
        );
        assert_eq!(
            auth.internal["bound"],
            json!({"/kubernetes.io/namespace": "ci", "/kubernetes.io/serviceaccount/name": "deployer"})
        );
    }

    let mut other = service_account_claims();
    other["kubernetes.io"]["namespace"] = json!("default");
    assert_eq!(
        m.login_refused("deployer", &ed.sign(&other)).await,
        "error validating claims: claim \"/kubernetes.io/namespace\" does not match any associated bound claim values"
    );

    // A key that is not in the config.
    let stranger = Signer::ed25519("ed");
    assert_eq!(
        m.login_refused("deployer", &stranger.sign(&service_account_claims())).await,
        "error validating token: error verifying token signature: no known key successfully validated the token signature"
    );
}

#[tokio::test]
async fn bad_pem_keys_are_refused_when_configured() {
    let m = Mount::new();
    let rsa = Signer::rsa("rsa1", "rsa");
    let msg = m
        .write_err(
            "config",
            json!({"jwt_validation_pubkeys": [rsa.public_pem, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]}),
        )
        .await;
    assert_eq!(
        msg,
        "invalid jwt_validation_pubkeys[1]: not a PEM-encoded RSA, EC or Ed25519 public key"
    );
    let private = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rsa1.key.pem"
    ))
    .unwrap();
    let msg = m
        .write_err("config", json!({"jwt_validation_pubkeys": private}))
        .await;
    assert_eq!(
        msg,
        "invalid jwt_validation_pubkeys[0]: this is a private key; give the public key"
    );
    assert!(!msg.contains("MII"), "the key is not echoed");
}
