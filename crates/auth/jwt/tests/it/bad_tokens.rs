//! Tokens that must be refused: each is a 400 with a Vault-like message, no login, and no
//! part of the token in the message.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::harness::{
    github_claims, jwks, now, raw_token, with, Idp, Mount, Signer, GITHUB_ISSUER,
};

async fn setup() -> (Mount, Idp, Signer) {
    let signer = Signer::rsa("rsa1", "gh-key-1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    m.write(
        "config",
        json!({"jwks_url": idp.jwks_url(), "bound_issuer": GITHUB_ISSUER}),
    )
    .await;
    m.write(
        "role/ci",
        json!({
            "role_type": "jwt",
            "bound_audiences": "https://github.com/acme",
            "bound_claims": {"repository": "acme/api"},
            "token_policies": "ci",
        }),
    )
    .await;
    (m, idp, signer)
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let (m, _idp, signer) = setup().await;
    let t = now();
    let cases = [
        (
            json!({"iat": t - 4000, "nbf": t - 4000, "exp": t - 3600}),
            "error validating token: invalid expiration time (exp) claim: token is expired",
        ),
        (
            json!({"iat": t + 600, "nbf": t + 600, "exp": t + 900}),
            "error validating token: invalid not before (nbf) claim: token not yet valid",
        ),
        (
            json!({"iat": t + 600, "nbf": t - 5, "exp": t + 900}),
            "error validating token: invalid issued at (iat) claim: token issued in the future",
        ),
        (
            json!({"iat": null, "nbf": null, "exp": null}),
            "error validating token: no issued at (iat), not before (nbf), or expiration time (exp) claims in token",
        ),
        (
            json!({"exp": "tomorrow"}),
            "error validating token: invalid expiration time (exp) claim: not a number of seconds",
        ),
    ];
    for (changes, want) in cases {
        let jwt = signer.sign(&with(github_claims(), changes.clone()));
        assert_eq!(m.login_refused("ci", &jwt).await, want, "{changes}");
    }

    // Expired 30 s ago is within the default 60 s clock skew leeway ...
    let late = signer.sign(&with(github_claims(), json!({"exp": t - 30})));
    m.login_ok("ci", &late).await;
    // ... but not once the role disables the leeway.
    m.write("role/ci", json!({"clock_skew_leeway": -1})).await;
    assert_eq!(
        m.login_refused("ci", &late).await,
        "error validating token: invalid expiration time (exp) claim: token is expired"
    );
}

#[tokio::test]
async fn audience_and_issuer_mismatches_are_refused() {
    let (m, _idp, signer) = setup().await;
    let jwt = signer.sign(&with(
        github_claims(),
        json!({"aud": "https://github.com/evil"}),
    ));
    assert_eq!(
        m.login_refused("ci", &jwt).await,
        "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"
    );
    let jwt = signer.sign(&with(github_claims(), json!({"aud": null})));
    assert!(m
        .login_refused("ci", &jwt)
        .await
        .contains("audience claim does not match"));

    let jwt = signer.sign(&with(
        github_claims(),
        json!({"iss": "https://token.actions.githubusercontent.com.evil.test"}),
    ));
    assert_eq!(
        m.login_refused("ci", &jwt).await,
        "error validating token: invalid issuer (iss) claim"
    );

    // A role without bound audiences refuses tokens that name one, as Vault does.
    m.write(
        "role/no-aud",
        json!({"role_type": "jwt", "bound_claims": {"repository": "acme/api"}}),
    )
    .await;
    let jwt = signer.sign(&github_claims());
    assert_eq!(
        m.login_refused("no-aud", &jwt).await,
        "error validating token: audience claim found in JWT but no audiences bound to the role"
    );
    let jwt = signer.sign(&with(github_claims(), json!({"aud": null})));
    m.login_ok("no-aud", &jwt).await;
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let (m, _idp, signer) = setup().await;
    let claims = github_claims();
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "none", "kid": signer.kid}),
    ] {
        let jwt = raw_token(&header, &claims, b"");
        assert_eq!(
            m.login_refused("ci", &jwt).await,
            "error validating token: unsigned tokens (alg \"none\") are not accepted"
        );
        let jwt = raw_token(&header, &claims, b"not really a signature");
        assert_eq!(
            m.login_refused("ci", &jwt).await,
            "error validating token: unsigned tokens (alg \"none\") are not accepted"
        );
    }
    let jwt = raw_token(&json!({"alg": "RS256", "kid": signer.kid}), &claims, b"");
    assert_eq!(
        m.login_refused("ci", &jwt).await,
        "error validating token: token must be signed"
    );
}

