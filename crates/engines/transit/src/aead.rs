//! Symmetric encryption: AES-GCM (128 and 256) and ChaCha20-Poly1305 with ring, 96-bit
//! nonces, Vault's ciphertext text `vault:v<N>:<base64(nonce || ciphertext || tag)>`, keys
//! derived per `context` with HKDF-SHA256 (Vault's `hkdf_sha256`: no salt, the context as
//! info), and convergent encryption's deterministic nonce.
//!
//! Convergent nonce: the first 12 bytes of HMAC-SHA256 over the plaintext, keyed with the
//! derived key, so the same plaintext under the same context always gives the same
//! ciphertext and different contexts never share a nonce. The nonce is part of the
//! ciphertext, as in Vault's convergent versions 2 and 3; ciphertexts do not cross servers
//! (keys never do), so the exact derivation of Vault's version 3 is not needed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Result, TransitError};
use crate::fields::decode_b64;
use crate::key::{KeyRecord, KeyType, Secret};

/// Vault's `"vault:v<N>:<payload>"`, split (`prefix` is `vault` unless a signature uses
/// another); the payload is not decoded here.
pub(crate) fn split_versioned(text: &str) -> Result<(u32, &str)> {
    let Some(rest) = text.strip_prefix("vault:") else {
        return Err(TransitError::bad("invalid ciphertext: no prefix"));
    };
    let Some((ver, payload)) = rest.split_once(':') else {
        return Err(TransitError::bad("invalid ciphertext: no prefix"));
    };
    let v = ver
        .strip_prefix('v')
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| {
            TransitError::bad("invalid ciphertext: version number could not be decoded")
        })?;
    Ok((v, payload))
}

/// `vault:v<version>:<base64>`.
pub(crate) fn versioned(version: u32, bytes: &[u8]) -> String {
    format!("vault:v{version}:{}", B64.encode(bytes))
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 of `key` with `context` as info, `len` bytes.
fn derive(key: &[u8], context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(key);
    let info = [context];
    let okm = prk
        .expand(&info, Len(len))
        .map_err(|_| TransitError::Internal(anyhow::anyhow!("hkdf expand failed")))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    okm.fill(&mut out)
        .map_err(|_| TransitError::Internal(anyhow::anyhow!("hkdf fill failed")))?;
    Ok(out)
}

/// The key bytes version `key` encrypts with under `context`.
fn working_key(
    rec: &KeyRecord,
    key: &Secret,
    context: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>> {
    if !rec.derived {
        return Ok(Zeroizing::new(key.bytes().to_vec()));
    }
    match context {
        Some(ctx) if !ctx.is_empty() => derive(key.bytes(), ctx, rec.key_type.key_len()),
        _ => Err(TransitError::bad(
            "missing 'context' for key derivation; the key was created using a derived key, \
             which means additional, per-request information must be included in order to \
             perform operations with the key",
        )),
    }
}

fn sealing_key(key_type: KeyType, bytes: &[u8]) -> Result<LessSafeKey> {
    let alg = match key_type {
        KeyType::Aes128Gcm96 => &aead::AES_128_GCM,
        KeyType::Aes256Gcm96 => &aead::AES_256_GCM,
        KeyType::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        other => {
            return Err(TransitError::bad(format!(
                "message encryption not supported for key type {}",
                other.name()
            )))
        }
    };
    UnboundKey::new(alg, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| TransitError::Internal(anyhow::anyhow!("stored key has the wrong length")))
}

/// Encrypts with version `version` (0 = latest): the ciphertext text and the version used.
pub(crate) fn encrypt(
    rec: &KeyRecord,
    version: u32,
    plaintext: &[u8],
    context: Option<&[u8]>,
    aad: &[u8],
) -> Result<(String, u32)> {
    if !rec.key_type.encrypts() {
        return Err(TransitError::bad(format!(
            "message encryption not supported for key type {}",
            rec.key_type.name()
        )));
    }
    let (v, kv) = rec.encryption_version(version)?;
    if rec.key_type.rsa_bits().is_some() {
        return Ok((
            versioned(v, &crate::rsa_keys::encrypt(&kv.key, plaintext)?),
            v,
        ));
    }
    let key = working_key(rec, &kv.key, context)?;
    let nonce_bytes: [u8; NONCE_LEN] = if rec.convergent_encryption {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&key)
            .map_err(|_| TransitError::Internal(anyhow::anyhow!("hmac key")))?;
        mac.update(plaintext);
        let sum = mac.finalize().into_bytes();
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&sum[..NONCE_LEN]);
        n
    } else {
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&secrethub_common::random_bytes(NONCE_LEN));
        n
    };
    let sealing = sealing_key(rec.key_type, &key)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(NONCE_LEN);
    sealing
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| TransitError::Internal(anyhow::anyhow!("seal failed")))?;
    out.extend_from_slice(&body);
    Ok((versioned(v, &out), v))
}

/// Decrypts a ciphertext text: the plaintext and the version it was made with.
pub(crate) fn decrypt(
    rec: &KeyRecord,
    ciphertext: &str,
    context: Option<&[u8]>,
    aad: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, u32)> {
    if !rec.key_type.encrypts() {
        return Err(TransitError::bad(format!(
            "message decryption not supported for key type {}",
            rec.key_type.name()
        )));
    }
    let (v, payload) = split_versioned(ciphertext)?;
    let raw = decode_b64(payload)
        .map_err(|_| TransitError::bad("invalid ciphertext: could not decode base64"))?;
    let kv = rec.decryption_version(v)?;
    if rec.key_type.rsa_bits().is_some() {
        return Ok((Zeroizing::new(crate::rsa_keys::decrypt(&kv.key, &raw)?), v));
    }
    let key = working_key(rec, &kv.key, context)?;
    if raw.len() < NONCE_LEN + 16 {
        return Err(TransitError::bad("invalid ciphertext length"));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&raw[..NONCE_LEN]);
    let mut body = Zeroizing::new(raw[NONCE_LEN..].to_vec());
    let opening = sealing_key(rec.key_type, &key)?;
    let len = opening
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| TransitError::bad("cipher: message authentication failed"))?
        .len();
    body.truncate(len);
    Ok((body, v))
}
