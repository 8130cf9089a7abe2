//! Private keys: Vault's `key_type`/`key_bits` pairs, generation (RSA through
//! `secrethub-rsa-keygen`, since ring cannot make RSA keys; EC and Ed25519 through ring), and the PEM forms
//! Vault answers (`private_key_format`: PKCS#1 for RSA, SEC1 for EC, PKCS#8 for Ed25519, or
//! PKCS#8 for all). Key bytes live in `Zeroizing` buffers and are never formatted by `Debug`.

use rcgen::{KeyPair, SignatureAlgorithm};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use zeroize::Zeroizing;

use crate::error::{PkiError, Result};

/// Vault's key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    Ec,
    Ed25519,
}

impl KeyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::Rsa => "rsa",
            KeyKind::Ec => "ec",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// A key type with its size (bits; 0 for Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeySpec {
    pub(crate) kind: KeyKind,
    pub(crate) bits: u32,
}

impl KeySpec {
    /// Checks Vault's `key_type` and `key_bits` (0 = the type's default: RSA 2048, EC 256).
    pub(crate) fn parse(key_type: &str, key_bits: u32) -> Result<KeySpec> {
        let (kind, bits) = match key_type {
            "rsa" => (KeyKind::Rsa, if key_bits == 0 { 2048 } else { key_bits }),
            "ec" => (KeyKind::Ec, if key_bits == 0 { 256 } else { key_bits }),
            "ed25519" => (KeyKind::Ed25519, 0),
            other => {
                return Err(PkiError::invalid(format!(
                    "unknown key type {other}; supported: rsa, ec, ed25519"
                )))
            }
        };
        match (kind, bits) {
            (KeyKind::Rsa, 2048 | 3072 | 4096)
            | (KeyKind::Ec, 256 | 384)
            | (KeyKind::Ed25519, _) => Ok(KeySpec { kind, bits }),
            (KeyKind::Rsa, b) => Err(PkiError::invalid(format!(
                "unsupported bit length for RSA key: {b}"
            ))),
            (_, b) => Err(PkiError::invalid(format!(
                "unsupported bit length for EC key: {b}"
            ))),
        }
    }

    /// The signature algorithm a key of this spec signs with (its hash fits its size).
    pub(crate) fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match (self.kind, self.bits) {
            (KeyKind::Rsa, _) => &rcgen::PKCS_RSA_SHA256,
            (KeyKind::Ec, 384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            (KeyKind::Ec, _) => &rcgen::PKCS_ECDSA_P256_SHA256,
            (KeyKind::Ed25519, _) => &rcgen::PKCS_ED25519,
        }
    }

    /// The DER `AlgorithmIdentifier` of the signatures [`PrivateKey::sign`] makes.
    pub(crate) fn write_signature_algorithm(self, w: yasna::DERWriter) {
        use yasna::models::ObjectIdentifier as Oid;
        w.write_sequence(|w| match (self.kind, self.bits) {
            (KeyKind::Rsa, _) => {
                w.next()
                    .write_oid(&Oid::from_slice(&[1, 2, 840, 113549, 1, 1, 11]));
                w.next().write_null();
            }
            (KeyKind::Ec, 384) => w
                .next()
                .write_oid(&Oid::from_slice(&[1, 2, 840, 10045, 4, 3, 3])),
            (KeyKind::Ec, _) => w
                .next()
                .write_oid(&Oid::from_slice(&[1, 2, 840, 10045, 4, 3, 2])),
            (KeyKind::Ed25519, _) => w.next().write_oid(&Oid::from_slice(&[1, 3, 101, 112])),
        })
    }

    /// Vault's name of the signature algorithm of CRLs signed with such a key.
    pub(crate) fn revocation_signature_algorithm(self) -> &'static str {
        match (self.kind, self.bits) {
            (KeyKind::Rsa, _) => "SHA256WithRSA",
            (KeyKind::Ec, 384) => "ECDSAWithSHA384",
            (KeyKind::Ec, _) => "ECDSAWithSHA256",
            (KeyKind::Ed25519, _) => "PureEd25519",
        }
    }
}

/// How a private key is answered (Vault's `private_key_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrivateKeyFormat {
    /// The key type's own form (`der` and the empty string in Vault): PKCS#1, SEC1, PKCS#8.
    Native,
    /// PKCS#8 for every type.
    Pkcs8,
}

impl PrivateKeyFormat {
    pub(crate) fn parse(s: Option<&str>) -> Result<Self> {
        match s.unwrap_or("") {
            "" | "der" => Ok(PrivateKeyFormat::Native),
            "pkcs8" => Ok(PrivateKeyFormat::Pkcs8),
            other => Err(PkiError::invalid(format!(
                "invalid private_key_format {other:?}: expected der or pkcs8"
            ))),
        }
    }
}

