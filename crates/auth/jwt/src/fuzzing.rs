//! Entry points for the fuzz targets in `fuzz/`: thin public wrappers over private parsers,
//! compiled only with the `fuzzing` feature.
//!
//! [`token`] runs what a login runs on the JWT before any role or key store is involved:
//! `jws::parse` with every supported algorithm, `KeySet::verify` against fixed RSA, EC and
//! Ed25519 keys (static and as a JWKS), `check_times`, and the claim helpers of `claims.rs`, asserting the
//! properties they promise. [`parts`] builds the token from a header and payload so the
//! fuzzer can mutate the JSON instead of its base64url; [`jwks`] parses a key set document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use secrethub_engine::JsonMap;
use serde_json::Value;

use crate::claims;
use crate::jws::{self, Leeways};
use crate::keys::{self, KeySet};

/// Fixed time for the time checks: 2023-11-14 22:13:20 UTC.
const NOW: i64 = 1_700_000_000;

/// The keys tokens are checked against, as a login would: static PEM keys (RSA, EC P-256,
/// Ed25519) and the same keys as a remote JWKS document with key IDs. The RSA key is the one
/// `fuzz/corpus/jwt_parse/rs256-signed` is signed with, so that seed verifies.
fn key_sets() -> &'static [KeySet; 2] {
    static SETS: OnceLock<[KeySet; 2]> = OnceLock::new();
    SETS.get_or_init(|| {
        let pem = [RSA_PEM, EC_PEM, ED_PEM]
            .iter()
            .map(|pem| keys::parse_pem(pem).expect("fixed PEM key"))
            .collect();
        let jwks = serde_json::from_str(JWKS).expect("fixed JWKS");
        let jwks = keys::parse_jwks(&jwks).expect("fixed JWKS keys");
        [KeySet::new(pem, false), KeySet::new(jwks, true)]
    })
}

const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyrPHp4FM5OPmjO/Fi+0S
RA00iFRdTH0BaUD8dlhcRWADCSPnwO+4ZRzhFWYASL4yM5H4isu9iDkDS/p2PjXf
ChUBk5pqEKUq5PUC8AqgT5FIbQ1Ojv/R5gl8K0TtmnYQjqkciCCT/iDi1+3Ws9Ul
VR3qdxQrLrpA+a9BAXhxgaKnQnO2+tYxhTE2xwLQ/brh7sbLMg8W6X2b+u8F7poz
In0CLQTcj6B2t0nsVIhcAc1jUmIttux0rUvPZu9ex0DWRxgzFADY5q/Cv/6wPp/Z
B50zAlvWvKC121fK5ci4ibRu8K8qEs5kp5BZs5XAyvRr7udjV2Rk8CAZ9qzqUlWq
kwIDAQAB
-----END PUBLIC KEY-----";
const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETyOrukbH2uRs8M1IXyuHOuQkJrhG
fXsXUUPqvPAd13qHjNVsgqWdLVpGozjrnzdZGv2GqB2UInZxFJJ5/M559g==
-----END PUBLIC KEY-----";
const ED_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA+keSq4xh1zV5MRvG2WkXttlOSv7OMENWcXvkoQJid2c=
-----END PUBLIC KEY-----";
const JWKS: &str = r#"{"keys": [
  {"kty": "RSA", "kid": "78167F727DEC5D801DD1C8784C704A1C880EC0E1", "use": "sig", "alg": "RS256", "e": "AQAB",
   "n": "yrPHp4FM5OPmjO_Fi-0SRA00iFRdTH0BaUD8dlhcRWADCSPnwO-4ZRzhFWYASL4yM5H4isu9iDkDS_p2PjXfChUBk5pqEKUq5PUC8AqgT5FIbQ1Ojv_R5gl8K0TtmnYQjqkciCCT_iDi1-3Ws9UlVR3qdxQrLrpA-a9BAXhxgaKnQnO2-tYxhTE2xwLQ_brh7sbLMg8W6X2b-u8F7pozIn0CLQTcj6B2t0nsVIhcAc1jUmIttux0rUvPZu9ex0DWRxgzFADY5q_Cv_6wPp_ZB50zAlvWvKC121fK5ci4ibRu8K8qEs5kp5BZs5XAyvRr7udjV2Rk8CAZ9qzqUlWqkw"},
  {"kty": "EC", "crv": "P-256", "kid": "gl-1",
   "x": "TyOrukbH2uRs8M1IXyuHOuQkJrhGfXsXUUPqvPAd13o", "y": "h4zVbIKlnS1aRqM46583WRr9hqgdlCJ2cRSSefzOefY"},
  {"kty": "OKP", "crv": "Ed25519", "x": "-keSq4xh1zV5MRvG2WkXttlOSv7OMENWcXvkoQJid2c"}
]}"#;

fn all_algorithms() -> Vec<Algorithm> {
    jws::SUPPORTED_ALGS
        .iter()
        .map(|name| jws::algorithm(name).expect("supported algorithms map"))
        .collect()
}

