//! Compact JWS tokens: splitting and decoding, the algorithm policy (asymmetric algorithms
//! only: `none` and `HS*` are refused before any key is looked at, so a public key can
//! never be used as an HMAC secret), signature checks with `jsonwebtoken`'s ring-backed
//! primitives, and Vault's rules for `exp`, `nbf` and `iat` with leeways.
//!
//! Error texts say what is wrong with the token without quoting it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use secrethub_engine::JsonMap;
use serde_json::Value;

/// Tokens longer than this are refused before any decoding.
pub(crate) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Vault's default leeway for a missing `exp` or `nbf`, seconds.
pub(crate) const DEFAULT_CLAIM_LEEWAY: i64 = 150;
/// Vault's default clock skew leeway, seconds.
pub(crate) const DEFAULT_CLOCK_SKEW: i64 = 60;

/// Every algorithm this method can verify, in Vault's names.
pub(crate) const SUPPORTED_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Maps a supported algorithm name to `jsonwebtoken`'s; symmetric algorithms are not
/// representable here on purpose.
pub(crate) fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Why an algorithm name is refused (for config validation and token headers alike).
pub(crate) fn refusal(name: &str) -> String {
    match name {
        "none" => "unsigned tokens (alg \"none\") are not accepted".into(),
        "HS256" | "HS384" | "HS512" => format!(
            "{name} is not accepted: tokens signed with a shared secret (HMAC) cannot be \
             verified with public keys"
        ),
        "ES512" => "ES512 is not supported".into(),
        _ => "unsupported signing algorithm".into(),
    }
}

/// A decoded token whose signature has not been checked yet.
pub(crate) struct Jws<'a> {
    /// The header's `alg`, already checked against the allowed set.
    pub(crate) alg: Algorithm,
    /// The header's `kid`, if any.
    pub(crate) kid: Option<String>,
    /// `header.payload`, the signed bytes.
    signing_input: &'a str,
    /// The signature, base64url as in the token.
    signature: &'a str,
    /// The payload, a JSON object.
    pub(crate) claims: JsonMap,
}

fn decode_json(part: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("malformed token: {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("malformed token: {what} is not JSON"))
}

/// Splits and decodes `token`, applying the algorithm policy: `allowed` is the config's
/// `jwt_supported_algs` (or every supported algorithm).
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Algorithm]) -> Result<Jws<'a>, String> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("token is too large".into());
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 5 {
        return Err("encrypted tokens (JWE) are not supported".into());
    }
    if parts.len() != 3 {
        return Err("malformed token: expected three dot-separated parts".into());
    }
    let Value::Object(header) = decode_json(parts[0], "header")? else {
        return Err("malformed token: header is not a JSON object".into());
    };
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("malformed token: header has no algorithm (alg)")?;
    let alg = algorithm(alg_name).ok_or_else(|| refusal(alg_name))?;
    if !allowed.contains(&alg) {
        return Err(format!(
            "token signed with unexpected algorithm {alg_name} (not in jwt_supported_algs)"
        ));
    }
    if header.contains_key("crit") {
        return Err("token has critical header parameters (crit), which are not supported".into());
    }
    if parts[2].is_empty() {
        return Err("token must be signed".into());
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("malformed token: key ID (kid) is not a string".into()),
    };
    let Value::Object(claims) = decode_json(parts[1], "payload")? else {
        return Err("malformed token: claims are not a JSON object".into());
    };
    let header_and_payload = parts[0].len() + 1 + parts[1].len();
    Ok(Jws {
        alg,
        kid,
        signing_input: &token[..header_and_payload],
        signature: parts[2],
        claims,
    })
}

impl Jws<'_> {
    /// Whether `key` (of a family that suits `self.alg`) signed this token.
    pub(crate) fn signed_by(&self, key: &jsonwebtoken::DecodingKey) -> bool {
        jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), key, self.alg)
            .unwrap_or(false)
    }
}

/// A role's leeways as stored: 0 means Vault's default, a negative value means none.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Leeways {
    pub(crate) clock_skew: i64,
    pub(crate) expiration: i64,
    pub(crate) not_before: i64,
}

fn effective(v: i64, default: i64) -> i64 {
    match v {
        v if v < 0 => 0,
        0 => default,
        v => v,
    }
}

fn time_claim(claims: &JsonMap, name: &str, label: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| format!("invalid {label} claim: not a number of seconds")),
        Some(_) => Err(format!("invalid {label} claim: not a number of seconds")),
    }
}

