//! Signing keys with ring: Ed25519 and ECDSA on P-256 and P-384, stored as PKCS#8 documents;
//! signatures in ASN.1 DER or JWS's fixed `r||s` form, and the public keys Vault shows. RSA
//! keys sign through `rsa_keys.rs`.
//!
//! ring signs a message and hashes it itself, with the hash its algorithm fixes: SHA-256 for
//! P-256 and SHA-384 for P-384. So an ECDSA key signs with that hash only (Vault lets any
//! hash go with any curve, and signs pre-hashed input); verification accepts SHA-256 and
//! SHA-384 with either curve, as ring does.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::error::{Result, TransitError};
use crate::key::{KeyType, Secret};
pub(crate) use crate::rsa_keys::Padding;

/// How a signature is encoded (Vault's `marshaling_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marshaling {
    Asn1,
    Jws,
}

impl Marshaling {
    pub(crate) fn parse(name: Option<&str>) -> Result<Self> {
        match name.unwrap_or("asn1") {
            "asn1" | "" => Ok(Marshaling::Asn1),
            "jws" => Ok(Marshaling::Jws),
            other => Err(TransitError::bad(format!(
                "unsupported marshaling type {other}"
            ))),
        }
    }
}

/// The hashes a signature may be made over (`hash_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignHash {
    Sha256,
    Sha384,
    /// RSA only.
    Sha512,
}

fn internal(what: &'static str) -> TransitError {
    TransitError::Internal(anyhow::anyhow!(what))
}

/// A new key pair of `key_type` as PKCS#8.
pub(crate) fn generate_pkcs8(key_type: KeyType) -> Result<Secret> {
    let rng = SystemRandom::new();
    let doc = match key_type {
        KeyType::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        KeyType::EcdsaP256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        }
        KeyType::EcdsaP384 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
        }
        _ => return Err(internal("not a signing key type")),
    }
    .map_err(|_| internal("key generation failed"))?;
    Ok(Secret::new(doc.as_ref().to_vec()))
}

/// Vault's `name` of a signing key's curve.
pub(crate) fn curve_name(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::EcdsaP256 => "P-256",
        KeyType::EcdsaP384 => "P-384",
        KeyType::Ed25519 => "ed25519",
        other => other.name(),
    }
}

/// DER prefixes of SubjectPublicKeyInfo (id-ecPublicKey + curve, BIT STRING header) that an
/// uncompressed point completes.
const SPKI_P256: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const SPKI_P384: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];

fn ecdsa_pair(key_type: KeyType, pkcs8: &Secret, marshaling: Marshaling) -> Result<EcdsaKeyPair> {
    let alg = match (key_type, marshaling) {
        (KeyType::EcdsaP256, Marshaling::Asn1) => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        (KeyType::EcdsaP256, Marshaling::Jws) => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        (KeyType::EcdsaP384, Marshaling::Asn1) => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        (KeyType::EcdsaP384, Marshaling::Jws) => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return Err(internal("not an ecdsa key type")),
    };
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.bytes(), &SystemRandom::new())
        .map_err(|_| internal("stored ecdsa key is corrupt"))
}

/// The public key in raw form: 32 bytes for Ed25519, the uncompressed point for ECDSA.
pub(crate) fn public_key_raw(key_type: KeyType, pkcs8: &Secret) -> Result<Vec<u8>> {
    match key_type {
        KeyType::Ed25519 => Ed25519KeyPair::from_pkcs8(pkcs8.bytes())
            .map(|p| p.public_key().as_ref().to_vec())
            .map_err(|_| internal("stored ed25519 key is corrupt")),
        _ => Ok(ecdsa_pair(key_type, pkcs8, Marshaling::Asn1)?
            .public_key()
            .as_ref()
            .to_vec()),
    }
}

/// What Vault shows as `public_key`: base64 of the raw key for Ed25519, a PEM
/// `PUBLIC KEY` (SubjectPublicKeyInfo) for ECDSA.
pub(crate) fn public_key_text(key_type: KeyType, pkcs8: &Secret) -> Result<String> {
    if key_type.rsa_bits().is_some() {
        return crate::rsa_keys::public_key_pem(pkcs8);
    }
    let raw = public_key_raw(key_type, pkcs8)?;
    if key_type == KeyType::Ed25519 {
        return Ok(B64.encode(raw));
    }
    let prefix = if key_type == KeyType::EcdsaP256 {
        SPKI_P256
    } else {
        SPKI_P384
    };
    let der = [prefix, &raw].concat();
    Ok(pem("PUBLIC KEY", &der))
}

