//! Verification keys and the per-mount key cache.
//!
//! Keys come from PEM (`jwt_validation_pubkeys`: RSA, EC P-256/P-384, Ed25519 public keys)
//! or from a JWKS document (`kty` `RSA`, `EC`, `OKP`/`Ed25519`; symmetric `oct` keys,
//! encryption keys and unknown curves are skipped). Each key knows which algorithms it may
//! verify, so a token's `alg` only ever selects keys of its own family.
//!
//! The cache holds the keys of the current config (identified by a digest of where they come
//! from). Remote keys are fetched when the config is written, re-fetched when older than
//! [`MAX_AGE`], and refreshed when a token names an unknown `kid` (or, without a `kid`, no
//! cached key verifies it) — such refreshes run at most once per [`MIN_REFRESH_INTERVAL`],
//! so a stream of forged key IDs cannot make the method hammer the provider. Concurrent
//! logins share one fetch.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::config::ConfigRecord;
use crate::fetch::{self, FetchError};
use crate::jws::Jws;

/// Logins may trigger a refresh of remote keys at most this often.
pub(crate) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Remote keys older than this are fetched again before use (stale keys are kept if the
/// provider cannot be reached).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    /// The curve when known (JWKS `crv`); PEM keys leave it to the signature check.
    Ec(Option<Curve>),
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// One public key that can verify signatures.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    kid: Option<String>,
    /// The JWK's `alg`, when it pins one.
    alg: Option<Algorithm>,
    family: Family,
    key: DecodingKey,
}

// The key material is public, but it is long and says nothing useful in a log line.
impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    fn suits(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        use Algorithm::*;
        match (self.family, alg) {
            (Family::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512) => true,
            (Family::Ec(c), ES256) => c != Some(Curve::P384),
            (Family::Ec(c), ES384) => c != Some(Curve::P256),
            (Family::Ed25519, EdDSA) => true,
            _ => false,
        }
    }
}

/// Parses one PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`).
pub(crate) fn parse_pem(pem: &str) -> Result<VerifyKey, String> {
    let pem = pem.trim();
    if pem.contains("BEGIN CERTIFICATE") {
        return Err("certificates are not supported, give the public key \
                    (openssl x509 -pubkey -noout)"
            .into());
    }
    if pem.contains("PRIVATE KEY") {
        return Err("this is a private key; give the public key".into());
    }
    let bytes = pem.as_bytes();
    let (family, key) = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
        (Family::Rsa, k)
    } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        (Family::Ec(None), k)
    } else if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
        (Family::Ed25519, k)
    } else {
        return Err("not a PEM-encoded RSA, EC or Ed25519 public key".into());
    };
    Ok(VerifyKey {
        kid: None,
        alg: None,
        family,
        key,
    })
}

fn str_field<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// One JWK, or `None` when it cannot verify signatures here (symmetric, encryption-only,
/// unknown type or curve, malformed).
fn parse_jwk(jwk: &Value) -> Option<VerifyKey> {
    if str_field(jwk, "use").is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match str_field(jwk, "alg") {
        None => None,
        Some(name) => Some(crate::jws::algorithm(name)?),
    };
    let (family, key) = match str_field(jwk, "kty")? {
        "RSA" => (
            Family::Rsa,
            DecodingKey::from_rsa_components(str_field(jwk, "n")?, str_field(jwk, "e")?).ok()?,
        ),
        "EC" => {
            let curve = match str_field(jwk, "crv")? {
                "P-256" => Curve::P256,
                "P-384" => Curve::P384,
                _ => return None,
            };
            let key =
                DecodingKey::from_ec_components(str_field(jwk, "x")?, str_field(jwk, "y")?).ok()?;
            (Family::Ec(Some(curve)), key)
        }
        "OKP" if str_field(jwk, "crv")? == "Ed25519" => (
            Family::Ed25519,
            DecodingKey::from_ed_components(str_field(jwk, "x")?).ok()?,
        ),
        _ => return None,
    };
    Some(VerifyKey {
        kid: str_field(jwk, "kid").map(str::to_string),
        alg,
        family,
        key,
    })
}

/// The usable keys of a JWKS document (`{"keys": [...]}`).
pub(crate) fn parse_jwks(doc: &Value) -> Result<Vec<VerifyKey>, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("is not a JWKS document (no \"keys\" list)")?;
    let usable: Vec<VerifyKey> = keys.iter().filter_map(parse_jwk).collect();
    if usable.is_empty() {
        return Err("has no usable signing keys (RSA, EC P-256/P-384 or Ed25519)".into());
    }
    Ok(usable)
}

/// The outcome of checking a token against a key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A key verified the signature.
    Verified,
    /// The token names a `kid` that no suitable key has.
    UnknownKid,
    /// Suitable keys exist but none verified the signature (or there are none at all).
    BadSignature,
}

/// The keys of one config, as fetched or parsed at one time.
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
    /// Whether the keys come from a URL (and so can be refreshed).
    remote: bool,
    fetched_at: Instant,
}

