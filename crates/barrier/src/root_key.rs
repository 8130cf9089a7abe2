//! `RootKey`: the 256-bit key that encrypts the keyring. It is generated at init, split
//! into Shamir shares for the operators and rebuilt from them at unseal; it is never stored.

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::BarrierError;

/// Length of the root key and of every keyring term key, in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// The root key; zeroized on drop and redacted in `Debug`.
#[derive(Clone)]
pub struct RootKey(Zeroizing<[u8; KEY_LEN]>);

impl RootKey {
    /// A fresh key from the OS RNG.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// The key from its raw bytes (e.g. the output of `shamir::combine`); they must be 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BarrierError> {
        if bytes.len() != KEY_LEN {
            return Err(BarrierError::InvalidKey);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The raw bytes, to split into shares; call sites are the places to review.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_from_bytes_and_debug() {
        let a = RootKey::generate();
        let b = RootKey::generate();
        assert_ne!(a.as_bytes(), b.as_bytes());
        let c = RootKey::from_bytes(a.as_bytes()).expect("32 bytes");
        assert_eq!(a.as_bytes(), c.as_bytes());
        assert!(matches!(
            RootKey::from_bytes(&[0u8; 31]),
            Err(BarrierError::InvalidKey)
        ));
        assert!(RootKey::from_bytes(&[0u8; 33]).is_err());
        assert_eq!(format!("{a:?}"), "RootKey(<redacted>)");
    }
}
