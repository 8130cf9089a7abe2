//! The envelope every value behind the barrier is stored in:
//! `version (1 byte) || key term (4 bytes, big-endian) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! AES-256-GCM with a fresh random nonce per write; the caller passes the storage path as
//! associated data, so a ciphertext copied to another path fails authentication.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};

use crate::root_key::KEY_LEN;

/// The only envelope version so far; a new layout or cipher gets a new number.
const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const BODY_START: usize = HEADER_LEN + NONCE_LEN;

/// Why an envelope could not be opened. Carries no bytes of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short or an unknown version byte.
    Malformed,
    /// Wrong key, wrong associated data or tampered bytes.
    Authentication,
}

/// Encrypts `plaintext` under `key`, labelled with `term`, bound to `aad`.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    term: u32,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, aes_gcm::Error> {
    // Building the cipher per call costs one AES key expansion (well under a microsecond)
    // and means the only long-lived copy of a key is the zeroized one in the keyring.
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    secrethub_common::fill_random(&mut nonce);

    let mut out = Vec::with_capacity(BODY_START + plaintext.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag =
        cipher.encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[BODY_START..])?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The key term an envelope was written with, after checking its version and length.
pub(crate) fn term(envelope: &[u8]) -> Result<u32, OpenError> {
    if envelope.len() < BODY_START + TAG_LEN || envelope[0] != VERSION {
        return Err(OpenError::Malformed);
    }
    let mut term = [0u8; 4];
    term.copy_from_slice(&envelope[1..HEADER_LEN]);
    Ok(u32::from_be_bytes(term))
}

/// Decrypts an envelope with the key of its term (see [`term`]) and the same `aad`.
pub(crate) fn open(key: &[u8; KEY_LEN], aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>, OpenError> {
    term(envelope)?;
    let cipher = Aes256Gcm::new(key.into());
    let nonce = Nonce::from_slice(&envelope[HEADER_LEN..BODY_START]);
    let (body, tag) = envelope[BODY_START..].split_at(envelope.len() - BODY_START - TAG_LEN);
    let mut plaintext = body.to_vec();
    cipher
        .decrypt_in_place_detached(nonce, aad, &mut plaintext, Tag::from_slice(tag))
        .map_err(|_| OpenError::Authentication)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7u8; KEY_LEN];

    #[test]
    fn round_trip_and_layout() {
        let sealed = seal(&KEY, 0x0102_0304, b"path/a", b"hello").expect("seal");
        assert_eq!(sealed.len(), BODY_START + 5 + TAG_LEN);
        assert_eq!(&sealed[..HEADER_LEN], &[1, 1, 2, 3, 4]);
        assert_eq!(term(&sealed), Ok(0x0102_0304));
        assert_eq!(open(&KEY, b"path/a", &sealed).expect("open"), b"hello");
        let empty = seal(&KEY, 1, b"k", b"").expect("seal empty");
        assert_eq!(open(&KEY, b"k", &empty).expect("open empty"), b"");
    }

    #[test]
    fn fresh_nonce_per_seal() {
        let a = seal(&KEY, 1, b"k", b"same").expect("seal");
        let b = seal(&KEY, 1, b"k", b"same").expect("seal");
        assert_ne!(a[HEADER_LEN..BODY_START], b[HEADER_LEN..BODY_START]);
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_wrong_key_aad_tampering_and_garbage() {
        let sealed = seal(&KEY, 1, b"path/a", b"hello").expect("seal");
        let auth = Err(OpenError::Authentication);
        assert_eq!(open(&[8u8; KEY_LEN], b"path/a", &sealed), auth);
        assert_eq!(open(&KEY, b"path/b", &sealed), auth);
        for i in BODY_START..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(open(&KEY, b"path/a", &bad), auth, "flipped byte {i}");
        }
        let malformed = Err(OpenError::Malformed);
        assert_eq!(
            open(&KEY, b"path/a", &sealed[..BODY_START + TAG_LEN - 1]),
            malformed
        );
        let mut bad_version = sealed.clone();
        bad_version[0] = 9;
        assert_eq!(open(&KEY, b"path/a", &bad_version), malformed);
        assert_eq!(term(b""), Err(OpenError::Malformed));
    }
}