/// A private key as PKCS#8 DER, with its spec.
pub(crate) struct PrivateKey {
    pub(crate) spec: KeySpec,
    pkcs8: Zeroizing<Vec<u8>>,
}

// Never the key.
impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Makes a new key. RSA takes tens of milliseconds (2048 bits) to a second or more (4096):
    /// call it off the async threads.
    pub(crate) fn generate(spec: KeySpec) -> Result<PrivateKey> {
        let pkcs8 = match spec.kind {
            KeyKind::Rsa => {
                let key = secrethub_rsa_keygen::generate(spec.bits as usize)
                    .map_err(|e| PkiError::crypto("generating an RSA key", e))?;
                let doc = key
                    .to_pkcs8_der()
                    .map_err(|e| PkiError::crypto("encoding an RSA key", e))?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
            KeyKind::Ec | KeyKind::Ed25519 => {
                let pair = KeyPair::generate_for(spec.signature_algorithm())
                    .map_err(|e| PkiError::crypto("generating a key", e))?;
                Zeroizing::new(pair.serialize_der())
            }
        };
        Ok(PrivateKey { spec, pkcs8 })
    }

    /// A new key and the same key as rcgen signs with, made once rather than parsed back
    /// from its PKCS#8 (for an EC key the parse costs a tenth of a whole `pki/issue`).
    pub(crate) fn generate_pair(spec: KeySpec) -> Result<(PrivateKey, KeyPair)> {
        match spec.kind {
            KeyKind::Ec | KeyKind::Ed25519 => {
                let pair = KeyPair::generate_for(spec.signature_algorithm())
                    .map_err(|e| PkiError::crypto("generating a key", e))?;
                let pkcs8 = Zeroizing::new(pair.serialize_der());
                Ok((PrivateKey { spec, pkcs8 }, pair))
            }
            KeyKind::Rsa => {
                let key = PrivateKey::generate(spec)?;
                let pair = key.key_pair()?;
                Ok((key, pair))
            }
        }
    }

    /// A key read back from its PKCS#8 DER.
    pub(crate) fn from_pkcs8(spec: KeySpec, pkcs8: Vec<u8>) -> PrivateKey {
        PrivateKey {
            spec,
            pkcs8: Zeroizing::new(pkcs8),
        }
    }

    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as rcgen signs with it.
    pub(crate) fn key_pair(&self) -> Result<KeyPair> {
        if self.spec.kind == KeyKind::Rsa {
            // ring picks SHA-256 for RSA already; make it explicit in case that changes.
            let pem = pem_of("PRIVATE KEY", &self.pkcs8);
            return KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
                .map_err(|e| PkiError::crypto("loading an RSA key", e));
        }
        KeyPair::try_from(self.pkcs8.as_slice()).map_err(|e| PkiError::crypto("loading a key", e))
    }

    /// Signs `message` with the spec's algorithm ([`KeySpec::signature_algorithm`]): the
    /// signature value of an OCSP response.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        use ring::signature;
        let rng = ring::rand::SystemRandom::new();
        let bad = |e: &dyn std::fmt::Display| PkiError::crypto("signing", e.to_string());
        match (self.spec.kind, self.spec.bits) {
            (KeyKind::Ec, bits) => {
                let alg = if bits == 384 {
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING
                } else {
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING
                };
                let pair = signature::EcdsaKeyPair::from_pkcs8(alg, &self.pkcs8, &rng)
                    .map_err(|e| bad(&e))?;
                Ok(pair
                    .sign(&rng, message)
                    .map_err(|e| bad(&e))?
                    .as_ref()
                    .to_vec())
            }
            (KeyKind::Ed25519, _) => {
                let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8)
                    .map_err(|e| bad(&e))?;
                Ok(pair.sign(message).as_ref().to_vec())
            }
            (KeyKind::Rsa, _) => {
                let pair = signature::RsaKeyPair::from_pkcs8(&self.pkcs8).map_err(|e| bad(&e))?;
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|e| bad(&e))?;
                Ok(out)
            }
        }
    }

    /// The key as Vault answers it: PEM, in `format`.
    pub(crate) fn to_pem(&self, format: PrivateKeyFormat) -> Result<Zeroizing<String>> {
        if format == PrivateKeyFormat::Pkcs8 || self.spec.kind == KeyKind::Ed25519 {
            return Ok(pem_of("PRIVATE KEY", &self.pkcs8));
        }
        match self.spec.kind {
            KeyKind::Rsa => {
                let key = rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
                    .map_err(|e| PkiError::crypto("reading an RSA key", e))?;
                let der = key
                    .to_pkcs1_der()
                    .map_err(|e| PkiError::crypto("encoding an RSA key", e))?;
                Ok(pem_of("RSA PRIVATE KEY", der.as_bytes()))
            }
            _ => {
                let sec1 = sec1_of_pkcs8(&self.pkcs8)?;
                Ok(pem_of("EC PRIVATE KEY", &sec1))
            }
        }
    }
}

