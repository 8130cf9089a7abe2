//! The config and role endpoints: shapes, validation, key-source errors at write time, and
//! HTTPS providers with a custom CA.

use secrethub_engine::{EngineError, Operation};
use serde_json::json;

use crate::harness::{closed_port_url, github_claims, Idp, Mount, Signer, TestTls, GITHUB_ISSUER};

#[tokio::test]
async fn config_is_read_back_in_vaults_shape() {
    let signer = Signer::rsa("rsa1", "k1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    assert!(matches!(
        m.call(Operation::Read, "config", json!(null)).await,
        Err(EngineError::NotFound)
    ));
    let exists = m
        .engine
        .exists(&m.request(Operation::Update, "config", json!(null)))
        .await;
    assert_eq!(exists.unwrap(), Some(false));
    let warnings = m
        .write(
            "config",
            json!({
                "oidc_discovery_url": idp.base,
                "bound_issuer": GITHUB_ISSUER,
                "default_role": "ci",
                "jwt_supported_algs": "RS256,ES256",
                "namespace_in_state": true,
                "colour": "blue",
            }),
        )
        .await;
    assert_eq!(
        warnings,
        ["Endpoint ignored these unrecognized parameters: [colour]"]
    );
    assert_eq!(
        m.read("config").await,
        json!({
            "oidc_discovery_url": idp.base,
            "oidc_discovery_ca_pem": "",
            "oidc_client_id": "",
            "oidc_response_mode": "",
            "oidc_response_types": [],
            "jwks_url": "",
            "jwks_ca_pem": "",
            "jwt_validation_pubkeys": [],
            "jwt_supported_algs": ["RS256", "ES256"],
            "bound_issuer": GITHUB_ISSUER,
            "default_role": "ci",
            "provider_config": {},
            "namespace_in_state": true,
            "override_allowed_server_names": [],
            "status": "valid",
        })
    );
    let exists = m
        .engine
        .exists(&m.request(Operation::Update, "config", json!(null)))
        .await;
    assert_eq!(exists.unwrap(), Some(true));
}