/// PEM armour with 64-column lines.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The hash a key signs with when `hash_algorithm` is not given, and the check of a given one.
pub(crate) fn sign_hash(key_type: KeyType, requested: Option<&str>) -> Result<SignHash> {
    let own = if key_type == KeyType::EcdsaP384 {
        SignHash::Sha384
    } else {
        SignHash::Sha256
    };
    let asked = match requested {
        None | Some("") => return Ok(own),
        Some("sha2-256") => SignHash::Sha256,
        Some("sha2-384") => SignHash::Sha384,
        Some("sha2-512") if key_type.rsa_bits().is_some() => SignHash::Sha512,
        Some(
            h @ ("sha1" | "sha2-224" | "sha2-512" | "sha3-224" | "sha3-256" | "sha3-384"
            | "sha3-512" | "none"),
        ) => {
            if key_type == KeyType::Ed25519 {
                return Ok(own);
            }
            return Err(TransitError::bad(format!(
                "hash algorithm {h} is not supported yet for key type {}",
                key_type.name()
            )));
        }
        Some(other) => {
            return Err(TransitError::bad(format!(
                "unsupported hash algorithm {other}"
            )))
        }
    };
    Ok(asked)
}

/// Signs `input` with the key (`hash` already checked with [`sign_hash`]).
pub(crate) fn sign(
    key_type: KeyType,
    pkcs8: &Secret,
    (hash, padding): (SignHash, Padding),
    marshaling: Marshaling,
    input: &[u8],
) -> Result<Vec<u8>> {
    if key_type.rsa_bits().is_some() {
        return crate::rsa_keys::sign(pkcs8, hash, padding, input);
    }
    if key_type == KeyType::Ed25519 {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.bytes())
            .map_err(|_| internal("stored ed25519 key is corrupt"))?;
        return Ok(pair.sign(input).as_ref().to_vec());
    }
    let own = sign_hash(key_type, None)?;
    if hash != own {
        return Err(TransitError::bad(format!(
            "signing with hash algorithm {} is not supported yet for key type {}",
            match hash {
                SignHash::Sha256 => "sha2-256",
                SignHash::Sha384 => "sha2-384",
                SignHash::Sha512 => "sha2-512",
            },
            key_type.name()
        )));
    }
    let pair = ecdsa_pair(key_type, pkcs8, marshaling)?;
    pair.sign(&SystemRandom::new(), input)
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| internal("signing failed"))
}

/// Whether `sig` is a signature of `input` by the key.
pub(crate) fn verify(
    key_type: KeyType,
    pkcs8: &Secret,
    (hash, padding): (SignHash, Padding),
    marshaling: Marshaling,
    input: &[u8],
    sig: &[u8],
) -> Result<bool> {
    if key_type.rsa_bits().is_some() {
        return crate::rsa_keys::verify(pkcs8, hash, padding, input, sig);
    }
    if !well_formed_ecdsa(key_type, marshaling, sig) {
        return Err(TransitError::bad("supplied signature is invalid"));
    }
    let public = public_key_raw(key_type, pkcs8)?;
    let alg: &dyn signature::VerificationAlgorithm = match (key_type, hash, marshaling) {
        (KeyType::Ed25519, _, _) => &signature::ED25519,
        (KeyType::EcdsaP256, SignHash::Sha256, Marshaling::Asn1) => {
            &signature::ECDSA_P256_SHA256_ASN1
        }
        (KeyType::EcdsaP256, SignHash::Sha384, Marshaling::Asn1) => {
            &signature::ECDSA_P256_SHA384_ASN1
        }
        (KeyType::EcdsaP256, SignHash::Sha256, Marshaling::Jws) => {
            &signature::ECDSA_P256_SHA256_FIXED
        }
        (KeyType::EcdsaP384, SignHash::Sha384, Marshaling::Asn1) => {
            &signature::ECDSA_P384_SHA384_ASN1
        }
        (KeyType::EcdsaP384, SignHash::Sha256, Marshaling::Asn1) => {
            &signature::ECDSA_P384_SHA256_ASN1
        }
        (KeyType::EcdsaP384, SignHash::Sha384, Marshaling::Jws) => {
            &signature::ECDSA_P384_SHA384_FIXED
        }
        _ => {
            return Err(TransitError::bad(format!(
                "this hash algorithm and marshaling are not supported yet for key type {}",
                key_type.name()
            )))
        }
    };
    Ok(UnparsedPublicKey::new(alg, &public)
        .verify(input, sig)
        .is_ok())
}

/// Whether an ECDSA signature has the shape of one (Vault answers 400 to one that does not
/// parse, and `valid: false` only to a well-formed signature that does not match): DER's
/// `SEQUENCE` with its short-form length (a P-384 signature is at most 104 bytes), or JWS's
/// fixed `r||s`. Other key types take any bytes.
fn well_formed_ecdsa(key_type: KeyType, marshaling: Marshaling, sig: &[u8]) -> bool {
    let fixed = match key_type {
        KeyType::EcdsaP256 => 64,
        KeyType::EcdsaP384 => 96,
        _ => return true,
    };
    match marshaling {
        Marshaling::Jws => sig.len() == fixed,
        Marshaling::Asn1 => {
            sig.len() >= 8 && sig[0] == 0x30 && usize::from(sig[1]) == sig.len() - 2
        }
    }
}