#[tokio::test]
async fn hmac_tokens_are_refused_even_when_the_key_set_has_hmac_keys() {
    let signer = Signer::rsa("rsa1", "gh-key-1");
    let idp = Idp::start(&[&signer]).await;
    // The provider also publishes a symmetric key: it must never be used.
    let secret = b"a-shared-secret-that-must-not-work";
    let mut doc = jwks(&[&signer]);
    doc["keys"].as_array_mut().unwrap().push(json!({
        "kty": "oct", "kid": "hmac", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(secret),
    }));
    idp.publish_raw(doc);
    let m = Mount::new();
    m.write("config", json!({"jwks_url": idp.jwks_url()})).await;
    m.write(
        "role/ci",
        json!({"role_type": "jwt", "bound_audiences": "https://github.com/acme"}),
    )
    .await;

    // The classic confusion attack: HS256 keyed with the RSA public key's PEM text.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(signer.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &github_claims(),
        &EncodingKey::from_secret(signer.public_pem.as_bytes()),
    )
    .unwrap();
    let want = "error validating token: HS256 is not accepted: tokens signed with a shared \
                secret (HMAC) cannot be verified with public keys";
    assert_eq!(m.login_refused("ci", &forged).await, want);

    // ... or with the published symmetric key itself.
    header.kid = Some("hmac".into());
    let forged =
        jsonwebtoken::encode(&header, &github_claims(), &EncodingKey::from_secret(secret)).unwrap();
    assert_eq!(m.login_refused("ci", &forged).await, want);
    let mut header = Header::new(Algorithm::HS512);
    header.kid = Some("hmac".into());
    let forged =
        jsonwebtoken::encode(&header, &github_claims(), &EncodingKey::from_secret(secret)).unwrap();
    assert!(m
        .login_refused("ci", &forged)
        .await
        .contains("HS512 is not accepted"));

    // The real key still works.
    m.login_ok("ci", &signer.sign(&github_claims())).await;
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused() {
    let (m, idp, signer) = setup().await;
    let bad_sig = "error validating token: error verifying token signature: no known key \
                   successfully validated the token signature";

    // Claims changed after signing.
    let genuine = signer.sign(&github_claims());
    let parts: Vec<&str> = genuine.split('.').collect();
    let evil = with(
        github_claims(),
        json!({"repository": "acme/api", "sub": "repo:evil/x"}),
    );
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(m.login_refused("ci", &tampered).await, bad_sig);

    // Another key claiming the provider's kid: no refresh is attempted for a known kid.
    let impostor = Signer::rsa("rsa2", "gh-key-1");
    assert_eq!(
        m.login_refused("ci", &impostor.sign(&github_claims()))
            .await,
        bad_sig
    );
    // An EC token against an RSA-only key set has no key to check with.
    let ec = Signer::ec("gh-key-1", Algorithm::ES256);
    assert!(m
        .login_refused("ci", &ec.sign(&github_claims()))
        .await
        .starts_with("error validating token: error verifying token signature"));
    assert_eq!(idp.jwks_hits(), 1, "only the config write fetched the keys");

    for (jwt, want) in [
        (
            "not-a-jwt",
            "error validating token: malformed token: expected three dot-separated parts",
        ),
        (
            "a.b.c.d.e",
            "error validating token: encrypted tokens (JWE) are not supported",
        ),
        (
            "%%%.e30.c2ln",
            "error validating token: malformed token: header is not base64url",
        ),
    ] {
        assert_eq!(m.login_refused("ci", jwt).await, want);
    }
    let no_object = raw_token(&json!({"alg": "RS256"}), &json!(["x"]), b"sig");
    assert_eq!(
        m.login_refused("ci", &no_object).await,
        "error validating token: malformed token: claims are not a JSON object"
    );
    let huge = format!("{}.{}.{}", "a".repeat(40_000), "b".repeat(40_000), "c");
    assert_eq!(
        m.login_refused("ci", &huge).await,
        "error validating token: token is too large"
    );
    let crit = raw_token(
        &json!({"alg": "RS256", "kid": signer.kid, "crit": ["exp"]}),
        &github_claims(),
        b"sig",
    );
    assert!(m.login_refused("ci", &crit).await.contains("(crit)"));
    assert_eq!(m.login_refused("ci", "").await, "missing token");
}

#[tokio::test]
async fn logins_before_configuration_are_refused() {
    let m = Mount::new();
    let signer = Signer::rsa("rsa1", "k");
    let msg = m.login_refused("ci", &signer.sign(&github_claims())).await;
    assert_eq!(msg, "could not load configuration");
}