/// PEM text of `der` under `label`, 64 characters a line.
pub(crate) fn pem_of(label: &str, der: &[u8]) -> Zeroizing<String> {
    use base64::Engine as _;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 is ASCII, so every chunk is UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// SEC1 `ECPrivateKey` (RFC 5915) with the curve named, from ring's PKCS#8: ring's inner
/// key leaves out the curve parameters, which OpenSSL needs in an "EC PRIVATE KEY".
fn sec1_of_pkcs8(pkcs8: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |e: yasna::ASN1Error| PkiError::crypto("reading an EC key", e);
    let (curve, inner) = yasna::parse_der(pkcs8, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            let curve = r.next().read_sequence(|r| {
                r.next().read_oid()?;
                r.next().read_oid()
            })?;
            let inner = r.next().read_bytes()?;
            Ok((curve, Zeroizing::new(inner)))
        })
    })
    .map_err(bad)?;
    let (secret, public) = yasna::parse_der(&inner, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            let secret = Zeroizing::new(r.next().read_bytes()?);
            r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_oid()))?;
            let public = r.read_optional(|r| {
                r.read_tagged(yasna::Tag::context(1), |r| r.read_bitvec_bytes())
            })?;
            Ok((secret, public))
        })
    })
    .map_err(bad)?;
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_bytes(&secret);
            w.next()
                .write_tagged(yasna::Tag::context(0), |w| w.write_oid(&curve));
            if let Some((bytes, bits)) = &public {
                w.next().write_tagged(yasna::Tag::context(1), |w| {
                    w.write_bitvec_bytes(bytes, *bits)
                });
            }
        })
    });
    Ok(Zeroizing::new(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_defaults() {
        assert_eq!(KeySpec::parse("rsa", 0).unwrap().bits, 2048);
        assert_eq!(KeySpec::parse("ec", 0).unwrap().bits, 256);
        assert_eq!(KeySpec::parse("ed25519", 0).unwrap().kind, KeyKind::Ed25519);
        assert_eq!(
            KeySpec::parse("ec", 512).unwrap_err().to_string(),
            "unsupported bit length for EC key: 512"
        );
        assert_eq!(
            KeySpec::parse("dsa", 0).unwrap_err().to_string(),
            "unknown key type dsa; supported: rsa, ec, ed25519"
        );
    }

    #[test]
    fn ec_and_ed25519_keys_answer_vaults_pem_forms() {
        let ec = PrivateKey::generate(KeySpec::parse("ec", 384).unwrap()).unwrap();
        let pem = ec.to_pem(PrivateKeyFormat::Native).unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        // The SEC1 form names the curve (secp384r1) and keeps the public key.
        let der = base64_body(&pem);
        let curve = yasna::parse_der(&der, |r| {
            r.read_sequence(|r| {
                r.next().read_u8()?;
                r.next().read_bytes()?;
                let c = r
                    .next()
                    .read_tagged(yasna::Tag::context(0), |r| r.read_oid())?;
                r.next()
                    .read_tagged(yasna::Tag::context(1), |r| r.read_bitvec_bytes())?;
                Ok(c)
            })
        })
        .unwrap();
        assert_eq!(curve.to_string(), "1.3.132.0.34");
        let pkcs8 = ec.to_pem(PrivateKeyFormat::Pkcs8).unwrap();
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        ec.key_pair().unwrap();
        let ed = PrivateKey::generate(KeySpec::parse("ed25519", 0).unwrap()).unwrap();
        assert!(ed
            .to_pem(PrivateKeyFormat::Native)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(!format!("{ed:?}").contains(&pkcs8[30..40]));
    }

    /// The pair made with a key is that key: its public half is the stored key's.
    #[test]
    fn a_generated_pair_is_the_generated_key() {
        use rcgen::PublicKeyData as _;
        for (kind, bits) in [("ec", 256), ("ec", 384), ("ed25519", 0), ("rsa", 2048)] {
            let (key, pair) =
                PrivateKey::generate_pair(KeySpec::parse(kind, bits).unwrap()).unwrap();
            let parsed = key.key_pair().unwrap();
            assert_eq!(pair.der_bytes(), parsed.der_bytes(), "{kind} {bits}");
            assert_eq!(pair.serialize_der(), key.pkcs8().to_vec(), "{kind} {bits}");
        }
    }

    fn base64_body(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
