//! Randomness from the OS RNG only: tokens, passwords, identifiers.

use rand::rngs::OsRng;
use rand::{Rng, RngCore};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` bytes from the operating system's RNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    buf
}

/// `n` characters drawn uniformly from `[A-Za-z0-9]` with the OS RNG.
pub fn random_alnum(n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[OsRng.gen_range(0..ALNUM.len())] as char)
        .collect()
}

/// `n` characters drawn uniformly from `alphabet` (ASCII) with the OS RNG; empty when the
/// alphabet is.
pub fn random_from(alphabet: &[u8], n: usize) -> String {
    if alphabet.is_empty() {
        return String::new();
    }
    (0..n)
        .map(|_| alphabet[OsRng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A random (version 4) UUID in its canonical hyphenated form.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape_and_uniqueness() {
        let a = random_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, random_uuid());
        assert_eq!(random_alnum(24).len(), 24);
        let hex = random_from(b"0123456789abcdef", 40);
        assert!(hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(random_from(b"", 3), "");
    }
}
