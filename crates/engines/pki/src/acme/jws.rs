//! ACME's signed requests (RFC 8555 section 6.2): a flattened JWS whose protected header
//! names the algorithm, the nonce, the URL and the account (`kid`) or a new account's key
//! (`jwk`). ES256, ES384 (raw `r||s`) and RS256 are verified with ring; the RFC 7638
//! thumbprint of a key is what the http-01 key authorization ends with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::signature;
use serde_json::{json, Value};

/// A request whose signature was checked: its payload (`Value::Null` for POST-as-GET).
pub(crate) struct Signed {
    pub(crate) payload: Value,
}

/// Why a JWS was refused: ACME's error type and a detail for the client.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) kind: &'static str,
    pub(crate) detail: String,
}

pub(crate) fn refused(kind: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        kind,
        detail: detail.into(),
    }
}

/// The parts of a flattened JWS, before its key is known.
pub(crate) struct Envelope {
    protected_b64: String,
    payload_b64: String,
    signature: Vec<u8>,
    alg: String,
    pub(crate) header: Value,
}

pub(crate) fn envelope(
    protected: &str,
    payload: &str,
    signature: &str,
) -> Result<Envelope, Refused> {
    let malformed = |what: &str| refused("malformed", format!("the JWS {what} is not valid"));
    let header_bytes = B64URL
        .decode(protected)
        .map_err(|_| malformed("protected header"))?;
    let header: Value =
        serde_json::from_slice(&header_bytes).map_err(|_| malformed("protected header"))?;
    let signature = B64URL
        .decode(signature)
        .map_err(|_| malformed("signature"))?;
    let alg = header["alg"].as_str().unwrap_or_default().to_string();
    Ok(Envelope {
        protected_b64: protected.to_string(),
        payload_b64: payload.to_string(),
        signature,
        alg,
        header,
    })
}

impl Envelope {
    /// Checks the signature with `jwk` and decodes the rest.
    pub(crate) fn verify(self, jwk: &Value) -> Result<Signed, Refused> {
        let message = format!("{}.{}", self.protected_b64, self.payload_b64);
        let ok = match (self.alg.as_str(), jwk["kty"].as_str()) {
            ("ES256", Some("EC")) => ec_verify(
                jwk,
                &signature::ECDSA_P256_SHA256_FIXED,
                &message,
                &self.signature,
            ),
            ("ES384", Some("EC")) => ec_verify(
                jwk,
                &signature::ECDSA_P384_SHA384_FIXED,
                &message,
                &self.signature,
            ),
            ("RS256", Some("RSA")) => rsa_verify(jwk, &message, &self.signature),
            _ => {
                return Err(refused(
                    "badSignatureAlgorithm",
                    format!(
                        "unsupported JWS algorithm {:?}: ES256, ES384 or RS256",
                        self.alg
                    ),
                ))
            }
        };
        if !ok {
            return Err(refused("malformed", "the JWS signature does not verify"));
        }
        let payload = if self.payload_b64.is_empty() {
            Value::Null
        } else {
            let bytes = B64URL
                .decode(&self.payload_b64)
                .map_err(|_| refused("malformed", "the JWS payload is not base64url"))?;
            serde_json::from_slice(&bytes)
                .map_err(|_| refused("malformed", "the JWS payload is not JSON"))?
        };
        Ok(Signed { payload })
    }
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    jwk[name].as_str().and_then(|s| B64URL.decode(s).ok())
}

fn ec_verify(
    jwk: &Value,
    alg: &'static signature::EcdsaVerificationAlgorithm,
    message: &str,
    sig: &[u8],
) -> bool {
    let (Some(x), Some(y)) = (field(jwk, "x"), field(jwk, "y")) else {
        return false;
    };
    let mut point = vec![4u8];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    signature::UnparsedPublicKey::new(alg, point)
        .verify(message.as_bytes(), sig)
        .is_ok()
}

fn rsa_verify(jwk: &Value, message: &str, sig: &[u8]) -> bool {
    let (Some(n), Some(e)) = (field(jwk, "n"), field(jwk, "e")) else {
        return false;
    };
    signature::RsaPublicKeyComponents { n, e }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message.as_bytes(),
            sig,
        )
        .is_ok()
}

/// RFC 7638: SHA-256 of the key's required members in lexicographic order, base64url.
pub(crate) fn thumbprint(jwk: &Value) -> Option<String> {
    let canonical = match jwk["kty"].as_str()? {
        "EC" => json!({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}),
        "RSA" => json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}),
        _ => return None,
    };
    // serde_json writes object keys sorted (no preserve_order) and without spaces.
    let text = serde_json::to_string(&canonical).ok()?;
    Some(B64URL.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint() {
        // The example of RFC 7638 section 3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn bad_envelopes() {
        assert_eq!(envelope("!!", "", "").err().unwrap().kind, "malformed");
        let protected = B64URL.encode(br#"{"alg":"HS256"}"#);
        let e = envelope(&protected, "", "").ok().unwrap();
        assert_eq!(
            e.verify(&json!({"kty": "EC"})).err().unwrap().kind,
            "badSignatureAlgorithm"
        );
    }
}