#[tokio::test]
async fn config_needs_exactly_one_key_source() {
    let signer = Signer::rsa("rsa1", "k1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();
    let want = "exactly one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys must be set";
    assert_eq!(
        m.write_err("config", json!({"bound_issuer": GITHUB_ISSUER}))
            .await,
        want
    );
    assert_eq!(
        m.write_err(
            "config",
            json!({"jwks_url": idp.jwks_url(), "jwt_validation_pubkeys": [signer.public_pem]}),
        )
        .await,
        want
    );
    assert_eq!(
        m.write_err("config", json!({"jwks_url": "file:///etc/passwd"}))
            .await,
        "invalid jwks_url: not an absolute http or https URL"
    );
    assert!(m
        .write_err(
            "config",
            json!({"jwks_url": idp.jwks_url(), "jwt_supported_algs": ["HS256"]})
        )
        .await
        .starts_with("invalid jwt_supported_algs: HS256 is not accepted"));
    assert!(m
        .write_err(
            "config",
            json!({"oidc_discovery_url": idp.base, "oidc_client_secret": "hunter2"})
        )
        .await
        .starts_with("oidc_client_secret is not supported"));
    assert_eq!(
        idp.jwks_hits(),
        0,
        "nothing is fetched for an invalid config"
    );
}

#[tokio::test]
async fn unreachable_or_malformed_key_sources_are_refused_at_write() {
    let signer = Signer::rsa("rsa1", "k1");
    let idp = Idp::start(&[&signer]).await;
    let m = Mount::new();

    let closed = closed_port_url().await;
    let msg = m
        .write_err("config", json!({"oidc_discovery_url": closed}))
        .await;
    let want = format!(
        "error fetching the OIDC discovery document from \"{closed}/.well-known/openid-configuration\": "
    );
    assert!(msg.starts_with(&want), "{msg}");
    assert!(msg.to_lowercase().contains("connect"), "{msg}");

    let msg = m
        .write_err(
            "config",
            json!({"jwks_url": format!("{}/missing", idp.base)}),
        )
        .await;
    assert_eq!(
        msg,
        format!(
            "error fetching the JWKS from \"{}/missing\": HTTP status 404",
            idp.base
        )
    );

    idp.publish_raw(json!({"issuer": "not a key set"}));
    let msg = m
        .write_err("config", json!({"jwks_url": idp.jwks_url()}))
        .await;
    assert_eq!(
        msg,
        format!(
            "the JWKS at \"{}\" is not a JWKS document (no \"keys\" list)",
            idp.jwks_url()
        )
    );
    idp.publish_raw(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
    let msg = m
        .write_err("config", json!({"jwks_url": idp.jwks_url()}))
        .await;
    assert!(
        msg.ends_with("has no usable signing keys (RSA, EC P-256/P-384 or Ed25519)"),
        "{msg}"
    );

    idp.publish(&[&signer]);
    idp.set_issuer("https://token.actions.githubusercontent.com");
    let msg = m
        .write_err("config", json!({"oidc_discovery_url": idp.base}))
        .await;
    assert_eq!(
        msg,
        format!(
            "the issuer \"https://token.actions.githubusercontent.com\" in the OIDC discovery \
             document does not match oidc_discovery_url \"{}\"",
            idp.base
        )
    );
    // Nothing was stored by the failed writes.
    assert!(matches!(
        m.call(Operation::Read, "config", json!(null)).await,
        Err(EngineError::NotFound)
    ));

    // skip_jwks_validation stores the config anyway, with the reason as a warning.
    let warnings = m
        .write(
            "config",
            json!({"jwks_url": format!("{closed}/jwks"), "skip_jwks_validation": true}),
        )
        .await;
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .starts_with("error checking the key source (saved anyway): error fetching the JWKS"));
    // Reads say the keys cannot be had, as OpenBao does.
    let read = m
        .call(Operation::Read, "config", json!(null))
        .await
        .unwrap();
    let data = read.data.unwrap();
    assert_eq!(
        (&data["jwks_url"], &data["status"]),
        (&json!(format!("{closed}/jwks")), &json!("invalid"))
    );
    assert_eq!(read.warnings.len(), 1);
    assert!(
        read.warnings[0].starts_with("failed to construct JWK validator: error fetching the JWKS"),
        "{:?}",
        read.warnings
    );
}

#[tokio::test]
async fn https_providers_are_trusted_through_the_configured_ca() {
    let tls = TestTls::new();
    let signer = Signer::ec("k1", jsonwebtoken::Algorithm::ES256);
    let idp = Idp::start_tls(&[&signer], &tls).await;
    let m = Mount::new();

    // The system roots do not know the test CA.
    let msg = m
        .write_err("config", json!({"oidc_discovery_url": idp.base}))
        .await;
    assert!(
        msg.starts_with(&format!(
            "error fetching the OIDC discovery document from \"{}/",
            idp.base
        )),
        "{msg}"
    );
    assert!(msg.contains("certificate"), "{msg}");
    // Nor does another CA.
    let other = TestTls::new();
    let msg = m
        .write_err(
            "config",
            json!({"oidc_discovery_url": idp.base, "oidc_discovery_ca_pem": other.ca_pem}),
        )
        .await;
    assert!(msg.contains("certificate"), "{msg}");
    assert_eq!(
        m.write_err(
            "config",
            json!({"oidc_discovery_url": idp.base, "oidc_discovery_ca_pem": "garbage"})
        )
        .await,
        "invalid oidc_discovery_ca_pem: no certificate found"
    );

    m.write(
        "config",
        json!({"oidc_discovery_url": idp.base, "oidc_discovery_ca_pem": tls.ca_pem, "bound_issuer": GITHUB_ISSUER}),
    )
    .await;
    m.write(
        "role/ci",
        json!({"bound_audiences": "https://github.com/acme"}),
    )
    .await;
    m.login_ok("ci", &signer.sign(&github_claims())).await;

    // The same with a JWKS URL and jwks_ca_pem.
    m.write(
        "config",
        json!({"jwks_url": idp.jwks_url(), "jwks_ca_pem": tls.ca_pem}),
    )
    .await;
    m.login_ok("ci", &signer.sign(&github_claims())).await;
    assert_eq!(m.read("config").await["jwks_ca_pem"], tls.ca_pem);
}

#[tokio::test]
async fn roles_are_written_read_listed_and_deleted() {
    let m = Mount::new();
    assert!(matches!(
        m.call(Operation::List, "role", json!(null)).await,
        Err(EngineError::NotFound)
    ));
    let exists = m
        .engine
        .exists(&m.request(Operation::Update, "role/ci", json!(null)))
        .await;
    assert_eq!(exists.unwrap(), Some(false));
    m.write(
        "role/ci",
        json!({
            "role_type": "jwt",
            "bound_audiences": "https://github.com/acme",
            "bound_claims": {"repository": "acme/api"},
            "claim_mappings": {"actor": "actor"},
            "token_policies": ["CI", "read"],
            "ttl": "10m",
            "expiration_leeway": "-1",
        }),
    )
    .await;
    assert_eq!(
        m.read("role/ci").await,
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "user_claim_json_pointer": false,
            "bound_audiences": ["https://github.com/acme"],
            "bound_subject": "",
            "bound_claims": {"repository": "acme/api"},
            "bound_claims_type": "string",
            "claim_mappings": {"actor": "actor"},
            "groups_claim": "",
            "clock_skew_leeway": 0,
            "expiration_leeway": -1,
            "not_before_leeway": 0,
            "verbose_oidc_logging": false,
            "allowed_redirect_uris": null,
            "oidc_scopes": null,
            "max_age": 0,
            "callback_mode": "client",
            "oauth2_metadata": null,
            "oidc_disable_confirmation": false,
            "token_policies_template_claims": false,
            "token_policies": ["CI", "read"],
            "token_ttl": 600,
            "token_max_ttl": 0,
            "token_period": 0,
            "token_explicit_max_ttl": 0,
            "token_num_uses": 0,
            "token_bound_cidrs": [],
            "token_type": "default",
            "token_no_default_policy": false,
        })
    );
    let exists = m
        .engine
        .exists(&m.request(Operation::Update, "role/ci", json!(null)))
        .await;
    assert_eq!(exists.unwrap(), Some(true));
    m.write(
        "role/deploy",
        json!({"bound_subject": "repo:acme/api:environment:production"}),
    )
    .await;
    let list = m.call(Operation::List, "role", json!(null)).await.unwrap();
    assert_eq!(list.data.unwrap()["keys"], json!(["ci", "deploy"]));

    // OpenBao's defaults of its OIDC-only fields are accepted silently, other values are
    // ignored with a warning; templated policies are refused.
    let warnings = m
        .write(
            "role/ci",
            json!({"callback_mode": "client", "oidc_disable_confirmation": "false",
                   "oauth2_metadata": [], "token_policies_template_claims": false}),
        )
        .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let warnings = m
        .write(
            "role/ci",
            json!({"callback_mode": "direct", "oidc_disable_confirmation": true}),
        )
        .await;
    assert_eq!(
        warnings,
        ["Endpoint ignored these unrecognized parameters: [callback_mode oidc_disable_confirmation]"]
    );
    assert_eq!(
        m.write_err("role/ci", json!({"token_policies_template_claims": true}))
            .await,
        "token_policies_template_claims is not supported: token_policies are used as written"
    );

    // An update changes only what it names.
    m.write("role/ci", json!({"token_num_uses": 3})).await;
    let role = m.read("role/ci").await;
    assert_eq!(
        (role["token_num_uses"].clone(), role["token_ttl"].clone()),
        (json!(3), json!(600))
    );

    m.call(Operation::Delete, "role/ci", json!(null))
        .await
        .unwrap();
    assert!(matches!(
        m.call(Operation::Read, "role/ci", json!(null)).await,
        Err(EngineError::NotFound)
    ));
    let list = m.call(Operation::List, "role", json!(null)).await.unwrap();
    assert_eq!(list.data.unwrap()["keys"], json!(["deploy"]));
}

