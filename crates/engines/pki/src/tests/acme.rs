//! ACME at the engine: off until `config/acme` turns it on, `config/cluster`'s path in every
//! URL, nonces on every answer and used once, and refusals as RFC 7807 problems. The whole
//! flow with a real client is in tests/compat/hvac/test_pki.py (certbot's ACME library).

use secrethub_engine::Operation::{Read, Update};
use serde_json::{json, Value};

use super::Harness;

fn header<'a>(raw: &'a secrethub_engine::RawBody, name: &str) -> Option<&'a str> {
    raw.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn acme_is_off_until_configured_and_answers_problems() {
    let h = Harness::new();
    h.root("ec").await;
    let off = h
        .call(Read, "acme/directory", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(
        (off.status, off.content_type.as_str()),
        (403, "application/problem+json")
    );
    let problem: Value = serde_json::from_slice(&off.body).unwrap();
    assert_eq!(problem["type"], "urn:ietf:params:acme:error:unauthorized");
    assert!(header(&off, "Replay-Nonce").is_some());

    let config = h
        .data(Update, "config/acme", json!({"enabled": true}))
        .await;
    assert_eq!(config["enabled"], true);
    assert_eq!(config.len(), 7);
    let no_path = h
        .call(Read, "acme/directory", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(no_path.status, 500);
    assert_eq!(
        h.error(Update, "config/cluster", json!({"path": "ftp://x"}))
            .await,
        "path must be an http or https URL"
    );
    h.data(
        Update,
        "config/cluster",
        json!({"path": "https://vault.example/v1/pki/"}),
    )
    .await;
    let dir = h
        .call(Read, "acme/directory", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(dir.status, 200);
    let dir: Value = serde_json::from_slice(&dir.body).unwrap();
    assert_eq!(
        dir["newOrder"],
        "https://vault.example/v1/pki/acme/new-order"
    );

    let nonce = h
        .call(Read, "acme/new-nonce", json!({}))
        .await
        .unwrap()
        .raw
        .unwrap();
    let value = header(&nonce, "Replay-Nonce").unwrap().to_string();
    assert_eq!(
        header(&nonce, "Link"),
        Some("<https://vault.example/v1/pki/acme/directory>;rel=\"index\"")
    );
    // A JWS with that nonce but no valid signature: the nonce is used up all the same.
    let protected = base64_url(&json!({"alg": "ES256", "nonce": value, "url": "https://vault.example/v1/pki/acme/new-account", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}).to_string());
    let body = json!({"protected": protected, "payload": "", "signature": "AAAA"});
    let first = h
        .call(Update, "acme/new-account", body.clone())
        .await
        .unwrap()
        .raw
        .unwrap();
    let first: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(first["type"], "urn:ietf:params:acme:error:malformed");
    let again = h
        .call(Update, "acme/new-account", body)
        .await
        .unwrap()
        .raw
        .unwrap();
    let again: Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(again["type"], "urn:ietf:params:acme:error:badNonce");
    assert!(
        h.engine
            .path_flags("acme/new-order", Update)
            .unauthenticated
    );
    assert!(!h.engine.path_flags("config/acme", Update).unauthenticated);

    // Nonces cost no storage until used; a used one is remembered until tidy finds it
    // expired; a forged one is refused.
    use secrethub_storage::Storage as _;
    assert_eq!(h.storage.count("acme/nonces/").await.unwrap(), 1);
    for _ in 0..5 {
        h.call(Read, "acme/new-nonce", json!({})).await.unwrap();
    }
    assert_eq!(h.storage.count("acme/nonces/").await.unwrap(), 1);
    let mut forged = value.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(!crate::acme::store::take_nonce(&h.storage, &forged)
        .await
        .unwrap());
    h.storage
        .put_json("acme/nonces/old", &(secrethub_common::now_unix() - 1))
        .await
        .unwrap();
    h.call(Update, "tidy", json!({"tidy_cert_store": true}))
        .await
        .unwrap();
    assert_eq!(h.storage.count("acme/nonces/").await.unwrap(), 1);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
