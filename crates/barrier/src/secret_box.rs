//! An AES-256-GCM box under a key of its own, for values that leave the server sealed (batch
//! tokens carry their own record this way). Same envelope as the barrier's values, with key
//! term 0; the key itself is meant to be stored behind the barrier.

use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::envelope;
use crate::root_key::KEY_LEN;

/// A key and the operations on it. The key is zeroized when the box is dropped.
pub struct SecretBox {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl SecretBox {
    /// A box with a fresh key from the OS RNG.
    pub fn generate() -> SecretBox {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        SecretBox { key }
    }

    /// The box of a stored key; `None` unless it is exactly [`KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<SecretBox> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(SecretBox { key })
    }

    /// The key, to store.
    pub fn key_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.key.to_vec())
    }

    /// Encrypts `plaintext`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        // Encryption into a Vec fails only on absurd lengths (over 64 GiB).
        envelope::seal(&self.key, 0, aad, plaintext).expect("AES-GCM encryption")
    }

    /// Decrypts what [`SecretBox::seal`] made with the same key and `aad`; `None` for anything
    /// else (wrong key, other `aad`, tampered or truncated bytes).
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        envelope::open(&self.key, aad, sealed).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_its_own_boxes_with_the_same_aad() {
        let b = SecretBox::generate();
        let sealed = b.seal(b"aad", b"hello");
        assert_eq!(b.open(b"aad", &sealed).as_deref(), Some(&b"hello"[..]));
        assert_eq!(b.open(b"other", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(b.open(b"aad", &tampered), None);
        assert_eq!(b.open(b"aad", &sealed[..10]), None);
        assert_eq!(SecretBox::generate().open(b"aad", &sealed), None);
        let again = SecretBox::from_bytes(&b.key_bytes()).unwrap();
        assert_eq!(again.open(b"aad", &sealed).as_deref(), Some(&b"hello"[..]));
        assert!(SecretBox::from_bytes(&[1, 2, 3]).is_none());
    }
}