/// Vault's time rules: at least one of `iat`, `nbf`, `exp`; a missing `exp` is the later of
/// `iat`/`nbf` plus the expiration leeway; a missing `nbf` is `iat`, else `exp` minus the
/// not-before leeway; then `now` must be within [nbf, exp] and not before `iat`, each
/// widened by the clock skew leeway.
pub(crate) fn check_times(claims: &JsonMap, now: i64, leeways: Leeways) -> Result<(), String> {
    let iat = time_claim(claims, "iat", "issued at (iat)")?;
    let nbf = time_claim(claims, "nbf", "not before (nbf)")?;
    let exp = time_claim(claims, "exp", "expiration time (exp)")?;
    if iat.is_none() && nbf.is_none() && exp.is_none() {
        return Err(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token".into(),
        );
    }
    let exp = exp.unwrap_or_else(|| {
        let start = iat.unwrap_or(0).max(nbf.unwrap_or(0));
        start.saturating_add(effective(leeways.expiration, DEFAULT_CLAIM_LEEWAY))
    });
    let nbf = nbf
        .or(iat)
        .unwrap_or_else(|| exp.saturating_sub(effective(leeways.not_before, DEFAULT_CLAIM_LEEWAY)));
    let skew = effective(leeways.clock_skew, DEFAULT_CLOCK_SKEW);
    if now.saturating_add(skew) < nbf {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now.saturating_sub(skew) > exp {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if let Some(iat) = iat {
        if now.saturating_add(skew) < iat {
            return Err("invalid issued at (iat) claim: token issued in the future".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn all() -> Vec<Algorithm> {
        SUPPORTED_ALGS.iter().filter_map(|a| algorithm(a)).collect()
    }

    #[test]
    fn refuses_unsigned_and_symmetric_tokens() {
        let payload = b64(&json!({"sub": "x"}));
        for (alg, want) in [
            ("none", "unsigned tokens (alg \"none\") are not accepted"),
            ("HS256", "HS256 is not accepted"),
            ("ES512", "ES512 is not supported"),
            ("XX1", "unsupported signing algorithm"),
        ] {
            let t = format!("{}.{payload}.c2ln", b64(&json!({"alg": alg})));
            let err = parse(&t, &all()).err().unwrap();
            assert!(err.starts_with(want), "{alg}: {err}");
        }
        let t = format!("{}.{payload}.", b64(&json!({"alg": "RS256"})));
        assert_eq!(parse(&t, &all()).err().unwrap(), "token must be signed");
        let t = format!("{}.{payload}.c2ln", b64(&json!({"alg": "RS256"})));
        let err = parse(&t, &[Algorithm::ES256]).err().unwrap();
        assert!(err.contains("unexpected algorithm RS256"), "{err}");
        assert!(parse("a.b", &all()).is_err());
        assert!(parse("a.b.c.d.e", &all()).err().unwrap().contains("JWE"));
    }

    #[test]
    fn time_rules() {
        let l = Leeways::default();
        let now = 1_000_000;
        let c = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert!(check_times(&c(json!({"exp": now + 10})), now, l).is_ok());
        // Within the default 60 s clock skew.
        assert!(check_times(&c(json!({"exp": now - 30})), now, l).is_ok());
        let err = check_times(&c(json!({"exp": now - 61})), now, l).unwrap_err();
        assert!(err.ends_with("token is expired"));
        let strict = Leeways {
            clock_skew: -1,
            ..l
        };
        assert!(check_times(&c(json!({"exp": now - 1})), now, strict).is_err());
        let err = check_times(&c(json!({"nbf": now + 100, "exp": now + 200})), now, l).unwrap_err();
        assert!(err.ends_with("token not yet valid"));
        let err = check_times(
            &c(json!({"iat": now + 100, "exp": now + 200, "nbf": now})),
            now,
            l,
        )
        .unwrap_err();
        assert!(err.ends_with("token issued in the future"));
        // No exp: iat + 150 s (+ 60 s skew).
        assert!(check_times(&c(json!({"iat": now - 200})), now, l).is_ok());
        assert!(check_times(&c(json!({"iat": now - 211})), now, l).is_err());
        assert!(check_times(&c(json!({"sub": "x"})), now, l).is_err());
        assert!(check_times(&c(json!({"exp": "soon"})), now, l).is_err());
    }
}