/// Parses a compact JWT and, when it parses, checks its signature, times and claims.
pub fn token(token: &str) {
    let algorithms = all_algorithms();
    let Ok(parsed) = jws::parse(token, &algorithms) else {
        return;
    };
    assert!(token.len() <= jws::MAX_TOKEN_LEN);
    // A token is never accepted with an algorithm outside the allowed list.
    let others: Vec<Algorithm> = algorithms
        .iter()
        .copied()
        .filter(|a| *a != parsed.alg)
        .collect();
    assert!(jws::parse(token, &others).is_err());
    // Only keys whose family suits the algorithm reach the signature check (a JWK RSA key
    // given to an EC check would panic inside jsonwebtoken).
    for set in key_sets() {
        let _ = set.verify(&parsed);
    }
    check_claims(&parsed.claims);
}

/// Builds `base64url(header).base64url(payload).signature` and runs [`token`] on it.
pub fn parts(header: &[u8], payload: &[u8], signature: &str) {
    let text = format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    token(&text);
}

/// Runs the time and claim checks on a claims object given as JSON.
pub fn claims_json(json: &[u8]) {
    if let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(json) {
        check_claims(&claims);
    }
}

/// Parses a JWKS document (`{"keys": [...]}`) as a remote key set would be.
pub fn jwks(json: &[u8]) {
    if let Ok(doc) = serde_json::from_slice::<Value>(json) {
        let _ = keys::parse_jwks(&doc);
    }
}

fn check_claims(claims: &JsonMap) {
    check_time_rules(claims);
    if let Ok(aud) = claims::audiences(claims) {
        let _ = claims::check_audience(&[], &aud);
        let _ = claims::check_audience(&["vault".into(), "https://github.com/acme".into()], &aud);
        if let Some(first) = aud.first() {
            assert!(claims::check_audience(std::slice::from_ref(first), &aud).is_ok());
        }
    }
    let get = |name: &str| claims.get(name).filter(|v| !v.is_null());
    for (name, value) in claims {
        // A top-level claim is found by name, and by its escaped JSON pointer.
        let pointer = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
        assert!(claims::valid_spec(&pointer));
        assert_eq!(claims::lookup(claims, &pointer), get(name));
        if !name.starts_with('/') && !name.is_empty() {
            assert_eq!(claims::lookup(claims, name), get(name));
        }
        if let Value::String(s) = value {
            // A pattern matches itself, `*` matches anything, and a claim's text may name
            // another claim (roles write `bound_claims` keys and `user_claim` as pointers).
            assert!(claims::glob_match(s, s));
            assert!(claims::glob_match("*", s));
            if claims::valid_spec(s) {
                let _ = claims::lookup(claims, s);
            }
            for other in claims.values().filter_map(Value::as_str) {
                let _ = claims::glob_match(s, other);
            }
        }
        // A claim bound to its own value matches whenever it has a text at all.
        if value.is_null() {
            continue;
        }
        let bound = BTreeMap::from([(name.clone(), value.clone())]);
        let has_text = claims::texts(value).is_some_and(|t| !t.is_empty());
        for glob in [false, true] {
            let outcome = claims::check_bound_claims(&bound, glob, get);
            assert_eq!(outcome.is_ok(), has_text, "claim {name:?} bound to itself");
        }
    }
    let mappings = BTreeMap::from([
        ("sub".to_string(), "subject".to_string()),
        ("/nested/0/k".to_string(), "nested".to_string()),
        ("groups".to_string(), "groups".to_string()),
    ]);
    let _ = claims::mapped_metadata(claims, &mappings);
}

/// `check_times` with Vault's defaults and with explicit leeways: a wider clock skew never
/// refuses what a narrower one accepts.
fn check_time_rules(claims: &JsonMap) {
    let _ = jws::check_times(claims, NOW, Leeways::default());
    let _ = jws::check_times(claims, i64::MIN, Leeways::default());
    let extreme = Leeways {
        clock_skew: i64::MAX,
        expiration: i64::MAX,
        not_before: i64::MAX,
    };
    let _ = jws::check_times(claims, i64::MAX, extreme);
    let mut accepted = false;
    for skew in [1, 60, 3600, i64::MAX] {
        let leeways = Leeways {
            clock_skew: skew,
            expiration: 150,
            not_before: 150,
        };
        let ok = jws::check_times(claims, NOW, leeways).is_ok();
        assert!(
            ok || !accepted,
            "clock skew {skew} refuses a token a smaller one took"
        );
        accepted |= ok;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Verdict;

    #[test]
    fn the_fuzz_keys_verify_the_signed_seed_only() {
        let verdicts = |token: &str| {
            let parsed = jws::parse(token, &all_algorithms()).expect("seed parses");
            key_sets().each_ref().map(|set| set.verify(&parsed))
        };
        let signed = include_str!("../../../../fuzz/corpus/jwt_parse/rs256-signed");
        assert_eq!(verdicts(signed), [Verdict::Verified; 2]);
        let forged = include_str!("../../../../fuzz/corpus/jwt_parse/es256-gitlab");
        assert_eq!(verdicts(forged), [Verdict::BadSignature; 2]);
        for seed in [signed, forged] {
            token(seed);
        }
    }
}