#[tokio::test]
async fn role_validation_errors_are_clear() {
    let m = Mount::new();
    for (body, want) in [
        (
            json!({"role_type": "oidc", "bound_audiences": "x", "allowed_redirect_uris": "http://localhost:8250/oidc/callback"}),
            "role_type \"oidc\" is not supported: the OIDC browser flow is not available; use role_type \"jwt\" and log in with a JWT",
        ),
        (
            json!({"role_type": "jwt", "token_policies": "ci"}),
            "must have at least one bound constraint when creating/updating a role (bound_audiences, bound_subject, bound_claims or token_bound_cidrs)",
        ),
        (
            json!({"bound_audiences": "x", "user_claim": ""}),
            "a user claim must be defined on the role",
        ),
        (
            json!({"bound_audiences": "x", "bound_claims_type": "regex"}),
            "invalid bound_claims_type: expected \"string\" or \"glob\"",
        ),
        (
            json!({"bound_audiences": "x", "bound_claims": "not json"}),
            "invalid bound_claims: expected a map",
        ),
        (
            json!({"bound_audiences": "x", "claim_mappings": {"a": "m", "b": "m"}}),
            "multiple keys are mapped to metadata key \"m\"",
        ),
        (
            json!({"bound_audiences": "x", "clock_skew_leeway": "soon"}),
            "invalid clock_skew_leeway: expected seconds or a duration such as \"90s\"",
        ),
        (
            json!({"bound_audiences": "x", "token_ttl": "2h", "token_max_ttl": "1h"}),
            "token_ttl cannot be greater than token_max_ttl",
        ),
        (
            json!({"token_bound_cidrs": "not-a-cidr"}),
            "invalid token_bound_cidrs",
        ),
    ] {
        let msg = m.write_err("role/x", body.clone()).await;
        assert!(msg.starts_with(want), "{body}: {msg}");
    }
    assert_eq!(
        m.write_err("role/..", json!({"bound_audiences": "x"}))
            .await,
        "invalid role name"
    );
    // token_bound_cidrs alone is a binding.
    m.write("role/x", json!({"token_bound_cidrs": "10.0.0.0/8"}))
        .await;
}