impl KeySet {
    /// A key set fetched or parsed now; `remote` when the keys come from a URL.
    pub(crate) fn new(keys: Vec<VerifyKey>, remote: bool) -> Self {
        KeySet {
            keys,
            remote,
            fetched_at: Instant::now(),
        }
    }

    /// Checks the token's signature against the keys that suit its `alg` (and `kid`).
    pub(crate) fn verify(&self, jws: &Jws<'_>) -> Verdict {
        let suitable = self.keys.iter().filter(|k| k.suits(jws.alg));
        // Static PEM keys carry no key IDs, so a token's kid cannot select among them.
        let candidates: Vec<&VerifyKey> = match &jws.kid {
            // A JWK without a kid is a candidate for any token.
            Some(kid) if self.remote => suitable
                .filter(|k| k.kid.as_ref().is_none_or(|own| own == kid))
                .collect(),
            _ => suitable.collect(),
        };
        if let (true, Some(kid)) = (candidates.is_empty() && self.remote, &jws.kid) {
            // A key with this ID that suits another algorithm is no reason to refresh.
            if !self.keys.iter().any(|k| k.kid.as_ref() == Some(kid)) {
                return Verdict::UnknownKid;
            }
        }
        if candidates.iter().any(|k| jws.signed_by(&k.key)) {
            Verdict::Verified
        } else {
            Verdict::BadSignature
        }
    }
}

struct Cached {
    source_id: String,
    set: Arc<KeySet>,
}

/// The key cache of one mount.
#[derive(Default)]
pub(crate) struct KeyCache {
    current: Mutex<Option<Cached>>,
    /// When a login last caused a refresh.
    last_refresh: Mutex<Option<Instant>>,
    /// Serialises fetches, so concurrent logins wait for one fetch instead of each starting
    /// their own.
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    fn cached(&self, source_id: &str) -> Option<Arc<KeySet>> {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|c| c.source_id == source_id)
            .map(|c| c.set.clone())
    }

    fn store(&self, source_id: String, set: Arc<KeySet>) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some(Cached { source_id, set });
    }

    /// Loads the keys of `config` without consulting the cache (config writes).
    pub(crate) async fn load_fresh(config: &ConfigRecord) -> Result<Arc<KeySet>, FetchError> {
        let (keys, remote) = fetch::load_keys(config).await?;
        Ok(Arc::new(KeySet::new(keys, remote)))
    }

    /// Makes `set` the cached keys of `config` (after a config write fetched them).
    pub(crate) fn prime(&self, config: &ConfigRecord, set: Arc<KeySet>) {
        self.store(config.source_id(), set);
    }

    /// The keys for `config`: cached, or fetched when missing or older than [`MAX_AGE`].
    pub(crate) async fn keys(&self, config: &ConfigRecord) -> Result<Arc<KeySet>, FetchError> {
        let id = config.source_id();
        let fresh = |s: &Arc<KeySet>| !s.remote || s.fetched_at.elapsed() < MAX_AGE;
        if let Some(set) = self.cached(&id).filter(fresh) {
            return Ok(set);
        }
        let _fetching = self.fetching.lock().await;
        let stale = self.cached(&id);
        if let Some(set) = stale.as_ref().filter(|s| fresh(s)) {
            return Ok(set.clone());
        }
        match Self::load_fresh(config).await {
            Ok(set) => {
                self.store(id, set.clone());
                Ok(set)
            }
            Err(e) => match stale {
                Some(set) => {
                    tracing::warn!(error = %e, "could not refresh jwt signing keys, using cached keys");
                    Ok(set)
                }
                None => Err(e),
            },
        }
    }

    /// Fetches the keys again because a token did not verify with `seen`. Returns the new
    /// set, or `None` when refreshing is pointless (static keys), rate-limited, or failed.
    /// A refresh that another login finished in the meantime is simply shared.
    pub(crate) async fn refresh(
        &self,
        config: &ConfigRecord,
        seen: &Arc<KeySet>,
    ) -> Option<Arc<KeySet>> {
        if !seen.remote {
            return None;
        }
        let id = config.source_id();
        let _fetching = self.fetching.lock().await;
        if let Some(set) = self.cached(&id).filter(|s| !Arc::ptr_eq(s, seen)) {
            return Some(set);
        }
        {
            let mut last = self.last_refresh.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        match Self::load_fresh(config).await {
            Ok(set) => {
                self.store(id, set.clone());
                Some(set)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh jwt signing keys");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_skips_keys_that_cannot_verify() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "use": "enc", "kid": "enc"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "HS256", "kid": "odd"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"},
        ]});
        let keys = parse_jwks(&doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ed"));
        assert!(keys[0].suits(Algorithm::EdDSA));
        assert!(!keys[0].suits(Algorithm::ES256));
        let err = parse_jwks(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).unwrap_err();
        assert!(err.contains("no usable signing keys"));
        assert!(parse_jwks(&json!({"issuer": "x"})).is_err());
    }

    #[test]
    fn pem_errors_are_clear() {
        assert!(
            parse_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
                .unwrap_err()
                .contains("certificates are not supported")
        );
        assert!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----")
                .unwrap_err()
                .contains("private key")
        );
        assert!(parse_pem("hello").is_err());
    }
}
